// The two-level CacheStore: an in-process LRU in front of Redis, for several instances. Writes
// (set, del, incr) go to Redis first, then drop the key here and, over NATS, on every other
// instance; a write waits until every other live instance has acknowledged the invalidation
// (applied: the key is gone there), so the next read anywhere misses and reads Redis. An
// instance that does not answer within the bound (dead, partitioned, or started in the last
// couple of seconds) is not waited for. What bounds a missed message:
// - a local entry lives at most localTtlMs (and never past its Redis TTL);
// - the local level only serves while both the NATS subscription and the Redis connection are
//   up, and it is dropped whole whenever either changes state;
// - a Redis read that an invalidation of the same key overtook is not kept locally.
// Values under versioned keys (key@generation) never change, so only the generation counters
// and plain keys really depend on the invalidations.
// A key Redis does not have is remembered as absent too: a namespace never bumped since Redis
// started has no generation counter, and without this every read of it would ask Redis. Every
// user of this store is cache-aside, so a stale "absent" only costs a load, and the counter's
// first incr invalidates it everywhere like any other write.
import { LRUCache } from "lru-cache";
import type { Metrics } from "../metrics";
import type { Invalidation, InvalidationBus } from "./invalidations";
import type { CacheStore } from "./port";
import type { RedisCacheStore } from "./redis";

export interface TwoLevelOptions {
  /** Upper bound on a local entry's life: how stale a missed invalidation can leave it. */
  localTtlMs: number;
  maxEntries?: number;
}

/** A Redis read in flight: an invalidation of its key (or of everything) meanwhile spoils it. */
interface Pending {
  spoiled: boolean;
}

/** The local level's marker for "Redis has no such key". */
const absent = Symbol("absent");

export class TwoLevelCacheStore implements CacheStore {
  readonly kind = "two-level" as const;
  private readonly local: LRUCache<string, string | typeof absent>;
  private readonly pending = new Map<string, Set<Pending>>();
  private bus: InvalidationBus | null = null;
  private redisWasUp = false;

  constructor(
    private readonly remote: RedisCacheStore,
    private readonly metrics: Metrics,
    private readonly options: TwoLevelOptions,
  ) {
    this.local = new LRUCache({ max: options.maxEntries ?? 10_000 });
  }

  /** The bus is built with this store's handlers (receive, reset), so it is attached after. */
  attach(bus: InvalidationBus): void {
    this.bus = bus;
  }

  /** Another instance wrote: forget what it names. */
  receive(invalidation: Invalidation): void {
    this.metrics.cacheInvalidations.inc({ direction: "in" });
    if ("all" in invalidation) this.dropAll();
    else for (const key of invalidation.keys) this.forget(key);
  }

  /** The invalidation stream broke or came back: anything local may have missed a message. */
  dropAll(): void {
    this.local.clear();
    for (const set of this.pending.values()) for (const p of set) p.spoiled = true;
  }

  /** Whether the local level serves now (both connections up). */
  get active(): boolean {
    return this.usable();
  }

  /** Other instances whose acknowledgement a write waits for. */
  get peers(): number {
    return this.bus?.livePeers() ?? 0;
  }

  /** Entries held locally now (tests, diagnostics). */
  get localSize(): number {
    return this.local.size;
  }

  private usable(): boolean {
    const redisUp = this.remote.connected;
    // Redis lost: others' writes may have failed there and been applied nowhere; start afresh.
    if (redisUp !== this.redisWasUp) {
      this.redisWasUp = redisUp;
      this.dropAll();
    }
    return redisUp && this.bus !== null && this.bus.connected;
  }

  private forget(key: string): void {
    this.local.delete(key);
    for (const p of this.pending.get(key) ?? []) p.spoiled = true;
  }

  private track(key: string): Pending {
    const p: Pending = { spoiled: false };
    let set = this.pending.get(key);
    if (!set) this.pending.set(key, (set = new Set()));
    set.add(p);
    return p;
  }

  private untrack(key: string, p: Pending): void {
    const set = this.pending.get(key);
    set?.delete(p);
    if (set?.size === 0) this.pending.delete(key);
  }

  private keep(key: string, value: string | typeof absent, remoteTtlMs: number): void {
    // -1: no expiry in Redis (counters); otherwise never outlive the Redis copy.
    const ttl = remoteTtlMs < 0 ? this.options.localTtlMs : Math.min(this.options.localTtlMs, remoteTtlMs);
    if (ttl >= 1) this.local.set(key, value, { ttl });
  }

  async get(key: string): Promise<string | undefined> {
    const usable = this.usable();
    if (usable) {
      const value = this.local.get(key);
      if (value !== undefined) {
        this.metrics.cacheLocalReads.add("hit");
        return value === absent ? undefined : value;
      }
    }
    this.metrics.cacheLocalReads.add(usable ? "miss" : "off");
    const p = this.track(key);
    try {
      const found = await this.remote.getWithTtl(key);
      // Absent has no Redis TTL: the local bound alone applies.
      if (usable && !p.spoiled && this.usable()) this.keep(key, found?.value ?? absent, found?.ttlMs ?? -1);
      return found?.value;
    } finally {
      this.untrack(key, p);
    }
  }

  /** The local level's answer when it has one and may be trusted (see usable()); a local miss asks Redis. */
  peek(key: string): string | null | undefined {
    if (!this.usable()) return undefined;
    const value = this.local.get(key);
    if (value === undefined) return undefined;
    this.metrics.cacheLocalReads.add("hit");
    return value === absent ? null : value;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.forget(key);
    const p = this.track(key);
    let replaced: boolean;
    try {
      replaced = await this.remote.setReplacing(key, value, ttlMs);
      if (!p.spoiled && this.usable()) this.keep(key, value, ttlMs);
    } finally {
      this.untrack(key, p);
    }
    // Cache-aside sets a key after a miss: nothing was there, so no one holds a value (another
    // instance may hold "absent", which only costs it one load of its own, whose set replaces
    // ours and is heard). Only an overwrite is a write the other instances must hear of.
    if (replaced) await this.publish({ keys: [key] }, true);
  }

  async del(...keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    for (const key of keys) this.forget(key);
    try {
      await this.remote.del(...keys);
    } finally {
      // Even when Redis failed: the other instances' local copies must go.
      await this.publish({ keys }, true);
    }
  }

  async incr(key: string): Promise<number> {
    this.forget(key);
    try {
      return await this.remote.incr(key);
    } finally {
      await this.publish({ keys: [key] }, true);
    }
  }

  private async publish(invalidation: Invalidation, flush: boolean): Promise<void> {
    if (!this.bus) return;
    this.metrics.cacheInvalidations.inc({ direction: "out" });
    await this.bus.publish(invalidation, { flush });
  }

  ping(): Promise<boolean> {
    return this.remote.ping();
  }

  async close(): Promise<void> {
    this.local.clear();
    await this.bus?.close();
  }
}
