// The MongoDB chat store, used when MONGO_URL is set: history shared by several hosts.
// Checked against the harness's FerretDB in the tests (unique compound indexes with error 11000,
// $max on strings, regex search, skip/limit); no multi-document transactions are used, so
// each use case is ordered to stay correct if it stops half way (see join/leave).
import { MongoServerError, type Collection, type Db } from "mongodb";
import type {
  ChatStore,
  FileRecord,
  HistoryCursor,
  MemberRecord,
  MessageRecord,
  ReactionRecord,
  ReadRecord,
  RoomLeft,
  RoomQuery,
  RoomRecord,
} from "./store";
import type { ReactionKind } from "./model";

type Doc<T> = Omit<T, "id"> & { _id: string };
type MemberDoc = MemberRecord & { _id: string };
type ReadDoc = ReadRecord & { _id: string };
type ReactionDoc = ReactionRecord & { _id: string };

const duplicateKey = (err: unknown) => err instanceof MongoServerError && err.code === 11000;
const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function fromDoc<T extends { id: string }>(doc: Doc<T> | null): T | null {
  if (!doc) return null;
  const { _id, ...rest } = doc;
  return { id: _id, ...rest } as unknown as T;
}
function toDoc<T extends { id: string }>(record: T): Doc<T> {
  const { id, ...rest } = record;
  return { _id: id, ...rest } as Doc<T>;
}
/** Messages stored before authorDeletedAt existed lack the field. */
function toMessageRecord(doc: Doc<MessageRecord> | null): MessageRecord | null {
  const m = fromDoc<MessageRecord>(doc);
  return m ? { ...m, authorDeletedAt: m.authorDeletedAt ?? null } : null;
}
const memberKey = (roomId: string, userId: string) => `${roomId}:${userId}`;
const stripMember = ({ roomId, userId, nickname, joinedAt }: MemberDoc): MemberRecord => ({ roomId, userId, nickname, joinedAt });

export class MongoChatStore implements ChatStore {
  readonly kind = "mongo" as const;
  private readonly rooms: Collection<Doc<RoomRecord>>;
  private readonly membersCol: Collection<MemberDoc>;
  private readonly messages: Collection<Doc<MessageRecord>>;
  private readonly readsCol: Collection<ReadDoc>;
  private readonly filesCol: Collection<Doc<FileRecord>>;
  private readonly reactionsCol: Collection<ReactionDoc>;
  private ready: Promise<void> | null = null;

  constructor(db: Db) {
    this.rooms = db.collection("chat_rooms");
    this.membersCol = db.collection("chat_members");
    this.messages = db.collection("chat_messages");
    this.readsCol = db.collection("chat_reads");
    this.filesCol = db.collection("chat_files");
    this.reactionsCol = db.collection("chat_reactions");
  }

  init(): Promise<void> {
    this.ready ??= (async () => {
      await Promise.all([
        this.messages.createIndex({ roomId: 1, createdAt: -1, _id: -1 }, { name: "room_created" }),
        this.messages.createIndex({ senderId: 1, clientMsgId: 1 }, { name: "sender_client_msg", unique: true }),
        this.messages.createIndex({ fileId: 1 }, { name: "file" }),
        this.membersCol.createIndex({ userId: 1, roomId: 1 }, { name: "user_room" }),
        this.membersCol.createIndex({ roomId: 1, joinedAt: 1 }, { name: "room_joined" }),
        this.rooms.createIndex({ nameKey: 1, _id: 1 }, { name: "name" }),
        this.rooms.createIndex({ createdAt: 1, _id: 1 }, { name: "created" }),
        this.rooms.createIndex({ memberCount: 1, _id: 1 }, { name: "members" }),
        this.readsCol.createIndex({ roomId: 1 }, { name: "room" }),
        this.readsCol.createIndex({ userId: 1 }, { name: "user" }),
        this.reactionsCol.createIndex({ messageId: 1 }, { name: "message" }),
        this.reactionsCol.createIndex({ userId: 1, messageId: 1 }, { name: "user_message" }),
      ]);
    })();
    return this.ready;
  }

  async createRoom(room: RoomRecord, owner: MemberRecord, joined: MessageRecord): Promise<void> {
    await this.rooms.insertOne(toDoc({ ...room, memberCount: 0 }));
    await this.join(owner, joined);
  }

  async room(id: string): Promise<RoomRecord | null> {
    return fromDoc<RoomRecord>(await this.rooms.findOne({ _id: id }));
  }

