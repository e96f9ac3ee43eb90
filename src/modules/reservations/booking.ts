// Booking seats without ever double-booking. The rules first (one row, consecutive seats; at
// most 5 seats per person per screening, earlier bookings included; taken seats refused; a
// refusal names the first of: the seat rule, the rate limit, the taken seats), then
// the pipeline that applies them, per screening:
//   request ─ checks that need no lock (seat shape, screening exists and has not started,
//             rate-limit pre-check for a user this instance saw at the limit) ─▶ the
//             screening's in-process queue
//   queue   ─ one batch at a time, under the screening's lock (platform.locks: Redis when
//             configured, so several instances serialize; the batches queued meanwhile run
//             under the same lease, up to 16 or 25 ms): rate-limit quotas (peek), then every
//             booking of the batch as its own transaction in ONE group commit (store.book: all
//             or nothing per booking; the rules below run in the transaction), then the
//             rate-limit slots of the successful ones (hit); the lock and the queue move on to
//             the next batch at COMMIT, and the batch is answered once its commit is durable
//             (the WAL sync runs off the event loop and covers the next batches' commits too).
// The (screening, seat) key of the store is the last word: even a writer that skipped the lock
// cannot double-book. Queueing in-process first means one lock round trip and one fsync per
// batch instead of per request, which is what keeps contention on a hot screening cheap; not
// waiting for the sync under the lock is what lets the next batch in while the disk syncs.
import { LRUCache } from "lru-cache";
import { Counter, type Registry } from "prom-client";
import type { Clock } from "../../platform/clock";
import { withLock, type LockManager } from "../../platform/lock";
import type { Logger } from "../../platform/logger";
import type { RateLimiter, RateLimitRule } from "../../platform/ratelimit/port";
import { iso } from "./calendar";
import { fail, ok, reservationErrors as errors, type Failure, type Outcome } from "./errors";
import type { ReservationConfirmed } from "./events";
import { maxSeatsPerUser, type BookBody, type Reservation } from "./model";
import type { ReservationsStore, ScreeningView, SeatState } from "./store";

export type BookingFailureCode =
  | typeof errors.seatsNotContiguous
  | typeof errors.screeningNotFound
  | typeof errors.screeningStarted
  | typeof errors.seatLimitReached
  | typeof errors.seatsTaken
  | typeof errors.bookingRateLimited
  | typeof errors.screeningBusy
  | typeof errors.bookingUnavailable;
type BookingFailure = Failure<BookingFailureCode>;

export interface BookingSettings {
  /** Successful bookings per user per screening; null = no limit. */
  rateRule: RateLimitRule | null;
  /** Lease of a screening's booking lock (renewed while a batch runs). */
  lockTtlMs: number;
  /** How long a batch waits for the screening's lock before its requests are refused as busy. */
  lockWaitMs: number;
}

/** Most bookings taken from a screening's queue into one locked batch (one transaction). */
const maxBatch = 128;
/** Most batches run under one lease of the screening's lock, and for how long at most. */
const maxBatchesPerLease = 16;
const maxHoldMs = 25;

interface BookingJob {
  userId: string;
  screening: ScreeningView;
  /** The user's rate-limit key for this screening (bookingKey), made once per attempt. */
  key: string;
  seats: string[];
  settle(outcome: Outcome<Reservation, BookingFailureCode>): void;
  reject(err: unknown): void;
}

/** A user's bookings left for a screening in this batch, from the limiter's peek. */
type Quota = Map<string, { left: number; retryAfterMs: number }>;

// The rules. Contiguity needs no state and is checked first; the seat rules run inside the
// booking's transaction, on the committed state (SeatState) that includes every booking
// committed before it, so two bookings can never both take a seat or both fill the cap.

/**
 * Sorted seats of one row with consecutive columns. The schema already checked each seat's
 * format (A-E, 1-5), the count (1-5) and that none repeats.
 */
