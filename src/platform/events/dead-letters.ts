// Dead letters (table dead_letters, written by the bus when a consumer gives up on an event):
// list them, retry one, discard one. The /ops page's actions; the bus's own rules apply.
//
//   retry:   delete the (consumer, event) processed_events record the bus wrote with the dead
//            letter, hand the event to that consumer once more (EventBus.redeliver), and delete
//            the dead letter once the consumer handled it. A failure dead-letters it again (the
//            row stays, with the new error and one more attempt). A crash in between loses
//            nothing: the row stays until the event is handled, and handling stays exactly once.
//   discard: delete the dead letter; its processed_events record stays, so the event is never
//            handled by that consumer.
import type { Database, Statement } from "bun:sqlite";
import type { GroupCommitWriter } from "../db/sqlite";
import type { EventBus } from "./bus";

export interface DeadLetter {
  consumer: string;
  eventId: string;
  subject: string;
  /** The event's payload as stored (parsed JSON; the raw text when it is not JSON). */
  payload: unknown;
  /** Why the consumer gave up: the handler's last error, or the payload's contract violation. */
  error: string;
  attempts: number;
  /** Epoch ms. */
  failedAt: number;
  /** When the event was emitted (epoch ms, from its UUIDv7 id). */
  occurredAt: number;
}

/** Where a page of the list starts: after this row (newest first). */
export interface DeadLetterCursor {
  failedAt: number;
  consumer: string;
  eventId: string;
}

export type RetryResult =
  | { status: "not_found" }
  /** The consumer is not registered in this process (another binary version, a removed consumer). */
  | { status: "no_consumer" }
  /** Handled now (processed), or it had been handled meanwhile (duplicate); the dead letter is gone. */
  | { status: "processed" | "duplicate"; letter: DeadLetter }
  /** Failed again: dead-lettered again with the new error. */
  | { status: "dead"; letter: DeadLetter; error: string; attempts: number };

interface Row {
  consumer: string;
  event_id: string;
  subject: string;
  payload: string;
  error: string;
  attempts: number;
  failed_at: number;
}

function parsePayload(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The millisecond a UUIDv7 was made (its first 48 bits). */
function uuidv7Time(id: string, fallback: number): number {
  const ms = Number.parseInt(id.replaceAll("-", "").slice(0, 12), 16);
  return Number.isFinite(ms) ? ms : fallback;
}

function fromRow(r: Row): DeadLetter {
  return {
    consumer: r.consumer,
    eventId: r.event_id,
    subject: r.subject,
    payload: parsePayload(r.payload),
    error: r.error,
    attempts: r.attempts,
    failedAt: r.failed_at,
    occurredAt: uuidv7Time(r.event_id, r.failed_at),
  };
}

const columns = "consumer, event_id, subject, payload, error, attempts, failed_at";

export class DeadLetters {
  private readonly selectOne: Statement<Row, [string, string]>;
  private readonly selectFirst: Statement<Row, [number]>;
  private readonly selectAfter: Statement<Row, [number, string, string, number]>;
  private readonly countAll: Statement<{ n: number }, []>;
  private readonly deleteOne: Statement;
  private readonly deleteProcessed: Statement;
  /** Retries in flight, by consumer and event: a second click waits for the first. */
  private readonly inFlight = new Map<string, Promise<RetryResult>>();

  constructor(
    db: Database,
    private readonly writer: GroupCommitWriter,
    private readonly bus: EventBus,
  ) {
    this.selectOne = db.prepare(`SELECT ${columns} FROM dead_letters WHERE consumer = ? AND event_id = ?`);
    this.selectFirst = db.prepare(`SELECT ${columns} FROM dead_letters ORDER BY failed_at DESC, consumer DESC, event_id DESC LIMIT ?`);
    this.selectAfter = db.prepare(
      `SELECT ${columns} FROM dead_letters WHERE (failed_at, consumer, event_id) < (?, ?, ?) ORDER BY failed_at DESC, consumer DESC, event_id DESC LIMIT ?`,
    );
    this.countAll = db.prepare("SELECT COUNT(*) AS n FROM dead_letters");
    this.deleteOne = db.prepare("DELETE FROM dead_letters WHERE consumer = ? AND event_id = ?");
    this.deleteProcessed = db.prepare("DELETE FROM processed_events WHERE consumer = ? AND event_id = ?");
  }

  count(): number {
    return this.countAll.get()!.n;
  }

  /** Newest first; pass the last row of a page as `after` for the next one. */
  list(limit: number, after?: DeadLetterCursor): DeadLetter[] {
    const rows = after ? this.selectAfter.all(after.failedAt, after.consumer, after.eventId, limit) : this.selectFirst.all(limit);
    return rows.map(fromRow);
  }

  get(consumer: string, eventId: string): DeadLetter | null {
    const row = this.selectOne.get(consumer, eventId);
    return row ? fromRow(row) : null;
  }

  /** Hands the event to its consumer once more; see the header. */
  retry(consumer: string, eventId: string): Promise<RetryResult> {
    const key = `${consumer}\u0000${eventId}`;
    const running = this.inFlight.get(key);
    if (running) return running;
    const attempt = this.retryOnce(consumer, eventId).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, attempt);
    return attempt;
  }

  private async retryOnce(consumer: string, eventId: string): Promise<RetryResult> {
    const letter = this.get(consumer, eventId);
    if (!letter) return { status: "not_found" };
    if (!this.bus.consumerNames().includes(consumer)) return { status: "no_consumer" };
    // The dead letter stays until the consumer has handled the event.
    await this.writer.write(() => this.deleteProcessed.run(consumer, eventId));
    const event = { id: letter.eventId, subject: letter.subject, occurredAt: new Date(letter.occurredAt).toISOString(), payload: letter.payload };
    const outcome = await this.bus.redeliver(consumer, event, letter.attempts + 1);
    if (outcome === null) return { status: "no_consumer" };
    if (outcome === "dead" || outcome === "retry") {
      const again = this.get(consumer, eventId);
      return { status: "dead", letter, error: again?.error ?? letter.error, attempts: again?.attempts ?? letter.attempts + 1 };
    }
    await this.writer.write(() => this.deleteOne.run(consumer, eventId));
    return { status: outcome, letter };
  }

  /** Deletes the dead letter; the event stays recorded as handled by that consumer. null: no such row. */
  async discard(consumer: string, eventId: string): Promise<DeadLetter | null> {
    return this.writer.write(() => {
      const row = this.selectOne.get(consumer, eventId);
      if (!row) return null;
      this.deleteOne.run(consumer, eventId);
      return fromRow(row);
    });
  }
}
