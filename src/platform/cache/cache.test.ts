// The same cache-aside assertions against the memory store and a real redis-server.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import type Redis from "ioredis";
import { modes, type Mode } from "../../testing/modes";
import { freePort } from "../../testing/ports";
import { startRealBackends, startRedis, stopRedis } from "../../testing/servers";
import { waitFor } from "../../testing/wait";
import type { Logger } from "../logger";
import { Metrics } from "../metrics";
import { createRedis } from "../redis";
import { CacheAside, createCacheStore, type CacheStore } from "./index";

interface LogLine {
  level: string;
  msg: string;
}

function recordingLogger(lines: LogLine[] = []): Logger & { lines: LogLine[] } {
  const at = (level: string) => (msg: string) => void lines.push({ level, msg });
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error"), child: () => recordingLogger(lines) };
}

async function count(metrics: Metrics, cache: string, result: string): Promise<number> {
  const { values } = await metrics.cacheRequests.get();
  return values.find((v) => v.labels.cache === cache && v.labels.result === result)?.value ?? 0;
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

let seq = 0;
const uniqueKey = (name: string) => `test:${process.pid}:${Date.now()}:${++seq}:${name}`;

describe.each(modes)("cache-aside (%s)", (mode: Mode) => {
  let redis: Redis | null = null;
  let store: CacheStore;
  let metrics: Metrics;
  let cache: CacheAside;

  beforeAll(async () => {
    if (mode === "real") redis = createRedis((await startRealBackends()).redisUrl, recordingLogger());
  });
  afterAll(() => redis?.disconnect());
  beforeEach(() => {
    store = createCacheStore({ redis, maxEntries: 1000 });
    expect(store.kind).toBe(mode === "real" ? "redis" : "memory");
    metrics = new Metrics();
    cache = new CacheAside(store, metrics, recordingLogger());
  });
  afterEach(() => metrics.close());

  test("single-flight: 100 concurrent misses make one loader call and all get the value", async () => {
    const key = uniqueKey("sf");
    let calls = 0;
    const loader = async () => {
      calls++;
      await Bun.sleep(20);
      return { id: 42, tags: ["a", "b"] };
    };
    const values = await Promise.all(Array.from({ length: 100 }, () => cache.getOrLoad("t", key, 10_000, loader)));
    expect(calls).toBe(1);
    for (const v of values) expect(v).toEqual({ id: 42, tags: ["a", "b"] });
    // Each caller has its own copy: mutating one doesn't touch the others.
    values[0]!.tags.push("c");
    expect(values[1]!.tags).toEqual(["a", "b"]);
    expect(await count(metrics, "t", "miss")).toBe(100);

    expect(await cache.getOrLoad("t", key, 10_000, loader)).toEqual({ id: 42, tags: ["a", "b"] });
    expect(calls).toBe(1);
    expect(await count(metrics, "t", "hit")).toBe(1);
    expect(JSON.parse((await store.get(key))!)).toEqual({ id: 42, tags: ["a", "b"] });
  });

  test("a hit and a miss return the same JSON shape", async () => {
    const key = uniqueKey("shape");
    const when = new Date("2025-01-02T03:04:05.000Z");
    const miss: unknown = await cache.getOrLoad("t", key, 10_000, () => ({ when, n: null }));
    const hit: unknown = await cache.getOrLoad("t", key, 10_000, () => ({ when, n: null }));
    expect(miss).toEqual({ when: "2025-01-02T03:04:05.000Z", n: null });
    expect(hit).toEqual(miss);
  });

  test("loader errors reach every waiting caller and nothing is cached", async () => {
    const key = uniqueKey("err");
    let calls = 0;
    const failing = async () => {
      calls++;
      await Bun.sleep(5);
      throw new Error("db down");
    };
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => cache.getOrLoad("t", key, 10_000, failing)));
    expect(results.every((r) => r.status === "rejected")).toBe(true);
    expect(calls).toBe(1);
    expect(await store.get(key)).toBeUndefined();
    expect(await cache.getOrLoad("t", key, 10_000, () => "ok")).toBe("ok");
  });

  test("entries expire after their TTL", async () => {
    const key = uniqueKey("ttl");
    let calls = 0;
    const loader = () => ++calls;
    expect(await cache.getOrLoad("t", key, 150, loader)).toBe(1);
    expect(await cache.getOrLoad("t", key, 150, loader)).toBe(1);
    await waitFor(async () => (await store.get(key)) === undefined, { timeoutMs: 5_000, what: "the entry to expire" });
    expect(await cache.getOrLoad("t", key, 150, loader)).toBe(2);
  });

  test("invalidate removes keys so the next read loads again", async () => {
    const [a, b] = [uniqueKey("inv-a"), uniqueKey("inv-b")];
    let version = 1;
    const load = () => ({ version });
    await cache.getOrLoad("t", a, 10_000, load);
    await cache.getOrLoad("t", b, 10_000, load);
    version = 2;
    expect(await cache.getOrLoad("t", a, 10_000, load)).toEqual({ version: 1 });
    await cache.invalidate(a, b);
    expect(await store.get(a)).toBeUndefined();
    expect(await cache.getOrLoad("t", a, 10_000, load)).toEqual({ version: 2 });
    expect(await cache.getOrLoad("t", b, 10_000, load)).toEqual({ version: 2 });
    await cache.invalidate(); // no keys: a no-op
  });

  test("bumping a generation invalidates every variant of a namespace", async () => {
    const ns = uniqueKey("logs:user:42");
    let rows = ["r1"];
    const read = async (count: number) => {
      const gen = await cache.generation(ns);
      return cache.getOrLoad("logs", `${ns}@${gen}:count=${count}`, 10_000, () => rows.slice(0, count));
    };
    expect(await cache.generation(ns)).toBe(0);
    expect(await read(1)).toEqual(["r1"]);
    expect(await read(10)).toEqual(["r1"]);
    rows = ["r2", "r1"];
    expect(await read(10)).toEqual(["r1"]); // cached
    await cache.bump(ns);
    expect(await cache.generation(ns)).toBe(1);
    expect(await read(1)).toEqual(["r2"]);
    expect(await read(10)).toEqual(["r2", "r1"]);
    await cache.bump(ns);
    expect(await cache.generation(ns)).toBe(2);
  });

  test("an invalidate during a load keeps that load's stale result out of the cache", async () => {
    const key = uniqueKey("race");
    let db = "old";
    const gate = deferred<void>();
    let calls = 0;
    // The first load reads the database, then stalls before returning.
    const slowLoad = async () => {
      calls++;
      const seen = db;
      await gate.promise;
      return seen;
    };
    const first = cache.getOrLoad("t", key, 10_000, slowLoad);
    await waitFor(() => calls === 1);
    db = "new";
    await cache.invalidate(key);
    // A read after the write doesn't join the stale flight: it loads the new value.
    expect(await cache.getOrLoad("t", key, 10_000, async () => (calls++, db))).toBe("new");
    gate.resolve();
    expect(await first).toBe("old"); // it started before the write: old is fine for it...
    // ...but it must not have overwritten the new value in the cache.
    expect(await cache.getOrLoad("t", key, 10_000, () => "loader must not run")).toBe("new");
    expect(calls).toBe(2);
  });

  test("a bump during a load: the stale result is stored under the old generation only", async () => {
    const ns = uniqueKey("race-ns");
    let db = "old";
    const gate = deferred<void>();
    const read = async (load: () => Promise<string> | string) => cache.getOrLoad("t", `${ns}@${await cache.generation(ns)}:v`, 10_000, load);
    let started = false;
    const first = read(async () => {
      started = true;
      const seen = db;
      await gate.promise;
      return seen;
    });
    await waitFor(() => started);
    db = "new";
    await cache.bump(ns);
    gate.resolve();
    expect(await first).toBe("old");
    expect(await read(() => db)).toBe("new");
    expect(await read(() => "loader must not run")).toBe("new");
  });

  test("undefined is returned but not cached", async () => {
    const key = uniqueKey("undef");
    let calls = 0;
    expect(await cache.getOrLoad("t", key, 10_000, () => (calls++, undefined))).toBeUndefined();
    expect(await cache.getOrLoad("t", key, 10_000, () => (calls++, undefined))).toBeUndefined();
    expect(calls).toBe(2);
  });

  test("incr creates counters at 1; del and set replace them", async () => {
    const key = uniqueKey("ctr");
    expect(await store.incr(key)).toBe(1);
    expect(await store.incr(key)).toBe(2);
    expect(await store.get(key)).toBe("2");
    await store.del(key);
    expect(await store.incr(key)).toBe(1);
    await store.set(key, "10", 10_000);
    expect(await store.incr(key)).toBe(11);
    expect(await store.ping()).toBe(true);
  });
});