export function contiguousSeats(seats: string[]): Outcome<string[], typeof errors.seatsNotContiguous> {
  const sorted = [...seats].sort((a, b) => a[0]!.localeCompare(b[0]!) || Number(a.slice(1)) - Number(b.slice(1)));
  const row = sorted[0]![0]!;
  const refuse = (message: string) =>
    fail(errors.seatsNotContiguous, "seats must be in one row and consecutive, e.g. C2, C3, C4", { field: { field: "/seats", message } });
  if (sorted.some((s) => s[0] !== row)) return refuse("seats span several rows");
  for (let i = 1; i < sorted.length; i++) {
    if (Number(sorted[i]!.slice(1)) !== Number(sorted[i - 1]!.slice(1)) + 1) return refuse("seats are not consecutive");
  }
  return ok(sorted);
}

/** At most 5 seats per person per screening, the `held` ones included. */
export function seatLimitRefusal(seats: string[], held: number): Failure<typeof errors.seatLimitReached> | null {
  if (held + seats.length <= maxSeatsPerUser) return null;
  return {
    code: errors.seatLimitReached,
    detail: `you hold ${held} seat(s) for this screening and asked for ${seats.length}; at most ${maxSeatsPerUser} per person`,
    facts: { held, requested: seats.length, limit: maxSeatsPerUser },
  };
}

/** On the screening's committed state: at most 5 seats per person, and none that someone holds. */
export function seatRefusal(seats: string[], state: SeatState): Failure<typeof errors.seatLimitReached | typeof errors.seatsTaken> | null {
  return seatLimitRefusal(seats, state.heldByUser) ?? takenRefusal(seats, state);
}

function takenRefusal(seats: string[], state: SeatState): Failure<typeof errors.seatsTaken> | null {
  const clash = seats.filter((s) => state.taken.has(s));
  if (clash.length > 0) {
    const many = clash.length > 1;
    return { code: errors.seatsTaken, detail: `seat${many ? "s" : ""} ${clash.join(", ")} ${many ? "are" : "is"} taken`, facts: { seats: clash } };
  }
  return null;
}

export class Booking {
  private readonly queues = new Map<string, BookingJob[]>();
  /**
   * Booking keys this instance saw at their limit (refused, or the last slot just used), for
   * as long as that can last. Only these are peeked before queueing, for a quick refusal; the
   * others go straight to the queue, whose batch peeks every key under the lock anyway and
   * decides: one limiter round trip per booking instead of two (Redis: ~8 % of a booking's CPU).
   */
  private readonly atLimit = new LRUCache<string, true>({ max: 10_000, ttl: 1, ttlAutopurge: false });
  private readonly bookings: Counter<"outcome">;

  constructor(
    private readonly store: ReservationsStore,
    private readonly locks: LockManager,
    private readonly limiter: RateLimiter,
    private readonly clock: Clock,
    private readonly settings: BookingSettings,
    private readonly logger: Logger,
    registry: Registry,
  ) {
    this.bookings = new Counter({
      name: "homebase_reservations_bookings_total",
      help: "Booking attempts by outcome (confirmed, seats_taken, seat_limit_reached, rate_limited, busy, invalid)",
      labelNames: ["outcome"] as const,
      registers: [registry],
    });
  }

  async book(userId: string, body: BookBody): Promise<Outcome<Reservation, BookingFailureCode>> {
    try {
      const outcome = await this.attempt(userId, body);
      this.bookings.inc({ outcome: outcome.ok ? "confirmed" : outcomeLabel(outcome.failure) });
      return outcome;
    } catch (err) {
      this.bookings.inc({ outcome: "error" });
      throw err;
    }
  }

