// The Mongo chat store with each room's hot lists beside it (room-lists.ts): the first history
// page, the members and the read marks a join reads come from Redis (or memory), kept current by
// every write instead of re-read. Everything else goes to the store as it is.
import type { Logger } from "../../platform/logger";
import type { ReactionKind } from "./model";
import type { ListChange, ListSpec, RoomLists, WriteHandle } from "./room-lists";
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

/** Rows kept per list: the longest history page asked for (100) and one more to tell hasMore. */
export const historyRows = 101;
export const memberRows = 1000;

/** The lists of a room; `members` rows kept (tests pass a few, to fill a list). */
export const listSpecs = (members = memberRows): Record<"history" | "members" | "reads", ListSpec> => ({
  history: { id: "id", order: ["createdAt", "id"], desc: true, max: historyRows },
  members: { id: "userId", order: ["joinedAt", "userId"], desc: false, max: members },
  reads: { id: "userId", order: ["userId"], desc: false, max: 0, keepMax: "upToMessageId" },
});

export const roomListSpecs = listSpecs();

type Row = Record<string, unknown>;
const row = (record: object) => record as unknown as Row;

export class CachedChatStore implements ChatStore {
  readonly kind = "mongo" as const;

  constructor(
    private readonly store: ChatStore & { kind: "mongo" },
    private readonly lists: RoomLists,
    private readonly logger: Logger,
    /** The member rows the lists keep: listSpecs(maxMembers) built them. */
    private readonly maxMembers = memberRows,
  ) {}

  private unavailable(what: string) {
    return (err: unknown) => this.logger.warn(`chat room lists: ${what} failed; the store answers`, { err: String(err) });
  }

  /** A list from the cache, or from the store (and then cached unless a write intervened). */
  private async cached<T>(roomId: string, list: keyof typeof roomListSpecs, load: () => Promise<T[]>): Promise<T[]> {
    const got = await this.lists.read(roomId, list).catch((err: unknown) => {
      this.unavailable("read")(err);
      return null;
    });
    if (got?.hit) return got.rows as T[];
    const rows = await load();
    if (got?.ticket) await this.lists.fill(roomId, list, got.ticket, rows as Row[]).catch(this.unavailable("fill"));
    return rows;
  }

  /**
   * A store write to these rooms, announced before and applied to their lists after. Without
   * Redis at begin the write still goes ahead; the rooms' lists are dropped once it answers again
   * (or, if it does not, expire within ten minutes).
   */
  private async write<T>(roomIds: string[], run: () => Promise<T>, changes: (result: T, roomId: string) => ListChange[]): Promise<T> {
    const handles = await Promise.all(
      roomIds.map((roomId) =>
        this.lists.begin(roomId).catch((err: unknown): WriteHandle => {
          this.unavailable("begin")(err);
          return { roomId, id: "", version: -1 };
        }),
      ),
    );
    let result: T;
    try {
      result = await run();
    } catch (err) {
      await Promise.all(handles.map((h) => this.lists.end(h, null).catch(this.unavailable("end"))));
      throw err;
    }
    await Promise.all(
      handles.map((h) => this.lists.end(h, h.version < 0 ? null : changes(result, h.roomId)).catch(this.unavailable("end"))),
    );
    return result;
  }

  init(): Promise<void> {
    return this.store.init();
  }

  createRoom(room: RoomRecord, owner: MemberRecord, joined: MessageRecord): Promise<void> {
    return this.write(
      [room.id],
      () => this.store.createRoom(room, owner, joined),
      () => [
        { list: "history", op: "seed", rows: [row(joined)] },
        { list: "members", op: "seed", rows: [row(owner)] },
        { list: "reads", op: "seed", rows: [] },
      ],
    );
  }

  room(id: string): Promise<RoomRecord | null> {
    return this.store.room(id);
  }

  listRooms(query: RoomQuery): Promise<{ items: RoomRecord[]; total: number }> {
    return this.store.listRooms(query);
  }

  joinedAmong(userId: string, roomIds: string[]): Promise<Set<string>> {
    return this.store.joinedAmong(userId, roomIds);
  }

  join(member: MemberRecord, joined: MessageRecord): Promise<boolean> {
    return this.write(
      [member.roomId],
      () => this.store.join(member, joined),
      (added) =>
        added
          ? [
              { list: "members", op: "upsert", row: row(member) },
              { list: "history", op: "upsert", row: row(joined) },
            ]
          : [],
    );
  }

