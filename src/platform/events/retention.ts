// Retention of the event tables: sent outbox rows and processed-event records after
// `eventsMs`, dead letters after `deadLettersMs`. Unsent outbox rows are never touched.
//
// No extra index (and so no extra cost on every write): event ids are UUIDv7 stamped with the
// bus's clock, so "created before the cutoff" is a range of the primary keys, and the age test
// on sent_at / processed_at runs only over that range. Deletes go in small batches, one writer
// transaction each, so other writes interleave.
import type { Database, Statement } from "bun:sqlite";
import type { Clock } from "../clock";
import type { GroupCommitWriter } from "../db/sqlite";
import type { Metrics } from "../metrics";

export interface RetentionOptions {
  /** How long sent outbox rows and processed-event records are kept (ms). */
  eventsMs: number;
  /** How long dead letters are kept (ms). */
  deadLettersMs: number;
  /** Rows deleted per transaction (default 500). */
  batchSize?: number;
}

export type PrunedCounts = Record<"outbox" | "processed_events" | "dead_letters", number>;

/** The smallest UUIDv7 (as text) of the millisecond `ms`: every id created before it sorts below. */
export function uuidv7Floor(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-0000-0000-000000000000`;
}

export class EventRetention {
  private readonly batchSize: number;
  private readonly pruneOutbox: Statement;
  private readonly nextConsumer: Statement<{ consumer: string }, [string]>;
  private readonly pruneProcessed: Statement;
  private readonly pruneDeadLetters: Statement;

  constructor(
    db: Database,
    private readonly writer: GroupCommitWriter,
    private readonly metrics: Metrics,
    private readonly clock: Clock,
    private readonly options: RetentionOptions,
  ) {
    this.batchSize = options.batchSize ?? 500;
    this.pruneOutbox = db.prepare(
      "DELETE FROM outbox WHERE rowid IN (SELECT rowid FROM outbox WHERE id < ?1 AND sent_at IS NOT NULL AND sent_at < ?2 LIMIT ?3)",
    );
    // Distinct consumers by successive seeks on the primary key, not a scan of the table.
    this.nextConsumer = db.prepare("SELECT consumer FROM processed_events WHERE consumer > ? ORDER BY consumer LIMIT 1");
    this.pruneProcessed = db.prepare(
      "DELETE FROM processed_events WHERE consumer = ?1 AND event_id IN " +
        "(SELECT event_id FROM processed_events WHERE consumer = ?1 AND event_id < ?2 AND processed_at < ?3 LIMIT ?4)",
    );
    // Dead letters are few: a scan is fine.
    this.pruneDeadLetters = db.prepare(
      "DELETE FROM dead_letters WHERE (consumer, event_id) IN (SELECT consumer, event_id FROM dead_letters WHERE failed_at < ?1 LIMIT ?2)",
    );
  }

  /** Deletes everything past its retention, batch by batch; `stop()` ends it early (shutdown). */
  async prune(stop: () => boolean = () => false): Promise<PrunedCounts> {
    const now = this.clock.now();
    const eventCutoff = now - this.options.eventsMs;
    const idBound = uuidv7Floor(eventCutoff);
    const counts: PrunedCounts = { outbox: 0, processed_events: 0, dead_letters: 0 };

    counts.outbox = await this.inBatches("outbox", stop, () => this.pruneOutbox.run(idBound, eventCutoff, this.batchSize).changes);
    let consumer = "";
    for (let row = this.nextConsumer.get(consumer); row && !stop(); row = this.nextConsumer.get(consumer)) {
      consumer = row.consumer;
      const name = consumer;
      counts.processed_events += await this.inBatches(
        "processed_events",
        stop,
        () => this.pruneProcessed.run(name, idBound, eventCutoff, this.batchSize).changes,
      );
    }
    const letterCutoff = now - this.options.deadLettersMs;
    counts.dead_letters = await this.inBatches("dead_letters", stop, () => this.pruneDeadLetters.run(letterCutoff, this.batchSize).changes);
    return counts;
  }

  private async inBatches(table: keyof PrunedCounts, stop: () => boolean, deleteBatch: () => number): Promise<number> {
    let total = 0;
    while (!stop()) {
      const deleted = await this.writer.write(deleteBatch);
      if (deleted > 0) this.metrics.eventsPruned.inc({ table }, deleted);
      total += deleted;
      if (deleted < this.batchSize) break;
    }
    return total;
  }
}
