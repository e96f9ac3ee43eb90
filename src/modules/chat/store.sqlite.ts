// The SQLite chat store (the default). Reads use prepared statements; writes are synchronous
// functions run inside GroupCommitWriter.write() so each use case commits as one unit.
import type { Database, Statement } from "bun:sqlite";
import type { GroupCommitWriter } from "../../platform/db/sqlite";
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
import { SqliteSocial } from "./store.sqlite.social";

interface RoomRow {
  id: string;
  name: string;
  name_key: string;
  password_hash: string | null;
  owner_id: string;
  created_at: number;
  member_count: number;
}
interface MemberRow {
  room_id: string;
  user_id: string;
  nickname: string;
  joined_at: number;
}
interface MessageRow {
  id: string;
  room_id: string;
  sender_id: string;
  sender_nickname: string;
  kind: MessageRecord["kind"];
  content: string;
  file_id: string | null;
  client_msg_id: string;
  created_at: number;
  deleted_at: number | null;
  author_deleted_at: number | null;
}
interface ReadRow {
  room_id: string;
  user_id: string;
  up_to_message_id: string;
  updated_at: number;
}
interface FileRow {
  id: string;
  uploader_id: string;
  name: string;
  mime: string;
  size: number;
  category: FileRecord["category"];
  storage: FileRecord["storage"];
  storage_key: string;
  created_at: number;
  deleted_at: number | null;
}

const toRoom = (r: RoomRow): RoomRecord => ({
  id: r.id,
  name: r.name,
  nameKey: r.name_key,
  passwordHash: r.password_hash,
  ownerId: r.owner_id,
  createdAt: r.created_at,
  memberCount: r.member_count,
});
const toMember = (r: MemberRow): MemberRecord => ({ roomId: r.room_id, userId: r.user_id, nickname: r.nickname, joinedAt: r.joined_at });
const toMessage = (r: MessageRow): MessageRecord => ({
  id: r.id,
  roomId: r.room_id,
  senderId: r.sender_id,
  senderNickname: r.sender_nickname,
  kind: r.kind,
  content: r.content,
  fileId: r.file_id,
  clientMsgId: r.client_msg_id,
  createdAt: r.created_at,
  deletedAt: r.deleted_at,
  authorDeletedAt: r.author_deleted_at,
});
const toFile = (r: FileRow): FileRecord => ({
  id: r.id,
  uploaderId: r.uploader_id,
  name: r.name,
  mime: r.mime,
  size: r.size,
  category: r.category,
  storage: r.storage,
  storageKey: r.storage_key,
  createdAt: r.created_at,
  deletedAt: r.deleted_at,
});

const sortColumn = { name: "name_key", created: "created_at", participants: "member_count" } as const;