  leave(roomId: string, userId: string, left: MessageRecord): Promise<boolean> {
    return this.write(
      [roomId],
      () => this.store.leave(roomId, userId, left),
      (removed) =>
        removed
          ? [
              { list: "members", op: "remove", id: userId },
              { list: "history", op: "upsert", row: row(left) },
            ]
          : [],
    );
  }

  /**
   * From the room's member list while it holds them all: fewer rows than it keeps means complete
   * (a removal from a full list drops it). FerretDB reads a membership by _id in time that grows
   * with the collection (7 ms at 5,000 members), and every join asks first.
   */
  async member(roomId: string, userId: string): Promise<MemberRecord | null> {
    const rows = await this.cached(roomId, "members", () => this.store.members(roomId, this.maxMembers));
    if (rows.length >= this.maxMembers) return this.store.member(roomId, userId);
    return rows.find((m) => m.userId === userId) ?? null;
  }

  async members(roomId: string, limit: number): Promise<MemberRecord[]> {
    if (limit > this.maxMembers) return this.store.members(roomId, limit);
    const rows = await this.cached(roomId, "members", () => this.store.members(roomId, this.maxMembers));
    return rows.slice(0, limit);
  }

  insertMessage(message: MessageRecord): Promise<{ message: MessageRecord; duplicate: boolean }> {
    return this.write(
      [message.roomId],
      () => this.store.insertMessage(message),
      (r) => (r.duplicate ? [] : [{ list: "history", op: "upsert", row: row(r.message) }]),
    );
  }

  message(id: string): Promise<MessageRecord | null> {
    return this.store.message(id);
  }

  async history(roomId: string, before: HistoryCursor | null, limit: number): Promise<MessageRecord[]> {
    if (before !== null || limit > historyRows) return this.store.history(roomId, before, limit);
    const rows = await this.cached(roomId, "history", () => this.store.history(roomId, null, historyRows));
    return rows.slice(0, limit);
  }

  async softDeleteMessage(id: string, at: number): Promise<MessageRecord | null> {
    const existing = await this.store.message(id);
    if (!existing) return this.store.softDeleteMessage(id, at);
    return this.write(
      [existing.roomId],
      () => this.store.softDeleteMessage(id, at),
      (m) => (m ? [{ list: "history", op: "upsert", row: row(m) }] : []),
    );
  }

  setReaction(reaction: ReactionRecord): Promise<ReactionKind | null> {
    return this.store.setReaction(reaction);
  }

  removeReaction(messageId: string, userId: string, kind: ReactionKind): Promise<boolean> {
    return this.store.removeReaction(messageId, userId, kind);
  }

  reactionCounts(messageIds: string[]): Promise<Map<string, Map<ReactionKind, number>>> {
    return this.store.reactionCounts(messageIds);
  }

  reactionsBy(userId: string, messageIds: string[]): Promise<Map<string, ReactionKind>> {
    return this.store.reactionsBy(userId, messageIds);
  }

  // An author's rows change in every room they wrote in: every list goes (rare: a rename or an
  // account deletion). A failure throws, so the event is redelivered and the lists dropped then.
  async removeAuthor(userId: string, at: number): Promise<RoomLeft[]> {
    const left = await this.store.removeAuthor(userId, at);
    await this.lists.dropAll();
    return left;
  }

  async renameAuthor(userId: string, nickname: string): Promise<string[]> {
    const rooms = await this.store.renameAuthor(userId, nickname);
    await this.lists.dropAll();
    return rooms;
  }

  saveReads(reads: ReadRecord[]): Promise<void> {
    if (reads.length === 0) return Promise.resolve();
    return this.write(
      [...new Set(reads.map((r) => r.roomId))],
      () => this.store.saveReads(reads),
      (_, roomId) => reads.filter((r) => r.roomId === roomId).map((r) => ({ list: "reads", op: "upsert", row: row(r) })),
    );
  }

  reads(roomId: string): Promise<ReadRecord[]> {
    return this.cached(roomId, "reads", () => this.store.reads(roomId));
  }

  insertFile(file: FileRecord): Promise<void> {
    return this.store.insertFile(file);
  }

  file(id: string): Promise<FileRecord | null> {
    return this.store.file(id);
  }

  deleteFile(id: string, at: number): Promise<boolean> {
    return this.store.deleteFile(id, at);
  }

  files(ids: string[]): Promise<Map<string, FileRecord>> {
    return this.store.files(ids);
  }

  fileVisibleTo(fileId: string, userId: string): Promise<boolean> {
    return this.store.fileVisibleTo(fileId, userId);
  }
}
