// The chat store contract: the SQLite and the MongoDB implementations pass the same tests
// (Mongo against the harness's FerretDB, in the "real" mode).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Redis from "ioredis";
import { MongoClient } from "mongodb";
import { systemClock } from "../../platform/clock";
import { createLogger } from "../../platform/logger";
import { migrationSets } from "../../app";
import { GroupCommitWriter, migrate, openDatabase } from "../../platform/db/sqlite";
import { modes } from "../../testing/modes";
import { startRealBackends } from "../../testing/servers";
import { MemoryRoomLists, RedisRoomLists } from "./room-lists";
import { CachedChatStore, roomListSpecs } from "./store.cached";
import { MongoChatStore } from "./store.mongo";
import { SqliteChatStore } from "./store.sqlite";
import { nameKey, type ChatStore, type FileRecord, type MessageRecord, type RoomRecord } from "./store";

// Embedded mode runs the SQLite store; real mode the Mongo store, bare and as the app runs it:
// with the rooms' hot lists in Redis (REDIS_URL set) or in memory (store.cached.ts).
const kinds = modes.flatMap((m) => (m === "embedded" ? ["sqlite"] : ["mongo", "mongo + lists in Redis", "mongo + lists in memory"]));

const id = () => Bun.randomUUIDv7();
let clock = Date.now();
const tick = () => ++clock;

function roomRecord(name: string, over: Partial<RoomRecord> = {}): RoomRecord {
  return { id: id(), name, nameKey: nameKey(name), passwordHash: null, ownerId: id(), createdAt: tick(), memberCount: 0, ...over };
}

function message(roomId: string, senderId: string, over: Partial<MessageRecord> = {}): MessageRecord {
  return {
    id: id(),
    roomId,
    senderId,
    senderNickname: "nick",
    kind: "text",
    content: "hello",
    fileId: null,
    clientMsgId: id(),
    createdAt: tick(),
    deletedAt: null,
    authorDeletedAt: null,
    ...over,
  };
}

const system = (roomId: string, userId: string, content: "joined" | "left") =>
  message(roomId, userId, { kind: "system", content, clientMsgId: `system:${id()}` });

