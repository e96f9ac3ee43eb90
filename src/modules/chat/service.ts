// Chat use cases: rooms, membership, messages, read marks and files. No Elysia types here;
// errors are HttpProblems (the REST layer renders problem+json, the socket an error event).
// Live effects go through the hub, which reaches every instance.
import type { Clock } from "../../platform/clock";
import { numberedPage } from "../../platform/http/paging";
import { problems } from "../../platform/http/problem";
import type { Logger } from "../../platform/logger";
import type { ChatMetrics } from "./metrics";
import type { RateLimiter, RateLimitRule } from "../../platform/ratelimit/port";
import { chatErrors } from "./errors";
import type { BlobStore } from "./files";
import type { Hub, ReplyTo } from "./hub";
import {
  defaultHistoryLimit,
  deletedAuthorNickname,
  defaultRoomPageSize,
  type FileInfo,
  type Message,
  type MessagePage,
  type ReactionKind,
  type Room,
  type RoomListQuery,
  type RoomPage,
  type SendFile,
  type SendText,
} from "./model";
import type { PresenceStore } from "./presence";
import { ChatReactions, reactionList } from "./reactions";
import type { HotReadState } from "./reads";
import type { FileUploads, IncomingFile } from "./uploads";
import { nameKey, type ChatStore, type FileRecord, type MessageRecord, type RoomRecord } from "./store";

/** Who is acting: the authenticated user and the nickname their messages carry. */
export interface Actor {
  userId: string;
  nickname: string;
}

export interface Participant {
  userId: string;
  nickname: string;
  online: boolean;
}

export interface ReadMark {
  userId: string;
  upToMessageId: string;
}

/** A message to send: the socket's `send` op without its framing (op, ref). */
export type SendInput = Omit<SendText, "op" | "ref"> | Omit<SendFile, "op" | "ref">;

export interface ChatSettings {
  /** GET /rooms per client IP per minute. */
  roomListPerMinute: number;
  /** Most participants listed in a join reply. */
  maxParticipantsListed: number;
  /** Password rooms one user may create per hour (each costs an Argon2 hash); default 10. */
  passwordRoomsPerHour?: number;
}

// Argon2id at OWASP's minimum, like account passwords: a leaked store must not give room passwords away.
const argon2 = { algorithm: "argon2id", memoryCost: 19_456, timeCost: 2 } as const;
const wrongPasswordRule: RateLimitRule = { name: "chat_room_password", limit: 10, windowMs: 5 * 60_000, blockMs: 5 * 60_000 };
const defaultPasswordRoomsPerHour = 10;

const iso = (ms: number) => new Date(ms).toISOString();

export function toFileInfo(f: FileRecord): FileInfo {
  return { id: f.id, name: f.name, mime: f.mime, size: f.size, category: f.category, url: `/files/${f.id}`, createdAt: iso(f.createdAt) };
}

/** A message's reactions, as one viewer sees them. */
export interface MessageReactions {
  counts: Map<ReactionKind, number> | undefined;
  mine: ReactionKind | null;
}

export function toMessage(m: MessageRecord, file: FileRecord | null | undefined, reactions?: MessageReactions): Message {
  const deleted = m.deletedAt !== null;
  const authorDeleted = m.authorDeletedAt !== null;
  return {
    id: m.id,
    roomId: m.roomId,
    senderId: authorDeleted ? null : m.senderId,
    senderNickname: authorDeleted ? deletedAuthorNickname : m.senderNickname,
    authorDeleted,
    kind: m.kind,
    content: deleted ? "" : m.content,
    file: !deleted && file && file.deletedAt === null ? toFileInfo(file) : null,
    clientMsgId: m.kind === "system" ? "" : m.clientMsgId,
    createdAt: iso(m.createdAt),
    deleted,
    reactions: deleted ? [] : reactionList(reactions?.counts),
    myReaction: deleted ? null : (reactions?.mine ?? null),
  };
}

function systemMessage(roomId: string, actor: Actor, content: "joined" | "left", at: number): MessageRecord {
  const id = Bun.randomUUIDv7();
  return { id, roomId, senderId: actor.userId, senderNickname: actor.nickname, kind: "system", content, fileId: null, clientMsgId: `system:${id}`, createdAt: at, deletedAt: null, authorDeletedAt: null };
}

export class ChatService {
  private readonly listRule: RateLimitRule;
  /** Reactions on messages (reactions.ts). */
  readonly reactions: ChatReactions;

