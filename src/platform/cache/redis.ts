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

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.redis.set(this.prefix + key, value, "PX", Math.max(1, Math.ceil(ttlMs)));
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
