// The backup's copy and checks on a worker thread: VACUUM INTO, the integrity check and the
// checksum read the whole database, and on the main thread every request would wait for them
// (the `all` role serves and backs up in one process). One worker per backup; backups are rare.
import { BackupError, backupDatabase, type DatabaseSummary } from "./backup";

export interface BackupRequest {
  dbPath: string;
  target: string;
}

export type BackupReply = { ok: true; summary: DatabaseSummary } | { ok: false; message: string; backupError: boolean };

declare const self: Worker;

self.onmessage = (event: MessageEvent<BackupRequest>) => {
  let reply: BackupReply;
  try {
    reply = { ok: true, summary: backupDatabase(event.data.dbPath, event.data.target) };
  } catch (err) {
    reply = { ok: false, message: err instanceof Error ? err.message : String(err), backupError: err instanceof BackupError };
  }
  postMessage(reply);
};
