// The two-level cache (an in-process level in front of Redis, invalidated over NATS): two
// stores in this process with their own NATS connections, then two real homebase processes
// with a long local TTL, so a missed invalidation would show as a stale read.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Redis from "ioredis";
import { modes } from "../../testing/modes";
import { type RunningServer, startServer } from "../../testing/process";
import { startNats, startRealBackends, stopNats } from "../../testing/servers";
import { waitFor } from "../../testing/wait";
import { loadConfig } from "../config";
import { createLogger } from "../logger";
import { Metrics } from "../metrics";
import { createRedis } from "../redis";
import { CacheAside, createCacheStore, TwoLevelCacheStore } from "./index";

const quiet = createLogger("silent");
const unique = (name: string) => `two-level:${Bun.randomUUIDv7()}:${name}`;

async function localCount(metrics: Metrics, result: "hit" | "miss" | "off"): Promise<number> {
  const { values } = await metrics.cacheLocal.get();
  return values.find((v) => v.labels.result === result)?.value ?? 0;
}

describe("HOMEBASE_CACHE", () => {
  const kind = (env: Record<string, string>) => loadConfig({ HOMEBASE_DATA_DIR: tmpdir(), ...env }, []).cache;
  const redis = { REDIS_URL: "redis://127.0.0.1:6399" };
  const nats = { NATS_URL: "nats://127.0.0.1:4299" };

  test("auto: two-level with Redis and NATS, redis with Redis only, else memory", () => {
    expect(kind({})).toBe("memory");
    expect(kind(redis)).toBe("redis");
    expect(kind(nats)).toBe("memory");
    expect(kind({ ...redis, ...nats })).toBe("two-level");
    expect(kind({ ...redis, ...nats, HOMEBASE_CACHE: "redis" })).toBe("redis");
    expect(kind({ ...redis, ...nats, HOMEBASE_CACHE: "memory" })).toBe("memory");
  });

  test("two-level or redis without their backends is a configuration error naming what is missing", () => {
    expect(() => kind({ ...redis, HOMEBASE_CACHE: "two-level" })).toThrow("HOMEBASE_CACHE: expected REDIS_URL and NATS_URL set for the two-level cache");
    expect(() => kind({ HOMEBASE_CACHE: "redis" })).toThrow("HOMEBASE_CACHE: expected REDIS_URL set for the redis cache");
    expect(() => kind({ HOMEBASE_CACHE: "both" })).toThrow("HOMEBASE_CACHE");
    expect(() => kind({ HOMEBASE_CACHE_LOCAL_TTL_MS: "10" })).toThrow("HOMEBASE_CACHE_LOCAL_TTL_MS");
  });

  test("without Redis, asking for two-level settings still gives the memory store", () => {
    const store = createCacheStore({ redis: null, twoLevel: { natsUrl: "nats://127.0.0.1:1", subject: "x", localTtlMs: 1000, metrics: new Metrics(), logger: quiet } });
    expect(store.kind).toBe("memory");
  });
});

