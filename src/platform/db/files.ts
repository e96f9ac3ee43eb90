// Owner-only modes for the data dir (0700) and the database files (0600): they hold password
// hashes, sessions and every user's data. Set explicitly after creating, so they depend neither
// on the umask nor on which code path created the directory first.
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from "node:fs";

export const privateDirMode = 0o700;
export const privateFileMode = 0o600;

/** Ours to chmod: owned by this user. A shared sticky directory (/tmp) is never tightened. */
function ours(mode: number, uid: number): boolean {
  return uid === process.getuid?.() && (mode & 0o1000) === 0;
}

/** Creates `dir` (and its parents) if missing and makes it 0700; a looser one of ours is tightened. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: privateDirMode });
  const { mode, uid } = statSync(dir);
  // Someone else's directory keeps its mode: `homebase doctor` reports it.
  if ((mode & 0o777) !== privateDirMode && ours(mode, uid)) chmodSync(dir, privateDirMode);
}

/** Makes an existing file of ours 0600; a missing one is fine (SQLite's -wal and -shm come and go). */
export function restrictFile(path: string): void {
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  if ((stat.mode & 0o777) !== privateFileMode && ours(stat.mode, stat.uid)) chmodSync(path, privateFileMode);
}

/** Creates `path` empty and 0600 if it does not exist (an existing one is restricted, not truncated). */
export function createPrivateFile(path: string): void {
  closeSync(openSync(path, "a", privateFileMode));
  restrictFile(path);
}
