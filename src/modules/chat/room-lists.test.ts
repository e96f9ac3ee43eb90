// The rooms' hot lists (room-lists.ts): memory (embedded) and Redis (real) follow the same rules.
// Leases run on the injected clock, so a writer that stopped half way is seen to expire by moving
// a ManualClock past its lease. The last block runs the cached Mongo store as two instances do.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { MongoClient } from "mongodb";
import { ManualClock } from "../../platform/clock";
import { createLogger } from "../../platform/logger";
import { modes } from "../../testing/modes";
import { startRealBackends } from "../../testing/servers";
import { applyChange, type ListSpec, MemoryRoomLists, RedisRoomLists, type RoomLists, writeLeaseMs } from "./room-lists";
import type { ChatStore, MemberRecord, MessageRecord } from "./store";
import { CachedChatStore, listSpecs, roomListSpecs } from "./store.cached";
import { MongoChatStore } from "./store.mongo";

const id = () => Bun.randomUUIDv7();
const specs: Record<string, ListSpec> = {
  recent: { id: "id", order: ["at", "id"], desc: true, max: 3 },
  people: { id: "user", order: ["user"], desc: false, max: 2 },
  marks: { id: "user", order: ["user"], desc: false, max: 0, keepMax: "upTo" },
};

test("applyChange: sorted upserts trimmed to the bound, forward-only marks, a removal from a full list gives it up", () => {
  const rows = [{ id: "b", at: 2 }];
  expect(applyChange(specs.recent!, rows, { list: "recent", op: "upsert", row: { id: "a", at: 1 } })).toBe(true);
  expect(applyChange(specs.recent!, rows, { list: "recent", op: "upsert", row: { id: "d", at: 4 } })).toBe(true);
  expect(applyChange(specs.recent!, rows, { list: "recent", op: "upsert", row: { id: "c", at: 3 } })).toBe(true);
  expect(rows.map((r) => r.id)).toEqual(["d", "c", "b"]);
  const marks = [{ user: "u", upTo: "m2" }];
  applyChange(specs.marks!, marks, { list: "marks", op: "upsert", row: { user: "u", upTo: "m1" } });
  expect(marks).toEqual([{ user: "u", upTo: "m2" }]);
  applyChange(specs.marks!, marks, { list: "marks", op: "upsert", row: { user: "u", upTo: "m3" } });
  expect(marks).toEqual([{ user: "u", upTo: "m3" }]);
  const people = [{ user: "a" }, { user: "b" }];
  expect(applyChange(specs.people!, people, { list: "people", op: "remove", id: "a" })).toBe(false);
  const fewer = [{ user: "a" }];
  expect(applyChange(specs.people!, fewer, { list: "people", op: "remove", id: "a" })).toBe(true);
  expect(fewer).toEqual([]);
});

