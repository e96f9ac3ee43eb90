// The Cache port's factory: Redis when configured, else the in-process LRU.
import type Redis from "ioredis";
import { MemoryCacheStore } from "./memory";
import type { CacheStore } from "./port";
import { RedisCacheStore } from "./redis";

export { CacheAside } from "./cache-aside";
export { MemoryCacheStore } from "./memory";
export type { CacheStore } from "./port";
export { RedisCacheStore } from "./redis";

export function createCacheStore(opts: { redis: Redis | null; maxEntries?: number }): CacheStore {
  return opts.redis ? new RedisCacheStore(opts.redis) : new MemoryCacheStore({ maxEntries: opts.maxEntries });
}
