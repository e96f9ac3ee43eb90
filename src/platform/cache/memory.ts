// The embedded CacheStore: an LRU of JSON strings with a TTL per entry.
import { LRUCache } from "lru-cache";
import type { CacheStore } from "./port";

export interface MemoryCacheOptions {
  /** Most values kept; the least recently used go first. */
  maxEntries?: number;
  /** Most counters (key generations) kept; see incr(). */
  maxCounters?: number;
}

export class MemoryCacheStore implements CacheStore {
  readonly kind = "memory" as const;
  private readonly values: LRUCache<string, string>;
  // Counters have no TTL, like INCR keys in Redis, and live apart from the values so that a
  // burst of cached values cannot evict a generation (which would resurrect older versioned
  // keys). Losing one still needs maxCounters other counters used since.
  private readonly counters: LRUCache<string, number>;

  constructor({ maxEntries = 10_000, maxCounters = 100_000 }: MemoryCacheOptions = {}) {
    this.values = new LRUCache({ max: maxEntries });
    this.counters = new LRUCache({ max: maxCounters });
  }

  async get(key: string): Promise<string | undefined> {
    return this.peek(key) ?? undefined;
  }

  peek(key: string): string | null {
    return this.values.get(key) ?? this.counters.get(key)?.toString() ?? null;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.counters.delete(key);
    this.values.set(key, value, { ttl: Math.max(1, Math.ceil(ttlMs)) });
  }

  async del(...keys: string[]): Promise<void> {
    for (const key of keys) {
      this.values.delete(key);
      this.counters.delete(key);
    }
  }

  /** Like INCR: a missing key counts from 0; a value must be an integer. (Unlike INCR, a
   * value's TTL is dropped: counters don't expire.) */
  async incr(key: string): Promise<number> {
    let current = this.counters.get(key);
    if (current === undefined) {
      const value = this.values.get(key);
      if (value !== undefined && !/^-?\d{1,15}$/.test(value)) throw new Error("ERR value is not an integer or out of range");
      current = Number(value ?? 0);
      this.values.delete(key);
    }
    this.counters.set(key, current + 1);
    return current + 1;
  }

  async ping(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    this.values.clear();
    this.counters.clear();
  }
}