describe.each(modes)("room lists (%s)", (mode) => {
  let redis: Redis | null = null;
  const clock = new ManualClock(Date.parse("2026-12-03T04:00:00Z"));
  let shared: MemoryRoomLists;
  const prefix = `rl${id().slice(-12)}:`;
  // Two instances: over one Redis, or (in memory) the one process's lists.
  const instance = (): RoomLists => (redis ? new RedisRoomLists(redis, prefix, specs, clock) : shared);

  beforeAll(async () => {
    if (mode === "real") redis = new Redis((await startRealBackends()).redisUrl);
    shared = new MemoryRoomLists(specs, clock);
  });
  afterAll(() => redis?.disconnect());

  async function filled(lists: RoomLists, room: string, list: string, rows: Record<string, unknown>[]) {
    const miss = await lists.read(room, list);
    if (miss.hit || !miss.ticket) throw new Error("expected a miss with a ticket");
    await lists.fill(room, list, miss.ticket, rows);
  }

  test("a miss, a fill, then hits on every instance; writes keep the list current", async () => {
    const [a, b] = [instance(), instance()];
    const room = id();
    await filled(a, room, "recent", [{ id: "m1", at: 1 }]);
    expect(await b.read(room, "recent")).toEqual({ hit: true, rows: [{ id: "m1", at: 1 }] });
    const w = await b.begin(room);
    await b.end(w, [{ list: "recent", op: "upsert", row: { id: "m2", at: 2 } }]);
    expect(await a.read(room, "recent")).toEqual({
      hit: true,
      rows: [
        { id: "m2", at: 2 },
        { id: "m1", at: 1 },
      ],
    });
  });

  test("a fill that read the store before a write ended is refused (the stale page never lands)", async () => {
    const [reader, writer] = [instance(), instance()];
    const room = id();
    const miss = await reader.read(room, "recent");
    expect(miss).toEqual({ hit: false, ticket: expect.any(String) });
    // The writer's store write and end() happen while the reader is reading the store.
    await writer.end(await writer.begin(room), [{ list: "recent", op: "upsert", row: { id: "m2", at: 2 } }]);
    await reader.fill(room, "recent", (miss as { ticket: string }).ticket, [{ id: "m1", at: 1 }]);
    expect((await reader.read(room, "recent")).hit).toBe(false);
  });

  test("while a write is under way the list is served but not filled", async () => {
    const [reader, writer] = [instance(), instance()];
    const room = id();
    await filled(reader, room, "people", [{ user: "a" }]);
    const w = await writer.begin(room);
    expect(await reader.read(room, "people")).toEqual({ hit: true, rows: [{ user: "a" }] });
    expect(await reader.read(room, "marks")).toEqual({ hit: false, ticket: null });
    await writer.end(w, [{ list: "people", op: "upsert", row: { user: "b" } }]);
    expect(await reader.read(room, "people")).toEqual({ hit: true, rows: [{ user: "a" }, { user: "b" }] });
    expect(await reader.read(room, "marks")).toEqual({ hit: false, ticket: expect.any(String) });
  });

  test("a failed write (end with no changes) and a removal from a full list drop the lists", async () => {
    const lists = instance();
    const room = id();
    await filled(lists, room, "recent", [{ id: "m1", at: 1 }]);
    await lists.end(await lists.begin(room), null);
    expect((await lists.read(room, "recent")).hit).toBe(false);
    await filled(lists, room, "people", [{ user: "a" }, { user: "b" }]);
    await lists.end(await lists.begin(room), [{ list: "people", op: "remove", id: "a" }]);
    expect((await lists.read(room, "people")).hit).toBe(false);
  });

  test("a writer that stops between its store write and end() loses the lists once its lease runs out", async () => {
    const [crashed, reader] = [instance(), instance()];
    const room = id();
    await filled(reader, room, "recent", [{ id: "m1", at: 1 }]);
    await crashed.begin(room);
    // Its message is in the store, never in the list: served only until the lease ends.
    expect((await reader.read(room, "recent")).hit).toBe(true);
    clock.advance(writeLeaseMs + 1);
    expect(await reader.read(room, "recent")).toEqual({ hit: false, ticket: expect.any(String) });
    await filled(reader, room, "recent", [
      { id: "m2", at: 2 },
      { id: "m1", at: 1 },
    ]);
    expect((await reader.read(room, "recent")).hit).toBe(true);
  });

  test("a seed (a room created by the write) lands only if no other write ended since begin", async () => {
    const [creator, other] = [instance(), instance()];
    const fresh = id();
    await creator.end(await creator.begin(fresh), [{ list: "people", op: "seed", rows: [{ user: "owner" }] }]);
    expect(await other.read(fresh, "people")).toEqual({ hit: true, rows: [{ user: "owner" }] });
    const raced = id();
    const w = await creator.begin(raced);
    await other.end(await other.begin(raced), []);
    await creator.end(w, [{ list: "people", op: "seed", rows: [{ user: "owner" }] }]);
    expect((await other.read(raced, "people")).hit).toBe(false);
  });

  test("dropAll gives up every room's lists and refuses fills from before it", async () => {
    const lists = instance();
    const [r1, r2] = [id(), id()];
    await filled(lists, r1, "recent", [{ id: "m1", at: 1 }]);
    const miss = await lists.read(r2, "recent");
    await lists.dropAll();
    expect((await lists.read(r1, "recent")).hit).toBe(false);
    await lists.fill(r2, "recent", (miss as { ticket: string }).ticket, [{ id: "x", at: 1 }]);
    expect((await lists.read(r2, "recent")).hit).toBe(false);
  });
});

