// The presence port: memory (embedded) and Redis (real) pass the same contract; the Redis one's
// leases run on the injected clock, so an instance that stops beating is seen to expire by
// moving a ManualClock past the lease instead of waiting 30 s.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Redis from "ioredis";
import { ManualClock } from "../../platform/clock";
import { modes } from "../../testing/modes";
import { type RunningServer, startServer } from "../../testing/process";
import { startRealBackends } from "../../testing/servers";
import { MemoryPresence, type PresenceStore, RedisPresence } from "./presence";
import { ChatClient } from "./testkit";

// The chat module's TTL (index.ts).
const ttlMs = 9_000;
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
  // Each test its own key prefix: the instances of an earlier test, no longer beating, are dead.
  let prefix = "";
  const instance = () => new RedisPresence(redis, prefix, id(), ttlMs, clock);
  // The instance lease lasts two heartbeats (two thirds of the entry TTL).
  const leaseMs = (ttlMs * 2) / 3;

  beforeAll(async () => {
    redis = new Redis((await startRealBackends()).redisUrl);
  });
  afterAll(() => redis?.disconnect());
  beforeEach(() => {
    prefix = `p${id().slice(-12)}:`;
  });

  test("an instance that stops beating: its users go offline once its lease has passed, reported by one survivor only", async () => {
    const [room, other] = [id(), id()];
    const [crashed, alive, alsoAlive] = [instance(), instance(), instance()];
    expect(await crashed.enter(room, "gone")).toBe(true);
    expect(await crashed.enter(other, "gone")).toBe(true);
    expect(await crashed.enter(room, "both")).toBe(true);
    expect(await alive.enter(room, "stays")).toBe(true);
    expect(await alive.enter(room, "both")).toBe(false);
    const beat = (p: PresenceStore) => p.heartbeat(p === alive ? [{ roomId: room, userId: "stays" }, { roomId: room, userId: "both" }] : [{ roomId: other, userId: "watcher" }]);
    // Within the lease, beats of the live ones report nothing.
    clock.advance(leaseMs - 1_000);
    expect(await beat(alive)).toEqual([]);
    expect(await beat(alsoAlive)).toEqual([]);
    expect(await alive.online(room)).toEqual(new Set(["gone", "stays", "both"]));
    // Past it (long before the entries' own TTL): two survivors beat at once; one reports the
    // crashed instance's user in both rooms, the other nothing; "both" is still on a live instance.
    clock.advance(2_000);
    const reports = await Promise.all([beat(alive), beat(alsoAlive)]);
    const sort = (g: Array<{ roomId: string; userId: string }>) => [...g].sort((a, b) => a.roomId.localeCompare(b.roomId));
    expect(sort(reports.flat())).toEqual(sort([{ roomId: room, userId: "gone" }, { roomId: other, userId: "gone" }]));
    expect(reports.filter((r) => r.length > 0)).toHaveLength(1);
    expect(await beat(alive)).toEqual([]);
    expect(await beat(alsoAlive)).toEqual([]);
    expect(await alive.online(room)).toEqual(new Set(["stays", "both"]));
    expect(await alive.online(other)).toEqual(new Set(["watcher"]));
    // A user back on a live instance is online again.
    expect(await alive.enter(room, "gone")).toBe(true);
  });

  test("the lease is renewed by each heartbeat and by entering: a beating instance is never reaped", async () => {
    const room = id();
    const [steady, watcher] = [instance(), instance()];
    expect(await steady.enter(room, "u")).toBe(true);
    for (let i = 0; i < 5; i++) {
      clock.advance(ttlMs / 3);
      expect(await steady.heartbeat([{ roomId: room, userId: "u" }])).toEqual([]);
      expect(await watcher.heartbeat([{ roomId: room, userId: "w" }])).toEqual([]);
    }
    expect(await watcher.online(room)).toEqual(new Set(["u", "w"]));
    // It leaves the room: a later lapse of its lease reports nobody.
    expect(await steady.exit(room, "u")).toBe(true);
    clock.advance(leaseMs + 1);
    expect(await watcher.heartbeat([{ roomId: room, userId: "w" }])).toEqual([]);
  });

  test("a heartbeat renews only the entries due (a third of their 3-minute life after the last write), not every entry", async () => {
    const room = id();
    const steady = instance();
    expect(await steady.enter(room, "u")).toBe(true);
    const field = async () => {
      const all = await redis.hgetall(`${prefix}chat:presence:${room}`);
      return Object.entries(all).find(([f]) => f.startsWith("u|"))?.[1];
    };
    expect(await steady.heartbeat([{ roomId: room, userId: "u" }])).toEqual([]); // first beat: renews all
    const written = await field();
    // Beats within the minute write no entry: the field keeps its value.
    for (let i = 0; i < 5; i++) {
      clock.advance(ttlMs / 3);
      expect(await steady.heartbeat([{ roomId: room, userId: "u" }])).toEqual([]);
    }
    expect(await field()).toBe(written);
    expect(await steady.online(room)).toEqual(new Set(["u"]));
    // Past a third of the entry's life it is renewed.
    clock.advance(60_000);
    expect(await steady.heartbeat([{ roomId: room, userId: "u" }])).toEqual([]);
    expect(Number(await field())).toBe(clock.now() + ttlMs * 20);
  });

  test("an instance taken for dead while it was only stalled puts its users back at its next heartbeat", async () => {
    const room = id();
    const [stalled, watcher] = [instance(), instance()];
    expect(await stalled.enter(room, "s")).toBe(true);
    clock.advance(leaseMs + 1);
    expect(await watcher.heartbeat([{ roomId: room, userId: "w" }])).toEqual([{ roomId: room, userId: "s" }]);
    expect(await watcher.online(room)).toEqual(new Set(["w"]));
    expect(await stalled.heartbeat([{ roomId: room, userId: "s" }])).toEqual([]);
    expect(await watcher.online(room)).toEqual(new Set(["w", "s"]));
    // And it holds a lease again: lapsing later, it is reported again, once.
    clock.advance(leaseMs + 1);
    expect(await watcher.heartbeat([{ roomId: room, userId: "w" }])).toEqual([{ roomId: room, userId: "s" }]);
  });
});