/** LIKE pattern for "contains", with the wildcards in the search escaped. */
export function likeContains(search: string): string {
  return `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export class SqliteChatStore implements ChatStore {
  readonly kind = "sqlite" as const;
  private readonly q;
  /** Reactions, and what an account's deletion or rename changes (store.sqlite.social.ts). */
  private readonly social: SqliteSocial;
  private readonly listCache = new Map<string, Statement<RoomRow, Array<string | number>>>();
  private readonly countCache = new Map<string, Statement<{ n: number }, Array<string | number>>>();

  constructor(
    private readonly db: Database,
    private readonly writer: GroupCommitWriter,
  ) {
    this.social = new SqliteSocial(db);
    this.q = {
      insertRoom: db.query(
        `INSERT INTO chat_rooms (id, name, name_key, password_hash, owner_id, created_at, member_count)
         VALUES ($id, $name, $name_key, $password_hash, $owner_id, $created_at, 0)`,
      ),
      room: db.query<RoomRow, [string]>("SELECT * FROM chat_rooms WHERE id = ?"),
      insertMember: db.query<unknown, [string, string, string, number]>(
        "INSERT OR IGNORE INTO chat_members (room_id, user_id, nickname, joined_at) VALUES (?, ?, ?, ?)",
      ),
      deleteMember: db.query<unknown, [string, string]>("DELETE FROM chat_members WHERE room_id = ? AND user_id = ?"),
      bumpMembers: db.query<unknown, [number, string]>("UPDATE chat_rooms SET member_count = member_count + ? WHERE id = ?"),
      member: db.query<MemberRow, [string, string]>("SELECT * FROM chat_members WHERE room_id = ? AND user_id = ?"),
      members: db.query<MemberRow, [string, number]>("SELECT * FROM chat_members WHERE room_id = ? ORDER BY joined_at, user_id LIMIT ?"),
      insertMessage: db.query(
        `INSERT INTO chat_messages (id, room_id, sender_id, sender_nickname, kind, content, file_id, client_msg_id, created_at, deleted_at)
         VALUES ($id, $room_id, $sender_id, $sender_nickname, $kind, $content, $file_id, $client_msg_id, $created_at, NULL)
         ON CONFLICT (sender_id, client_msg_id) DO NOTHING`,
      ),
      messageByClientId: db.query<MessageRow, [string, string]>("SELECT * FROM chat_messages WHERE sender_id = ? AND client_msg_id = ?"),
      message: db.query<MessageRow, [string]>("SELECT * FROM chat_messages WHERE id = ?"),
      history: db.query<MessageRow, [string, number]>(
        "SELECT * FROM chat_messages WHERE room_id = ? ORDER BY created_at DESC, id DESC LIMIT ?",
      ),
      historyBefore: db.query<MessageRow, [string, number, number, string, number]>(
        `SELECT * FROM chat_messages WHERE room_id = ? AND (created_at < ? OR (created_at = ? AND id < ?))
         ORDER BY created_at DESC, id DESC LIMIT ?`,
      ),
      softDelete: db.query<unknown, [number, string]>("UPDATE chat_messages SET deleted_at = ?, content = '' WHERE id = ? AND deleted_at IS NULL"),
      upsertRead: db.query<unknown, [string, string, string, number]>(
        `INSERT INTO chat_reads (room_id, user_id, up_to_message_id, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (room_id, user_id) DO UPDATE SET up_to_message_id = excluded.up_to_message_id, updated_at = excluded.updated_at
         WHERE excluded.up_to_message_id > chat_reads.up_to_message_id`,
      ),
      reads: db.query<ReadRow, [string]>("SELECT * FROM chat_reads WHERE room_id = ?"),
      insertFile: db.query(
        `INSERT INTO chat_files (id, uploader_id, name, mime, size, category, storage, storage_key, created_at, deleted_at)
         VALUES ($id, $uploader_id, $name, $mime, $size, $category, $storage, $storage_key, $created_at, NULL)`,
      ),
      file: db.query<FileRow, [string]>("SELECT * FROM chat_files WHERE id = ?"),
      deleteFile: db.query<unknown, [number, string]>("UPDATE chat_files SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL"),
      fileVisible: db.query<{ one: number }, [string, string]>(
        `SELECT 1 AS one FROM chat_messages m JOIN chat_members mb ON mb.room_id = m.room_id AND mb.user_id = ?
         WHERE m.file_id = ? AND m.deleted_at IS NULL LIMIT 1`,
      ),
    };
  }

  async init(): Promise<void> {}

  async createRoom(room: RoomRecord, owner: MemberRecord, joined: MessageRecord): Promise<void> {
    await this.writer.write(() => {
      this.q.insertRoom.run({
        id: room.id,
        name: room.name,
        name_key: room.nameKey,
        password_hash: room.passwordHash,
        owner_id: room.ownerId,
        created_at: room.createdAt,
      });
      this.joinSync(owner, joined);
    });
  }

  async room(id: string): Promise<RoomRecord | null> {
    const row = this.q.room.get(id);
    return row ? toRoom(row) : null;
  }

  async listRooms(query: RoomQuery): Promise<{ items: RoomRecord[]; total: number }> {
    const where: string[] = [];
    const params: Array<string | number> = [];
    if (query.memberId) {
      where.push("id IN (SELECT room_id FROM chat_members WHERE user_id = ?)");
      params.push(query.memberId);
    }
    if (query.search) {
      where.push("name_key LIKE ? ESCAPE '\\'");
      params.push(likeContains(query.search.trim().toLowerCase()));
    }
    const whereSql = where.length > 0 ? `WHERE ${where.join(" AND ")}` : "";
    const dir = query.order === "asc" ? "ASC" : "DESC";
    const listSql = `SELECT * FROM chat_rooms ${whereSql} ORDER BY ${sortColumn[query.sort]} ${dir}, id ${dir} LIMIT ? OFFSET ?`;
    const countSql = `SELECT COUNT(*) AS n FROM chat_rooms ${whereSql}`;
    // A handful of shapes (filters × sort × order): prepare each once.
    let list = this.listCache.get(listSql);
    if (!list) this.listCache.set(listSql, (list = this.db.query(listSql)));
    let count = this.countCache.get(countSql);
    if (!count) this.countCache.set(countSql, (count = this.db.query(countSql)));
    const items = list.all(...params, query.limit, query.offset).map(toRoom);
    const total = count.get(...params)?.n ?? 0;
    return { items, total };
  }

  async joinedAmong(userId: string, roomIds: string[]): Promise<Set<string>> {
    if (roomIds.length === 0) return new Set();
    const rows = this.db
      .query<{ room_id: string }, string[]>(
        `SELECT room_id FROM chat_members WHERE user_id = ? AND room_id IN (${roomIds.map(() => "?").join(", ")})`,
      )
      .all(userId, ...roomIds);
    return new Set(rows.map((r) => r.room_id));
  }

  private joinSync(member: MemberRecord, joined: MessageRecord): boolean {
    const { changes } = this.q.insertMember.run(member.roomId, member.userId, member.nickname, member.joinedAt);
    if (changes === 0) return false;
    this.q.bumpMembers.run(1, member.roomId);
    this.insertMessageSync(joined);
    return true;
  }

  async join(member: MemberRecord, joined: MessageRecord): Promise<boolean> {
    return this.writer.write(() => this.joinSync(member, joined));
  }

  async leave(roomId: string, userId: string, left: MessageRecord): Promise<boolean> {
    return this.writer.write(() => {
      const { changes } = this.q.deleteMember.run(roomId, userId);
      if (changes === 0) return false;
      this.q.bumpMembers.run(-1, roomId);
      this.insertMessageSync(left);
      return true;
    });
  }

  async member(roomId: string, userId: string): Promise<MemberRecord | null> {
    const row = this.q.member.get(roomId, userId);
    return row ? toMember(row) : null;
  }

  async members(roomId: string, limit: number): Promise<MemberRecord[]> {
    return this.q.members.all(roomId, limit).map(toMember);
  }

  private insertMessageSync(m: MessageRecord): { message: MessageRecord; duplicate: boolean } {
    const { changes } = this.q.insertMessage.run({
      id: m.id,
      room_id: m.roomId,
      sender_id: m.senderId,
      sender_nickname: m.senderNickname,
      kind: m.kind,
      content: m.content,
      file_id: m.fileId,
      client_msg_id: m.clientMsgId,
      created_at: m.createdAt,
    });
    if (changes === 1) return { message: m, duplicate: false };
    return { message: toMessage(this.q.messageByClientId.get(m.senderId, m.clientMsgId)!), duplicate: true };
  }

  async insertMessage(message: MessageRecord): Promise<{ message: MessageRecord; duplicate: boolean }> {
    // Checked before queueing too: a re-send should not wait for a commit to be acknowledged.
    const existing = this.q.messageByClientId.get(message.senderId, message.clientMsgId);
    if (existing) return { message: toMessage(existing), duplicate: true };
    return this.writer.write(() => this.insertMessageSync(message));
  }

  async message(id: string): Promise<MessageRecord | null> {
    const row = this.q.message.get(id);
    return row ? toMessage(row) : null;
  }

  async history(roomId: string, before: HistoryCursor | null, limit: number): Promise<MessageRecord[]> {
    const rows = before
      ? this.q.historyBefore.all(roomId, before.createdAt, before.createdAt, before.id, limit)
      : this.q.history.all(roomId, limit);
    return rows.map(toMessage);
  }

  async softDeleteMessage(id: string, at: number): Promise<MessageRecord | null> {
    return this.writer.write(() => {
      this.q.softDelete.run(at, id);
      const row = this.q.message.get(id);
      return row ? toMessage(row) : null;
    });
  }

  async setReaction(r: ReactionRecord): Promise<ReactionKind | null> {
    return this.writer.write(() => this.social.setReactionSync(r));
  }

  async removeReaction(messageId: string, userId: string, kind: ReactionKind): Promise<boolean> {
    return this.writer.write(() => this.social.removeReactionSync(messageId, userId, kind));
  }

  async reactionCounts(messageIds: string[]): Promise<Map<string, Map<ReactionKind, number>>> {
    return this.social.reactionCounts(messageIds);
  }

  async reactionsBy(userId: string, messageIds: string[]): Promise<Map<string, ReactionKind>> {
    return this.social.reactionsBy(userId, messageIds);
  }

  /** For the account-deletion consumer: runs inside the event bus's transaction. */
  removeAuthorSync(userId: string, at: number): RoomLeft[] {
    return this.social.removeAuthorSync(userId, at);
  }

  async removeAuthor(userId: string, at: number): Promise<RoomLeft[]> {
    return this.writer.write(() => this.social.removeAuthorSync(userId, at));
  }

  /** For the rename consumer: runs inside the event bus's transaction. */
  renameAuthorSync(userId: string, nickname: string): string[] {
    return this.social.renameAuthorSync(userId, nickname);
  }

  async renameAuthor(userId: string, nickname: string): Promise<string[]> {
    return this.writer.write(() => this.social.renameAuthorSync(userId, nickname));
  }

  /** For the read-state consumer: runs inside the event bus's transaction. */
  saveReadsSync(reads: ReadRecord[]): void {
    for (const r of reads) this.q.upsertRead.run(r.roomId, r.userId, r.upToMessageId, r.updatedAt);
  }

  async saveReads(reads: ReadRecord[]): Promise<void> {
    await this.writer.write(() => this.saveReadsSync(reads));
  }

  async reads(roomId: string): Promise<ReadRecord[]> {
    return this.q.reads.all(roomId).map((r) => ({ roomId: r.room_id, userId: r.user_id, upToMessageId: r.up_to_message_id, updatedAt: r.updated_at }));
  }

  async insertFile(f: FileRecord): Promise<void> {
    await this.writer.write(() =>
      this.q.insertFile.run({
        id: f.id,
        uploader_id: f.uploaderId,
        name: f.name,
        mime: f.mime,
        size: f.size,
        category: f.category,
        storage: f.storage,
        storage_key: f.storageKey,
        created_at: f.createdAt,
      }),
    );
  }

  async file(id: string): Promise<FileRecord | null> {
    const row = this.q.file.get(id);
    return row ? toFile(row) : null;
  }

  async deleteFile(id: string, at: number): Promise<boolean> {
    return this.writer.write(() => this.q.deleteFile.run(at, id).changes === 1);
  }

  async files(ids: string[]): Promise<Map<string, FileRecord>> {
    const out = new Map<string, FileRecord>();
    const unique = [...new Set(ids)];
    if (unique.length === 0) return out;
    const rows = this.db
      .query<FileRow, string[]>(`SELECT * FROM chat_files WHERE id IN (${unique.map(() => "?").join(", ")})`)
      .all(...unique);
    for (const r of rows) out.set(r.id, toFile(r));
    return out;
  }

  async fileVisibleTo(fileId: string, userId: string): Promise<boolean> {
    return this.q.fileVisible.get(userId, fileId) !== null;
  }
}
