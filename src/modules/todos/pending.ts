// Pending writes (async write mode): commands accepted (durable in the outbox) but not yet
// applied to the todo tables. Reads of a user apply that user's pending commands on top of
// what they load, so a client reads its own writes at once.
//
// This store is not what makes a write durable (the outbox row is); losing an entry only
// delays when a read sees that write, until the consumer applies it. Entries are removed once
// applied; a leftover (a crash between apply and remove) is harmless, as commands at or below
// an entity's rev are skipped, and it expires after a day.
import type Redis from "ioredis";
import { systemClock, type Clock } from "../../platform/clock";
import type { Logger } from "../../platform/logger";
import type { Command } from "./commands";

export interface PendingStore {
  readonly kind: "memory" | "redis";
  /** Records commands; resolves once a read on any instance will see them. */
  add(cmds: readonly Command[]): Promise<void>;
  /** The user's pending commands in sequence order. */
  list(userId: string): Promise<Command[]>;
  remove(cmds: readonly Command[]): Promise<void>;
  close(): void;
}

const maxAgeMs = 24 * 3600_000;

function byUser(cmds: readonly Command[]): Map<string, Command[]> {
  const out = new Map<string, Command[]>();
  for (const cmd of cmds) {
    const list = out.get(cmd.userId);
    if (list) list.push(cmd);
    else out.set(cmd.userId, [cmd]);
  }
  return out;
}

/** Runs a pipeline; any failed command fails the whole call. */
async function run(pipeline: ReturnType<Redis["pipeline"]>): Promise<void> {
  const results = (await pipeline.exec()) ?? [];
  const failed = results.find(([err]) => err);
  if (failed) throw failed[0];
}

/** The embedded store: per-process memory. */
export class MemoryPendingStore implements PendingStore {
  readonly kind = "memory" as const;
  private readonly users = new Map<string, Map<number, Command>>();
  private readonly sweeper: ReturnType<typeof setInterval>;

  /** The clock the commands' `at` comes from: entries expire a day after it. */
  constructor(private readonly clock: Clock = systemClock) {
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref?.();
  }

  async add(cmds: readonly Command[]): Promise<void> {
    this.addNow(cmds);
  }

  addNow(cmds: readonly Command[]): void {
    for (const cmd of cmds) {
      let user = this.users.get(cmd.userId);
      if (!user) this.users.set(cmd.userId, (user = new Map()));
      user.set(cmd.seq, cmd);
    }
  }

  async list(userId: string): Promise<Command[]> {
    const user = this.users.get(userId);
    if (!user) return [];
    return [...user.values()].sort((a, b) => a.seq - b.seq);
  }

  async remove(cmds: readonly Command[]): Promise<void> {
    for (const cmd of cmds) {
      const user = this.users.get(cmd.userId);
      if (!user) continue;
      user.delete(cmd.seq);
      if (user.size === 0) this.users.delete(cmd.userId);
    }
  }

  /** Pending entries in total (tests, metrics). */
  size(): number {
    let n = 0;
    for (const user of this.users.values()) n += user.size;
    return n;
  }

  /** Drops entries older than a day (runs every minute). */
  sweep(): void {
    const cutoff = this.clock.now() - maxAgeMs;
    for (const [userId, user] of this.users) {
      for (const [seq, cmd] of user) if (cmd.at < cutoff) user.delete(seq);
      if (user.size === 0) this.users.delete(userId);
    }
  }

  close(): void {
    clearInterval(this.sweeper);
    this.users.clear();
  }
}

/**
 * Redis: one hash per user (field = seq), shared by every instance. When Redis fails, entries
 * go to this process's memory instead (reads on this instance still see them) and a warning is
 * logged once per outage.
 */
export class RedisPendingStore implements PendingStore {
  readonly kind = "redis" as const;
  private readonly local: MemoryPendingStore;
  private failing = false;

  constructor(
    private readonly redis: Redis,
    private readonly logger: Logger,
    clock: Clock = systemClock,
    private readonly prefix = "todos:pending:",
  ) {
    this.local = new MemoryPendingStore(clock);
  }

  async add(cmds: readonly Command[]): Promise<void> {
    if (cmds.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const [userId, list] of byUser(cmds)) {
      const key = this.prefix + userId;
      pipeline.hset(key, ...list.flatMap((c) => [String(c.seq), JSON.stringify(c)]));
      pipeline.pexpire(key, maxAgeMs);
    }
    try {
      await run(pipeline);
      this.recovered();
    } catch (err) {
      this.failed(err);
      this.local.addNow(cmds);
    }
  }

  async list(userId: string): Promise<Command[]> {
    const local = await this.local.list(userId);
    let remote: Command[] = [];
    try {
      const raw = await this.redis.hgetall(this.prefix + userId);
      remote = Object.values(raw).map((v) => JSON.parse(v) as Command);
      this.recovered();
    } catch (err) {
      this.failed(err);
    }
    if (local.length === 0) return remote.sort((a, b) => a.seq - b.seq);
    const all = new Map<number, Command>();
    for (const c of [...remote, ...local]) all.set(c.seq, c);
    return [...all.values()].sort((a, b) => a.seq - b.seq);
  }

  async remove(cmds: readonly Command[]): Promise<void> {
    if (cmds.length === 0) return;
    await this.local.remove(cmds);
    const pipeline = this.redis.pipeline();
    for (const [userId, list] of byUser(cmds)) pipeline.hdel(this.prefix + userId, ...list.map((c) => String(c.seq)));
    try {
      await run(pipeline);
    } catch (err) {
      // A leftover entry is harmless (see the top of this file) and expires.
      this.failed(err);
    }
  }

  private failed(err: unknown): void {
    if (this.failing) return;
    this.failing = true;
    this.logger.warn("todos pending store (redis) unavailable; keeping pending writes in this process", {
      err: err instanceof Error ? err.message : String(err),
    });
  }

  private recovered(): void {
    if (!this.failing) return;
    this.failing = false;
    this.logger.info("todos pending store (redis) available again");
  }

  close(): void {
    this.local.close();
  }
}

export function createPendingStore(redis: Redis | null, logger: Logger, clock: Clock): PendingStore {
  return redis ? new RedisPendingStore(redis, logger, clock) : new MemoryPendingStore(clock);
}