describe.if(modes.includes("real"))("cache-aside when redis is down", () => {
  test("a closed port: getOrLoad serves the loader, counts errors, logs once, never throws", async () => {
    const logger = recordingLogger();
    const redis = createRedis(`redis://127.0.0.1:${await freePort()}`, logger);
    const metrics = new Metrics();
    try {
      const cache = new CacheAside(createCacheStore({ redis }), metrics, logger);
      let calls = 0;
      for (let i = 0; i < 3; i++) expect(await cache.getOrLoad("t", "k", 10_000, () => ++calls)).toBe(i + 1);
      // Concurrent callers still share one load.
      const values = await Promise.all(Array.from({ length: 20 }, () => cache.getOrLoad("t", "k", 10_000, async () => (await Bun.sleep(5), ++calls))));
      expect(new Set(values).size).toBe(1);
      expect(calls).toBe(4);
      expect(await count(metrics, "t", "error")).toBe(23);
      expect(await count(metrics, "t", "miss")).toBe(0);
      // generation() gives a key that was never stored, so the read loads.
      expect(await cache.generation("ns")).toBeLessThan(0);
      await cache.bump("ns");
      await cache.invalidate("k");
      expect(logger.lines.filter((l) => l.msg.startsWith("cache store unavailable"))).toHaveLength(1);
      // The connection itself logs its state change once, not per attempt.
      expect(logger.lines.filter((l) => l.msg.startsWith("redis unavailable"))).toHaveLength(1);
    } finally {
      redis.disconnect();
      metrics.close();
    }
  });

  test("stopped mid-test: reads fall back to the loader, then use the cache again once it is back", async () => {
    const logger = recordingLogger();
    const redis = createRedis((await startRealBackends()).redisUrl, logger);
    const metrics = new Metrics();
    const cache = new CacheAside(createCacheStore({ redis }), metrics, logger);
    const key = uniqueKey("outage");
    let calls = 0;
    const load = () => ++calls;
    try {
      expect(await cache.getOrLoad("t", key, 60_000, load)).toBe(1);
      expect(await cache.getOrLoad("t", key, 60_000, load)).toBe(1);
      expect(await count(metrics, "t", "hit")).toBe(1);

      await stopRedis();
      // Degrade, don't hang: each read falls back to the loader within the command timeout
      // instead of queueing behind reconnect attempts (which would outlast this generous bound:
      // a hang, not a slow machine, fails it).
      const degraded = (async () => [await cache.getOrLoad("t", key, 60_000, load), await cache.getOrLoad("t", key, 60_000, load)])();
      const hung = Bun.sleep(15_000).then(() => "hung" as const);
      expect(await Promise.race([degraded, hung])).toEqual([2, 3]);
      expect(await count(metrics, "t", "error")).toBe(2);
      expect(logger.lines.filter((l) => l.msg.startsWith("cache store unavailable"))).toHaveLength(1);
    } finally {
      await startRedis();
    }
    try {
      // The restarted redis is empty: one miss, then hits again.
      await waitFor(async () => (await createCacheStore({ redis }).ping()), { timeoutMs: 10_000, intervalMs: 50, what: "redis to reconnect" });
      expect(await cache.getOrLoad("t", key, 60_000, load)).toBe(4);
      expect(await cache.getOrLoad("t", key, 60_000, load)).toBe(4);
      expect(logger.lines.some((l) => l.msg === "cache store available again")).toBe(true);
      expect(logger.lines.some((l) => l.msg === "redis reconnected")).toBe(true);
    } finally {
      redis.disconnect();
      metrics.close();
    }
  });
});