  constructor(
    readonly store: ChatStore,
    readonly hub: Hub,
    private readonly presence: PresenceStore,
    private readonly hot: HotReadState,
    private readonly blobs: BlobStore,
    private readonly limiter: RateLimiter,
    private readonly metrics: ChatMetrics,
    private readonly settings: ChatSettings,
    private readonly clock: Clock,
    private readonly logger: Logger,
    /** Uploads: streamed to the blob store, with the per-user rate and quota. */
    readonly uploads: FileUploads,
  ) {
    this.listRule = { name: "chat_room_list", limit: settings.roomListPerMinute, windowMs: 60_000 };
    this.reactions = new ChatReactions(store, hub, clock, (roomId, userId) => this.requireMember(roomId, userId));
  }

  private toRoom(r: RoomRecord, joined: boolean): Room {
    return { id: r.id, name: r.name, secret: r.passwordHash !== null, ownerId: r.ownerId, participants: r.memberCount, joined, createdAt: iso(r.createdAt) };
  }

  private async roomOr404(id: string): Promise<RoomRecord> {
    const room = await this.store.room(id);
    if (!room) throw problems.notFound(chatErrors.roomNotFound, "no such room");
    return room;
  }

  /** The room, for its members only: 403 not_member for others. */
  async requireMember(roomId: string, userId: string): Promise<RoomRecord> {
    const [room, member] = await Promise.all([this.roomOr404(roomId), this.store.member(roomId, userId)]);
    if (!member) throw problems.forbidden(chatErrors.notMember, "join the room first");
    return room;
  }

  // ---- rooms ---------------------------------------------------------------------------------

  async createRoom(actor: Actor, body: { name: string; password?: string }): Promise<Room> {
    // The schema refused a blank name; the spaces around a real one are dropped.
    const name = body.name.trim();
    if (body.password !== undefined) {
      // Counted before the hash: parallel creations past the limit never reach Argon2.
      const rule = { name: "chat_password_room", limit: this.settings.passwordRoomsPerHour ?? defaultPasswordRoomsPerHour, windowMs: 3_600_000 };
      const gate = await this.limiter.take([{ key: `chat-password-rooms:${actor.userId}`, rule }]);
      if (!gate.allowed) throw problems.tooManyRequests(chatErrors.rateLimited, gate.retryAfterMs, "too many password rooms created; try later");
    }
    const now = this.clock.now();
    const room: RoomRecord = {
      id: Bun.randomUUIDv7(),
      name,
      nameKey: nameKey(name),
      passwordHash: body.password !== undefined ? await Bun.password.hash(body.password, argon2) : null,
      ownerId: actor.userId,
      createdAt: now,
      memberCount: 1,
    };
    await this.store.createRoom(room, { roomId: room.id, userId: actor.userId, nickname: actor.nickname, joinedAt: now }, systemMessage(room.id, actor, "joined", now));
    this.logger.info("chat room created", { roomId: room.id, secret: room.passwordHash !== null });
    return this.toRoom(room, true);
  }

  async listRooms(userId: string, query: RoomListQuery, ip: string | null): Promise<RoomPage> {
    const limited = await this.limiter.hit(`chat-rooms:ip:${ip ?? "unknown"}`, this.listRule);
    if (!limited.allowed) throw problems.tooManyRequests(chatErrors.roomListRateLimited, limited.retryAfterMs, "too many room list requests; slow down");
    const page = query.page ?? 1;
    const size = query.size ?? defaultRoomPageSize;
    const sort = query.sort ?? "created";
    const order = query.order ?? (sort === "name" ? "asc" : "desc");
    const search = query.search?.trim() || undefined;
    const { items, total } = await this.store.listRooms({
      search,
      sort,
      order,
      limit: size,
      offset: (page - 1) * size,
      memberId: query.joined ? userId : undefined,
    });
    const joined = query.joined ? new Set(items.map((r) => r.id)) : await this.store.joinedAmong(userId, items.map((r) => r.id));
    return numberedPage(items.map((r) => this.toRoom(r, joined.has(r.id))), page, size, total);
  }

  async getRoom(userId: string, id: string): Promise<Room> {
    const [room, member] = await Promise.all([this.roomOr404(id), this.store.member(id, userId)]);
    return this.toRoom(room, member !== null);
  }

  /** Joins (idempotent; a member needs no password again). A secret room needs its password: 401 otherwise. */
  async joinRoom(actor: Actor, roomId: string, password: string | undefined): Promise<Room> {
    const room = await this.roomOr404(roomId);
    if (await this.store.member(roomId, actor.userId)) return this.toRoom(room, true);
    if (room.passwordHash !== null) await this.checkPassword(room, actor.userId, password);
    const now = this.clock.now();
    const joinedMessage = systemMessage(roomId, actor, "joined", now);
    const added = await this.store.join({ roomId, userId: actor.userId, nickname: actor.nickname, joinedAt: now }, joinedMessage);
    const fresh = (await this.store.room(roomId)) ?? room;
    if (added) {
      this.hub.broadcast(roomId, { event: "message", roomId, message: toMessage(joinedMessage, null) });
      this.hub.broadcast(roomId, { event: "participants", roomId, change: "joined", userId: actor.userId, nickname: actor.nickname, participants: fresh.memberCount });
    }
    return this.toRoom(fresh, true);
  }

