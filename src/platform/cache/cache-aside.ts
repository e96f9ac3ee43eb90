// Cache-aside with single-flight over any CacheStore. The store is an optimisation: when it
// fails, reads go to the loader and writes are skipped; its errors never reach the caller.
import type { Logger } from "../logger";
import type { Metrics } from "../metrics";
import type { CacheStore } from "./port";

type Result = "hit" | "miss" | "error";

interface Flight {
  /** The JSON encoding of the value (undefined when the loader returned undefined). */
  promise: Promise<{ encoded: string | undefined; result: Result }>;
  /** Set by invalidate(): the load may have read data older than that write; don't store it. */
  stale: boolean;
}

const generationPrefix = "gen:";

/** A stored generation counter; a missing or unreadable one counts as 0. */
function generationOf(raw: string | undefined): number {
  const gen = raw === undefined ? 0 : Number(raw);
  return Number.isSafeInteger(gen) ? gen : 0;
}

export class CacheAside {
  private readonly flights = new Map<string, Flight>();
  private storeFailing = false;

  constructor(
    private readonly store: CacheStore,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {}

  /**
   * The cached value of `key`, or the loader's (then cached for ttlMs). Concurrent calls for the
   * same key in this process share one lookup and one loader call. Every caller gets its own
   * JSON.parse of the encoding, so a hit and a miss return the same shape (Dates become strings)
   * and callers never share a mutable object. Each call counts the shared lookup's result.
   */
  async getOrLoad<T>(cacheName: string, key: string, ttlMs: number, loader: () => Promise<T> | T): Promise<T> {
    const encoded = await this.getOrLoadText(cacheName, key, ttlMs, async () => JSON.stringify(await loader()) as string | undefined);
    return (encoded === undefined ? undefined : JSON.parse(encoded)) as T;
  }

  /**
   * getOrLoad for a value that is text already: stored and returned as is, never parsed or
   * re-encoded (the stored-bytes responses of ./response.ts). Same single-flight, invalidation
   * and failure rules; undefined is returned but not stored.
   */
  async getOrLoadText(cacheName: string, key: string, ttlMs: number, loader: () => Promise<string | undefined> | string | undefined): Promise<string | undefined> {
    let flight = this.flights.get(key);
    if (!flight) {
      const created: Flight = { stale: false, promise: undefined! };
      created.promise = this.lookup(key, ttlMs, loader, created).finally(() => {
        // Only our own entry: invalidate() may have replaced it with a newer flight.
        if (this.flights.get(key) === created) this.flights.delete(key);
      });
      this.flights.set(key, created);
      flight = created;
    }
    const { encoded, result } = await flight.promise;
    this.metrics.cacheLookups.add(cacheName, result);
    return encoded;
  }

  private async lookup(key: string, ttlMs: number, loader: () => Promise<string | undefined> | string | undefined, flight: Flight): Promise<{ encoded: string | undefined; result: Result }> {
    let cached: string | undefined;
    let storeOk = true;
    try {
      cached = await this.store.get(key);
      this.storeRecovered();
    } catch (err) {
      storeOk = false;
      this.storeFailed(err);
    }
    if (cached !== undefined) return { encoded: cached, result: "hit" };

    const encoded = await loader();
    // Checked right before set, with no await in between: an invalidate() that ran during the
    // load marked this flight stale, and its DEL is ordered after our SET on the connection.
    if (storeOk && !flight.stale && encoded !== undefined) {
      try {
        await this.store.set(key, encoded, ttlMs);
      } catch (err) {
        this.storeFailed(err);
      }
    }
    return { encoded, result: storeOk ? "miss" : "error" };
  }

  /**
   * Deletes keys. Call it after the write is committed. A load of one of these keys in flight in
   * this process won't store its (possibly stale) result, and later calls don't join it.
   * Across instances use generation()/bump(), which are safe by construction.
   */
  async invalidate(...keys: string[]): Promise<void> {
    for (const key of keys) {
      const flight = this.flights.get(key);
      if (flight) {
        flight.stale = true;
        this.flights.delete(key);
      }
    }
    try {
      await this.store.del(...keys);
      this.storeRecovered();
    } catch (err) {
      this.storeFailed(err);
    }
  }

  /**
   * The current generation of a namespace, to build versioned keys:
   *   const gen = await cache.generation(`logs:user:${id}`);
   *   cache.getOrLoad("logs", `logs:user:${id}@${gen}:count=${n}`, ttl, load)
   * bump() after a write moves every variant to a fresh key at once. Race-free across instances
   * as long as readers take the generation before loading and writers bump after committing: a
   * load that overlapped the write stores under the old generation, which no one reads again.
   * When the store fails, a random negative generation: a key no one has stored, so it loads.
   */
  async generation(namespace: string): Promise<number> {
    try {
      const raw = await this.store.get(generationPrefix + namespace);
      this.storeRecovered();
      return generationOf(raw);
    } catch (err) {
      this.storeFailed(err);
      return -1 - Math.floor(Math.random() * Number.MAX_SAFE_INTEGER);
    }
  }

  /**
   * The cached value of `key` when this process holds it (a hit, counted), with no promise on
   * the way; undefined otherwise: then call getOrLoadText, which also handles a miss.
   */
  peekText(cacheName: string, key: string): string | undefined {
    const value = this.store.peek?.(key);
    if (typeof value !== "string") return undefined;
    this.metrics.cacheLookups.add(cacheName, "hit");
    return value;
  }

  /** generation() when this process knows it without asking the store; undefined otherwise. */
  peekGeneration(namespace: string): number | undefined {
    const raw = this.store.peek?.(generationPrefix + namespace);
    return raw === undefined ? undefined : generationOf(raw ?? undefined);
  }

  /** Moves a namespace to its next generation (call after the write is committed). */
  async bump(namespace: string): Promise<void> {
    try {
      await this.store.incr(generationPrefix + namespace);
      this.storeRecovered();
    } catch (err) {
      // Nothing better to do: if the store comes back with its data (a partition, not a
      // restart), values under the old generation may be served until their TTL.
      this.storeFailed(err);
    }
  }

  // One warning per outage, one info when it ends: an outage must not flood the log.
  private storeFailed(err: unknown): void {
    if (this.storeFailing) return;
    this.storeFailing = true;
    this.logger.warn("cache store unavailable; serving from the loader", { store: this.store.kind, err: err instanceof Error ? err.message : String(err) });
  }

  private storeRecovered(): void {
    if (!this.storeFailing) return;
    this.storeFailing = false;
    this.logger.info("cache store available again", { store: this.store.kind });
  }
}