  async listRooms(query: RoomQuery): Promise<{ items: RoomRecord[]; total: number }> {
    const filter: Record<string, unknown> = {};
    if (query.search) filter.nameKey = { $regex: escapeRegex(query.search.trim().toLowerCase()) };
    if (query.memberId) {
      const mine = await this.membersCol.find({ userId: query.memberId }, { projection: { roomId: 1 } }).toArray();
      filter._id = { $in: mine.map((m) => m.roomId) };
    }
    const dir = query.order === "asc" ? 1 : -1;
    const field = { name: "nameKey", created: "createdAt", participants: "memberCount" }[query.sort];
    const [docs, total] = await Promise.all([
      this.rooms.find(filter).sort({ [field]: dir, _id: dir }).skip(query.offset).limit(query.limit).toArray(),
      this.rooms.countDocuments(filter),
    ]);
    return { items: docs.map((d) => fromDoc<RoomRecord>(d)!), total };
  }

  async joinedAmong(userId: string, roomIds: string[]): Promise<Set<string>> {
    if (roomIds.length === 0) return new Set();
    const docs = await this.membersCol.find({ _id: { $in: roomIds.map((r) => memberKey(r, userId)) } }, { projection: { roomId: 1 } }).toArray();
    return new Set(docs.map((d) => d.roomId));
  }

  async join(member: MemberRecord, joined: MessageRecord): Promise<boolean> {
    try {
      await this.membersCol.insertOne({ _id: memberKey(member.roomId, member.userId), ...member });
    } catch (err) {
      if (duplicateKey(err)) return false;
      throw err;
    }
    // The membership document is the truth; the counter only orders the room list.
    await this.rooms.updateOne({ _id: member.roomId }, { $inc: { memberCount: 1 } });
    await this.insertMessage(joined);
    return true;
  }

  async leave(roomId: string, userId: string, left: MessageRecord): Promise<boolean> {
    const { deletedCount } = await this.membersCol.deleteOne({ _id: memberKey(roomId, userId) });
    if (deletedCount === 0) return false;
    await this.rooms.updateOne({ _id: roomId }, { $inc: { memberCount: -1 } });
    await this.insertMessage(left);
    return true;
  }

  async member(roomId: string, userId: string): Promise<MemberRecord | null> {
    const doc = await this.membersCol.findOne({ _id: memberKey(roomId, userId) });
    return doc ? stripMember(doc) : null;
  }

  async members(roomId: string, limit: number): Promise<MemberRecord[]> {
    const docs = await this.membersCol.find({ roomId }).sort({ joinedAt: 1, userId: 1 }).limit(limit).toArray();
    return docs.map(stripMember);
  }

  async insertMessage(message: MessageRecord): Promise<{ message: MessageRecord; duplicate: boolean }> {
    try {
      await this.messages.insertOne(toDoc(message));
      return { message, duplicate: false };
    } catch (err) {
      if (!duplicateKey(err)) throw err;
      const existing = await this.messages.findOne({ senderId: message.senderId, clientMsgId: message.clientMsgId });
      if (!existing) throw err; // the _id collided, not the client id: not a re-send
      return { message: toMessageRecord(existing)!, duplicate: true };
    }
  }

  async message(id: string): Promise<MessageRecord | null> {
    return toMessageRecord(await this.messages.findOne({ _id: id }));
  }

  async history(roomId: string, before: HistoryCursor | null, limit: number): Promise<MessageRecord[]> {
    const filter: Record<string, unknown> = { roomId };
    if (before) filter.$or = [{ createdAt: { $lt: before.createdAt } }, { createdAt: before.createdAt, _id: { $lt: before.id } }];
    const docs = await this.messages.find(filter).sort({ createdAt: -1, _id: -1 }).limit(limit).toArray();
    return docs.map((d) => toMessageRecord(d)!);
  }

  async softDeleteMessage(id: string, at: number): Promise<MessageRecord | null> {
    await this.messages.updateOne({ _id: id, deletedAt: null }, { $set: { deletedAt: at, content: "" } });
    return this.message(id);
  }

  async setReaction(r: ReactionRecord): Promise<ReactionKind | null> {
    // One document per (message, user): the _id holds the rule "one kind per user per message".
    const before = await this.reactionsCol.findOneAndUpdate(
      { _id: memberKey(r.messageId, r.userId) },
      { $set: { kind: r.kind, createdAt: r.createdAt }, $setOnInsert: { messageId: r.messageId, roomId: r.roomId, userId: r.userId } },
      { upsert: true, returnDocument: "before" },
    );
    return before?.kind ?? null;
  }

  async removeReaction(messageId: string, userId: string, kind: ReactionKind): Promise<boolean> {
    const { deletedCount } = await this.reactionsCol.deleteOne({ _id: memberKey(messageId, userId), kind });
    return deletedCount === 1;
  }

