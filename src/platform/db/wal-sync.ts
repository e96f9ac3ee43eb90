// The off-thread half of a durable commit. The GroupCommitWriter commits its batches with
// synchronous=NORMAL (in WAL mode: no fsync in COMMIT), then makes them durable with one
// fdatasync of the -wal file, which node:fs runs on the thread pool: the event loop keeps
// serving while the disk syncs, and one sync covers every commit made before it started.
//
// Why this is as durable as synchronous=FULL (the SQLite docs, "PRAGMA synchronous"): with
// NORMAL in WAL mode SQLite still syncs at the moments that are not commits — the WAL before each
// checkpoint copies it into the database file, the database file after the checkpoint, and the
// WAL header when the WAL starts over — so the only sync it leaves out is the commit's own, which
// is this one. fdatasync flushes the file (its data and size), whichever descriptor asks: the one
// opened here covers what SQLite wrote through its own. The -wal file stays the same file while
// the database is open (SQLite deletes it only when the last connection closes); its directory
// entry is synced once, when the file is first opened here (SQLite would do so on its first
// sync of a new WAL).
import { closeSync, fdatasync, fsync, openSync } from "node:fs";
import { dirname } from "node:path";

/** Makes every commit made so far durable. */
export interface WalSync {
  sync(): Promise<void>;
  close(): void;
}

const call = (fn: (fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => void, fd: number) =>
  new Promise<void>((resolve, reject) => fn(fd, (err) => (err ? reject(err) : resolve())));

/** fdatasync of `<dbPath>-wal` on the thread pool. */
export class WalFileSync implements WalSync {
  private fd: number | null = null;
  private dirSynced = false;

  constructor(private readonly dbPath: string) {}

  async sync(): Promise<void> {
    // Opened at the first sync: after the first commit, the WAL exists.
    this.fd ??= openSync(`${this.dbPath}-wal`, "r");
    await call(fdatasync, this.fd);
    if (!this.dirSynced) {
      const dir = openSync(dirname(this.dbPath), "r");
      try {
        await call(fsync, dir);
      } finally {
        closeSync(dir);
      }
      this.dirSynced = true;
    }
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
