// What the auth check (every authenticated request) and the account reads keep in memory, and
// why it stays exact with any number of processes on one data dir.
//
// Each cache is valid under one counter of the accounts_epoch row (migration 0005): triggers move
// the counter in the transaction of any change that could make a cached value wrong, whoever
// writes it. Every cached read looks at that one-row table first (a point read, ~2 µs) and drops
// a cache whose counter moved: one tiny read instead of the session and account reads.
//
// Not done, on purpose: watching the WAL index header by mapping the -shm file. Mapping it opens
// and closes a descriptor of its own, and closing any descriptor of a file drops every POSIX lock
// this process holds on it, SQLite's included: another process's connection then takes itself
// for the only one, rebuilds the -shm under the mapping, and this process dies of SIGBUS (seen
// with a read-only connection of a second process: the restore drill).
import type { Database } from "bun:sqlite";

/** A bounded map: past `max` entries the oldest is dropped (insertion order). */
class BoundedMap<K, V> {
  private readonly map = new Map<K, V>();

  constructor(private readonly max: number) {}

  get(key: K): V | undefined {
    return this.map.get(key);
  }

  set(key: K, value: V): void {
    if (this.map.size >= this.max && !this.map.has(key)) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
    this.map.set(key, value);
  }

  clear(): boolean {
    const had = this.map.size > 0;
    this.map.clear();
    return had;
  }
}

/**
 * The caches and the counters they were filled under: session auth states by session id, and
 * live accounts by id. sync() before every cached read drops a cache whose counter moved; a
 * value read from SQLite after that sync may be put. Counts its looks at the counters and its
 * drops (tests, tuning).
 */
export class EpochCaches<A, U> {
  private readonly auth: BoundedMap<string, A>;
  private readonly users: BoundedMap<string, U>;
  readonly stats = { looks: 0, authDrops: 0, userDrops: 0 };
  private readonly epoch;
  /** The counters as last read; null: unknown (no row), nothing is cached. */
  private seen: { auth: number; users: number } | null = null;

  constructor(db: Database, max: number) {
    this.epoch = db.query<{ auth: number; users: number }, []>("SELECT auth, users FROM accounts_epoch WHERE id = 1");
    this.auth = new BoundedMap(max);
    this.users = new BoundedMap(max);
  }

  /** The mark of the latest look at the counters: how many there were. */
  get mark(): number {
    return this.stats.looks;
  }

  /**
   * sync() unless no look happened since the one that gave `mark`: a later read of the same
   * request may rely on its auth check's look. That serves the state as of that look, a moment
   * inside the request — what any write finished before the request began had made. A request
   * that writes must not pass its mark to a read after its write.
   */
  syncUnless(mark: number | undefined): void {
    if (mark === undefined || mark !== this.stats.looks || this.seen === null) this.sync();
  }

  sync(): void {
    this.stats.looks++;
    const now = this.epoch.get();
    if (now === null || now.auth !== this.seen?.auth) {
      if (this.auth.clear()) this.stats.authDrops++;
    }
    if (now === null || now.users !== this.seen?.users) {
      if (this.users.clear()) this.stats.userDrops++;
    }
    this.seen = now === null ? null : { auth: now.auth, users: now.users };
  }

  authState(sessionId: string): A | undefined {
    return this.auth.get(sessionId);
  }

  putAuthState(sessionId: string, state: A): void {
    if (this.seen !== null) this.auth.set(sessionId, state);
  }

  user(id: string): U | undefined {
    return this.users.get(id);
  }

  putUser(id: string, user: U): void {
    if (this.seen !== null) this.users.set(id, user);
  }

  close(): void {
    this.seen = null;
    this.auth.clear();
    this.users.clear();
  }
}
