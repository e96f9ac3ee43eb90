// bun:sqlite in WAL mode. Reads run on prepared statements directly; every write goes through
// the GroupCommitWriter so concurrent requests share one transaction (and one fsync, run off the
// event loop: wal-sync.ts).
import { Database } from "bun:sqlite";
import { dirname } from "node:path";
import { createPrivateFile, ensurePrivateDir, restrictFile } from "./files";
import { planOnce } from "./parameters";
import type { WalSync } from "./wal-sync";

export interface Migration {
  /** Numbered from 1 within its module. */
  version: number;
  name: string;
  sql: string;
  /**
   * Its number in the single global list that data dirs made before modules kept their own
   * migrations recorded (table schema_migrations): such a database has it applied already.
   */
  legacyVersion?: number;
}

/** One module's migrations (the platform's own set is "platform"). */
export interface MigrationSet {
  module: string;
  migrations: readonly Migration[];
}

export interface OpenOptions {
  synchronous: "FULL" | "NORMAL";
}

export function openDatabase(path: string, options: OpenOptions): Database {
  const onDisk = path !== ":memory:";
  if (onDisk) {
    ensurePrivateDir(dirname(path));
    // 0600 before SQLite opens it: SQLite gives the -wal and -shm it creates the main file's mode.
    createPrivateFile(path);
  }
  const db = new Database(path, { create: true, strict: true });
  planOnce(db);
  db.exec("PRAGMA journal_mode = WAL");
  // Left by an older binary (or another user's umask) with a looser mode.
  if (onDisk) for (const suffix of ["-wal", "-shm"]) restrictFile(path + suffix);
  db.exec(`PRAGMA synchronous = ${options.synchronous}`);
  db.exec("PRAGMA foreign_keys = ON");
  db.exec("PRAGMA busy_timeout = 5000");
  db.exec("PRAGMA temp_store = MEMORY");
  db.exec("PRAGMA cache_size = -65536");
  return db;
}

/**
 * Applies every migration not yet recorded in module_migrations, set by set in list order, each
 * in its own transaction. Returns "module@version" for each one applied.
 */
export function migrate(db: Database, sets: readonly MigrationSet[]): string[] {
  db.exec(
    "CREATE TABLE IF NOT EXISTS module_migrations (module TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL, applied_at INTEGER NOT NULL, PRIMARY KEY (module, version)) WITHOUT ROWID",
  );
  const hasLegacy = db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get() !== null;
  const legacyApplied = hasLegacy ? db.query<{ applied_at: number }, [number]>("SELECT applied_at FROM schema_migrations WHERE version = ?") : null;
  const isApplied = db.query<{ one: number }, [string, number]>("SELECT 1 AS one FROM module_migrations WHERE module = ? AND version = ?");
  const record = db.query<unknown, [string, number, string, number]>(
    "INSERT INTO module_migrations (module, version, name, applied_at) VALUES (?, ?, ?, ?)",
  );
  const ran: string[] = [];
  for (const set of sets) {
    for (const m of [...set.migrations].sort((a, b) => a.version - b.version)) {
      // Checked inside the write transaction: processes starting together (several api units)
      // serialize on BEGIN IMMEDIATE, and the later ones see the migration as applied.
      const applied = db.transaction(() => {
        if (isApplied.get(set.module, m.version)) return false;
        const legacy = m.legacyVersion !== undefined ? legacyApplied?.get(m.legacyVersion) : null;
        if (legacy) {
          // Applied by a binary from before per-module migrations: record it, don't re-run it.
          record.run(set.module, m.version, m.name, legacy.applied_at);
          return false;
        }
        db.exec(m.sql);
        record.run(set.module, m.version, m.name, Date.now());
        return true;
      }).immediate();
      if (applied) ran.push(`${set.module}@${m.version}`);
    }
  }
  return ran;
}

/** What module_migrations holds, as "module@version". */
export function appliedMigrations(db: Database): string[] {
  const exists = db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'module_migrations'").get() !== null;
  if (!exists) return [];
  return db
    .query<{ module: string; version: number }, []>("SELECT module, version FROM module_migrations ORDER BY module, version")
    .all()
    .map((r) => `${r.module}@${r.version}`);
}

/** Runs fn in a transaction (BEGIN IMMEDIATE) unless one is already open, then as a savepoint. */
export function transaction<T>(db: Database, fn: () => T): T {
  if (db.inTransaction) return savepoint(db, fn);
  return db.transaction(fn).immediate();
}

let savepointSeq = 0;
function savepoint<T>(db: Database, fn: () => T): T {
  const name = `sp_${++savepointSeq}`;
  db.exec(`SAVEPOINT ${name}`);
  try {
    const out = fn();
    db.exec(`RELEASE ${name}`);
    return out;
  } catch (err) {
    db.exec(`ROLLBACK TO ${name}`);
    db.exec(`RELEASE ${name}`);
    throw err;
  }
}