  private async attempt(userId: string, body: BookBody): Promise<Outcome<Reservation, BookingFailureCode>> {
    const seats = contiguousSeats(body.seats);
    if (!seats.ok) return seats;
    const screening = await this.store.screening(body.screeningId);
    if (!screening) return fail(errors.screeningNotFound, "no such screening");
    if (screening.startTime <= this.clock.now()) {
      return fail(errors.screeningStarted, "this screening has already started", { field: { field: "/screeningId", message: "in the past" } });
    }
    const rule = this.settings.rateRule;
    const key = bookingKey(userId, screening.id);
    if (rule && this.atLimit.has(key)) {
      // Fast refusal without queueing; the decisive check runs under the lock.
      const peek = await this.limiter.peek(key, rule).catch((err: unknown) => this.unavailable(err));
      if ("failure" in peek) return peek;
      if (!peek.allowed) {
        // The seat rule before the wait: a request over the 5 seats is told so, not to come back
        // in 5 minutes for a booking that would be refused then too. Only on this refusal path.
        const overLimit = seatLimitRefusal(seats.value, await this.store.seatsHeld(userId, screening.id));
        return overLimit ? { ok: false, failure: overLimit } : rateLimited(peek.retryAfterMs);
      }
    }
    return new Promise((settle, reject) => this.enqueue({ userId, screening, key, seats: seats.value, settle, reject }));
  }

  private enqueue(job: BookingJob): void {
    const id = job.screening.id;
    const queue = this.queues.get(id);
    if (queue) {
      queue.push(job);
      return;
    }
    const fresh = [job];
    this.queues.set(id, fresh);
    void this.drain(id, fresh);
  }

  /** Runs the screening's queued bookings batch by batch, each batch under the screening's lock. */
  private async drain(screeningId: string, queue: BookingJob[]): Promise<void> {
    try {
      while (queue.length > 0) {
        const batch = queue.splice(0, maxBatch);
        try {
          const ran = await withLock(
            this.locks,
            `reservations:screening:${screeningId}`,
            { ttlMs: this.settings.lockTtlMs, waitMs: this.settings.lockWaitMs },
            async (_lease, signal) => {
              await this.runBatch(batch, signal);
              // Bookings that came meanwhile go on under the same lease (no release and
              // re-acquire per batch: two Redis round trips less), for a bounded run, so that
              // another instance waiting for this screening gets its turn.
              const until = Date.now() + maxHoldMs;
              for (let more = 1; more < maxBatchesPerLease && queue.length > 0 && Date.now() < until && !signal.aborted; more++) {
                await this.runBatch(queue.splice(0, maxBatch), signal);
              }
              return true;
            },
          );
          if (ran === null) {
            const busy = fail(errors.screeningBusy, "bookings for this screening are busy; try again", { retryAfterMs: 1_000 });
            for (const job of batch) job.settle(busy);
          }
        } catch (err) {
          // The lock's backend (Redis) failed: refuse rather than book unserialized.
          const refused = this.unavailable(err);
          for (const job of batch) job.settle(refused);
        }
      }
    } finally {
      // Nothing can be queued between the loop's last check and here (no await in between).
      this.queues.delete(screeningId);
    }
  }