// The store as the app runs it on Mongo: a join's reads come from the lists once filled, and a
// write on one instance shows on the next read of another.
describe.each(modes.filter((m) => m === "real"))("cached Mongo chat store, two instances (%s)", () => {
  let client: MongoClient;
  let redis: Redis;
  let db: ReturnType<MongoClient["db"]>;
  let reads = 0;
  let a: ChatStore;
  let b: ChatStore;
  let small: ChatStore;

  beforeAll(async () => {
    const backends = await startRealBackends();
    client = new MongoClient(backends.mongoUrl);
    await client.connect();
    db = client.db(`chat_lists_${id().replaceAll("-", "").slice(-12)}`);
    redis = new Redis(backends.redisUrl);
    const prefix = `cl${id().slice(-12)}:`;
    const logger = createLogger("error");
    const counted = () => {
      const mongo = new MongoChatStore(db);
      for (const method of ["history", "members", "reads", "member"] as const) {
        const original = mongo[method].bind(mongo) as (...args: unknown[]) => Promise<unknown>;
        (mongo as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
          reads++;
          return original(...args);
        };
      }
      return mongo;
    };
    const clock = new ManualClock();
    a = new CachedChatStore(counted(), new RedisRoomLists(redis, prefix, roomListSpecs, clock), logger);
    b = new CachedChatStore(counted(), new RedisRoomLists(redis, prefix, roomListSpecs, clock), logger);
    // Lists of at most two members, to see a full one.
    small = new CachedChatStore(counted(), new RedisRoomLists(redis, `${prefix}small:`, listSpecs(2), clock), logger, 2);
    await a.init();
  });
  afterAll(async () => {
    await db.dropDatabase().catch(() => undefined);
    await client.close();
    redis.disconnect();
  });

  const message = (roomId: string, senderId: string, content: string, createdAt: number): MessageRecord => ({
    id: id(),
    roomId,
    senderId,
    senderNickname: "n",
    kind: "text",
    content,
    fileId: null,
    clientMsgId: id(),
    createdAt,
    deletedAt: null,
    authorDeletedAt: null,
  });

  test("a created room's lists are known at once; joins, messages and read marks on A are read on B without the store", async () => {
    const roomId = id();
    const owner: MemberRecord = { roomId, userId: id(), nickname: "owner", joinedAt: 1 };
    await a.createRoom(
      { id: roomId, name: "r", nameKey: "r", passwordHash: null, ownerId: owner.userId, createdAt: 1, memberCount: 1 },
      owner,
      message(roomId, owner.userId, "joined", 1),
    );
    const guest: MemberRecord = { roomId, userId: id(), nickname: "guest", joinedAt: 2 };
    expect(await a.join(guest, message(roomId, guest.userId, "joined", 2))).toBe(true);
    const sent = await a.insertMessage(message(roomId, guest.userId, "hello", 3));
    await a.saveReads([{ roomId, userId: owner.userId, upToMessageId: sent.message.id, updatedAt: 4 }]);
    reads = 0;
    expect((await b.history(roomId, null, 31)).map((m) => m.content)).toEqual(["hello", "joined", "joined"]);
    expect((await b.members(roomId, 1000)).map((m) => m.nickname)).toEqual(["owner", "guest"]);
    expect((await b.reads(roomId)).map((r) => r.upToMessageId)).toEqual([sent.message.id]);
    expect(reads).toBe(0);
    await b.softDeleteMessage(sent.message.id, 5);
    expect(await b.leave(roomId, guest.userId, message(roomId, guest.userId, "left", 6))).toBe(true);
    expect((await a.history(roomId, null, 2)).map((m) => [m.content, m.deletedAt])).toEqual([
      ["left", null],
      ["", 5],
    ]);
    expect((await a.members(roomId, 1000)).map((m) => m.nickname)).toEqual(["owner"]);
    expect(reads).toBe(0);
    // A rename changes rows in every room: the lists go, and the store answers the next read.
    await a.renameAuthor(owner.userId, "renamed");
    expect((await b.members(roomId, 1000)).map((m) => m.nickname)).toEqual(["renamed"]);
    expect(reads).toBe(1);
    expect((await a.members(roomId, 1000)).map((m) => m.nickname)).toEqual(["renamed"]);
    expect(reads).toBe(1);
  });
  test("membership comes from the member list while it holds every member; once it is full, from the store", async () => {
    const roomId = id();
    const owner: MemberRecord = { roomId, userId: id(), nickname: "owner", joinedAt: 1 };
    const room = { id: roomId, name: "m", nameKey: "m", passwordHash: null, ownerId: owner.userId, createdAt: 1, memberCount: 1 };
    await a.createRoom(room, owner, message(roomId, owner.userId, "joined", 1));
    const guest: MemberRecord = { roomId, userId: id(), nickname: "guest", joinedAt: 2 };
    const stranger = id();
    reads = 0;
    expect(await b.member(roomId, guest.userId)).toBeNull();
    expect(await a.join(guest, message(roomId, guest.userId, "joined", 2))).toBe(true);
    expect(await b.member(roomId, guest.userId)).toMatchObject({ nickname: "guest" });
    expect(await b.member(roomId, stranger)).toBeNull();
    expect(await b.leave(roomId, guest.userId, message(roomId, guest.userId, "left", 3))).toBe(true);
    expect(await a.member(roomId, guest.userId)).toBeNull();
    expect(await a.member(roomId, owner.userId)).toMatchObject({ nickname: "owner" });
    expect(reads).toBe(0);

    // Two kept, three members: the third is not in the list, and only the store knows it.
    const other = id();
    const first: MemberRecord = { roomId: other, userId: id(), nickname: "first", joinedAt: 1 };
    await small.createRoom({ ...room, id: other }, first, message(other, first.userId, "joined", 1));
    const second: MemberRecord = { roomId: other, userId: id(), nickname: "second", joinedAt: 2 };
    const third: MemberRecord = { roomId: other, userId: id(), nickname: "third", joinedAt: 3 };
    await small.join(second, message(other, second.userId, "joined", 2));
    await small.join(third, message(other, third.userId, "joined", 3));
    reads = 0;
    expect(await small.member(other, third.userId)).toMatchObject({ nickname: "third" });
    expect(await small.member(other, stranger)).toBeNull();
    expect(reads).toBe(2);
  });
});
