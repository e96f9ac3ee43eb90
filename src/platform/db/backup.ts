// Online backup and offline restore of the SQLite database.
// Backup uses VACUUM INTO from its own connection: one read transaction, so the copy is a
// consistent snapshot even while the server keeps writing (WAL readers never block writers).
import { Database } from "bun:sqlite";
import { closeSync, copyFileSync, existsSync, fsyncSync, openSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { BackupReply } from "./backup-worker";
import { createPrivateFile, ensurePrivateDir, restrictFile } from "./files";

export interface DatabaseSummary {
  /** Rows per table (every user table, sorted by name). */
  tables: Record<string, number>;
  /** sha256 over every table's rows in key order: equal summaries mean equal data. */
  checksum: string;
  /** Migrations applied (rows of module_migrations). */
  migrations: number;
}

export class BackupError extends Error {}

/** Row counts and a content checksum, computed inside one read transaction. */
export function summarize(db: Database): DatabaseSummary {
  return db.transaction(() => {
    const names = db
      .query<{ name: string }, []>("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
      .all()
      .map((r) => r.name);
    const hash = new Bun.CryptoHasher("sha256");
    const tables: Record<string, number> = {};
    for (const name of names) {
      const quoted = `"${name.replaceAll('"', '""')}"`;
      const columns = db.query<{ name: string; pk: number }, []>(`PRAGMA table_info(${quoted})`).all();
      // Primary key order (all columns when there is none): the same rows always hash the same.
      const keys = columns.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk);
      const order = (keys.length > 0 ? keys : columns).map((c) => `"${c.name.replaceAll('"', '""')}"`).join(", ");
      let count = 0;
      hash.update(`table ${name}\n`);
      for (const row of db.query<Record<string, unknown>, []>(`SELECT * FROM ${quoted} ORDER BY ${order}`).iterate()) {
        hash.update(JSON.stringify(row, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString("base64") : v)));
        hash.update("\n");
        count++;
      }
      tables[name] = count;
    }
    // Applied migrations (module_migrations; a database from before per-module migrations has schema_migrations).
    const table = names.includes("module_migrations") ? "module_migrations" : names.includes("schema_migrations") ? "schema_migrations" : null;
    const migrations = table ? (db.query<{ n: number }, []>(`SELECT count(*) AS n FROM ${table}`).get()?.n ?? 0) : 0;
    return { tables, checksum: hash.digest("hex"), migrations };
  })();
}

function checkIntegrity(db: Database, what: string): void {
  const result = db.query<{ integrity_check: string }, []>("PRAGMA integrity_check").all();
  if (result.length !== 1 || result[0]!.integrity_check !== "ok") {
    throw new BackupError(`${what} failed the integrity check: ${result.map((r) => r.integrity_check).join("; ")}`);
  }
}

function fsyncPath(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes a consistent copy of the live database to `target` (which must not exist). */
export function backupDatabase(dbPath: string, target: string): DatabaseSummary {
  if (!existsSync(dbPath)) throw new BackupError(`no database at ${dbPath}`);
  const out = resolve(target);
  if (existsSync(out)) throw new BackupError(`${out} exists; choose a new file name`);
  const tmp = `${out}.partial`;
  rmSync(tmp, { force: true });
  // A backup is the whole database: 0600 whatever the umask. VACUUM INTO fills an empty file
  // and keeps its mode (SQLite would create a missing one 0644).
  createPrivateFile(tmp);
  const source = new Database(dbPath, { readonly: true, strict: true });
  try {
    source.exec("PRAGMA busy_timeout = 5000");
    source.query("VACUUM INTO ?").run(tmp);
  } finally {
    source.close();
  }
  const copy = new Database(tmp, { readonly: true, strict: true });
  let summary: DatabaseSummary;
  try {
    checkIntegrity(copy, "the backup");
    summary = summarize(copy);
  } finally {
    copy.close();
  }
  fsyncPath(tmp);
  renameSync(tmp, out);
  fsyncPath(dirname(out));
  return summary;
}

/** backupDatabase on a worker thread (backup-worker.ts): the event loop keeps serving meanwhile. */
export function backupDatabaseOffThread(dbPath: string, target: string): Promise<DatabaseSummary> {
  // In the compiled binary the worker is an entry point of its own, named from src/ (scripts/build.ts).
  const compiled = import.meta.url.startsWith("file:///$bunfs/");
  const worker = new Worker(compiled ? "./platform/db/backup-worker.ts" : new URL("./backup-worker.ts", import.meta.url).href);
  return new Promise<DatabaseSummary>((resolvePromise, reject) => {
    worker.onmessage = (event: MessageEvent<BackupReply>) => {
      const reply = event.data;
      if (reply.ok) resolvePromise(reply.summary);
      else reject(reply.backupError ? new BackupError(reply.message) : new Error(reply.message));
    };
    worker.onerror = (event) => reject(new Error(`the backup worker failed: ${event.message}`));
    worker.postMessage({ dbPath, target });
  }).finally(() => worker.terminate());
}

/** True when another process has the database open (a running homebase). */
function inUse(dbPath: string): boolean {
  const db = new Database(dbPath, { strict: true });
  try {
    db.exec("PRAGMA busy_timeout = 0");
    // Exclusive locking mode needs every other connection gone before it can take the WAL lock.
    db.exec("PRAGMA locking_mode = EXCLUSIVE");
    db.exec("BEGIN EXCLUSIVE");
    db.exec("COMMIT");
    return false;
  } catch {
    return true;
  } finally {
    db.close();
  }
}

/**
 * Replaces the data dir's database with a backup. The server must be stopped; an existing
 * database is only overwritten with `force`.
 */
export function restoreDatabase(backupFile: string, dataDir: string, force: boolean): DatabaseSummary {
  const source = resolve(backupFile);
  if (!existsSync(source) || !statSync(source).isFile()) throw new BackupError(`no backup file at ${source}`);
  let summary: DatabaseSummary;
  try {
    const backup = new Database(source, { readonly: true, strict: true });
    try {
      checkIntegrity(backup, "the backup file");
      summary = summarize(backup);
    } finally {
      backup.close();
    }
  } catch (err) {
    if (err instanceof BackupError) throw err;
    throw new BackupError(`${source} is not a readable SQLite database: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!("module_migrations" in summary.tables) && !("schema_migrations" in summary.tables)) throw new BackupError(`${source} is not a homebase database`);

  ensurePrivateDir(dataDir);
  const dbPath = join(dataDir, "homebase.sqlite");
  if (existsSync(dbPath)) {
    if (inUse(dbPath)) throw new BackupError(`${dbPath} is in use: stop homebase before restoring`);
    if (!force) throw new BackupError(`${dbPath} exists; pass --force to replace it`);
  }
  const tmp = `${dbPath}.restoring`;
  rmSync(tmp, { force: true });
  copyFileSync(source, tmp);
  restrictFile(tmp);
  fsyncPath(tmp);
  // The old WAL belongs to the old database: left beside the new file it would be replayed into it.
  for (const suffix of ["-wal", "-shm"]) rmSync(dbPath + suffix, { force: true });
  renameSync(tmp, dbPath);
  fsyncPath(dirname(dbPath));
  return summary;
}
