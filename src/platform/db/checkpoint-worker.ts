// The WAL's checkpoints on a thread of their own (checkpoint.ts says why). One connection,
// opened at the first request; each message runs one PASSIVE checkpoint (it never waits for a
// lock: no busy handler runs) and answers with what SQLite reported, or closes the connection.
import { Database } from "bun:sqlite";

export type CheckpointRequest = { dbPath: string } | { close: true };

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
    const row = db.query<{ busy: number; log: number; checkpointed: number }, []>("PRAGMA wal_checkpoint(PASSIVE)").get()!;
    postMessage({ ok: true, busy: row.busy, log: row.log, checkpointed: row.checkpointed } satisfies CheckpointReply);
  } catch (err) {
    postMessage({ ok: false, message: err instanceof Error ? err.message : String(err) } satisfies CheckpointReply);
  }
};
