// ResponseCache against the memory store and a real redis-server: checked and serialized once,
// served as the stored bytes, the header's ETag verified for entries another process wrote.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { t } from "elysia";
import type Redis from "ioredis";
import { modes, type Mode } from "../../testing/modes";
import { startRealBackends } from "../../testing/servers";
import { strongEtag } from "../http/compression";
import { createLogger } from "../logger";
import { Metrics } from "../metrics";
import { createRedis } from "../redis";
import { CacheAside, createCacheStore, type CacheStore } from "./index";
import { assertMatches, ResponseCache } from "./response";

const Page = t.Object({ items: t.Array(t.Object({ id: t.Integer(), name: t.String() })) }, { additionalProperties: false });

let seq = 0;
const uniqueKey = (name: string) => `test:${process.pid}:${Date.now()}:${++seq}:${name}`;

async function hits(metrics: Metrics, result: string): Promise<number> {
  const { values } = await metrics.cacheRequests.get();
  return values.find((v) => v.labels.cache === "pages" && v.labels.result === result)?.value ?? 0;
}

describe.each(modes)("response cache (%s)", (mode: Mode) => {
  let redis: Redis | null = null;
  let store: CacheStore;
  let metrics: Metrics;
  let cache: CacheAside;
  let responses: ResponseCache;
  const logger = createLogger("silent");

  beforeAll(async () => {
    if (mode === "real") redis = createRedis((await startRealBackends()).redisUrl, logger);
  });
  afterAll(() => redis?.disconnect());
  beforeEach(() => {
    store = createCacheStore({ redis, maxEntries: 1000 });
    metrics = new Metrics();
    cache = new CacheAside(store, metrics, logger);
    responses = new ResponseCache(cache);
  });
  afterEach(() => metrics.close());

  test("versioned: a body this process holds comes back without a promise; a bump retires it on the next read", async () => {
    const ns = uniqueKey("ns");
    let calls = 0;
    const produce = (generation: number) => ({ value: { items: [{ id: ++calls, name: `gen ${generation}` }] } });
    const first = await responses.versioned("pages", ns, ":a", 10_000, Page, produce);
    expect(await first.body.text()).toBe(JSON.stringify({ items: [{ id: 1, name: "gen 0" }] }));
    const again = responses.versioned("pages", ns, ":a", 10_000, Page, produce);
    // Only the memory store answers from this process without asking; Redis is asked each time.
    expect(again instanceof Promise).toBe(store.kind !== "memory");
    expect(await again).toBe(first);
    expect(await hits(metrics, "hit")).toBe(1);
    await cache.bump(ns);
    const next = responses.versioned("pages", ns, ":a", 10_000, Page, produce);
    expect(next).toBeInstanceOf(Promise);
    expect(await (await next).body.text()).toBe(JSON.stringify({ items: [{ id: 2, name: "gen 1" }] }));
    expect(calls).toBe(2);
  });

  test("a miss is checked, serialized and stored once; 50 concurrent readers share it; hits never call the producer", async () => {
    const key = uniqueKey("page");
    let calls = 0;
    const produce = async () => {
      calls++;
      await Bun.sleep(10);
      return { value: { items: [{ id: 1, name: "ä ☃" }] } };
    };
    const first = await Promise.all(Array.from({ length: 50 }, () => responses.get("pages", key, 10_000, Page, produce)));
    expect(calls).toBe(1);
    const json = JSON.stringify({ items: [{ id: 1, name: "ä ☃" }] });
    expect(new Set(first).size).toBe(1);
    expect(await first[0]!.body.text()).toBe(json);
    expect(first[0]!.etag).toBe(strongEtag(json));
    expect(first[0]!.size).toBe(Buffer.byteLength(json));
    // What the store holds: the header, then the serialized body.
    expect(await store.get(`resp1:${key}`)).toBe(`hb1 ${strongEtag(json)} Infinity\n${json}`);

    const hit = await responses.get("pages", key, 10_000, Page, produce);
    expect(calls).toBe(1);
    // The very same body object (and so the same Blob and compressed variants) on every hit.
    expect(hit).toBe(first[0]!);
    expect(await hits(metrics, "hit")).toBe(1);
  });

  test("a value that does not match the schema is refused (an error, like response validation) and nothing is stored", async () => {
    const key = uniqueKey("bad");
    const bad = () => ({ value: { items: [{ id: "one", name: "x" }] } });
    await expect(responses.get("pages", key, 10_000, Page, bad)).rejects.toThrow(
      /pages: the response does not match its schema \(\/items\/0\/id/,
    );
    expect(await store.get(`resp1:${key}`)).toBeUndefined();
    expect(() => responses.once(Page, { items: [], extra: 1 }, "pages")).toThrow(/does not match its schema/);
    expect(() => assertMatches(Page, { items: [{ id: 2, name: "y" }] }, "pages")).not.toThrow();
  });

  test("another instance's entry is served with the same bytes and ETag; a torn or tampered one is produced afresh", async () => {
    const key = uniqueKey("shared");
    const value = { items: [{ id: 7, name: "seven" }] };
    const written = await responses.get("pages", key, 10_000, Page, () => ({ value, validUntil: 1_900_000_000_000 }));
    // Another process: the same store, its own in-process bodies.
    const other = new ResponseCache(cache);
    let calls = 0;
    const read = await other.get("pages", key, 10_000, Page, () => (calls++, { value }));
    expect(calls).toBe(0);
    expect(read).not.toBe(written);
    expect({ etag: read.etag, validUntil: read.validUntil, text: await read.body.text() }).toEqual({
      etag: written.etag,
      validUntil: 1_900_000_000_000,
      text: JSON.stringify(value),
    });

    // The bytes no longer match the header's ETag: not served, replaced by a fresh answer.
    await store.set(`resp1:${key}`, `hb1 ${written.etag} Infinity\n{"items":[{"id":8,"name":"forged"}]}`, 10_000);
    const fresh = await new ResponseCache(cache).get("pages", key, 10_000, Page, () => (calls++, { value }));
    expect(calls).toBe(1);
    expect(await fresh.body.text()).toBe(JSON.stringify(value));
    expect(await store.get(`resp1:${key}`)).toBe(`hb1 ${written.etag} Infinity\n${JSON.stringify(value)}`);

    // An entry in another format (what getOrLoad stores) is replaced too.
    await store.set(`resp1:${key}`, JSON.stringify(JSON.stringify(value)), 10_000);
    expect(await (await new ResponseCache(cache).get("pages", key, 10_000, Page, () => (calls++, { value }))).body.text()).toBe(
      JSON.stringify(value),
    );
    expect(calls).toBe(2);
  });

  test("invalidate and a generation bump: the next read produces a new body with a new ETag", async () => {
    const ns = uniqueKey("ns");
    let rows = [{ id: 1, name: "a" }];
    const read = async () =>
      responses.get("pages", `${ns}@${await cache.generation(ns)}`, 10_000, Page, () => ({ value: { items: rows } }));
    const before = await read();
    rows = [{ id: 1, name: "b" }];
    expect(await read()).toBe(before);
    await cache.bump(ns);
    const after = await read();
    expect(after.etag).not.toBe(before.etag);
    expect(JSON.parse(await after.body.text())).toEqual({ items: rows });

    const key = uniqueKey("plain");
    const one = await responses.get("pages", key, 10_000, Page, () => ({ value: { items: [] } }));
    await responses.invalidate(key);
    expect(await store.get(`resp1:${key}`)).toBeUndefined();
    const two = await responses.get("pages", key, 10_000, Page, () => ({ value: { items: [{ id: 2, name: "c" }] } }));
    expect(two.etag).not.toBe(one.etag);
  });

  test("the same bytes exact until different times are two entries (validUntil is not borrowed from the other)", async () => {
    const value = { items: [] };
    const a = await responses.get("pages", uniqueKey("a"), 10_000, Page, () => ({ value, validUntil: 1000 }));
    const b = await responses.get("pages", uniqueKey("b"), 10_000, Page, () => ({ value, validUntil: 2000 }));
    expect(a.etag).toBe(b.etag);
    expect([a.validUntil, b.validUntil]).toEqual([1000, 2000]);
    expect(responses.localSize).toBe(2);
  });

  test("once(): checked, served without an ETag", async () => {
    const body = responses.once(Page, { items: [{ id: 3, name: "d" }] }, "pages");
    expect(body.etag).toBeNull();
    expect(await body.body.text()).toBe('{"items":[{"id":3,"name":"d"}]}');
  });
});
