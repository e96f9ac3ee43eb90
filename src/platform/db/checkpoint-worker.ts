// The WAL's checkpoints on a thread of their own (checkpoint.ts says why). One connection,
// opened at the first request; each message runs one PASSIVE checkpoint and answers with what
// SQLite reported, or closes the connection.
import { Database } from "bun:sqlite";

export type CheckpointRequest = { dbPath: string; restartFrames: number } | { close: true };

export type CheckpointReply = { ok: true; busy: number; log: number; checkpointed: number } | { ok: false; message: string } | { closed: true };

declare const self: Worker;
let db: Database | null = null;

self.onmessage = (event: MessageEvent<CheckpointRequest>) => {
  const request = event.data;
  if ("close" in request) {
    db?.close();
    db = null;
    postMessage({ closed: true } satisfies CheckpointReply);
    return;
  }
  try {
    if (db === null) {
      db = new Database(request.dbPath, { strict: true });
      db.exec("PRAGMA busy_timeout = 1000");
    }
    let row = db.query<{ busy: number; log: number; checkpointed: number }, []>("PRAGMA wal_checkpoint(PASSIVE)").get()!;
    // Under constant writes a PASSIVE checkpoint never finds the WAL all copied, so the WAL never
    // starts over. Past the threshold, RESTART: it waits for the writer between two batches,
    // copies what the PASSIVE one left (little) and lets the next write start the WAL over.
    if (row.log >= request.restartFrames) row = db.query<{ busy: number; log: number; checkpointed: number }, []>("PRAGMA wal_checkpoint(RESTART)").get()!;
    postMessage({ ok: true, busy: row.busy, log: row.log, checkpointed: row.checkpointed } satisfies CheckpointReply);
  } catch (err) {
    postMessage({ ok: false, message: err instanceof Error ? err.message : String(err) } satisfies CheckpointReply);
  }
};
