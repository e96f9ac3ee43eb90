// What the auth check (every authenticated request) and the account reads keep in memory, and
// why it stays exact with any number of processes on one data dir.
//
// Each cache is valid under one counter of the accounts_epoch row (migration 0005): triggers move
// the counter in the transaction of any change that could make a cached value wrong, whoever
// writes it. Reading that row costs a SQLite read transaction (~2 µs: WAL locks, syscalls), so it
// is read only when something may have committed since the last look: the WAL index header in the
// database's -shm file (https://www.sqlite.org/walformat.html, §2.2) changes with every commit of
// every connection, ours included, and is shared memory. Comparing it with the copy taken at the
// last look is a memory compare; equal means no commit anywhere, so the caches still hold.
//
// Order matters for exactness: the header copy is taken before the counter is read, and the
// counter before any row is cached; a commit that lands in between changes the header again, so
// the next look reads the counter again.
import type { Database } from "bun:sqlite";
import { existsSync } from "node:fs";

/** The two copies of the WAL index header (48 bytes each) at the start of the -shm file. */
const headerWords = 24;

/**
 * Whether any connection may have committed to the database since the last call. Always "yes"
 * where the header cannot be watched (an in-memory database, no WAL, no -shm yet).
 */
export class CommitWatch {
  private header: Uint32Array | null = null;
  private closed = false;
  private readonly last = new Uint32Array(headerWords);

  constructor(private readonly path: string) {}

  /**
   * The mapping is made once this process's connection has the -shm open (after its first read):
   * while any connection has it open SQLite never truncates it, and this one stays open until
   * close() — past which the mapping is never touched (a file truncated under it would fault).
   */
  private attach(): Uint32Array | null {
    if (this.closed || this.path === "" || this.path === ":memory:" || !existsSync(`${this.path}-shm`)) return null;
    try {
      const bytes = Bun.mmap(`${this.path}-shm`, { size: headerWords * 4, shared: true });
      if (bytes.byteLength < headerWords * 4) return null;
      return new Uint32Array(bytes.buffer, bytes.byteOffset, headerWords);
    } catch {
      return null;
    }
  }

  /** Call with the connection open and past its first read; takes the header before answering. */
  changed(): boolean {
    const header = (this.header ??= this.attach());
    if (header === null) return true;
    const last = this.last;
    for (let i = 0; i < headerWords; i++) {
      if (header[i] !== last[i]) {
        last.set(header);
        return true;
      }
    }
    return false;
  }

  /** Before the connection closes: from then on every call answers "changed". */
  close(): void {
    this.closed = true;
    this.header = null;
  }
}

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
  private readonly watch: CommitWatch;
  private readonly epoch;
  /** The counters as last read; null: unknown (no row), nothing is cached. */
  private seen: { auth: number; users: number } | null = null;

  constructor(db: Database, max: number) {
    this.watch = new CommitWatch(db.filename);
    this.epoch = db.query<{ auth: number; users: number }, []>("SELECT auth, users FROM accounts_epoch WHERE id = 1");
    this.auth = new BoundedMap(max);
    this.users = new BoundedMap(max);
  }

  sync(): void {
    if (!this.watch.changed()) return;
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
    this.watch.close();
    this.seen = null;
    this.auth.clear();
    this.users.clear();
  }
}
