// The SQLite chat store's reactions, and what an account's deletion or rename changes in chat.
// Synchronous: the store runs the writes inside GroupCommitWriter.write(), the account
// consumers inside the event bus's transaction.
import type { Database } from "bun:sqlite";
import type { ReactionKind } from "./model";
import type { ReactionRecord, RoomLeft } from "./store";

const placeholders = (n: number) => Array.from({ length: n }, () => "?").join(", ");

export class SqliteSocial {
  private readonly q;

  constructor(private readonly db: Database) {
    this.q = {
      reactionOf: db.query<{ kind: ReactionKind }, [string, string]>("SELECT kind FROM chat_reactions WHERE message_id = ? AND user_id = ?"),
      upsertReaction: db.query<unknown, [string, string, string, string, number]>(
        `INSERT INTO chat_reactions (message_id, user_id, room_id, kind, created_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (message_id, user_id) DO UPDATE SET kind = excluded.kind, created_at = excluded.created_at`,
      ),
      deleteReaction: db.query<unknown, [string, string, string]>("DELETE FROM chat_reactions WHERE message_id = ? AND user_id = ? AND kind = ?"),
      roomsOf: db.query<{ room_id: string }, [string]>("SELECT room_id FROM chat_members WHERE user_id = ?"),
      bumpMembers: db.query<unknown, [number, string]>("UPDATE chat_rooms SET member_count = member_count + ? WHERE id = ?"),
      memberCount: db.query<{ member_count: number }, [string]>("SELECT member_count FROM chat_rooms WHERE id = ?"),
      deleteMemberships: db.query<unknown, [string]>("DELETE FROM chat_members WHERE user_id = ?"),
      eraseAuthor: db.query<unknown, [number, string]>(
        "UPDATE chat_messages SET author_deleted_at = ?, sender_nickname = '' WHERE sender_id = ? AND author_deleted_at IS NULL",
      ),
      deleteReactionsBy: db.query<unknown, [string]>("DELETE FROM chat_reactions WHERE user_id = ?"),
      deleteReadsBy: db.query<unknown, [string]>("DELETE FROM chat_reads WHERE user_id = ?"),
      renameMemberships: db.query<unknown, [string, string]>("UPDATE chat_members SET nickname = ? WHERE user_id = ?"),
      renameMessages: db.query<unknown, [string, string]>("UPDATE chat_messages SET sender_nickname = ? WHERE sender_id = ? AND author_deleted_at IS NULL"),
    };
  }

  /** Returns the kind the user had before (null: none); the same kind again writes nothing. */
  setReactionSync(r: ReactionRecord): ReactionKind | null {
    const previous = this.q.reactionOf.get(r.messageId, r.userId)?.kind ?? null;
    if (previous !== r.kind) this.q.upsertReaction.run(r.messageId, r.userId, r.roomId, r.kind, r.createdAt);
    return previous;
  }

  removeReactionSync(messageId: string, userId: string, kind: ReactionKind): boolean {
    return this.q.deleteReaction.run(messageId, userId, kind).changes === 1;
  }

  reactionCounts(messageIds: string[]): Map<string, Map<ReactionKind, number>> {
    const out = new Map<string, Map<ReactionKind, number>>();
    const unique = [...new Set(messageIds)];
    if (unique.length === 0) return out;
    const rows = this.db
      .query<{ message_id: string; kind: ReactionKind; n: number }, string[]>(
        `SELECT message_id, kind, COUNT(*) AS n FROM chat_reactions WHERE message_id IN (${placeholders(unique.length)}) GROUP BY message_id, kind`,
      )
      .all(...unique);
    for (const r of rows) {
      let counts = out.get(r.message_id);
      if (!counts) out.set(r.message_id, (counts = new Map()));
      counts.set(r.kind, r.n);
    }
    return out;
  }

  reactionsBy(userId: string, messageIds: string[]): Map<string, ReactionKind> {
    const unique = [...new Set(messageIds)];
    if (unique.length === 0) return new Map();
    const rows = this.db
      .query<{ message_id: string; kind: ReactionKind }, string[]>(
        `SELECT message_id, kind FROM chat_reactions WHERE user_id = ? AND message_id IN (${placeholders(unique.length)})`,
      )
      .all(userId, ...unique);
    return new Map(rows.map((r) => [r.message_id, r.kind]));
  }

  /** The account leaves every room; its messages show a deleted author; its reactions and read marks go. */
  removeAuthorSync(userId: string, at: number): RoomLeft[] {
    const rooms = this.q.roomsOf.all(userId).map((r) => r.room_id);
    this.q.deleteMemberships.run(userId);
    for (const roomId of rooms) this.q.bumpMembers.run(-1, roomId);
    this.q.eraseAuthor.run(at, userId);
    this.q.deleteReactionsBy.run(userId);
    this.q.deleteReadsBy.run(userId);
    return rooms.map((roomId) => ({ roomId, memberCount: this.q.memberCount.get(roomId)?.member_count ?? 0 }));
  }

  /** The account's new nickname on its memberships and messages; returns its rooms. */
  renameAuthorSync(userId: string, nickname: string): string[] {
    this.q.renameMemberships.run(nickname, userId);
    this.q.renameMessages.run(nickname, userId);
    return this.q.roomsOf.all(userId).map((r) => r.room_id);
  }
}