  /** One batch under the lock. Settles every job; never throws. */
  private async runBatch(batch: BookingJob[], signal: AbortSignal): Promise<true> {
    const rule = this.settings.rateRule;
    const quota: Quota = new Map();
    try {
      if (rule) {
        const keys = [...new Set(batch.map((j) => j.key))];
        // One step for the batch's keys (one Redis round trip, not one per booking).
        const peeks = await this.limiter.peekAll(keys.map((key) => ({ key, rule })));
        keys.forEach((k, i) => {
          const p = peeks[i]!;
          quota.set(k, { left: p.allowed ? p.remaining : 0, retryAfterMs: p.allowed ? rule.windowMs : p.retryAfterMs });
          if (!p.allowed) this.sawAtLimit(k, p.retryAfterMs);
        });
      }
    } catch (err) {
      const refused = this.unavailable(err);
      for (const job of batch) job.settle(refused);
      return true;
    }
    if (signal.aborted) {
      const refused = this.unavailable(signal.reason);
      for (const job of batch) job.settle(refused);
      return true;
    }
    const now = this.clock.now();
    const attempts = batch.map((job) => {
      const id = Bun.randomUUIDv7();
      const { key } = job;
      const slot = quota.get(key);
      return {
        reservation: { id, userId: job.userId, screeningId: job.screening.id, seats: job.seats, createdAt: now },
        // In the order a user needs them: the seat rule, then the wait, then the seats taken.
        refusal: (state: SeatState): BookingFailure | null => {
          const overLimit = seatLimitRefusal(job.seats, state.heldByUser);
          if (overLimit) return overLimit;
          if (slot && slot.left <= 0) return rateLimited(slot.retryAfterMs).failure;
          return takenRefusal(job.seats, state);
        },
        booked: (): ReservationConfirmed => {
          if (slot) {
            slot.left--;
            if (slot.left <= 0) this.sawAtLimit(key, slot.retryAfterMs);
          }
          return confirmedEvent(id, job, now);
        },
      };
    });
    const { decided, durable } = this.store.book(attempts);
    const results = await decided;
    const confirmed: BookingJob[] = [];
    const answers = results.map((result, i): (() => void) => {
      const job = batch[i]!;
      if (result.kind === "booked") {
        confirmed.push(job);
        return () => job.settle(ok(reservationOf(attempts[i]!.reservation.id, job, now)));
      }
      if (result.kind === "refused") return () => job.settle({ ok: false, failure: result.refusal });
      // Only a writer that bypassed the lock gets here; the store's (screening, seat) key held.
      if (result.kind === "seat_conflict") return () => job.settle(fail(errors.seatsTaken, "some of these seats were just taken", { facts: { seats: job.seats } }));
      return () => job.reject(result.error);
    });
    // Answered once the commit is durable, which needs neither the lock nor the queue: the next
    // batch is decided on this one's committed state meanwhile (and its sync covers both).
    void durable.then(
      () => {
        for (const answer of answers) answer();
      },
      (err: unknown) => {
        for (const job of batch) job.reject(err);
      },
    );
    if (rule) {
      // Only a booking that succeeded uses up the user's slot for the screening.
      if (confirmed.length > 0) {
        await this.limiter.hitAll(confirmed.map((job) => ({ key: job.key, rule }))).catch((err: unknown) => {
          const bookings = confirmed.map((job) => ({ userId: job.userId, screeningId: job.screening.id }));
          this.logger.warn("booking rate limit not recorded (limiter unavailable)", { bookings, err });
        });
      }
    }
    return true;
  }

  /** Until the key can take a booking again at the latest (a block period may outlast the window). */
  private sawAtLimit(key: string, retryAfterMs: number): void {
    const rule = this.settings.rateRule;
    this.atLimit.set(key, true, { ttl: Math.max(retryAfterMs, rule?.windowMs ?? 0, rule?.blockMs ?? 0, 1) });
  }

  private unavailable(err: unknown): { ok: false; failure: Failure<typeof errors.bookingUnavailable> } {
    this.logger.warn("booking refused: lock or rate-limit backend unavailable", { err });
    return fail(errors.bookingUnavailable, "bookings are briefly unavailable; try again", { retryAfterMs: 1_000 });
  }
}

function bookingKey(userId: string, screeningId: string): string {
  return `booking:${userId}:${screeningId}`;
}

function rateLimited(retryAfterMs: number) {
  return fail(errors.bookingRateLimited, "you booked this screening recently; try again later", { retryAfterMs });
}

function outcomeLabel(failure: BookingFailure): string {
  switch (failure.code) {
    case errors.seatsTaken:
    case errors.seatLimitReached:
      return failure.code;
    case errors.bookingRateLimited:
      return "rate_limited";
    case errors.screeningBusy:
    case errors.bookingUnavailable:
      return "busy";
    default:
      return "invalid";
  }
}

function confirmedEvent(id: string, job: BookingJob, now: number): ReservationConfirmed {
  const s = job.screening;
  return {
    reservationId: id,
    userId: job.userId,
    screeningId: s.id,
    movieTitle: s.movieTitle,
    theaterName: s.theaterName,
    startTime: iso(s.startTime),
    seats: job.seats,
    confirmedAt: iso(now),
  };
}

function reservationOf(id: string, job: BookingJob, now: number): Reservation {
  const s = job.screening;
  return {
    id,
    screeningId: s.id,
    movieId: s.movieId,
    movieTitle: s.movieTitle,
    theaterName: s.theaterName,
    startTime: iso(s.startTime),
    endTime: iso(s.endTime),
    seats: job.seats,
    status: "confirmed",
    createdAt: iso(now),
    cancelledAt: null,
  };
}
