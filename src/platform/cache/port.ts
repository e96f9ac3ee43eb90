// The Cache port. Values are JSON-serialisable. Implementations: memory (lru-cache), Redis.
export interface CacheStore {
  readonly kind: "memory" | "redis";
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  del(...keys: string[]): Promise<void>;
  /** Atomically increments an integer (used for key generations); creates it at 1. */
  incr(key: string): Promise<number>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
