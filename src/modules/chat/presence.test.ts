// The presence port: memory (embedded) and Redis (real) pass the same contract; the Redis one's
// leases run on the injected clock, so an instance that stops beating is seen to expire by
// moving a ManualClock past the lease instead of waiting 30 s.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { ManualClock } from "../../platform/clock";
import { modes } from "../../testing/modes";
import { startRealBackends } from "../../testing/servers";
import { MemoryPresence, type PresenceStore, RedisPresence } from "./presence";

const ttlMs = 30_000;
const id = () => Bun.randomUUIDv7();

describe.each(modes)("presence (%s)", (mode) => {
  let redis: Redis | null = null;
  const clock = new ManualClock(Date.parse("2026-12-01T04:00:00Z"));
  const prefix = `p${id().slice(-12)}:`;
  // Two instances sharing the store (Redis); in memory there is one process, so one store.
  let shared: PresenceStore;
  const instance = (): PresenceStore => (redis ? new RedisPresence(redis, prefix, id(), ttlMs, clock) : shared);

  beforeAll(async () => {
    if (mode === "real") redis = new Redis((await startRealBackends()).redisUrl);
    shared = new MemoryPresence();
  });
  afterAll(() => {
    redis?.disconnect();
  });

  test("online on the first entry anywhere, offline after the last exit everywhere", async () => {
    const room = id();
    const [a, b] = [instance(), instance()];
    expect(await a.enter(room, "u1")).toBe(true);
    expect(await b.enter(room, "u1")).toBe(false);
    expect(await a.online(room)).toEqual(new Set(["u1"]));
    if (a !== b) {
      // u1 is still on b: not offline yet.
      expect(await a.exit(room, "u1")).toBe(false);
      expect(await b.exit(room, "u1")).toBe(true);
    } else {
      expect(await a.exit(room, "u1")).toBe(true);
    }
    expect(await b.online(room)).toEqual(new Set());
  });
});

// Leases exist only across instances, so only the Redis store has them.
describe.each(modes.filter((m) => m === "real"))("presence leases (%s)", () => {
  let redis: Redis;
  const clock = new ManualClock(Date.parse("2026-12-01T04:00:00Z"));
  const prefix = `p${id().slice(-12)}:`;
  const instance = () => new RedisPresence(redis, prefix, id(), ttlMs, clock);

  beforeAll(async () => {
    redis = new Redis((await startRealBackends()).redisUrl);
  });
  afterAll(() => redis?.disconnect());

  test("an instance that stops beating: its users go offline once the lease has passed", async () => {
    const room = id();
    const [crashed, alive] = [instance(), instance()];
    expect(await crashed.enter(room, "gone")).toBe(true);
    expect(await alive.enter(room, "stays")).toBe(true);
    // Within the lease the beat of the live instance keeps both.
    clock.advance(ttlMs - 1_000);
    expect(await alive.heartbeat([{ roomId: room, userId: "stays" }])).toEqual([]);
    expect(await alive.online(room)).toEqual(new Set(["gone", "stays"]));
    // Past it, the crashed instance's user is reported gone, once; the beating one stays.
    clock.advance(2_000);
    expect(await alive.heartbeat([{ roomId: room, userId: "stays" }])).toEqual([{ roomId: room, userId: "gone" }]);
    expect(await alive.heartbeat([{ roomId: room, userId: "stays" }])).toEqual([]);
    expect(await alive.online(room)).toEqual(new Set(["stays"]));
    // A user back on a live instance is online again.
    expect(await alive.enter(room, "gone")).toBe(true);
  });
});
