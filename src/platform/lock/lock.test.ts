// The same lock assertions against the in-process locks and a real redis-server.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import type Redis from "ioredis";
import { createLogger } from "../logger";
import { modes, type Mode } from "../../testing/modes";
import { freePort } from "../../testing/ports";
import { startRealBackends } from "../../testing/servers";
import { waitFor } from "../../testing/wait";
import { createRedis } from "../redis";
import { ManualClock } from "../clock";
import { createLockManager, withLock, type LockManager } from "./index";

let seq = 0;
const uniqueKey = (name: string) => `test:${process.pid}:${Date.now()}:${++seq}:${name}`;

describe.each(modes)("locks (%s)", (mode: Mode) => {
  let redis: Redis | null = null;
  let locks: LockManager;
  // In-process expiry follows this clock (tests move it); Redis expires keys on its own time.
  let clock: ManualClock;
  const elapse = async (ms: number) => (mode === "real" ? Bun.sleep(ms) : clock.advance(ms));

  beforeAll(async () => {
    if (mode === "real") redis = createRedis((await startRealBackends()).redisUrl, createLogger("silent"));
  });
  afterAll(() => redis?.disconnect());
  beforeEach(() => {
    clock = new ManualClock();
    locks = createLockManager(redis, clock);
    expect(locks.kind).toBe(mode === "real" ? "redis" : "memory");
  });

  test("mutual exclusion: 50 concurrent tasks never overlap and no increment is lost", async () => {
    const key = uniqueKey("mutex");
    let counter = 0;
    let inside = 0;
    let maxInside = 0;
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        withLock(locks, key, { ttlMs: 10_000, waitMs: 30_000 }, async () => {
          inside++;
          maxInside = Math.max(maxInside, inside);
          const read = counter;
          await Bun.sleep(1); // an await inside the critical section
          counter = read + 1;
          inside--;
          return "ran";
        }),
      ),
    );
    expect(results).toEqual(Array(50).fill("ran"));
    expect(counter).toBe(50);
    expect(maxInside).toBe(1);
    // Released after the last one.
    const lease = await locks.acquire(key, { ttlMs: 1_000 });
    expect(lease).not.toBeNull();
    await lease!.release();
  });

  test("try-once fails while held; a waiter gets the lock when it is released", async () => {
    const key = uniqueKey("wait");
    const first = await locks.acquire(key, { ttlMs: 10_000 });
    expect(first).not.toBeNull();
    expect(await locks.acquire(key, { ttlMs: 10_000 })).toBeNull();
    expect(await locks.acquire(key, { ttlMs: 10_000, waitMs: 50 })).toBeNull();
    const waiter = locks.acquire(key, { ttlMs: 10_000, waitMs: 10_000 });
    await Bun.sleep(30);
    expect(await first!.release()).toBe(true);
    const second = await waiter;
    expect(second).not.toBeNull();
    expect(second!.token).not.toBe(first!.token);
    expect(await second!.release()).toBe(true);
  });

  test("only the owner releases or extends: an old lease can't touch the next holder's lock", async () => {
    const key = uniqueKey("owner");
    const stale = await locks.acquire(key, { ttlMs: 100 });
    expect(stale).not.toBeNull();
    // The stale lease expires and someone else takes the lock.
    await elapse(101);
    const current = await locks.acquire(key, { ttlMs: 10_000, waitMs: 5_000 });
    expect(current).not.toBeNull();
    expect(current!.token).not.toBe(stale!.token);
    expect(await stale!.release()).toBe(false);
    expect(await stale!.extend(10_000)).toBe(false);
    // Still held by `current`.
    expect(await locks.acquire(key, { ttlMs: 10_000 })).toBeNull();
    expect(await current!.release()).toBe(true);
    expect(await current!.release()).toBe(false);
  });

  test("expiry frees the lock", async () => {
    const key = uniqueKey("expiry");
    expect(await locks.acquire(key, { ttlMs: 150 })).not.toBeNull();
    expect(await locks.acquire(key, { ttlMs: 150 })).toBeNull();
    await elapse(151);
    await waitFor(async () => (await locks.acquire(key, { ttlMs: 10_000 })) !== null, { timeoutMs: 5_000, what: "the lock to expire" });
  });

  test("extend keeps the lock past its first TTL", async () => {
    const key = uniqueKey("extend");
    const lease = await locks.acquire(key, { ttlMs: 150 });
    expect(await lease!.extend(10_000)).toBe(true);
    await elapse(400);
    expect(await locks.acquire(key, { ttlMs: 1_000 })).toBeNull();
    expect(await lease!.release()).toBe(true);
    expect(await lease!.extend(10_000)).toBe(false);
  });

  test("withLock renews the lease while fn runs, and returns null when the lock is taken", async () => {
    const key = uniqueKey("renew");
    // Renewal runs on timers: real time for both backends here.
    const locks = createLockManager(redis);
    const result = await withLock(locks, key, { ttlMs: 300 }, async (lease, signal) => {
      expect(lease.key).toBe(key);
      // Several TTLs long: without renewal another caller would get the lock.
      for (let i = 0; i < 5; i++) {
        await Bun.sleep(150);
        expect(await withLock(locks, key, { ttlMs: 1_000 }, async () => "intruder")).toBeNull();
      }
      expect(signal.aborted).toBe(false);
      return 7;
    });
    expect(result).toBe(7);
    expect(await locks.acquire(key, { ttlMs: 1_000 })).not.toBeNull();
  });

  test("withLock releases when fn throws", async () => {
    const key = uniqueKey("throw");
    await expect(withLock(locks, key, { ttlMs: 10_000 }, async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await withLock(locks, key, { ttlMs: 10_000 }, async () => "free")).toBe("free");
  });

  test("withLock aborts the signal when the lease is lost", async () => {
    const key = uniqueKey("lost");
    const result = await withLock(locks, key, { ttlMs: 150 }, async (lease, signal) => {
      await lease.release(); // stands in for the lease expiring behind our back
      await waitFor(() => signal.aborted, { timeoutMs: 5_000, what: "the abort" });
      return "noticed";
    });
    expect(result).toBe("noticed");
  });
});

describe.if(modes.includes("real"))("locks when redis is down", () => {
  test("acquire fails with an error (not null, not a hang), so no one runs believing they hold it", async () => {
    const redis = createRedis(`redis://127.0.0.1:${await freePort()}`, createLogger("silent"));
    try {
      const locks = createLockManager(redis);
      await expect(locks.acquire("k", { ttlMs: 1_000, waitMs: 100 })).rejects.toThrow();
      let ran = false;
      await expect(withLock(locks, "k", { ttlMs: 1_000 }, async () => (ran = true))).rejects.toThrow();
      expect(ran).toBe(false);
    } finally {
      redis.disconnect();
    }
  });
});
