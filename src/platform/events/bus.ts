// The event bus: a transactional outbox in SQLite, a relay, and idempotent consumers.
//
//   domain write + emit() ──(one transaction)──▶ outbox row
//   relay (woken by every commit, and every second)
//     NATS_URL set: publish to JetStream (Nats-Msg-Id = event id), mark sent
//     embedded:     deliver in-process to every matching consumer, mark sent
//   consumer: skip if (consumer, event) is in processed_events; else validate the payload
//             against its definition (invalid: dead letter at once), effect(), then
//             apply() + the processed_events row in one transaction; dead letter after N tries;
//             afterCommit() once that transaction committed.
//   retention (worker roles, every few minutes): prune sent rows, processed records, dead letters.
//
// Delivery is at least once; the processed_events record makes handling exactly once.
import type { Database, Statement } from "bun:sqlite";
import { type Clock, systemClock } from "../clock";
import type { GroupCommitWriter } from "../db/sqlite";
import type { Logger } from "../logger";
import type { Metrics } from "../metrics";
import { type EventDefinition, type EventPayload, eventSchema, type PlainSubject, payloadProblem, subjectPattern } from "./define";
import { JetStreamTransport, type DeliveryOutcome, type EventEnvelope } from "./jetstream";
import { EventRetention, type PrunedCounts, type RetentionOptions } from "./retention";

export type { EventEnvelope } from "./jetstream";

export interface ConsumerSpec {
  /** Durable name: letters, digits, '-' and '_'. Keep it stable; it keys the processed-event records. */
  name: string;
  /**
   * Subject patterns it subscribes to, with NATS wildcards, e.g. "homebase.*.user.deleted"
   * (defineConsumer fills them in from `events`). The order keys the JetStream durables.
   */
  subjects: string[];
  /**
   * The events it handles (from defineEvent), each also in `subjects`: their payloads are
   * validated before effect/apply, and one that does not match goes to the dead letters at once,
   * with the reason. Payloads of other subjects arrive unchecked.
   */
  events?: readonly EventDefinition[];
  /** Side effect outside SQLite (Redis, MongoDB), run before apply; must be idempotent. */
  effect?(event: EventEnvelope): Promise<void>;
  /** SQLite changes, run in the same transaction as the processed-event record. Its result goes to afterCommit. */
  apply?(event: EventEnvelope): unknown;
  /**
   * Runs once apply's transaction has committed (cache invalidation, clean-up of other stores),
   * with what apply returned; never for a duplicate or a rolled-back transaction. A failure is
   * logged, not retried: the event is already handled.
   */
  afterCommit?(event: EventEnvelope, applied: unknown): Promise<void> | void;
  /**
   * Events handled at once (default 1: one at a time, in stream order). Raise it for slow,
   * order-independent effects such as sending notifications.
   */
  concurrency?: number;
}

/** The envelope a consumer of definitions E receives: the payload typed (and validated) per event. */
export type EnvelopeOf<E> = E extends EventDefinition<infer P> ? EventEnvelope<P> : never;

/** A consumer of declared events, typed: `event.payload` is the definition's payload (narrow with isEvent). */
export interface TypedConsumerSpec<E extends EventDefinition, A> extends Omit<ConsumerSpec, "subjects" | "events" | "effect" | "apply" | "afterCommit"> {
  events: readonly E[];
  effect?(event: EnvelopeOf<E>): Promise<void>;
  apply?(event: EnvelopeOf<E>): A;
  afterCommit?(event: EnvelopeOf<E>, applied: A): Promise<void> | void;
}

/** Types a consumer's handlers from the events it declares. */
export function defineConsumer<E extends EventDefinition, A = undefined>(spec: TypedConsumerSpec<E, A>): ConsumerSpec {
  // The cast only widens the handlers' parameter: the bus hands them validated events of these subjects only.
  return { ...(spec as unknown as Omit<ConsumerSpec, "subjects">), subjects: [...spec.events] };
}

/** Runs fn over items with at most `limit` in flight, starting them in order. */
async function inPool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

