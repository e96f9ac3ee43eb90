// The Cache port. Values are JSON-serialisable. Implementations: memory (lru-cache), Redis, and
// two-level (an in-process level in front of Redis, invalidated over NATS).
export interface CacheStore {
  readonly kind: "memory" | "redis" | "two-level";
  get(key: string): Promise<string | undefined>;
  /**
   * What this process knows of `key` without asking anyone: the value, null when it knows there
   * is none, undefined when it would have to ask (then call get()). Lets a hit skip the promises.
   */
  peek?(key: string): string | null | undefined;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  del(...keys: string[]): Promise<void>;
  /** Atomically increments an integer (used for key generations); creates it at 1. */
  incr(key: string): Promise<number>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
