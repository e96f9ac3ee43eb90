// WAL checkpoints off the event loop. SQLite checkpoints automatically inside the COMMIT that
// takes the WAL past 1,000 pages, on the committing thread, and a checkpoint syncs the WAL and
// then the database file: measured under 500 POSTs in flight, the database's fsync took 27 ms on
// average, about four times a second, and the server sat idle half the time at 4,084 writes/s;
// with no checkpoint at all it was 99 % busy at 6,231/s. So the writer's connection checkpoints
// nothing itself (wal_autocheckpoint = 0) and a worker thread's connection runs a PASSIVE
// checkpoint after commits, one at a time: it never blocks the writer, and SQLite's own syncs
// keep it crash-safe. A PASSIVE checkpoint never finds the WAL all copied while writes go on,
// and a WAL starts over only once it was, so past restartFrames the worker follows with a
// RESTART, which waits for the writer between two batches (a short pause: little is left to
// copy) and lets the next write start the WAL over. Measured, POST task at 500 connections:
// 3,856 / 4,246 → 5,024 / 4,660 writes/s in alternating runs, the WAL under 52 MB; the
// worker's PASSIVE checkpoints alone let it grow to 913 MB in 8 s. If the worker fails, the
// connection goes back to checkpointing itself.
import type { Database } from "bun:sqlite";
import type { Logger } from "../logger";
import type { CheckpointReply, CheckpointRequest } from "./checkpoint-worker";

/** The automatic checkpoint's threshold in pages, SQLite's default: what a failure goes back to. */
const autoCheckpointPages = 1000;
/** Past this many WAL frames (~16 MB) the worker's checkpoint lets the WAL start over (checkpoint-worker.ts). */
const defaultRestartFrames = 4096;

export class WalCheckpointer {
  private worker: Worker | null;
  private running = false;
  private again = false;
  private closed = false;
  private waiting: ((reply: CheckpointReply) => void) | null = null;
  /** Checkpoints run, and the WAL's size in frames after the latest (tests, diagnostics). */
  readonly stats = { runs: 0, lastLog: 0, lastCheckpointed: 0 };

  constructor(
    private readonly db: Database,
    private readonly dbPath: string,
    private readonly logger: Logger,
    private readonly restartFrames = defaultRestartFrames,
  ) {
    // In the compiled binary the worker is an entry point of its own, named from src/ (scripts/build.ts).
    const compiled = import.meta.url.startsWith("file:///$bunfs/");
    this.worker = new Worker(compiled ? "./platform/db/checkpoint-worker.ts" : new URL("./checkpoint-worker.ts", import.meta.url).href);
    this.worker.onmessage = (event: MessageEvent<CheckpointReply>) => this.replied(event.data);
    this.worker.onerror = (event) => this.failed(event.message);
    db.exec("PRAGMA wal_autocheckpoint = 0");
  }

  /** After a commit: checkpoint now, or once the one in flight is done. */
  poke(): void {
    if (this.closed || this.worker === null) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.again = false;
    this.worker.postMessage({ dbPath: this.dbPath, restartFrames: this.restartFrames } satisfies CheckpointRequest);
  }

  /** Waits for the checkpoint in flight, then closes the worker's connection and the worker. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const worker = this.worker;
    if (worker === null) return;
    const reply = (): Promise<CheckpointReply> => new Promise((resolve) => (this.waiting = resolve));
    if (this.running) await reply();
    worker.postMessage({ close: true } satisfies CheckpointRequest);
    await Promise.race([reply(), Bun.sleep(2000)]);
    worker.terminate();
    this.worker = null;
  }

  private replied(reply: CheckpointReply): void {
    const waiting = this.waiting;
    this.waiting = null;
    if ("closed" in reply) {
      waiting?.(reply);
      return;
    }
    this.running = false;
    if (reply.ok) {
      this.stats.runs++;
      this.stats.lastLog = reply.log;
      this.stats.lastCheckpointed = reply.checkpointed;
    } else {
      // A busy database or a reader holding an old snapshot: the next commit tries again.
      this.logger.warn("wal checkpoint failed; the next commit retries", { error: reply.message });
    }
    waiting?.(reply);
    if (this.again && !this.closed) this.poke();
  }

  private failed(message: string): void {
    this.logger.error("the wal checkpoint worker failed: the writer checkpoints in place again", { error: message });
    this.worker?.terminate();
    this.worker = null;
    this.running = false;
    if (!this.closed) this.db.exec(`PRAGMA wal_autocheckpoint = ${autoCheckpointPages}`);
    this.waiting?.({ ok: false, message });
    this.waiting = null;
  }
}