export interface EventBusOptions {
  db: Database;
  writer: GroupCommitWriter;
  metrics: Metrics;
  logger: Logger;
  natsUrl: string | null;
  /** Attempts per consumer before an event is dead-lettered. */
  maxDeliver: number;
  /** First retry delay; doubles per attempt, capped at 30 s. */
  retryMs?: number;
  /** Prefix of stream, subjects and durable names on a shared NATS. */
  namespace?: string;
  /** Stamps created_at, sent_at, processed_at, failed_at (and the event ids' time), and drives retention. */
  clock?: Clock;
  /** Retention of the event tables (defaults: 7 days, dead letters 30 days, pruned every 5 minutes). */
  retention?: Partial<RetentionOptions> & { intervalMs?: number };
}

interface OutboxRow {
  id: string;
  subject: string;
  payload: string;
  created_at: number;
  attempts: number;
}

const relayBatch = 256;
const hour = 3_600_000;

/** NATS subject matching: '*' is one token, '>' is one or more trailing tokens. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i;
    if (i >= s.length || (p[i] !== "*" && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

export class EventBus {
  private readonly consumers: ConsumerSpec[] = [];
  /** Per consumer: the subjects whose payloads are validated before its handlers run. */
  private readonly validated = new Map<string, ReadonlySet<string>>();
  private transport: JetStreamTransport | null = null;
  private started = false;
  private closed = false;
  private timer: ReturnType<typeof setInterval> | null = null;
  private relaying: Promise<void> | null = null;
  private wakeAgain = false;
  private readonly retryMs: number;
  private readonly clock: Clock;
  private readonly retention: EventRetention;
  private readonly pruneIntervalMs: number;
  private pruneTimer: ReturnType<typeof setInterval> | null = null;
  private pruning: Promise<PrunedCounts> | null = null;

  private readonly insertOutbox: Statement;
  private readonly selectDue: Statement<OutboxRow, [number, number]>;
  private readonly markSent: Statement;
  private readonly markFailed: Statement;
  private readonly countUnsent: Statement<{ n: number; oldest: number | null }, []>;
  private readonly selectProcessed: Statement<{ one: number }, [string, string]>;
  private readonly insertProcessed: Statement;
  private readonly insertDeadLetter: Statement;

  constructor(private readonly options: EventBusOptions) {
    const { db } = options;
    this.retryMs = options.retryMs ?? 1000;
    this.clock = options.clock ?? systemClock;
    const retention = options.retention ?? {};
    this.retention = new EventRetention(db, options.writer, options.metrics, this.clock, {
      eventsMs: retention.eventsMs ?? 7 * 24 * hour,
      deadLettersMs: retention.deadLettersMs ?? 30 * 24 * hour,
      batchSize: retention.batchSize,
    });
    this.pruneIntervalMs = retention.intervalMs ?? 5 * 60_000;
    this.insertOutbox = db.prepare("INSERT INTO outbox (id, subject, payload, created_at) VALUES (?, ?, ?, ?)");
    this.selectDue = db.prepare(
      "SELECT id, subject, payload, created_at, attempts FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= ? ORDER BY next_attempt_at, created_at, id LIMIT ?",
    );
    this.markSent = db.prepare("UPDATE outbox SET sent_at = ? WHERE id = ? AND sent_at IS NULL");
    this.markFailed = db.prepare("UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ? WHERE id = ?");
    this.countUnsent = db.prepare("SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox WHERE sent_at IS NULL");
    this.selectProcessed = db.prepare("SELECT 1 AS one FROM processed_events WHERE consumer = ? AND event_id = ?");
    this.insertProcessed = db.prepare("INSERT OR IGNORE INTO processed_events (consumer, event_id, processed_at) VALUES (?, ?, ?)");
    this.insertDeadLetter = db.prepare(
      "INSERT OR REPLACE INTO dead_letters (consumer, event_id, subject, payload, error, attempts, failed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    options.writer.onCommit(() => this.wake());
  }

  /** True once start() ran (worker roles): the relay and consumers are live. */
  get running(): boolean {
    return this.started && !this.closed;
  }

  get kind(): "nats" | "in-process" {
    return this.options.natsUrl ? "nats" : "in-process";
  }

  /**
   * Records an event in the outbox. Must run inside writer.write() (or another transaction),
   * so the event commits or rolls back with the domain change. Returns the event id.
   */
  emit<E extends EventDefinition>(event: E, payload: NoInfer<EventPayload<E>>): string;
  /** @deprecated A bare subject is unchecked: declare the event with defineEvent and pass the definition. */
  emit(subject: PlainSubject, payload: unknown): string;
  emit(subject: string, payload: unknown): string {
    if (!this.options.db.inTransaction) {
      throw new Error("EventBus.emit must run inside a write transaction (writer.write)");
    }
    if (!subjectPattern.test(subject)) throw new Error(`event subject must be homebase.<domain>.<event>, got ${subject}`);
    // The id's time is the clock's, like created_at: retention finds old rows by id range.
    const now = this.clock.now();
    const id = Bun.randomUUIDv7("hex", now);
    this.insertOutbox.run(id, subject, JSON.stringify(payload ?? null), now);
    return id;
  }

  /** Adds a consumer; call before start(). */
  register(spec: ConsumerSpec): void {
    if (this.started) throw new Error(`consumer ${spec.name} registered after the event bus started`);
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(spec.name)) throw new Error(`bad consumer name ${spec.name}`);
    if (this.consumers.some((c) => c.name === spec.name)) throw new Error(`consumer ${spec.name} registered twice`);
    if (spec.subjects.length === 0) throw new Error(`consumer ${spec.name} has no subjects`);
    const events = spec.events ?? [];
    for (const event of events) {
      if (!eventSchema(event)) throw new Error(`consumer ${spec.name} declares ${event}, which no defineEvent declares`);
      if (!spec.subjects.includes(event)) throw new Error(`consumer ${spec.name} declares ${event} but does not subscribe to it (use defineConsumer)`);
    }
    this.consumers.push(spec);
    this.validated.set(spec.name, new Set(events));
  }

  /** Starts the relay and, with NATS, the durable consumers (the worker role). */
  async start(): Promise<void> {
    if (this.started || this.closed) return;
    const { natsUrl, logger } = this.options;
    if (natsUrl) {
      this.transport = await JetStreamTransport.connect(natsUrl, this.options.namespace ?? "", logger, (n) => this.retryDelay(n));
      for (const spec of this.consumers) {
        await this.transport.subscribe(spec.name, spec.subjects, spec.concurrency ?? 1, (event, count) => this.deliver(spec, event, count));
      }
    }
    this.started = true;
    this.timer = setInterval(() => this.wake(), 1000);
    this.pruneTimer = setInterval(() => {
      this.prune().catch((err: unknown) => this.options.logger.warn("event retention: prune failed; next round retries", { err }));
    }, this.pruneIntervalMs);
    this.wake();
  }

  /**
   * Deletes sent outbox rows and processed-event records past the event retention, and dead
   * letters past theirs (never an unsent row). Runs on a timer in worker roles; tests call it.
   */
  async prune(): Promise<PrunedCounts> {
    // One at a time; a call during a round runs after it, with the time then.
    const previous = this.pruning;
    const round = (async () => {
      await previous?.catch(() => undefined);
      const counts = await this.retention.prune(() => this.closed);
      const total = counts.outbox + counts.processed_events + counts.dead_letters;
      if (total > 0) this.options.logger.info("event retention: pruned", counts);
      return counts;
    })();
    this.pruning = round;
    try {
      return await round;
    } finally {
      if (this.pruning === round) this.pruning = null;
    }
  }

  /** Outbox rows not yet relayed. */
  backlog(): number {
    const { n, oldest } = this.countUnsent.get()!;
    this.options.metrics.outboxBacklog.set(n);
    this.options.metrics.relayLag.set(oldest === null ? 0 : Math.max(0, this.clock.now() - oldest) / 1000);
    return n;
  }

  /** Updates homebase_consumer_pending (called on each /metrics scrape; bounded by NATS's request timeout). */
  async refreshConsumerLag(): Promise<void> {
    const { metrics, natsUrl } = this.options;
    const unsent = this.backlog();
    // A serve-only process with NATS runs no consumers: it has nothing to report.
    if (natsUrl && !this.transport) return;
    const transport = this.transport;
    const withinASecond = <T>(p: Promise<T>) => Promise.race([p, Bun.sleep(1000).then(() => null)]);
    await Promise.all(
      this.consumers.map(async (spec) => {
        const pending = transport ? await withinASecond(transport.pending(spec.name, spec.subjects.length)).catch(() => null) : unsent;
        if (pending !== null) metrics.consumerPending.set({ consumer: spec.name }, pending);
      }),
    );
  }

  /** Waits until the outbox is empty (every event relayed), or throws after timeoutMs. */
  async flush(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.backlog() > 0) {
      if (!this.started || this.closed) throw new Error("event bus is not running; the outbox keeps the events");
      if (Date.now() > deadline) throw new Error(`outbox not drained after ${timeoutMs} ms: ${this.backlog()} events left`);
      this.wake();
      await Bun.sleep(10);
    }
  }

  async ping(): Promise<boolean> {
    if (!this.options.natsUrl) return true;
    if (!this.transport) return false;
    return this.transport.ping();
  }

  /**
   * Stops taking events from JetStream while the relay keeps publishing. Shutdown calls it before
   * modules close: an event they write on the way out (chat's last read marks) then waits in the
   * stream for the next instance, instead of reaching this one's consumer as it stops, where it
   * would sit unacknowledged until the ack wait (30 s) ran out.
   */
  async stopConsuming(): Promise<void> {
    await this.transport?.stopConsumers();
  }

  /** Stops the relay and the consumers; undelivered events stay in the outbox for the next start. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    await Promise.all([this.relaying, this.pruning?.catch(() => undefined)]);
    await this.transport?.close();
  }

  private retryDelay(attempt: number): number {
    return Math.min(30_000, this.retryMs * 2 ** Math.max(0, attempt - 1));
  }

  private wake(): void {
    if (!this.started || this.closed) return;
    if (this.relaying) {
      this.wakeAgain = true;
      return;
    }
    this.relaying = (async () => {
      let full = true;
      while ((full || this.wakeAgain) && !this.closed) {
        this.wakeAgain = false;
        full = (await this.relayOnce()) === relayBatch;
      }
    })()
      .catch((err: unknown) => this.options.logger.error("outbox relay failed", { err }))
      .finally(() => {
        this.relaying = null;
      });
  }

  private async relayOnce(): Promise<number> {
    // The backlog gauges are refreshed per /metrics scrape, not per round: counting every
    // unsent row each round would make draining a large backlog quadratic.
    // Retries are scheduled on real time (next_attempt_at), not the clock: the timers that
    // wake the relay are real, and a test's stopped clock must not stop them.
    // Only durable rows leave: a row committed but not yet synced (GroupCommitWriter) waits.
    await this.options.writer.durable();
    const rows = this.selectDue.all(Date.now(), relayBatch);
    if (rows.length === 0) return 0;
    if (this.transport) {
      if (!(await this.publishRows(this.transport, rows))) {
        // NATS unreachable: end this round; the 1 s timer tries again.
        this.wakeAgain = false;
        return 0;
      }
    } else await this.deliverRows(rows);
    return rows.length;
  }

  private envelope(row: OutboxRow): EventEnvelope {
    return { id: row.id, subject: row.subject, occurredAt: new Date(row.created_at).toISOString(), payload: JSON.parse(row.payload) };
  }

  /** NATS mode: publish in order on one connection; rows that failed stay for the next round. */
  private async publishRows(transport: JetStreamTransport, rows: OutboxRow[]): Promise<boolean> {
    const { metrics, writer, logger } = this.options;
    const results = await Promise.allSettled(rows.map((row) => transport.publish(this.envelope(row))));
    const now = this.clock.now();
    let firstError: unknown = null;
    await writer.write(() => {
      results.forEach((result, i) => {
        const row = rows[i]!;
        if (result.status === "fulfilled") {
          metrics.eventsPublished.inc({ outcome: result.value });
          this.markSent.run(now, row.id);
        } else {
          firstError ??= result.reason;
          // No per-row backoff: an outage delays every row alike, and the next tick retries.
          this.markFailed.run(0, row.id);
        }
      });
    });
    if (firstError === null) return true;
    logger.warn("outbox relay: publish failed; events stay in the outbox", { err: firstError });
    return false;
  }

  /** Embedded mode: each consumer takes the batch in order; a row is sent when no consumer asks for a retry. */
  private async deliverRows(rows: OutboxRow[]): Promise<void> {
    const retry = new Set<string>();
    const events = rows.map((row) => this.envelope(row));
    await Promise.all(
      this.consumers.map(async (spec) => {
        const mine = events.flatMap((event, i) => (spec.subjects.some((p) => subjectMatches(p, event.subject)) ? [{ event, row: rows[i]! }] : []));
        await inPool(mine, spec.concurrency ?? 1, async ({ event, row }) => {
          if ((await this.deliver(spec, event, row.attempts + 1)) === "retry") retry.add(event.id);
        });
      }),
    );
    const sentAt = this.clock.now();
    const now = Date.now();
    let soonest = Infinity;
    await this.options.writer.write(() => {
      for (const row of rows) {
        if (!retry.has(row.id)) {
          this.markSent.run(sentAt, row.id);
          continue;
        }
        const delay = this.retryDelay(row.attempts + 1);
        soonest = Math.min(soonest, delay);
        this.markFailed.run(now + delay, row.id);
      }
    });
    // Retry when the first backoff ends rather than on the next 1 s tick.
    if (soonest < 1000) setTimeout(() => this.wake(), soonest);
  }

  /** The names of the consumers registered in this process. */
  consumerNames(): string[] {
    return this.consumers.map((c) => c.name);
  }

  /**
   * Hands one event to one registered consumer once more (a dead letter's retry, dead-letters.ts):
   * a single attempt, numbered at least maxDeliver, so a failure dead-letters it again at once.
   * null when no consumer of that name is registered in this process.
   */
  async redeliver(consumer: string, event: EventEnvelope, attempt: number): Promise<DeliveryOutcome | null> {
    const spec = this.consumers.find((c) => c.name === consumer);
    if (!spec) return null;
    return this.deliver(spec, event, Math.max(attempt, this.options.maxDeliver));
  }

  /** One delivery of one event to one consumer, in either mode. */
  private async deliver(spec: ConsumerSpec, event: EventEnvelope, attempt: number): Promise<DeliveryOutcome> {
    const { metrics, writer, logger, maxDeliver } = this.options;
    const consumer = spec.name;
    if (attempt > 1) metrics.consumerRedeliveries.inc({ consumer });
    if (this.selectProcessed.get(consumer, event.id)) {
      metrics.consumerDeliveries.inc({ consumer, outcome: "duplicate" });
      return "duplicate";
    }
    // A payload that breaks its contract fails the same way every time: no retries.
    const invalid = this.validated.get(consumer)?.has(event.subject) ? payloadProblem(event.subject, event.payload) : null;
    if (invalid !== null) {
      metrics.consumerDeliveries.inc({ consumer, outcome: "invalid" });
      await this.deadLetter(spec, event, attempt, invalid);
      return "dead";
    }
    try {
      await spec.effect?.(event);
      const outcome = await writer.write(() => {
        if (this.insertProcessed.run(consumer, event.id, this.clock.now()).changes === 0) return { fresh: false as const };
        return { fresh: true as const, applied: spec.apply?.(event) };
      });
      const { fresh } = outcome;
      if (outcome.fresh && spec.afterCommit) {
        try {
          await spec.afterCommit(event, outcome.applied);
        } catch (err) {
          logger.warn("after-commit step failed (the event stays handled)", { consumer, eventId: event.id, subject: event.subject, err });
        }
      }
      metrics.consumerDeliveries.inc({ consumer, outcome: fresh ? "processed" : "duplicate" });
      return fresh ? "processed" : "duplicate";
    } catch (err) {
      metrics.consumerDeliveries.inc({ consumer, outcome: "failed" });
      if (attempt < maxDeliver) {
        logger.warn("event handler failed; will retry", { consumer, eventId: event.id, subject: event.subject, attempt, err });
        return "retry";
      }
      await this.deadLetter(spec, event, attempt, errorText(err));
      return "dead";
    }
  }

  /** Gives up on an event for one consumer: recorded in SQLite (and the DLQ stream with NATS). */
  private async deadLetter(spec: ConsumerSpec, event: EventEnvelope, attempts: number, error: string): Promise<void> {
    const { metrics, writer, logger } = this.options;
    logger.error("event dead-lettered", { consumer: spec.name, eventId: event.id, subject: event.subject, attempts, error });
    metrics.deadLetters.inc({ consumer: spec.name });
    await writer.write(() => {
      const now = this.clock.now();
      this.insertDeadLetter.run(spec.name, event.id, event.subject, JSON.stringify(event.payload), error, attempts, now);
      // Recorded as handled so a redelivery does not retry it; replaying means deleting both rows.
      this.insertProcessed.run(spec.name, event.id, now);
    });
    await this.transport
      ?.publishDeadLetter(spec.name, event, error, attempts)
      .catch((e: unknown) => logger.warn("dead-letter publish failed (kept in SQLite)", { consumer: spec.name, eventId: event.id, err: e }));
  }
}
