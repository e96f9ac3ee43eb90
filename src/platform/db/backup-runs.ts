// The record of every backup taken (table backup_runs, platform migration 0002): scheduled ones
// from the worker and manual ones from `homebase backup <file>`, ok or failed. The /ops page and
// the backup metrics read it.
import type { Database } from "bun:sqlite";

export type BackupTrigger = "schedule" | "manual";

export interface BackupRun {
  id: string;
  /** UTC ISO-8601. */
  startedAt: string;
  /** UTC ISO-8601; null only for a run that never finished. */
  finishedAt: string | null;
  /** Absolute path of the backup file; null when none was written. */
  file: string | null;
  bytes: number | null;
  /** sha256 of the backup file (hex). */
  sha256: string | null;
  /** summarize() content checksum of the backup (hex). */
  checksum: string | null;
  /** Written and verified (integrity check, file sha256, content checksum). */
  ok: boolean;
  error: string | null;
  /** Whether the S3 upload succeeded; null when no bucket is configured. */
  uploaded: boolean | null;
  trigger: BackupTrigger;
}

interface Row {
  id: string;
  started_at: number;
  finished_at: number | null;
  file: string | null;
  bytes: number | null;
  sha256: string | null;
  checksum: string | null;
  ok: number;
  error: string | null;
  uploaded: number | null;
  trigger: BackupTrigger;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function fromRow(r: Row): BackupRun {
  return {
    id: r.id,
    startedAt: new Date(r.started_at).toISOString(),
    finishedAt: iso(r.finished_at),
    file: r.file,
    bytes: r.bytes,
    sha256: r.sha256,
    checksum: r.checksum,
    ok: r.ok === 1,
    error: r.error,
    uploaded: r.uploaded === null ? null : r.uploaded === 1,
    trigger: r.trigger,
  };
}

/** What a finished run records (times in epoch ms). */
export interface BackupRunRecord {
  id: string;
  startedAt: number;
  finishedAt: number | null;
  file: string | null;
  bytes: number | null;
  sha256: string | null;
  checksum: string | null;
  ok: boolean;
  error: string | null;
  uploaded: boolean | null;
  trigger: BackupTrigger;
}

/** Inserts (or, for the same id, replaces) one run. */
export function recordBackupRun(db: Database, run: BackupRunRecord): void {
  db.query(
    `INSERT OR REPLACE INTO backup_runs (id, started_at, finished_at, file, bytes, sha256, checksum, ok, error, uploaded, trigger)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    run.id,
    run.startedAt,
    run.finishedAt,
    run.file,
    run.bytes,
    run.sha256,
    run.checksum,
    run.ok ? 1 : 0,
    run.error,
    run.uploaded === null ? null : run.uploaded ? 1 : 0,
    run.trigger,
  );
}

/** The newest `limit` runs, newest first. */
export function recentBackupRuns(db: Database, limit: number): BackupRun[] {
  return db
    .query<Row, [number]>("SELECT * FROM backup_runs ORDER BY started_at DESC, id DESC LIMIT ?")
    .all(Math.max(0, Math.floor(limit)))
    .map(fromRow);
}

/** The newest successful run, if any. */
export function lastSuccessfulBackupRun(db: Database): BackupRun | null {
  const row = db.query<Row, []>("SELECT * FROM backup_runs WHERE ok = 1 ORDER BY started_at DESC, id DESC LIMIT 1").get();
  return row ? fromRow(row) : null;
}

/** One run by id. */
export function backupRun(db: Database, id: string): BackupRun | null {
  const row = db.query<Row, [string]>("SELECT * FROM backup_runs WHERE id = ?").get(id);
  return row ? fromRow(row) : null;
}
