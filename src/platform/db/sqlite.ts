// bun:sqlite in WAL mode. Reads run on prepared statements directly; every write goes through
// the GroupCommitWriter so concurrent requests share one transaction (and one fsync).
import { Database } from "bun:sqlite";
import { dirname } from "node:path";
import { createPrivateFile, ensurePrivateDir, restrictFile } from "./files";

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
}

/**
 * Group commit: writes queued in the same tick run in one transaction, each inside its own
 * savepoint so a failing write rolls back only itself. The promise of a write resolves only
 * after COMMIT returned, i.e. after the fsync that makes it durable (synchronous=FULL).
 */
export class GroupCommitWriter {
  private queue: Job[] = [];
  private scheduled = false;
  private closed = false;
  private readonly afterCommitHooks: Array<() => void> = [];
  /** Batches committed and writes in them, for metrics and tests. */
  readonly stats = { batches: 0, writes: 0, maxBatch: 0 };

  constructor(
    private readonly db: Database,
    private readonly maxBatch = 512,
  ) {}

  /** Queues fn to run inside the next group transaction; resolves with its result after commit. */
  write<T>(fn: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new Error("database writer is closed"));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Called after every committed batch (the outbox relay uses it to wake up). */
  onCommit(hook: () => void): void {
    this.afterCommitHooks.push(hook);
  }

  private flush(): void {
    this.scheduled = false;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      const done: Job[] = [];
      const failed: Array<{ job: Job; err: unknown }> = [];
      try {
        this.db.exec("BEGIN IMMEDIATE");
        for (const job of batch) {
          this.db.exec("SAVEPOINT gc_job");
          try {
            job.result = job.fn();
            this.db.exec("RELEASE gc_job");
            done.push(job);
          } catch (err) {
            this.db.exec("ROLLBACK TO gc_job");
            this.db.exec("RELEASE gc_job");
            failed.push({ job, err });
          }
        }
        this.db.exec("COMMIT");
      } catch (err) {
        // BEGIN or COMMIT itself failed: nothing in this batch is durable.
        if (this.db.inTransaction) this.db.exec("ROLLBACK");
        for (const job of batch) job.reject(err);
        continue;
      }
      this.stats.batches++;
      this.stats.writes += done.length;
      this.stats.maxBatch = Math.max(this.stats.maxBatch, batch.length);
      for (const job of done) job.resolve(job.result);
      for (const { job, err } of failed) job.reject(err);
      for (const hook of this.afterCommitHooks) hook();
    }
  }

  /** Waits for queued writes, then refuses new ones. */
  async close(): Promise<void> {
    if (this.queue.length > 0) await new Promise<void>((r) => setImmediate(r)).then(() => this.flush());
    this.closed = true;
  }
}