  private async checkPassword(room: RoomRecord, userId: string, password: string | undefined): Promise<void> {
    if (password === undefined || password === "") throw problems.unauthorized(chatErrors.roomPasswordRequired, "this room is secret: send its password");
    const key = `chat-room-password:${room.id}:${userId}`;
    // Taken before the hash is verified: parallel guesses past the limit never reach Argon2.
    const gate = await this.limiter.take([{ key, rule: wrongPasswordRule }]);
    if (!gate.allowed) throw problems.tooManyRequests(chatErrors.roomPasswordRateLimited, gate.retryAfterMs, "too many wrong passwords for this room; try later");
    if (!(await Bun.password.verify(password, room.passwordHash!))) throw problems.unauthorized(chatErrors.wrongPassword, "the room password is wrong");
    await this.limiter.reset(key);
  }

  /** Leaves (idempotent). Every connection of the user stops getting the room's events. */
  async leaveRoom(actor: Actor, roomId: string): Promise<void> {
    await this.roomOr404(roomId);
    const now = this.clock.now();
    const leftMessage = systemMessage(roomId, actor, "left", now);
    if (!(await this.store.leave(roomId, actor.userId, leftMessage))) return;
    const room = await this.store.room(roomId);
    this.hub.broadcast(roomId, { event: "message", roomId, message: toMessage(leftMessage, null) });
    this.hub.broadcast(
      roomId,
      { event: "participants", roomId, change: "left", userId: actor.userId, nickname: actor.nickname, participants: room?.memberCount ?? 0 },
      { unsubscribe: actor.userId },
    );
  }

  async participants(roomId: string): Promise<Participant[]> {
    // Presence lives in Redis: while it does not answer, say who is here on this instance rather
    // than fail the join.
    const online = this.presence.online(roomId).catch((err: unknown) => {
      this.logger.warn("presence unavailable: participants show this instance's sockets only", { err: String(err) });
      return this.hub.localOnline(roomId);
    });
    const members = await this.store.members(roomId, this.settings.maxParticipantsListed);
    const present = await online;
    return members.map((m) => ({ userId: m.userId, nickname: m.nickname, online: present.has(m.userId) }));
  }

  // ---- messages ------------------------------------------------------------------------------

  /** Messages as `viewerId` sees them: files, reaction counts and the viewer's own reaction. */
  private async render(records: MessageRecord[], viewerId: string): Promise<Message[]> {
    const fileIds = records.map((m) => m.fileId).filter((f): f is string => f !== null);
    const ids = records.filter((m) => m.kind !== "system").map((m) => m.id);
    const [files, counts, mine] = await Promise.all([
      fileIds.length > 0 ? this.store.files(fileIds) : new Map<string, FileRecord>(),
      this.store.reactionCounts(ids),
      this.store.reactionsBy(viewerId, ids),
    ]);
    return records.map((m) => toMessage(m, m.fileId ? files.get(m.fileId) : null, { counts: counts.get(m.id), mine: mine.get(m.id) ?? null }));
  }

  /** Newest first; `before` is a message id of the same room. Members only. */
  async history(userId: string, roomId: string, before: string | undefined, limit = defaultHistoryLimit): Promise<MessagePage> {
    await this.requireMember(roomId, userId);
    return this.page(userId, roomId, before, limit);
  }

  /** A history page for `viewerId`, without the membership check (the caller did it). */
  async page(viewerId: string, roomId: string, before: string | undefined, limit = defaultHistoryLimit): Promise<MessagePage> {
    let cursor = null;
    if (before) {
      const anchor = await this.store.message(before);
      // A bad anchor answers like every bad cursor.
      if (!anchor || anchor.roomId !== roomId) throw problems.badRequest(chatErrors.invalidCursor, "before must be the id of a message in this room");
      cursor = { createdAt: anchor.createdAt, id: anchor.id };
    }
    const rows = await this.store.history(roomId, cursor, limit + 1);
    const hasMore = rows.length > limit;
    return { items: await this.render(rows.slice(0, limit), viewerId), hasMore };
  }