interface Job {
  fn: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  result?: unknown;
  /** Told at COMMIT, before the sync (the write is visible to the next writes, not yet acknowledged), or of its rollback. */
  staged?: { committed: (value: unknown) => void; failed: (err: unknown) => void };
}

export interface WriterStats {
  batches: number;
  writes: number;
  maxBatch: number;
  syncs: number;
  batchSeconds: number;
  commitSeconds: number;
  syncSeconds: number;
}

/** How a committed job is answered once its commit is durable. */
type Settle = { job: Job; ok: true } | { job: Job; ok: false; err: unknown };

export interface GroupCommitOptions {
  /** Most writes in one transaction. */
  maxBatch?: number;
  /**
   * Durable commits off the event loop (wal-sync.ts): the writer commits with
   * synchronous=NORMAL and answers a batch only once this sync, started after its COMMIT, has
   * finished. Null: COMMIT syncs in place, as the connection's synchronous setting says.
   */
  sync?: WalSync | null;
}

/**
 * Group commit: writes queued in the same tick run in one transaction, each inside its own
 * savepoint so a failing write rolls back only itself. The promise of a write resolves only
 * once its commit is durable: after COMMIT returned with synchronous=FULL, or, with a WalSync,
 * after the fdatasync that started after its COMMIT finished (run off the event loop, which
 * meanwhile serves other requests and commits the next batches; one sync covers all of them).
 */
export class GroupCommitWriter {
  private queue: Job[] = [];
  private scheduled = false;
  private closed = false;
  private readonly afterCommitHooks: Array<() => void> = [];
  private readonly maxBatch: number;
  private readonly sync: WalSync | null;
  /** Committed, waiting for the next sync. */
  private unsynced: Settle[] = [];
  private syncing: Promise<void> | null = null;
  /** Callers of durable() waiting for the next sync. */
  private barriers: Array<{ resolve: () => void; reject: (err: unknown) => void }> = [];
  /** The outcome of the sync in flight (rejects when it failed). */
  private current: Promise<void> | null = null;
  /** Set when a sync failed: what was committed since may not be on disk, so nothing more is acknowledged. */
  private syncFailure: unknown = null;
  /** While set, no batch starts (a checkpoint is letting the WAL start over: checkpoint.ts). */
  private held: Promise<void> | null = null;
  /**
   * Batches committed and writes in them, syncs run (with a WalSync), for metrics and tests; and
   * where a write's time goes: the event loop's time in the batches (their writes and COMMIT),
   * in COMMIT alone (it writes every page the batch changed to the WAL), and the syncs' own
   * duration (off the loop, but each one costs the kernel CPU: 0.1–0.2 ms measured here).
   */
  readonly stats: WriterStats = { batches: 0, writes: 0, maxBatch: 0, syncs: 0, batchSeconds: 0, commitSeconds: 0, syncSeconds: 0 };

  constructor(
    private readonly db: Database,
    options: GroupCommitOptions | number = {},
  ) {
    const opts = typeof options === "number" ? { maxBatch: options } : options;
    this.maxBatch = opts.maxBatch ?? 512;
    this.sync = opts.sync ?? null;
  }

  /** Queues fn to run inside the next group transaction; resolves with its result once durable. */
  write<T>(fn: () => T): Promise<T> {
    return this.enqueue(fn);
  }

  /**
   * Like write(), and also tells when fn's transaction committed (before its sync): the next
   * writes already see it, nothing has been acknowledged yet. A queue that runs its writes in
   * order (bookings under a lock) can start the next one then and answer this one at `durable`.
   */
  writeStaged<T>(fn: () => T): { committed: Promise<T>; durable: Promise<T> } {
    let staged!: Job["staged"];
    const committed = new Promise<T>((resolve, reject) => {
      staged = { committed: resolve as (value: unknown) => void, failed: reject };
    });
    const durable = this.enqueue(fn, staged);
    // Rolled back, or BEGIN/COMMIT failed: committed rejects too (at once for a rollback).
    durable.catch(staged!.failed);
    committed.catch(() => undefined);
    return { committed, durable };
  }

