// The port the chat service needs from storage. Two implementations pass the same test file
// (store.test.ts): SQLite (store.sqlite.ts, the default) and MongoDB (store.mongo.ts, when MONGO_URL is set).
import type { FileCategory, ReactionKind, RoomSort } from "./model";

export interface RoomRecord {
  id: string;
  name: string;
  /** Lower-cased name: search and sort. */
  nameKey: string;
  passwordHash: string | null;
  ownerId: string;
  createdAt: number;
  memberCount: number;
}

export interface MemberRecord {
  roomId: string;
  userId: string;
  nickname: string;
  joinedAt: number;
}

export type MessageKind = "text" | "file" | "system";

export interface MessageRecord {
  id: string;
  roomId: string;
  senderId: string;
  senderNickname: string;
  kind: MessageKind;
  content: string;
  fileId: string | null;
  clientMsgId: string;
  createdAt: number;
  deletedAt: number | null;
  /** When the author's account was deleted (their nickname is then erased); null while it lives. */
  authorDeletedAt: number | null;
}

/** One user's reaction on one message: at most one per (message, user). */
export interface ReactionRecord {
  messageId: string;
  roomId: string;
  userId: string;
  kind: ReactionKind;
  createdAt: number;
}

/** A room an account left when it was deleted, with its member count after. */
export interface RoomLeft {
  roomId: string;
  memberCount: number;
}

export interface ReadRecord {
  roomId: string;
  userId: string;
  upToMessageId: string;
  updatedAt: number;
}

export interface FileRecord {
  id: string;
  uploaderId: string;
  name: string;
  mime: string;
  size: number;
  category: FileCategory;
  storage: "local" | "s3";
  storageKey: string;
  createdAt: number;
  deletedAt: number | null;
}

export interface RoomQuery {
  search?: string;
  sort: RoomSort;
  order: "asc" | "desc";
  limit: number;
  offset: number;
  /** Only rooms this user is a member of. */
  memberId?: string;
}

/** Where a history page starts: strictly older than this message. */
export interface HistoryCursor {
  createdAt: number;
  id: string;
}

export interface ChatStore {
  readonly kind: "sqlite" | "mongo";
  /** Indexes (Mongo); nothing for SQLite, whose schema comes from migrations. */
  init(): Promise<void>;

  /** Creates the room with its owner as the first member and the owner's join message. */
  createRoom(room: RoomRecord, owner: MemberRecord, joined: MessageRecord): Promise<void>;
  room(id: string): Promise<RoomRecord | null>;
  listRooms(query: RoomQuery): Promise<{ items: RoomRecord[]; total: number }>;
  /** The subset of roomIds the user is a member of. */
  joinedAmong(userId: string, roomIds: string[]): Promise<Set<string>>;

  /** Adds the member and its join message; false (and nothing written) when already a member. */
  join(member: MemberRecord, joined: MessageRecord): Promise<boolean>;
  /** Removes the member and writes its leave message; false when it was not a member. */
  leave(roomId: string, userId: string, left: MessageRecord): Promise<boolean>;
  member(roomId: string, userId: string): Promise<MemberRecord | null>;
  /** Members in join order, at most `limit`. */
  members(roomId: string, limit: number): Promise<MemberRecord[]>;

  /** Inserts the message, or returns the one the sender already sent with this clientMsgId. */
  insertMessage(message: MessageRecord): Promise<{ message: MessageRecord; duplicate: boolean }>;
  message(id: string): Promise<MessageRecord | null>;
  /** Newest first, strictly before the cursor. */
  history(roomId: string, before: HistoryCursor | null, limit: number): Promise<MessageRecord[]>;
  /** Soft delete: empties the content. Returns the message as it is now (null when unknown). */
  softDeleteMessage(id: string, at: number): Promise<MessageRecord | null>;

  /**
   * Sets the user's reaction on the message, replacing one of another kind. Returns the kind it
   * had before (null: none); the same kind again changes nothing.
   */
  setReaction(reaction: ReactionRecord): Promise<ReactionKind | null>;
  /** Removes the user's reaction when it is of this kind; false when they had none of it. */
  removeReaction(messageId: string, userId: string, kind: ReactionKind): Promise<boolean>;
  /** Users per kind for each message (messages without reactions are absent). */
  reactionCounts(messageIds: string[]): Promise<Map<string, Map<ReactionKind, number>>>;
  /** The user's reaction on each message (messages without one are absent). */
  reactionsBy(userId: string, messageIds: string[]): Promise<Map<string, ReactionKind>>;

  /**
   * The account was deleted: it leaves every room (member counts drop), its messages show a
   * deleted author (nickname erased), its reactions and read marks go. Idempotent; returns the
   * rooms it left by this call.
   */
  removeAuthor(userId: string, at: number): Promise<RoomLeft[]>;
  /** The account's new nickname, on its memberships and messages. Idempotent; returns the rooms it is in. */
  renameAuthor(userId: string, nickname: string): Promise<string[]>;

  /** Moves each (room, user) read mark forward, never back. Idempotent. */
  saveReads(reads: ReadRecord[]): Promise<void>;
  reads(roomId: string): Promise<ReadRecord[]>;

  insertFile(file: FileRecord): Promise<void>;
  file(id: string): Promise<FileRecord | null>;
  /** Marks the file deleted; false when unknown or already deleted. */
  deleteFile(id: string, at: number): Promise<boolean>;
  /** Files by id (deleted ones included), for rendering messages. */
  files(ids: string[]): Promise<Map<string, FileRecord>>;
  /** Whether the file is attached to a live message in a room the user is a member of. */
  fileVisibleTo(fileId: string, userId: string): Promise<boolean>;
}

/** Lower-cases and trims: the key rooms are searched and sorted by. */
export function nameKey(name: string): string {
  return name.trim().toLowerCase();
}