describe.if(modes.includes("real"))("two-level cache, two stores in one process", () => {
  let redis: Redis;
  let natsUrl: string;
  const made: Array<{ store: TwoLevelCacheStore; metrics: Metrics }> = [];
  const subject = `t${Bun.randomUUIDv7().slice(-8)}.homebase_live.cache.invalidate`;

  function instance(localTtlMs = 60_000) {
    const metrics = new Metrics();
    const store = createCacheStore({ redis, twoLevel: { natsUrl, subject, localTtlMs, metrics, logger: quiet } });
    if (!(store instanceof TwoLevelCacheStore)) throw new Error(`expected a two-level store, got ${store.kind}`);
    made.push({ store, metrics });
    return { store, metrics, cache: new CacheAside(store, metrics, quiet) };
  }
  // Live, and each knows the others (made in this test file: earlier tests' stores are closed).
  const live = (...stores: TwoLevelCacheStore[]) =>
    waitFor(() => stores.every((s) => s.active && s.peers >= stores.length - 1), { timeoutMs: 10_000, what: "the invalidation subscriptions and peers" });

  beforeAll(async () => {
    const backends = await startRealBackends();
    natsUrl = backends.natsUrl;
    redis = createRedis(backends.redisUrl, quiet);
  });
  afterAll(async () => {
    for (const { store, metrics } of made) {
      await store.close();
      metrics.close();
    }
    redis.disconnect();
  });

  test("hits come from the local level; a set, del or incr on one instance is seen by the other's next read", async () => {
    const a = instance();
    const b = instance();
    await live(a.store, b.store);
    const key = unique("plain");
    await a.store.set(key, "v1", 60_000);
    expect(await b.store.get(key)).toBe("v1"); // from Redis, kept locally
    expect(b.store.localSize).toBe(1);
    expect(await b.store.get(key)).toBe("v1");
    expect(await localCount(b.metrics, "hit")).toBe(1);
    // Proof the second read was local: Redis changed behind both levels, B still answers v1.
    await redis.set(`cache:${key}`, "behind");
    expect(await b.store.get(key)).toBe("v1");

    // An overwrite is a write too: B's next read has it.
    await a.store.set(key, "v2", 60_000);
    expect(await b.store.get(key)).toBe("v2");
    // A write (del, incr) waits for the NATS server to take its invalidation: B's very next read sees it.
    await a.store.del(key);
    expect(await b.store.get(key)).toBeUndefined();
    const counter = unique("gen");
    expect(await a.store.incr(counter)).toBe(1);
    expect(await b.store.get(counter)).toBe("1");
    expect(await b.store.get(counter)).toBe("1");
    expect(await a.store.incr(counter)).toBe(2);
    expect(await b.store.get(counter)).toBe("2");
  });

  test("peek answers from the local level only, and never what another instance's write replaced", async () => {
    const a = instance();
    const b = instance();
    await live(a.store, b.store);
    const key = unique("peek");
    expect(b.store.peek(key)).toBeUndefined(); // not held here: ask Redis
    await a.store.set(key, "v1", 60_000);
    expect(b.store.peek(key)).toBeUndefined();
    expect(await b.store.get(key)).toBe("v1");
    expect(b.store.peek(key)).toBe("v1");
    await a.store.set(key, "v2", 60_000);
    expect(b.store.peek(key)).toBeUndefined();
    expect(await b.store.get(key)).toBe("v2");
    const missing = unique("peek-absent");
    expect(await b.store.get(missing)).toBeUndefined();
    expect(b.store.peek(missing)).toBeNull(); // known absent: a never-bumped generation is 0
    await a.store.incr(missing);
    expect(b.store.peek(missing)).toBeUndefined();
    expect(await b.store.get(missing)).toBe("1");
  });

  test("a key Redis lacks is remembered as absent locally; the first incr on another instance is seen", async () => {
    const a = instance();
    const b = instance();
    await live(a.store, b.store);
    const counter = unique("gen:never-bumped");
    expect(await b.store.get(counter)).toBeUndefined(); // asks Redis
    const hits = await localCount(b.metrics, "hit");
    expect(await b.store.get(counter)).toBeUndefined();
    expect(await localCount(b.metrics, "hit")).toBe(hits + 1);
    // Proof the absence was answered locally: Redis gained the key behind both levels.
    await redis.set(`cache:${counter}`, "5");
    expect(await b.store.get(counter)).toBeUndefined();
    // The first write of the key is an invalidation like any other: B's next read has it.
    expect(await a.store.incr(counter)).toBe(6);
    expect(await b.store.get(counter)).toBe("6");
  });

  test("cache-aside across instances: a bump on A retires every variant B holds locally", async () => {
    const a = instance();
    const b = instance();
    await live(a.store, b.store);
    const ns = unique("logs:user");
    let rows = ["r1"];
    const read = async (cache: CacheAside) => cache.getOrLoad("logs", `${ns}@${await cache.generation(ns)}:n`, 60_000, () => [...rows]);
    await a.cache.bump(ns); // the generation exists in Redis, so B keeps it locally
    expect(await read(b.cache)).toEqual(["r1"]);
    expect(await read(b.cache)).toEqual(["r1"]);
    const hits = await localCount(b.metrics, "hit");
    expect(hits).toBeGreaterThanOrEqual(2); // generation and value, both local
    for (let i = 2; i <= 6; i++) {
      rows = [`r${i}`, ...rows];
      await a.cache.bump(ns);
      expect(await read(b.cache)).toEqual(rows);
      expect(await read(a.cache)).toEqual(rows);
    }
  });

  test("a Redis read overtaken by an invalidation of its key is returned but not kept", async () => {
    const { store } = instance();
    await live(store);
    const key = unique("race");
    await redis.set(`cache:${key}`, "old", "PX", 60_000);
    const reading = store.get(key); // registered before its first await
    store.receive({ keys: [key] });
    expect(await reading).toBe("old");
    expect(store.localSize).toBe(0);
    // Same for a drop of everything (the stream reset) during the read.
    const again = store.get(key);
    store.dropAll();
    expect(await again).toBe("old");
    expect(store.localSize).toBe(0);
    expect(await store.get(key)).toBe("old");
    expect(store.localSize).toBe(1);
  });

  test("a missed invalidation is stale at most the local TTL", async () => {
    const { store } = instance(300);
    await live(store);
    const key = unique("ttl");
    await store.set(key, "first", 60_000);
    expect(await store.get(key)).toBe("first");
    // Changed in Redis with no message (as if it were lost): the local copy goes by its TTL.
    await redis.set(`cache:${key}`, "second", "PX", 60_000);
    await waitFor(async () => (await store.get(key)) === "second", { timeoutMs: 5_000, what: "the local entry to expire" });
  });

  test("NATS down: the local level is dropped and off (reads go to Redis); back on once NATS returns", async () => {
    const a = instance();
    const b = instance();
    await live(a.store, b.store);
    const key = unique("outage");
    await a.store.set(key, "v1", 60_000);
    expect(await b.store.get(key)).toBe("v1");
    expect(b.store.localSize).toBe(1);
    try {
      await stopNats();
      await waitFor(() => !a.store.active && !b.store.active, { timeoutMs: 10_000, what: "the stores to see NATS gone" });
      expect(b.store.localSize).toBe(0);
      // A's write reaches no one over NATS, yet B is not stale: with the level off it reads Redis.
      await a.store.set(key, "v2", 60_000);
      const off = await localCount(b.metrics, "off");
      expect(await b.store.get(key)).toBe("v2");
      expect(await localCount(b.metrics, "off")).toBe(off + 1);
      expect(b.store.localSize).toBe(0);
    } finally {
      await startNats();
    }
    await live(a.store, b.store);
    expect(await b.store.get(key)).toBe("v2");
    expect(b.store.localSize).toBe(1);
    await a.store.del(key);
    expect(await b.store.get(key)).toBeUndefined();
  }, 30_000);
});

