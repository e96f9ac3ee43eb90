// The Redis CacheStore: plain strings with PX expiry. The connection is shared (locks, rate
// limits) and owned by the platform, so close() leaves it open.
import type Redis from "ioredis";
import type { CacheStore } from "./port";

export class RedisCacheStore implements CacheStore {
  readonly kind = "redis" as const;

  constructor(
    private readonly redis: Redis,
    /** Keeps cache keys apart from lock and rate-limit keys on the same Redis. */
    private readonly prefix = "cache:",
  ) {}

  async get(key: string): Promise<string | undefined> {
    return (await this.redis.get(this.prefix + key)) ?? undefined;
  }

  /** The value and its remaining time to live in ms (-1: none), in one round trip. */
  async getWithTtl(key: string): Promise<{ value: string; ttlMs: number } | undefined> {
    const results = await this.redis.pipeline().get(this.prefix + key).pttl(this.prefix + key).exec();
    const [[getErr, value], [ttlErr, ttl]] = results as Array<[Error | null, unknown]> as [[Error | null, string | null], [Error | null, number]];
    if (getErr) throw getErr;
    if (ttlErr) throw ttlErr;
    return value === null ? undefined : { value, ttlMs: ttl };
  }

  /** The connection is up now (a read of ioredis's state, no round trip). */
  get connected(): boolean {
    return this.redis.status === "ready";
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.redis.set(this.prefix + key, value, "PX", Math.max(1, Math.ceil(ttlMs)));
  }

  /** Like set; resolves to whether it replaced a different value (SET … GET, Redis ≥ 6.2). */
  async setReplacing(key: string, value: string, ttlMs: number): Promise<boolean> {
    const old = (await this.redis.call("SET", this.prefix + key, value, "PX", String(Math.max(1, Math.ceil(ttlMs))), "GET")) as string | null;
    return old !== null && old !== value;
  }

  async del(...keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.redis.del(...keys.map((k) => this.prefix + k));
  }

  /** Counters get no TTL: run Redis with a volatile-* maxmemory-policy so they are not evicted. */
  async incr(key: string): Promise<number> {
    return this.redis.incr(this.prefix + key);
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.redis.ping()) === "PONG";
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {}
}
