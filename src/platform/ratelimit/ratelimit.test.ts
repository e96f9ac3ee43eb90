// The same rate-limit assertions against the in-process limiter and a real redis-server.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import type Redis from "ioredis";
import { modes, type Mode } from "../../testing/modes";
import { freePort } from "../../testing/ports";
import { startRealBackends } from "../../testing/servers";
import { waitFor } from "../../testing/wait";
import { createLogger } from "../logger";
import { Metrics } from "../metrics";
import { createRedis } from "../redis";
import { createRateLimiter, type RateLimiter } from "./index";

let seq = 0;
const uniqueKey = (name: string) => `test:${process.pid}:${Date.now()}:${++seq}:${name}`;

describe.each(modes)("rate limiter (%s)", (mode: Mode) => {
  let redis: Redis | null = null;
  let metrics: Metrics;
  let limiter: RateLimiter;

  beforeAll(async () => {
    if (mode === "real") redis = createRedis((await startRealBackends()).redisUrl, createLogger("silent"));
    metrics = new Metrics();
  });
  afterAll(() => {
    redis?.disconnect();
    metrics.close();
  });
  beforeEach(() => {
    limiter = createRateLimiter(redis, metrics);
    expect(limiter.kind).toBe(mode === "real" ? "redis" : "memory");
  });

  test("exact under concurrency: 200 simultaneous hits with limit 50 allow exactly 50", async () => {
    const key = uniqueKey("burst");
    const rule = { limit: 50, windowMs: 60_000 };
    const results = await Promise.all(Array.from({ length: 200 }, () => limiter.hit(key, rule)));
    const allowed = results.filter((r) => r.allowed);
    expect(allowed).toHaveLength(50);
    // Each remaining count handed out once: no two hits saw the same counter value.
    expect(allowed.map((r) => r.remaining).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    for (const r of results.filter((r) => !r.allowed)) {
      expect(r.remaining).toBe(0);
      expect(r.retryAfterMs).toBeGreaterThan(0);
      expect(r.retryAfterMs).toBeLessThanOrEqual(60_000);
    }
  });

  test("exact with a block period too: the 51st hit blocks, the rest are refused", async () => {
    const key = uniqueKey("burst-block");
    const results = await Promise.all(Array.from({ length: 200 }, () => limiter.hit(key, { limit: 50, windowMs: 60_000, blockMs: 30_000 })));
    expect(results.filter((r) => r.allowed)).toHaveLength(50);
  });

  test("retryAfter is the rest of the window when there is no block", async () => {
    const key = uniqueKey("retry");
    const rule = { limit: 2, windowMs: 10_000 };
    expect(await limiter.hit(key, rule)).toEqual({ allowed: true, remaining: 1, retryAfterMs: 0 });
    expect(await limiter.hit(key, rule)).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
    const refused = await limiter.hit(key, rule);
    expect(refused.allowed).toBe(false);
    expect(refused.remaining).toBe(0);
    expect(refused.retryAfterMs).toBeGreaterThan(5_000);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(10_000);
  });

  test("a block period refuses every hit until it ends, then the key starts afresh", async () => {
    const key = uniqueKey("block");
    const rule = { limit: 2, windowMs: 60_000, blockMs: 300 };
    await limiter.hit(key, rule);
    await limiter.hit(key, rule);
    const blocked = await limiter.hit(key, rule);
    expect(blocked).toEqual({ allowed: false, remaining: 0, retryAfterMs: 300 });
    const again = await limiter.hit(key, rule);
    expect(again.allowed).toBe(false);
    expect(again.retryAfterMs).toBeGreaterThan(0);
    expect(again.retryAfterMs).toBeLessThanOrEqual(300);
    expect((await limiter.peek(key, rule)).allowed).toBe(false);
    await waitFor(async () => (await limiter.peek(key, rule)).allowed, { timeoutMs: 5_000, what: "the block to end" });
    // The window was 60 s, but the block replaced it: a full new window.
    expect(await limiter.hit(key, rule)).toEqual({ allowed: true, remaining: 1, retryAfterMs: 0 });
  });

  test("the window resets after windowMs", async () => {
    const key = uniqueKey("window");
    const rule = { limit: 2, windowMs: 200 };
    expect((await limiter.hit(key, rule)).allowed).toBe(true);
    expect((await limiter.hit(key, rule)).allowed).toBe(true);
    expect((await limiter.hit(key, rule)).allowed).toBe(false);
    await waitFor(async () => (await limiter.peek(key, rule)).allowed, { timeoutMs: 5_000, what: "the window to end" });
    expect(await limiter.hit(key, rule)).toEqual({ allowed: true, remaining: 1, retryAfterMs: 0 });
  });

  test("peek doesn't count, and reports what the next hit would", async () => {
    const key = uniqueKey("peek");
    const rule = { limit: 2, windowMs: 10_000, blockMs: 20_000 };
    for (let i = 0; i < 5; i++) expect(await limiter.peek(key, rule)).toEqual({ allowed: true, remaining: 2, retryAfterMs: 0 });
    await limiter.hit(key, rule);
    expect(await limiter.peek(key, rule)).toEqual({ allowed: true, remaining: 1, retryAfterMs: 0 });
    await limiter.hit(key, rule);
    // The next hit would pass the limit and block for blockMs.
    expect(await limiter.peek(key, rule)).toEqual({ allowed: false, remaining: 0, retryAfterMs: 20_000 });
    const noBlock = await limiter.peek(key, { limit: 2, windowMs: 10_000 });
    expect(noBlock.allowed).toBe(false);
    expect(noBlock.retryAfterMs).toBeGreaterThan(5_000);
    expect(noBlock.retryAfterMs).toBeLessThanOrEqual(10_000);
  });

  test("reset clears the count and the block; keys are independent", async () => {
    const [key, other] = [uniqueKey("reset"), uniqueKey("other")];
    const rule = { limit: 1, windowMs: 60_000, blockMs: 60_000 };
    await limiter.hit(key, rule);
    expect((await limiter.hit(key, rule)).allowed).toBe(false);
    expect(await limiter.hit(other, rule)).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
    await limiter.reset(key);
    expect(await limiter.hit(key, rule)).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
    expect((await limiter.hit(other, rule)).allowed).toBe(false);
  });

  test("take is exact under concurrency: 25 simultaneous takes against a limit of 10 allow exactly 10", async () => {
    const key = uniqueKey("take-burst");
    const rule = { limit: 10, windowMs: 60_000, blockMs: 30_000 };
    const results = await Promise.all(Array.from({ length: 25 }, () => limiter.take([{ key, rule }])));
    const allowed = results.filter((r) => r.allowed);
    expect(allowed).toHaveLength(10);
    expect(allowed.map((r) => r.remaining).sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    for (const r of results.filter((r) => !r.allowed)) {
      expect(r.refusedBy).toEqual([key]);
      expect(r.retryAfterMs).toBeGreaterThan(0);
      expect(r.retryAfterMs).toBeLessThanOrEqual(30_000);
    }
  });

  test("take is all-or-nothing: a refusing key leaves the others uncounted; remaining is the least left", async () => {
    const [tight, loose] = [uniqueKey("take-tight"), uniqueKey("take-loose")];
    const tightRule = { limit: 2, windowMs: 60_000 };
    const looseRule = { limit: 100, windowMs: 60_000 };
    const both = [{ key: tight, rule: tightRule }, { key: loose, rule: looseRule }];
    expect(await limiter.take(both)).toEqual({ allowed: true, remaining: 1, retryAfterMs: 0, refusedBy: [] });
    expect(await limiter.take(both)).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0, refusedBy: [] });
    for (let i = 0; i < 5; i++) {
      const refused = await limiter.take(both);
      expect(refused.allowed).toBe(false);
      expect(refused.refusedBy).toEqual([tight]);
      expect(refused.retryAfterMs).toBeGreaterThan(50_000);
    }
    // The refused takes counted nowhere: the loose key saw 2 attempts of its 100.
    expect(await limiter.peek(loose, looseRule)).toEqual({ allowed: true, remaining: 98, retryAfterMs: 0 });
    expect(await limiter.take([])).toMatchObject({ allowed: true, refusedBy: [] });
  });

  test("take arms a key's block at its limit; the block outlasts the window", async () => {
    const key = uniqueKey("take-block");
    const rule = { limit: 1, windowMs: 60_000, blockMs: 90_000 };
    expect((await limiter.take([{ key, rule }])).allowed).toBe(true);
    expect(await limiter.take([{ key, rule }])).toEqual({ allowed: false, remaining: 0, retryAfterMs: 90_000, refusedBy: [key] });
    const again = await limiter.take([{ key, rule }]);
    expect(again.allowed).toBe(false);
    expect(again.retryAfterMs).toBeGreaterThan(60_000);
    // hit and take share the key's state.
    expect((await limiter.hit(key, rule)).allowed).toBe(false);
  });

  test("refund gives one attempt back, never below zero, and never lifts a block", async () => {
    const key = uniqueKey("refund");
    const rule = { limit: 2, windowMs: 60_000, blockMs: 60_000 };
    await limiter.take([{ key, rule }]);
    await limiter.take([{ key, rule }]);
    await limiter.refund(key);
    expect(await limiter.peek(key, rule)).toEqual({ allowed: true, remaining: 1, retryAfterMs: 0 });
    await limiter.refund(key);
    await limiter.refund(key);
    await limiter.refund(key);
    expect(await limiter.peek(key, rule)).toEqual({ allowed: true, remaining: 2, retryAfterMs: 0 });
    const unknown = uniqueKey("refund-unknown");
    await limiter.refund(unknown);
    expect(await limiter.peek(unknown, rule)).toEqual({ allowed: true, remaining: 2, retryAfterMs: 0 });
    // Past the limit the key blocks; a refund then has no window to give back to.
    for (let i = 0; i < 3; i++) await limiter.take([{ key, rule }]);
    await limiter.refund(key);
    expect((await limiter.take([{ key, rule }])).allowed).toBe(false);
  });

  test("refused takes are counted by the refusing limit's name", async () => {
    const [key, other] = [uniqueKey("take-metric"), uniqueKey("take-metric-other")];
    const before = await refusedCount(metrics, "take-metric-test");
    const otherBefore = await refusedCount(metrics, "take-metric-other");
    for (let i = 0; i < 4; i++) {
      await limiter.take([
        { key, rule: { limit: 1, windowMs: 60_000, name: "take-metric-test" } },
        { key: other, rule: { limit: 100, windowMs: 60_000, name: "take-metric-other" } },
      ]);
    }
    expect((await refusedCount(metrics, "take-metric-test")) - before).toBe(3);
    expect((await refusedCount(metrics, "take-metric-other")) - otherBefore).toBe(0);
  });

  test("refused hits are counted by limiter name", async () => {
    const key = uniqueKey("metric");
    const refusedBefore = await refusedCount(metrics, "metric-test");
    for (let i = 0; i < 5; i++) await limiter.hit(key, { limit: 2, windowMs: 60_000, name: "metric-test" });
    expect((await refusedCount(metrics, "metric-test")) - refusedBefore).toBe(3);
  });

  test("peekAll and hitAll answer each key in order as peek and hit would, each counted on its own", async () => {
    const [one, two, blocked] = [uniqueKey("all1"), uniqueKey("all2"), uniqueKey("all3")];
    const checks = [
      { key: one, rule: { limit: 1, windowMs: 60_000, name: "all-test" } },
      { key: two, rule: { limit: 2, windowMs: 60_000, name: "all-test" } },
      { key: blocked, rule: { limit: 1, windowMs: 60_000, blockMs: 120_000, name: "all-test" } },
    ];
    const refusedBefore = await refusedCount(metrics, "all-test");
    expect(await limiter.peekAll([])).toEqual([]);
    expect((await limiter.peekAll(checks)).map((r) => [r.allowed, r.remaining])).toEqual([[true, 1], [true, 2], [true, 1]]);
    expect((await limiter.hitAll(checks)).map((r) => [r.allowed, r.remaining])).toEqual([[true, 0], [true, 1], [true, 0]]);
    const second = await limiter.hitAll(checks);
    expect(second.map((r) => [r.allowed, r.remaining])).toEqual([[false, 0], [true, 0], [false, 0]]);
    expect(second[0]!.retryAfterMs).toBeGreaterThan(59_000);
    expect(second[2]!.retryAfterMs).toBe(120_000);
    // The same state through the one-key calls: the block holds, the window's count too.
    expect((await limiter.peek(blocked, checks[2]!.rule)).retryAfterMs).toBeGreaterThan(119_000);
    expect((await limiter.peekAll(checks)).map((r) => r.allowed)).toEqual([false, false, false]);
    expect((await limiter.hit(two, checks[1]!.rule)).allowed).toBe(false);
    expect((await refusedCount(metrics, "all-test")) - refusedBefore).toBe(3);
  });

  test("hitNow, where there is one, counts with hit in one window: no promise, the same answers and refusals metric", async () => {
    if (mode === "real") {
      expect(limiter.hitNow).toBeUndefined();
      return;
    }
    const key = uniqueKey("now");
    const rule = { limit: 3, windowMs: 60_000, name: "now-test" };
    const refusedBefore = await refusedCount(metrics, "now-test");
    const first = limiter.hitNow!(key, rule);
    expect(first).not.toBeInstanceOf(Promise);
    expect(first).toEqual({ allowed: true, remaining: 2, retryAfterMs: 0 });
    expect((await limiter.hit(key, rule)).remaining).toBe(1);
    expect(limiter.hitNow!(key, rule)).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
    const refused = limiter.hitNow!(key, rule);
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfterMs).toBeGreaterThan(59_000);
    expect((await limiter.hit(key, rule)).allowed).toBe(false);
    expect((await refusedCount(metrics, "now-test")) - refusedBefore).toBe(2);
  });
});

async function refusedCount(metrics: Metrics, limiter: string): Promise<number> {
  const { values } = await metrics.rateLimited.get();
  return values.find((v) => v.labels.limiter === limiter)?.value ?? 0;
}

describe.if(modes.includes("real"))("rate limiter when redis is down", () => {
  test("hit and peek fail with an error, promptly: the caller decides to fail open or closed", async () => {
    const redis = createRedis(`redis://127.0.0.1:${await freePort()}`, createLogger("silent"));
    try {
      const limiter = createRateLimiter(redis);
      await expect(limiter.hit("k", { limit: 1, windowMs: 1_000 })).rejects.toThrow();
      await expect(limiter.peek("k", { limit: 1, windowMs: 1_000 })).rejects.toThrow();
      await expect(limiter.take([{ key: "k", rule: { limit: 1, windowMs: 1_000 } }])).rejects.toThrow();
      await expect(limiter.refund("k")).rejects.toThrow();
    } finally {
      redis.disconnect();
    }
  });
});
