// Read state: the hot copy lives in Redis (shared by every instance) or in memory, and is
// flushed to the store in batches through the event bus:
//
//   read op ──▶ mark (only forward) + "dirty" ──(every flushMs)──▶ outbox event
//       homebase.chat.reads.flushed {reads} ──▶ consumer ──▶ store.saveReads ($max / upsert-if-greater)
//
// Reading a room's marks merges the store with the hot copy, so a mark is visible at once and
// survives a restart (Redis keeps it; in memory mode the last batch is flushed on close).
import type Redis from "ioredis";
import type { Clock } from "../../platform/clock";
import type { GroupCommitWriter } from "../../platform/db/sqlite";
import type { Logger } from "../../platform/logger";
import { chatEvents, type ChatEventSink } from "./events";
import type { ReadRecord } from "./store";

export interface HotReadState {
  readonly kind: "redis" | "memory";
  /** Moves the user's mark in the room forward; false when it already was at or past it. */
  mark(roomId: string, userId: string, upToMessageId: string, at: number): Promise<boolean>;
  /** The room's hot marks by user id. */
  room(roomId: string): Promise<Map<string, string>>;
  /** Takes up to `max` changed marks for flushing (they stop being dirty). */
  takeDirty(max: number): Promise<ReadRecord[]>;
  /** Puts marks back after a failed flush. */
  restoreDirty(reads: ReadRecord[]): Promise<void>;
}

/**
 * Single-instance hot copy. Marks stay after a flush (the consumer stores them a moment later,
 * and reads must not go back meanwhile): one entry per (room, reader) since the start.
 */
export class MemoryReadState implements HotReadState {
  readonly kind = "memory" as const;
  private readonly marks = new Map<string, Map<string, string>>();
  private readonly dirty = new Map<string, ReadRecord>();

  async mark(roomId: string, userId: string, upTo: string, at: number): Promise<boolean> {
    let room = this.marks.get(roomId);
    if (!room) this.marks.set(roomId, (room = new Map()));
    const current = room.get(userId);
    if (current !== undefined && current >= upTo) return false;
    room.set(userId, upTo);
    this.dirty.set(`${roomId}|${userId}`, { roomId, userId, upToMessageId: upTo, updatedAt: at });
    return true;
  }

  async room(roomId: string): Promise<Map<string, string>> {
    return new Map(this.marks.get(roomId));
  }

  async takeDirty(max: number): Promise<ReadRecord[]> {
    const out: ReadRecord[] = [];
    for (const [key, record] of this.dirty) {
      if (out.length >= max) break;
      out.push(record);
      this.dirty.delete(key);
    }
    return out;
  }

  async restoreDirty(reads: ReadRecord[]): Promise<void> {
    for (const r of reads) await this.mark(r.roomId, r.userId, r.upToMessageId, r.updatedAt);
  }
}

// KEYS: room hash, dirty set. ARGV: user, mark, "room|user", ttl ms. UUIDv7 strings sort by time.
const markScript = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and cur >= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('SADD', KEYS[2], ARGV[3])
return 1`;

export class RedisReadState implements HotReadState {
  readonly kind = "redis" as const;
  /** The hot copy outlives any flush interval by far; the store has it after that. */
  private readonly ttlMs = 7 * 86_400_000;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly clock: Clock,
  ) {}

  private roomKey(roomId: string) {
    return `${this.prefix}chat:reads:${roomId}`;
  }
  private get dirtyKey() {
    return `${this.prefix}chat:reads:dirty`;
  }

  async mark(roomId: string, userId: string, upTo: string): Promise<boolean> {
    const r = await this.redis.eval(markScript, 2, this.roomKey(roomId), this.dirtyKey, userId, upTo, `${roomId}|${userId}`, String(this.ttlMs));
    return r === 1;
  }

  async room(roomId: string): Promise<Map<string, string>> {
    return new Map(Object.entries(await this.redis.hgetall(this.roomKey(roomId))));
  }

  async takeDirty(max: number): Promise<ReadRecord[]> {
    // SPOP hands each dirty entry to exactly one instance's flusher.
    const entries = (await this.redis.spop(this.dirtyKey, max)) as string[];
    if (entries.length === 0) return [];
    const pipeline = this.redis.pipeline();
    const keys = entries.map((e) => {
      const [roomId, userId] = e.split("|") as [string, string];
      pipeline.hget(this.roomKey(roomId), userId);
      return { roomId, userId };
    });
    const values = (await pipeline.exec()) ?? [];
    const now = this.clock.now();
    const out: ReadRecord[] = [];
    keys.forEach(({ roomId, userId }, i) => {
      const v = values[i]?.[1];
      if (typeof v === "string") out.push({ roomId, userId, upToMessageId: v, updatedAt: now });
    });
    return out;
  }

  async restoreDirty(reads: ReadRecord[]): Promise<void> {
    if (reads.length > 0) await this.redis.sadd(this.dirtyKey, ...reads.map((r) => `${r.roomId}|${r.userId}`));
  }
}

/** Moves dirty marks into the outbox every `intervalMs`, and once more on stop. */
export class ReadFlusher {
  private timer: ReturnType<typeof setInterval> | null = null;
  private running: Promise<void> | null = null;
  private static readonly batch = 500;

  constructor(
    private readonly hot: HotReadState,
    private readonly writer: GroupCommitWriter,
    private readonly events: ChatEventSink,
    private readonly intervalMs: number,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref?.();
  }

  /** One pass: every dirty mark at the time of the call is in the outbox when it resolves. */
  flush(): Promise<void> {
    if (this.running) return this.running.then(() => this.flush());
    this.running = (async () => {
      for (;;) {
        const reads = await this.hot.takeDirty(ReadFlusher.batch);
        if (reads.length === 0) return;
        try {
          await this.writer.write(() => this.events.emit(chatEvents.readsFlushed, { reads }));
        } catch (err) {
          await this.hot.restoreDirty(reads).catch(() => undefined);
          throw err;
        }
        if (reads.length < ReadFlusher.batch) return;
      }
    })()
      .catch((err: unknown) => this.logger.warn("read state flush failed; retrying", { err: err instanceof Error ? err.message : String(err) }))
      .finally(() => (this.running = null));
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }
}