describe.if(modes.includes("real"))("two-level cache across two homebase processes", () => {
  let a: RunningServer;
  let b: RunningServer;
  let dataDir: string;

  async function call(server: RunningServer, method: string, path: string, token?: string, body?: unknown) {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, json: (await res.json().catch(() => null)) as any };
  }
  async function localHits(server: RunningServer): Promise<number> {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    return Number(/^homebase_cache_local_requests_total\{result="hit"\} (\d+)/m.exec(text)?.[1] ?? 0);
  }

  beforeAll(async () => {
    const { redisUrl, natsUrl } = await startRealBackends();
    dataDir = mkdtempSync(join(tmpdir(), "homebase-two-level-"));
    const env = {
      REDIS_URL: redisUrl,
      NATS_URL: natsUrl,
      HOMEBASE_CACHE: "two-level",
      // A minute: without the invalidations, B would serve its local copy for the whole test.
      HOMEBASE_CACHE_LOCAL_TTL_MS: "60000",
      HOMEBASE_CHALLENGE_LOGS_TTL_MS: "60000",
      HOMEBASE_EVENT_NAMESPACE: `c${Bun.randomUUIDv7().replaceAll("-", "").slice(-12)}`,
      HOMEBASE_SQLITE_SYNCHRONOUS: "NORMAL",
    };
    a = await startServer(env, { dataDir });
    b = await startServer(env, { dataDir, args: ["serve"] });
  }, 60_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("a log written on A is in the very next cached read on B, round after round", async () => {
    expect(a.output()).toContain('"cache":"two-level"');
    expect(b.output()).toContain('"cache":"two-level"');
    const n = Bun.randomUUIDv7().replaceAll("-", "").slice(-10);
    const body = { email: `cache.${n}@example.com`, password: "Sup3r-secret!", nickname: `cache_${n}` };
    expect((await call(a, "POST", "/auth/signup", undefined, body)).status).toBe(201);
    const token = (await call(b, "POST", "/auth/login", undefined, { email: body.email, password: body.password })).json.accessToken as string;
    const me = (await call(a, "GET", "/me", token)).json.id as string;
    const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    const challenges: string[] = [];
    for (let i = 0; i < 4; i++) {
      const created = await call(a, "POST", "/challenges", token, { title: `two-level ${Bun.randomUUIDv7().slice(-8)}`, startDate: day(-1), endDate: day(1) });
      expect(created.status).toBe(201);
      challenges.push(created.json.id);
    }
    const logsOn = async (server: RunningServer) => {
      const r = await call(server, "GET", `/challenges/logs/${me}?count=10`, token);
      expect(r.status).toBe(200);
      return (r.json.logs as Array<{ challengeId: string }>).map((l) => l.challengeId);
    };
    const expected: string[] = [];
    for (const [i, challengeId] of challenges.entries()) {
      // Alternate the writer: A then B, and read on the other one right after the 201.
      const [writer, reader] = i % 2 === 0 ? [a, b] : [b, a];
      // The reader holds the current answer locally (second read is a local hit).
      expect(await logsOn(reader)).toEqual(expected);
      const before = await localHits(reader);
      expect(await logsOn(reader)).toEqual(expected);
      expect(await localHits(reader)).toBeGreaterThan(before);
      expect((await call(writer, "POST", `/challenges/${challengeId}/logs`, token)).status).toBe(201);
      expected.unshift(challengeId);
      expect(await logsOn(reader)).toEqual(expected);
      expect(await logsOn(writer)).toEqual(expected);
    }
  }, 60_000);
});
