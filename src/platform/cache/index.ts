// The Cache port's factory: memory (the in-process LRU), Redis, or two-level (an in-process
// level in front of Redis, invalidated across instances over NATS). See HOMEBASE_CACHE.
import type Redis from "ioredis";
import type { Logger } from "../logger";
import type { Metrics } from "../metrics";
import { NatsInvalidations } from "./invalidations";
import { MemoryCacheStore } from "./memory";
import type { CacheStore } from "./port";
import { RedisCacheStore } from "./redis";
import { TwoLevelCacheStore } from "./two-level";

export { CacheAside } from "./cache-aside";
export { type Invalidation, type InvalidationBus, NatsInvalidations } from "./invalidations";
export { MemoryCacheStore } from "./memory";
export type { CacheStore } from "./port";
export { RedisCacheStore } from "./redis";
export { TwoLevelCacheStore } from "./two-level";

export type CacheKind = "memory" | "redis" | "two-level";

export interface TwoLevelSettings {
  natsUrl: string;
  /** The NATS subject every instance of one install shares. */
  subject: string;
  localTtlMs: number;
  metrics: Metrics;
  logger: Logger;
  /** Names this process's messages, so it ignores their echo. */
  instanceId?: string;
}

/** The NATS subject of an install's invalidations (outside the JetStream stream's subjects). */
export function invalidationSubject(eventNamespace: string): string {
  return `${eventNamespace ? `${eventNamespace}.` : ""}homebase_live.cache.invalidate`;
}

/** Redis when configured, else the in-process LRU; two-level when asked for and possible. */
export function createCacheStore(opts: { redis: Redis | null; maxEntries?: number; twoLevel?: TwoLevelSettings | null }): CacheStore {
  if (!opts.redis) return new MemoryCacheStore({ maxEntries: opts.maxEntries });
  const remote = new RedisCacheStore(opts.redis);
  const settings = opts.twoLevel;
  if (!settings) return remote;
  const store = new TwoLevelCacheStore(remote, settings.metrics, { localTtlMs: settings.localTtlMs, maxEntries: opts.maxEntries });
  const bus = new NatsInvalidations(
    settings.natsUrl,
    settings.subject,
    settings.instanceId ?? Bun.randomUUIDv7(),
    (message) => store.receive(message),
    () => store.dropAll(),
    settings.logger.child({ component: "cache" }),
  );
  store.attach(bus);
  bus.start();
  return store;
}