  private enqueue<T>(fn: () => T, staged?: Job["staged"]): Promise<T> {
    if (this.closed) return Promise.reject(new Error("database writer is closed"));
    if (this.syncFailure !== null) return Promise.reject(this.failedSync());
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject, staged });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /**
   * Resolves once everything committed so far is durable (at once when nothing waits for a
   * sync); rejects when that sync failed.
   */
  durable(): Promise<void> {
    if (this.syncFailure !== null) return Promise.reject(this.failedSync());
    // Nothing committed since the sync in flight started: that one covers everything.
    if (this.unsynced.length === 0) return this.current ?? Promise.resolve();
    return new Promise((resolve, reject) => this.barriers.push({ resolve, reject }));
  }

  /**
   * Starts no batch until `until` settles: queued writes wait (they are not refused), the event
   * loop serves meanwhile, and they commit together after.
   */
  holdWhile(until: Promise<unknown>): void {
    const held: Promise<void> = until
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => {
        if (this.held === held) this.held = null;
        if (this.queue.length > 0 && !this.scheduled) {
          this.scheduled = true;
          setImmediate(() => this.flush());
        }
      });
    this.held = held;
  }

  /** Called after every committed batch once it is durable (the outbox relay uses it to wake up). */
  onCommit(hook: () => void): void {
    this.afterCommitHooks.push(hook);
  }

  private flush(): void {
    this.scheduled = false;
    if (this.queue.length === 0 || this.held !== null) return;
    if (this.sync === null) {
      this.runBatches();
      return;
    }
    // Only the writer's own commits skip the in-place sync: any other transaction on this
    // connection (migrations, a direct write) keeps synchronous=FULL.
    this.db.exec("PRAGMA synchronous = NORMAL");
    try {
      this.runBatches();
    } finally {
      this.db.exec("PRAGMA synchronous = FULL");
    }
    this.startSync();
  }

  private runBatches(): void {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      const settles: Settle[] = [];
      const started = performance.now();
      let committing = started;
      try {
        this.db.exec("BEGIN IMMEDIATE");
        for (const job of batch) {
          this.db.exec("SAVEPOINT gc_job");
          try {
            job.result = job.fn();
            this.db.exec("RELEASE gc_job");
            settles.push({ job, ok: true });
          } catch (err) {
            this.db.exec("ROLLBACK TO gc_job");
            this.db.exec("RELEASE gc_job");
            settles.push({ job, ok: false, err });
          }
        }
        committing = performance.now();
        this.db.exec("COMMIT");
      } catch (err) {
        // BEGIN or COMMIT itself failed: nothing in this batch is durable.
        if (this.db.inTransaction) this.db.exec("ROLLBACK");
        for (const job of batch) job.reject(err);
        continue;
      }
      const ended = performance.now();
      this.stats.batchSeconds += (ended - started) / 1000;
      this.stats.commitSeconds += (ended - committing) / 1000;
      this.stats.batches++;
      this.stats.writes += settles.filter((s) => s.ok).length;
      this.stats.maxBatch = Math.max(this.stats.maxBatch, batch.length);
      for (const s of settles) {
        if (s.ok) s.job.staged?.committed(s.job.result);
        else s.job.staged?.failed(s.err);
      }
      if (this.sync === null) {
        this.settle(settles);
        for (const hook of this.afterCommitHooks) hook();
      } else this.unsynced.push(...settles);
    }
  }

  private settle(settles: Settle[]): void {
    for (const s of settles) {
      if (s.ok) s.job.resolve(s.job.result);
      else s.job.reject(s.err);
    }
  }

  /** One sync at a time; it covers the commits made before it started, the next one the rest. */
  private startSync(): void {
    if (this.syncing !== null || this.sync === null) return;
    if (this.unsynced.length === 0) return;
    const covered = this.unsynced;
    const barriers = this.barriers;
    this.unsynced = [];
    this.barriers = [];
    const sync = this.sync;
    const outcome = (async () => {
      if (this.syncFailure !== null) throw this.failedSync();
      const started = performance.now();
      await sync.sync();
      this.stats.syncSeconds += (performance.now() - started) / 1000;
    })();
    // What durable() hands out: the failure worded as for the writes.
    const current = outcome.then(undefined, (err: unknown) => {
      this.syncFailure ??= err;
      throw this.failedSync();
    });
    current.catch(() => undefined);
    this.current = current;
    this.syncing = outcome
      .then(
        () => {
          this.stats.syncs++;
          this.settle(covered);
          for (const barrier of barriers) barrier.resolve();
        },
        (err: unknown) => {
          // As PostgreSQL does after a failed fsync: the kernel may have dropped the pages, a
          // later sync could succeed without them. Committed, never acknowledged; no more writes.
          this.syncFailure ??= err;
          for (const s of covered) s.job.reject(this.failedSync());
          for (const barrier of barriers) barrier.reject(this.failedSync());
        },
      )
      .then(() => {
        for (const hook of this.afterCommitHooks) hook();
      })
      .finally(() => {
        this.syncing = null;
        if (this.current === current) this.current = null;
        this.startSync();
      });
  }

  private failedSync(): Error {
    const cause = this.syncFailure instanceof Error ? this.syncFailure.message : String(this.syncFailure);
    return new Error(`the database's WAL sync failed (${cause}): writes since are not known to be on disk; restart the process`);
  }

  /** Waits for queued writes and their sync, then refuses new ones. */
  async close(): Promise<void> {
    if (this.held !== null) await this.held;
    if (this.queue.length > 0) await new Promise<void>((r) => setImmediate(r)).then(() => this.flush());
    this.closed = true;
    while (this.syncing !== null) await this.syncing;
    this.sync?.close();
  }
}
