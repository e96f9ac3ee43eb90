// WAL checkpoints off the event loop. SQLite checkpoints automatically inside the COMMIT that
// takes the WAL past 1,000 pages, on the committing thread, and a checkpoint syncs the WAL and
// then the database file: measured under 500 POSTs in flight, the database's fsync took 27 ms on
// average, about four times a second, and the server sat idle half the time at 4,084 writes/s;
// with no checkpoint at all it was 99 % busy at 6,231/s. So the writer's connection checkpoints
// nothing itself (wal_autocheckpoint = 0) and a worker thread's connection runs a PASSIVE
// checkpoint after commits, one at a time: it takes no lock the writer waits for, and SQLite's
// own syncs keep it crash-safe.
//
// A WAL starts over only when a write finds it all copied, which a PASSIVE checkpoint never
// does while writes go on (alone, it let the WAL grow to 913 MB in 8 s). Past restartFrames the
// writer holds its next batches (they queue; the loop keeps serving reads) while the worker
// copies the little that is left, and the next batch starts the WAL over: ~40-70 ms (the database
// file's fsync), at most twice a second. Under 500 POSTs in flight the WAL still peaked at ~230 MB
// (each group commit appends every page it touched, ~40,000 frames a second). A RESTART checkpoint did the same in an earlier try, but
// it waits in SQLite's busy handler, and the writer's BEGIN waited for it by sleeping the event
// loop (the chaos soak's p99 went 28 → 55 ms). If the worker fails, the connection goes back
// to checkpointing itself.
import type { Database } from "bun:sqlite";
import type { Logger } from "../logger";
import type { CheckpointReply, CheckpointRequest } from "./checkpoint-worker";
import type { GroupCommitWriter } from "./sqlite";

/** The automatic checkpoint's threshold in pages, SQLite's default: what a failure goes back to. */
const autoCheckpointPages = 1000;
/** Past this many WAL frames (~64 MB of 4 KiB pages) the writer pauses so the WAL can start over. */
const defaultRestartFrames = 16384;
/** The longest the writer is held for a checkpoint to finish (another process may keep writing). */
const maxHoldMs = 500;
/**
 * The least time from the end of one hold to the start of the next: the WAL may not have started
 * over yet (no write since, or a reader still on it), and writes must not be held back-to-back.
 */
const defaultMinHoldGapMs = 500;

/**
 * The least time between the starts of two checkpoints. Each one syncs the WAL and the database
 * file, and the commits' own fdatasync queues behind those syncs on the disk: with one every
 * 200 ms the chaos soak's p50 went 1.2 → 2.6 ms; with one a second it was 0.5 ms.
 */
const defaultMinCheckpointGapMs = 1000;

export interface CheckpointOptions {
  restartFrames?: number;
  minHoldGapMs?: number;
  minCheckpointGapMs?: number;
}

export class WalCheckpointer {
  private worker: Worker | null;
  private running = false;
  private again = false;
  private closed = false;
  /** Set while the writer is held for a checkpoint that lets the WAL start over. */
  private release: (() => void) | null = null;
  private nextHoldAt = 0;
  private readonly restartFrames: number;
  private readonly minHoldGapMs: number;
  private readonly minCheckpointGapMs: number;
  private lastStartAt = Number.NEGATIVE_INFINITY;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private waiting: ((reply: CheckpointReply) => void) | null = null;
  /** Checkpoints run, writer holds, and the WAL's size in frames after the latest (tests, diagnostics). */
  readonly stats = { runs: 0, holds: 0, lastLog: 0, lastCheckpointed: 0 };

  constructor(
    private readonly db: Database,
    private readonly dbPath: string,
    private readonly writer: GroupCommitWriter,
    private readonly logger: Logger,
    options: CheckpointOptions = {},
  ) {
    this.restartFrames = options.restartFrames ?? defaultRestartFrames;
    this.minHoldGapMs = options.minHoldGapMs ?? defaultMinHoldGapMs;
    this.minCheckpointGapMs = options.minCheckpointGapMs ?? defaultMinCheckpointGapMs;
    // In the compiled binary the worker is an entry point of its own, named from src/ (scripts/build.ts).
    const compiled = import.meta.url.startsWith("file:///$bunfs/");
    this.worker = new Worker(compiled ? "./platform/db/checkpoint-worker.ts" : new URL("./checkpoint-worker.ts", import.meta.url).href);
    this.worker.onmessage = (event: MessageEvent<CheckpointReply>) => this.replied(event.data);
    this.worker.onerror = (event) => this.failed(event.message);
    db.exec("PRAGMA wal_autocheckpoint = 0");
    writer.onCommit(() => this.poke());
  }

  /** After a commit: checkpoint now, or once the one in flight is done and the gap has passed. */
  poke(): void {
    if (this.closed || this.worker === null) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer !== null) return;
    const wait = this.lastStartAt + this.minCheckpointGapMs - performance.now();
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.poke();
      }, wait);
      return;
    }
    this.start();
  }

  private start(): void {
    this.running = true;
    this.again = false;
    this.lastStartAt = performance.now();
    this.worker!.postMessage({ dbPath: this.dbPath } satisfies CheckpointRequest);
  }

  /** Waits for the checkpoint in flight, then closes the worker's connection and the worker. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.endHold();
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
    if (this.closed) return;
    if (this.release !== null) {
      // The checkpoint run while the writer was held: the WAL is all copied (or another process
      // wrote meanwhile); either way the writer goes on.
      this.endHold();
      if (this.again) this.poke();
      return;
    }
    if (reply.ok && reply.log >= this.restartFrames && performance.now() >= this.nextHoldAt) {
      this.startHold();
      return;
    }
    if (this.again) this.poke();
  }

  /** Holds the writer's next batches and runs one more checkpoint, which now finds no new frames. */
  private startHold(): void {
    this.stats.holds++;
    const released = new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.endHold(), maxHoldMs);
      this.release = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.writer.holdWhile(released);
    this.start();
  }

  private endHold(): void {
    const release = this.release;
    if (release === null) return;
    this.release = null;
    this.nextHoldAt = performance.now() + this.minHoldGapMs;
    release();
  }

  private failed(message: string): void {
    this.logger.error("the wal checkpoint worker failed: the writer checkpoints in place again", { error: message });
    this.worker?.terminate();
    this.worker = null;
    this.running = false;
    this.endHold();
    if (!this.closed) this.db.exec(`PRAGMA wal_autocheckpoint = ${autoCheckpointPages}`);
    this.waiting?.({ ok: false, message });
    this.waiting = null;
  }
}