// Real processes: three instances on one Redis and NATS; a user on A, watchers on B and C.
// SIGKILL A (no exit, no close frames): both watchers see it offline within 10 s, once each.
describe.each(modes.filter((m) => m === "real"))("presence when an instance dies (%s)", () => {
  const servers: RunningServer[] = [];
  const clients: ChatClient[] = [];
  let dataDir: string;

  async function http(server: RunningServer, method: string, path: string, token?: string, body?: unknown) {
    return fetch(`${server.url}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
  }

  beforeAll(async () => {
    const { redisUrl, natsUrl } = await startRealBackends();
    dataDir = mkdtempSync(join(tmpdir(), "homebase-presence-"));
    const env = {
      REDIS_URL: redisUrl,
      NATS_URL: natsUrl,
      HOMEBASE_EVENT_NAMESPACE: `p${Bun.randomUUIDv7().replaceAll("-", "").slice(-12)}`,
      HOMEBASE_LOG_LEVEL: "warn",
      HOMEBASE_SQLITE_SYNCHRONOUS: "NORMAL",
    };
    servers.push(await startServer(env, { dataDir }));
    servers.push(await startServer(env, { dataDir, args: ["serve"] }));
    servers.push(await startServer(env, { dataDir, args: ["serve"] }));
  }, 90_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("SIGKILL the instance a user is on: the others' clients see the user offline within 10 s, exactly once", async () => {
    const [a, b, c] = servers as [RunningServer, RunningServer, RunningServer];
    const users: Array<{ id: string; token: string }> = [];
    for (const who of ["doomed", "watch1", "watch2"]) {
      const n = Bun.randomUUIDv7().replaceAll("-", "").slice(-10);
      const body = { email: `${who}.${n}@example.com`, password: "Sup3r-secret!", nickname: `${who}_${n}` };
      expect((await http(b, "POST", "/auth/signup", undefined, body)).status).toBe(201);
      const { accessToken } = (await (await http(b, "POST", "/auth/login", undefined, { email: body.email, password: body.password })).json()) as { accessToken: string };
      const me = (await (await http(b, "GET", "/me", accessToken)).json()) as { id: string };
      users.push({ id: me.id, token: accessToken });
    }
    const [doomed, watch1, watch2] = users as [(typeof users)[0], (typeof users)[0], (typeof users)[0]];
    const room = (await (await http(b, "POST", "/rooms", watch1.token, { name: "presence" })).json()) as { id: string };
    for (const u of [doomed, watch2]) expect((await http(b, "POST", `/rooms/${room.id}/join`, u.token, {})).status).toBe(200);
    const w1 = await ChatClient.connect(b.url, watch1.token);
    const w2 = await ChatClient.connect(c.url, watch2.token);
    clients.push(w1, w2);
    await w1.join(room.id);
    await w2.join(room.id);
    const d = await ChatClient.connect(a.url, doomed.token);
    clients.push(d);
    await d.join(room.id);
    const isDoomed = (online: boolean) => (e: { event: string; userId?: unknown; online?: unknown }) => e.event === "presence" && e.userId === doomed.id && e.online === online;
    await w1.next(isDoomed(true), "doomed online at watcher 1");
    await w2.next(isDoomed(true), "doomed online at watcher 2");

    a.proc.kill("SIGKILL");
    await a.proc.exited;
    // The bound presence.ts gives (9 s) plus a second for the fanout and a busy machine.
    await w1.next(isDoomed(false), "doomed offline at watcher 1 (instance B)", 0, 10_000);
    await w2.next(isDoomed(false), "doomed offline at watcher 2 (instance C)", 0, 10_000);
    // Exactly once: both survivors beat again (3 s) before we count; a message round trip
    // after that shows each watcher's stream is caught up.
    await Bun.sleep(4_000);
    await w1.say(room.id, "still here");
    await w2.next((e) => e.event === "message" && e.message.content === "still here", "the message at watcher 2");
    expect(w1.all(isDoomed(false))).toHaveLength(1);
    expect(w2.all(isDoomed(false))).toHaveLength(1);
  }, 60_000);
});