describe.each(kinds)("chat store (%s)", (kind) => {
  let store: ChatStore;
  let close: () => Promise<void>;

  beforeAll(async () => {
    if (kind === "sqlite") {
      const dir = mkdtempSync(join(tmpdir(), "homebase-chat-store-"));
      const db = openDatabase(join(dir, "t.sqlite"), { synchronous: "NORMAL" });
      migrate(db, migrationSets());
      const writer = new GroupCommitWriter(db);
      store = new SqliteChatStore(db, writer);
      close = async () => {
        await writer.close();
        db.close();
        rmSync(dir, { recursive: true, force: true });
      };
    } else {
      const { mongoUrl } = await startRealBackends();
      const client = new MongoClient(mongoUrl);
      await client.connect();
      const db = client.db(`chat_store_${id().replaceAll("-", "").slice(-12)}`);
      const mongo = new MongoChatStore(db);
      let redis: Redis | null = null;
      if (kind === "mongo + lists in Redis") {
        redis = new Redis((await startRealBackends()).redisUrl);
      }
      const lists = redis ? new RedisRoomLists(redis, `store-test-${id()}:`, roomListSpecs, systemClock) : new MemoryRoomLists(roomListSpecs, systemClock);
      store = kind === "mongo" ? mongo : new CachedChatStore(mongo, lists, createLogger("error"));
      close = async () => {
        await db.dropDatabase().catch(() => undefined);
        await client.close();
        redis?.disconnect();
      };
    }
    await store.init();
  });
  afterAll(() => close());

  async function newRoom(name: string, over: Partial<RoomRecord> = {}) {
    const room = roomRecord(name, over);
    await store.createRoom(room, { roomId: room.id, userId: room.ownerId, nickname: "owner", joinedAt: room.createdAt }, system(room.id, room.ownerId, "joined"));
    return room;
  }

  test("a created room has its owner as member and a join message", async () => {
    const room = await newRoom("Store Basics", { passwordHash: "hash" });
    const got = await store.room(room.id);
    expect(got).toMatchObject({ id: room.id, name: "Store Basics", nameKey: "store basics", passwordHash: "hash", memberCount: 1 });
    expect(await store.member(room.id, room.ownerId)).toMatchObject({ nickname: "owner" });
    const history = await store.history(room.id, null, 10);
    expect(history.map((m) => [m.kind, m.content])).toEqual([["system", "joined"]]);
    expect(await store.room(id())).toBeNull();
  });

  test("join and leave are idempotent and keep the participant count", async () => {
    const room = await newRoom("Join Leave");
    const user = id();
    const member = { roomId: room.id, userId: user, nickname: "u", joinedAt: tick() };
    expect(await store.join(member, system(room.id, user, "joined"))).toBe(true);
    expect(await store.join(member, system(room.id, user, "joined"))).toBe(false);
    expect((await store.room(room.id))!.memberCount).toBe(2);
    expect((await store.members(room.id, 10)).map((m) => m.userId)).toEqual([room.ownerId, user]);
    expect(await store.joinedAmong(user, [room.id, id()])).toEqual(new Set([room.id]));

    expect(await store.leave(room.id, user, system(room.id, user, "left"))).toBe(true);
    expect(await store.leave(room.id, user, system(room.id, user, "left"))).toBe(false);
    expect((await store.room(room.id))!.memberCount).toBe(1);
    expect(await store.member(room.id, user)).toBeNull();
    // One join, one leave message for the user (the repeated calls wrote nothing).
    const mine = (await store.history(room.id, null, 10)).filter((m) => m.senderId === user).map((m) => m.content);
    expect(mine).toEqual(["left", "joined"]);
  });

  test("room list: search, sort by name / created / participants, paging, members only", async () => {
    const tag = `srt${id().slice(-8)}`;
    const a = await newRoom(`${tag} Alpha`);
    const b = await newRoom(`${tag} bravo`);
    const c = await newRoom(`${tag} Charlie_%`);
    const other = id();
    for (const room of [b, c]) await store.join({ roomId: room.id, userId: other, nickname: "o", joinedAt: tick() }, system(room.id, other, "joined"));
    await store.join({ roomId: c.id, userId: id(), nickname: "p", joinedAt: tick() }, system(c.id, other, "joined"));

    const list = (q: Partial<Parameters<ChatStore["listRooms"]>[0]>) =>
      store.listRooms({ search: tag.toUpperCase(), sort: "created", order: "desc", limit: 10, offset: 0, ...q });
    expect((await list({ sort: "name", order: "asc" })).items.map((r) => r.id)).toEqual([a.id, b.id, c.id]);
    expect((await list({ sort: "created", order: "desc" })).items.map((r) => r.id)).toEqual([c.id, b.id, a.id]);
    expect((await list({ sort: "participants", order: "desc" })).items.map((r) => [r.id, r.memberCount])).toEqual([
      [c.id, 3],
      [b.id, 2],
      [a.id, 1],
    ]);
    const page2 = await list({ sort: "name", order: "asc", limit: 2, offset: 2 });
    expect(page2).toEqual({ items: [expect.objectContaining({ id: c.id })], total: 3 });
    // LIKE wildcards and regex characters in the search are literal.
    expect((await list({ search: `${tag} charlie_%` })).items.map((r) => r.id)).toEqual([c.id]);
    expect((await list({ search: `${tag} .*` })).total).toBe(0);
    expect((await list({ memberId: other })).items.map((r) => r.id)).toEqual([c.id, b.id]);
  });

  test("a re-sent clientMsgId returns the first message instead of a duplicate", async () => {
    const room = await newRoom("Dedup");
    const first = message(room.id, room.ownerId, { clientMsgId: "c-1", content: "one" });
    expect(await store.insertMessage(first)).toEqual({ message: first, duplicate: false });
    const again = await store.insertMessage(message(room.id, room.ownerId, { clientMsgId: "c-1", content: "two" }));
    expect(again.duplicate).toBe(true);
    expect(again.message).toEqual(first);
    // The same client id from another sender is another message.
    const other = await store.insertMessage(message(room.id, id(), { clientMsgId: "c-1" }));
    expect(other.duplicate).toBe(false);
    const concurrent = await Promise.all([1, 2, 3].map(() => store.insertMessage(message(room.id, room.ownerId, { clientMsgId: "c-2" }))));
    expect(concurrent.filter((r) => !r.duplicate)).toHaveLength(1);
    expect(new Set(concurrent.map((r) => r.message.id)).size).toBe(1);
  });

  test("history pages newest first with a cursor, ties on createdAt broken by id", async () => {
    const room = await newRoom("History");
    const at = tick();
    const sent: MessageRecord[] = [];
    for (let i = 0; i < 7; i++) {
      // Pairs share a timestamp: the cursor must still neither skip nor repeat.
      const m = message(room.id, room.ownerId, { content: `m${i}`, createdAt: at + Math.floor(i / 2) });
      sent.push(m);
      await store.insertMessage(m);
    }
    clock += 10;
    const seen: string[] = [];
    let cursor: MessageRecord | null = null;
    for (;;) {
      const page: MessageRecord[] = await store.history(room.id, cursor ? { createdAt: cursor.createdAt, id: cursor.id } : null, 3);
      seen.push(...page.map((m) => m.content));
      if (page.length < 3) break;
      cursor = page[page.length - 1]!;
    }
    expect(seen).toEqual(["m6", "m5", "m4", "m3", "m2", "m1", "m0", "joined"]);
  });

  test("soft delete empties the content and keeps the message", async () => {
    const room = await newRoom("Delete");
    const m = message(room.id, room.ownerId, { content: "secret" });
    await store.insertMessage(m);
    const deleted = await store.softDeleteMessage(m.id, 1234);
    expect(deleted).toMatchObject({ id: m.id, content: "", deletedAt: 1234 });
    // Deleting again keeps the first deletion time.
    expect((await store.softDeleteMessage(m.id, 9999))!.deletedAt).toBe(1234);
    expect(await store.softDeleteMessage(id(), 1)).toBeNull();
    expect((await store.history(room.id, null, 1))[0]).toMatchObject({ id: m.id, content: "" });
  });

  test("read marks only move forward and a repeated batch changes nothing", async () => {
    const room = await newRoom("Reads");
    const [u1, u2] = [id(), id()];
    const [m1, m2, m3] = [id(), id(), id()];
    await store.saveReads([
      { roomId: room.id, userId: u1, upToMessageId: m2, updatedAt: 1 },
      { roomId: room.id, userId: u2, upToMessageId: m1, updatedAt: 1 },
    ]);
    await store.saveReads([
      { roomId: room.id, userId: u1, upToMessageId: m1, updatedAt: 2 },
      { roomId: room.id, userId: u2, upToMessageId: m3, updatedAt: 2 },
    ]);
    await store.saveReads([{ roomId: room.id, userId: u2, upToMessageId: m3, updatedAt: 2 }]);
    const reads = (await store.reads(room.id)).map((r) => [r.userId, r.upToMessageId]).sort();
    expect(reads).toEqual([[u1, m2], [u2, m3]].sort() as string[][]);
    expect(await store.reads(id())).toEqual([]);
  });

  test("files: visible to members of a room where they were posted, until deleted", async () => {
    const room = await newRoom("Files");
    const member = id();
    const outsider = id();
    await store.join({ roomId: room.id, userId: member, nickname: "m", joinedAt: tick() }, system(room.id, member, "joined"));
    const file: FileRecord = {
      id: id(),
      uploaderId: room.ownerId,
      name: "cat.png",
      mime: "image/png",
      size: 10,
      category: "image",
      storage: "local",
      storageKey: "ab/cat",
      createdAt: tick(),
      deletedAt: null,
    };
    await store.insertFile(file);
    expect(await store.file(file.id)).toEqual(file);
    expect(await store.fileVisibleTo(file.id, member)).toBe(false); // not posted yet
    const post = message(room.id, room.ownerId, { kind: "file", fileId: file.id, content: "" });
    await store.insertMessage(post);
    expect(await store.fileVisibleTo(file.id, member)).toBe(true);
    expect(await store.fileVisibleTo(file.id, outsider)).toBe(false);
    expect((await store.files([file.id, file.id, id()])).get(file.id)).toEqual(file);
    await store.softDeleteMessage(post.id, tick());
    expect(await store.fileVisibleTo(file.id, member)).toBe(false);
    expect(await store.deleteFile(file.id, 77)).toBe(true);
    expect(await store.deleteFile(file.id, 78)).toBe(false);
    expect((await store.file(file.id))!.deletedAt).toBe(77);
  });

  test("reactions: one kind per user per message, replaced by another, removed only as the kind held; counted per kind", async () => {
    const room = await newRoom("reactions");
    const [u1, u2, u3] = [id(), id(), id()];
    const m1 = message(room.id, room.ownerId);
    const m2 = message(room.id, room.ownerId);
    await store.insertMessage(m1);
    await store.insertMessage(m2);
    const react = (messageId: string, userId: string, kind: "like" | "love" | "laugh") => store.setReaction({ messageId, roomId: room.id, userId, kind, createdAt: tick() });
    expect(await react(m1.id, u1, "like")).toBeNull();
    expect(await react(m1.id, u2, "like")).toBeNull();
    expect(await react(m1.id, u3, "love")).toBeNull();
    expect(await react(m2.id, u1, "laugh")).toBeNull();
    // u1 changes its mind on m1: replaced, and the same kind again is no change.
    expect(await react(m1.id, u1, "love")).toBe("like");
    expect(await react(m1.id, u1, "love")).toBe("love");
    const counts = await store.reactionCounts([m1.id, m2.id, id()]);
    expect(Object.fromEntries(counts.get(m1.id)!)).toEqual({ like: 1, love: 2 });
    expect(Object.fromEntries(counts.get(m2.id)!)).toEqual({ laugh: 1 });
    expect(counts.size).toBe(2);
    expect(Object.fromEntries(await store.reactionsBy(u1, [m1.id, m2.id]))).toEqual({ [m1.id]: "love", [m2.id]: "laugh" });
    expect((await store.reactionsBy(u2, [m2.id])).size).toBe(0);
    expect((await store.reactionCounts([])).size).toBe(0);
    // Removing a kind the user does not hold changes nothing.
    expect(await store.removeReaction(m1.id, u2, "love")).toBe(false);
    expect(await store.removeReaction(m1.id, u2, "like")).toBe(true);
    expect(await store.removeReaction(m1.id, u2, "like")).toBe(false);
    expect(Object.fromEntries((await store.reactionCounts([m1.id])).get(m1.id)!)).toEqual({ love: 2 });
  });

  test("a deleted account leaves every room, its messages show a deleted author, its reactions and read marks go; again changes nothing", async () => {
    const gone = id();
    const stays = id();
    const r1 = await newRoom("deleted author 1");
    const r2 = await newRoom("deleted author 2");
    for (const room of [r1, r2]) {
      expect(await store.join({ roomId: room.id, userId: gone, nickname: "gone", joinedAt: tick() }, system(room.id, gone, "joined"))).toBe(true);
      expect(await store.join({ roomId: room.id, userId: stays, nickname: "stays", joinedAt: tick() }, system(room.id, stays, "joined"))).toBe(true);
    }
    const byGone = message(r1.id, gone, { senderNickname: "gone", content: "bye" });
    const byStays = message(r1.id, stays, { senderNickname: "stays" });
    await store.insertMessage(byGone);
    await store.insertMessage(byStays);
    await store.setReaction({ messageId: byStays.id, roomId: r1.id, userId: gone, kind: "like", createdAt: tick() });
    await store.setReaction({ messageId: byStays.id, roomId: r1.id, userId: stays, kind: "love", createdAt: tick() });
    await store.saveReads([
      { roomId: r1.id, userId: gone, upToMessageId: byStays.id, updatedAt: tick() },
      { roomId: r1.id, userId: stays, upToMessageId: byStays.id, updatedAt: tick() },
    ]);

    const left = await store.removeAuthor(gone, 4242);
    expect(left.sort((x, y) => x.roomId.localeCompare(y.roomId))).toEqual([r1, r2].map((r) => ({ roomId: r.id, memberCount: 2 })).sort((x, y) => x.roomId.localeCompare(y.roomId)));
    for (const room of [r1, r2]) {
      expect(await store.member(room.id, gone)).toBeNull();
      expect((await store.members(room.id, 10)).map((m) => m.userId)).not.toContain(gone);
      expect((await store.room(room.id))!.memberCount).toBe(2);
    }
    expect(await store.message(byGone.id)).toMatchObject({ senderId: gone, senderNickname: "", authorDeletedAt: 4242, content: "bye" });
    expect(await store.message(byStays.id)).toMatchObject({ senderNickname: "stays", authorDeletedAt: null });
    expect(Object.fromEntries((await store.reactionCounts([byStays.id])).get(byStays.id)!)).toEqual({ love: 1 });
    expect((await store.reads(r1.id)).map((r) => r.userId)).toEqual([stays]);
    // Redelivered: nothing left to do, nobody counted twice.
    expect(await store.removeAuthor(gone, 5000)).toEqual([]);
    expect((await store.room(r1.id))!.memberCount).toBe(2);
    expect((await store.message(byGone.id))!.authorDeletedAt).toBe(4242);
    expect((await store.joinedAmong(gone, [r1.id, r2.id])).size).toBe(0);
  });

  test("a rename reaches the memberships and the messages of the account", async () => {
    const user = id();
    const room = await newRoom("renames");
    await store.join({ roomId: room.id, userId: user, nickname: "old", joinedAt: tick() }, message(room.id, user, { kind: "system", content: "joined", senderNickname: "old", clientMsgId: `system:${id()}` }));
    const said = message(room.id, user, { senderNickname: "old" });
    const other = message(room.id, room.ownerId, { senderNickname: "owner" });
    await store.insertMessage(said);
    await store.insertMessage(other);
    expect(await store.renameAuthor(user, "new")).toEqual([room.id]);
    expect((await store.member(room.id, user))!.nickname).toBe("new");
    expect((await store.message(said.id))!.senderNickname).toBe("new");
    expect((await store.message(other.id))!.senderNickname).toBe("owner");
    expect((await store.history(room.id, null, 10)).filter((m) => m.senderId === user).map((m) => m.senderNickname)).toEqual(["new", "new"]);
    // Idempotent.
    expect(await store.renameAuthor(user, "new")).toEqual([room.id]);
    expect((await store.member(room.id, user))!.nickname).toBe("new");
  });
});
