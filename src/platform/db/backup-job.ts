// One backup run's steps, shared by the worker's schedule and `homebase backup <file>`: a
// consistent copy (VACUUM INTO a 0600 temp file, integrity check, content checksum, fsync,
// rename), the file's sha256, the optional S3 upload (size checked after), and pruning the
// backup directory to the newest N.
import { readdirSync, rmSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { BackupError, backupDatabaseOffThread, type DatabaseSummary } from "./backup";
import type { BackupS3Settings } from "./backup-config";
import { ensurePrivateDir } from "./files";

export interface VerifiedBackup {
  /** Absolute path. */
  file: string;
  bytes: number;
  /** sha256 of the file (hex). */
  sha256: string;
  /** Row counts and content checksum of the copy (integrity-checked). */
  summary: DatabaseSummary;
}

/** sha256 of a file, streamed. */
export async function fileSha256(path: string): Promise<string> {
  const hash = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) hash.update(chunk);
  return hash.digest("hex");
}

/**
 * Writes a consistent, verified copy of the database at `dbPath` to `target` (which must not
 * exist): PRAGMA integrity_check and summarize() on the copy before it is renamed into place,
 * then the sha256 of the file as it landed. Nothing is left behind when it fails.
 */
export async function takeVerifiedBackup(dbPath: string, target: string): Promise<VerifiedBackup> {
  const file = resolve(target);
  let summary: DatabaseSummary;
  try {
    summary = await backupDatabaseOffThread(dbPath, file);
  } catch (err) {
    rmSync(`${file}.partial`, { force: true });
    if (err instanceof BackupError) throw err;
    throw new BackupError(`backup of ${dbPath} failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  const bytes = statSync(file).size;
  const sha256 = await fileSha256(file);
  return { file, bytes, sha256, summary };
}

/** File names of scheduled backups: the UTC start time first, so names sort by time. */
const backupName = /^homebase-\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{8}\.sqlite$/;

/** `homebase-20250101T030000.000Z-1a2b3c4d.sqlite` for a run started at `ms` with id `runId`. */
export function backupFileName(ms: number, runId: string): string {
  const iso = new Date(ms).toISOString(); // 2025-01-01T03:00:00.000Z
  const stamp = `${iso.slice(0, 10).replaceAll("-", "")}T${iso.slice(11, 19).replaceAll(":", "")}${iso.slice(19)}`;
  return `homebase-${stamp}-${runId.replaceAll("-", "").slice(-8)}.sqlite`;
}

/** The backups in `dir` (by name pattern), newest first. Temp files and other files are not listed. */
export function listBackups(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  return names
    .filter((n) => backupName.test(n))
    .sort()
    .reverse();
}

/**
 * Deletes all but the newest `keep` backups in `dir`; `justMade` is never deleted (whatever its
 * name sorts as). Returns the names deleted.
 */
export function pruneBackups(dir: string, keep: number, justMade: string): string[] {
  const made = basename(justMade);
  const others = listBackups(dir).filter((n) => n !== made);
  const doomed = others.slice(Math.max(0, keep - 1));
  for (const name of doomed) {
    // A backup opened by sqlite3 for a look may have left its -wal/-shm beside it.
    for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(join(dir, name + suffix), { force: true });
  }
  return doomed;
}

/** Leftovers of runs that crashed mid-copy (VACUUM INTO's temp files). */
export function removePartials(dir: string): void {
  for (const name of listPartials(dir)) rmSync(join(dir, name), { force: true });
}

function listPartials(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => n.startsWith("homebase-") && n.endsWith(".sqlite.partial"));
  } catch {
    return [];
  }
}

/** Makes the backup directory (0700, a looser one of ours tightened). */
export function prepareBackupDir(dir: string): void {
  ensurePrivateDir(dir);
}

export function s3Client(s3: BackupS3Settings): Bun.S3Client {
  return new Bun.S3Client({
    bucket: s3.bucket,
    ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
    ...(s3.region ? { region: s3.region } : {}),
    ...(s3.accessKeyId ? { accessKeyId: s3.accessKeyId } : {}),
    ...(s3.secretAccessKey ? { secretAccessKey: s3.secretAccessKey } : {}),
  });
}

/** Uploads the backup under its file name and checks the stored size; throws BackupError. */
export async function uploadBackup(s3: BackupS3Settings, backup: VerifiedBackup): Promise<string> {
  const key = basename(backup.file);
  const client = s3Client(s3);
  try {
    await client.write(key, Bun.file(backup.file), { type: "application/vnd.sqlite3" });
    const stored = await client.size(key);
    if (stored !== backup.bytes) throw new Error(`the bucket holds ${stored} bytes, the backup has ${backup.bytes}`);
  } catch (err) {
    throw new BackupError(`upload to s3://${s3.bucket}/${key} failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  return key;
}