  /**
   * Stores and broadcasts a message. A clientMsgId the sender already used returns the stored
   * message (duplicate: true) and broadcasts nothing: re-sends never duplicate. From a socket,
   * `replyTo` is its connection: the broadcast reaches it with the op's ref.
   */
  async send(actor: Actor, input: SendInput, memberChecked = false, replyTo?: ReplyTo): Promise<{ message: Message; duplicate: boolean }> {
    if (!memberChecked) await this.requireMember(input.roomId, actor.userId);
    let file: FileRecord | null = null;
    // The op's schema already holds the rest: text is not blank, only file messages carry fileId.
    if (input.kind === "file") {
      file = await this.store.file(input.fileId);
      if (!file || file.deletedAt !== null || file.uploaderId !== actor.userId) throw problems.notFound(chatErrors.fileNotFound, "no such file of yours");
    }
    const record: MessageRecord = {
      id: Bun.randomUUIDv7(),
      roomId: input.roomId,
      senderId: actor.userId,
      senderNickname: actor.nickname,
      kind: input.kind,
      content: input.content,
      fileId: file?.id ?? null,
      clientMsgId: input.clientMsgId,
      createdAt: this.clock.now(),
      deletedAt: null,
      authorDeletedAt: null,
    };
    const { message: stored, duplicate } = await this.store.insertMessage(record);
    this.metrics.chatMessages.inc({ outcome: duplicate ? "duplicate" : "stored" });
    const message = duplicate ? (await this.render([stored], actor.userId))[0]! : toMessage(stored, file);
    if (!duplicate) this.hub.broadcast(stored.roomId, { event: "message", roomId: stored.roomId, message }, { replyTo });
    return { message, duplicate };
  }

  /** Soft delete by the author; every member connected anywhere gets messageDeleted (`replyTo`: with the op's ref). */
  async deleteMessage(userId: string, messageId: string, replyTo?: ReplyTo): Promise<void> {
    const message = await this.store.message(messageId);
    if (!message || message.kind === "system" || !(await this.store.member(message.roomId, userId))) {
      throw problems.notFound(chatErrors.messageNotFound, "no such message");
    }
    if (message.senderId !== userId) throw problems.forbidden(chatErrors.notAuthor, "only the author can delete a message");
    const event = { event: "messageDeleted", roomId: message.roomId, messageId };
    // Deleted already: nothing to tell the room; the op still gets its answer.
    if (message.deletedAt !== null) {
      if (replyTo) this.hub.send(replyTo.conn, { ...event, ref: replyTo.ref });
      return;
    }
    await this.store.softDeleteMessage(messageId, this.clock.now());
    this.hub.broadcast(message.roomId, event, { replyTo });
  }

  /** Moves the user's read mark forward; the other members get a read event. */
  async markRead(userId: string, roomId: string, upToMessageId: string, memberChecked = false): Promise<boolean> {
    if (!memberChecked) await this.requireMember(roomId, userId);
    const message = await this.store.message(upToMessageId);
    if (!message || message.roomId !== roomId) throw problems.notFound(chatErrors.messageNotFound, "no such message in this room");
    let advanced: boolean;
    try {
      advanced = await this.hot.mark(roomId, userId, upToMessageId, this.clock.now());
    } catch (err) {
      this.logger.warn("read state unavailable", { err: String(err) });
      throw problems.unavailable(chatErrors.readStateUnavailable, "read receipts are unavailable right now");
    }
    if (advanced) this.hub.broadcast(roomId, { event: "read", roomId, userId, upToMessageId }, { except: userId });
    return advanced;
  }

  /** Every member's read mark: the store's, moved forward by the hot copy. */
  async reads(roomId: string): Promise<ReadMark[]> {
    const [stored, hot] = await Promise.all([this.store.reads(roomId), this.hot.room(roomId).catch(() => new Map<string, string>())]);
    const marks = new Map(stored.map((r) => [r.userId, r.upToMessageId]));
    for (const [userId, upTo] of hot) if ((marks.get(userId) ?? "") < upTo) marks.set(userId, upTo);
    return [...marks].map(([userId, upToMessageId]) => ({ userId, upToMessageId }));
  }

  // ---- files ---------------------------------------------------------------------------------

  /** A file given whole or as a stream; POST /files streams its multipart body through uploads.receive. */
  upload(userId: string, file: IncomingFile): Promise<FileInfo> {
    return this.uploads.upload(userId, file);
  }

  /** The uploader, or members of a room where the file was posted; 404 for everyone else. */
  async download(userId: string, id: string): Promise<{ file: FileRecord; blob: Blob }> {
    const file = await this.store.file(id);
    if (!file || file.deletedAt !== null || (file.uploaderId !== userId && !(await this.store.fileVisibleTo(id, userId)))) {
      throw problems.notFound(chatErrors.fileNotFound, "no such file");
    }
    const blob = await this.blobs.get(file.storageKey);
    if (!blob) throw problems.notFound(chatErrors.fileNotFound, "no such file");
    return { file, blob };
  }

  async deleteFile(userId: string, id: string): Promise<void> {
    const file = await this.store.file(id);
    if (!file || file.deletedAt !== null || file.uploaderId !== userId) throw problems.notFound(chatErrors.fileNotFound, "no such file of yours");
    if (await this.store.deleteFile(id, this.clock.now())) await this.blobs.delete(file.storageKey);
  }
}