  async reactionCounts(messageIds: string[]): Promise<Map<string, Map<ReactionKind, number>>> {
    const out = new Map<string, Map<ReactionKind, number>>();
    if (messageIds.length === 0) return out;
    const groups = await this.reactionsCol
      .aggregate<{ _id: { m: string; k: ReactionKind }; n: number }>([
        { $match: { messageId: { $in: [...new Set(messageIds)] } } },
        { $group: { _id: { m: "$messageId", k: "$kind" }, n: { $sum: 1 } } },
      ])
      .toArray();
    for (const g of groups) {
      let counts = out.get(g._id.m);
      if (!counts) out.set(g._id.m, (counts = new Map()));
      counts.set(g._id.k, g.n);
    }
    return out;
  }

  async reactionsBy(userId: string, messageIds: string[]): Promise<Map<string, ReactionKind>> {
    if (messageIds.length === 0) return new Map();
    const docs = await this.reactionsCol.find({ _id: { $in: [...new Set(messageIds)].map((m) => memberKey(m, userId)) } }, { projection: { messageId: 1, kind: 1 } }).toArray();
    return new Map(docs.map((d) => [d.messageId, d.kind]));
  }

  async removeAuthor(userId: string, at: number): Promise<RoomLeft[]> {
    // Each step is idempotent and a membership's counter drops only with its own delete, so a
    // redelivery after a stop half way finishes the job without counting anyone twice.
    await this.messages.updateMany({ senderId: userId, authorDeletedAt: null }, { $set: { authorDeletedAt: at, senderNickname: "" } });
    await this.reactionsCol.deleteMany({ userId });
    await this.readsCol.deleteMany({ userId });
    const left: RoomLeft[] = [];
    for (const m of await this.membersCol.find({ userId }, { projection: { roomId: 1 } }).toArray()) {
      const { deletedCount } = await this.membersCol.deleteOne({ _id: m._id });
      if (deletedCount === 0) continue;
      const room = await this.rooms.findOneAndUpdate({ _id: m.roomId }, { $inc: { memberCount: -1 } }, { returnDocument: "after" });
      left.push({ roomId: m.roomId, memberCount: room?.memberCount ?? 0 });
    }
    return left;
  }

  async renameAuthor(userId: string, nickname: string): Promise<string[]> {
    await this.membersCol.updateMany({ userId }, { $set: { nickname } });
    await this.messages.updateMany({ senderId: userId, authorDeletedAt: null }, { $set: { senderNickname: nickname } });
    const docs = await this.membersCol.find({ userId }, { projection: { roomId: 1 } }).toArray();
    return docs.map((d) => d.roomId);
  }

  async saveReads(reads: ReadRecord[]): Promise<void> {
    if (reads.length === 0) return;
    // $max keeps the mark moving forward only; a redelivered batch changes nothing.
    await this.readsCol.bulkWrite(
      reads.map((r) => ({
        updateOne: {
          filter: { _id: memberKey(r.roomId, r.userId) },
          update: { $max: { upToMessageId: r.upToMessageId, updatedAt: r.updatedAt }, $setOnInsert: { roomId: r.roomId, userId: r.userId } },
          upsert: true,
        },
      })),
      { ordered: false },
    );
  }

  async reads(roomId: string): Promise<ReadRecord[]> {
    const docs = await this.readsCol.find({ roomId }).toArray();
    return docs.map(({ roomId, userId, upToMessageId, updatedAt }) => ({ roomId, userId, upToMessageId, updatedAt }));
  }

  async insertFile(file: FileRecord): Promise<void> {
    await this.filesCol.insertOne(toDoc(file));
  }

  async file(id: string): Promise<FileRecord | null> {
    return fromDoc<FileRecord>(await this.filesCol.findOne({ _id: id }));
  }

  async deleteFile(id: string, at: number): Promise<boolean> {
    const { modifiedCount } = await this.filesCol.updateOne({ _id: id, deletedAt: null }, { $set: { deletedAt: at } });
    return modifiedCount === 1;
  }

  async files(ids: string[]): Promise<Map<string, FileRecord>> {
    const out = new Map<string, FileRecord>();
    if (ids.length === 0) return out;
    const docs = await this.filesCol.find({ _id: { $in: [...new Set(ids)] } }).toArray();
    for (const d of docs) out.set(d._id, fromDoc<FileRecord>(d)!);
    return out;
  }

  async fileVisibleTo(fileId: string, userId: string): Promise<boolean> {
    const rooms = await this.messages.distinct("roomId", { fileId, deletedAt: null });
    if (rooms.length === 0) return false;
    const hit = await this.membersCol.findOne({ _id: { $in: rooms.map((r) => memberKey(String(r), userId)) } }, { projection: { _id: 1 } });
    return hit !== null;
  }
}
