// Reservation use cases: the catalog (movies, theaters, screenings), the cached now-showing list,
// booking that never double-books, cancellation, and the handlers of the module's events.
// No Elysia types here; errors are HttpProblems.
//
// Booking, per screening:
//   request ─ checks that need no lock (seat shape, screening exists and has not started,
//             rate-limit pre-check) ─▶ the screening's in-process queue
//   queue   ─ one batch at a time, under the screening's lock (platform.locks: Redis when
//             configured, so several instances serialize): rate-limit quotas (peek), then every
//             booking of the batch as its own savepoint in ONE group commit (all-or-nothing per
//             booking; seats taken and the 5-seat cap are checked in the transaction), then the
//             rate-limit slots of the successful ones (hit).
// The (screening_id, seat) primary key of reservation_seats is the last word: even a writer that
// skipped the lock cannot double-book. Queueing in-process first means one lock round trip and
// one fsync per batch instead of per request, which is what keeps contention on a hot screening cheap.
import { Counter, type Registry } from "prom-client";
import type { CacheAside } from "../../platform/cache/cache-aside";
import type { GroupCommitWriter } from "../../platform/db/sqlite";
import { HttpProblem, problems } from "../../platform/http/problem";
import { withLock, type LockManager } from "../../platform/lock";
import type { Logger } from "../../platform/logger";
import type { RateLimiter, RateLimitRule } from "../../platform/ratelimit/port";
import type { Principal, UserDeleted } from "../accounts";
import { reservationEvents, type ReservationCancelled, type ReservationConfirmed, type ReservationsEventHandlers, type ReservationsEventSink } from "./events";
import {
  genres,
  maxSeatsPerUser,
  seatColumns,
  seatRows,
  type BookBody,
  type CreateMovieBody,
  type CreateScreeningBody,
  type Genre,
  type Movie,
  type NowShowing,
  type NowShowingMovie,
  type NowShowingQuery,
  type Reservation,
  type ReservationPage,
  type Screening,
  type SeatMap,
  type Theater,
} from "./model";
import type { Notifier } from "./notifier";
import type { MovieRow, NowShowingFilter, ReservationViewRow, ReservationsRepository, ScreeningViewRow, TheaterRow } from "./repository";

export interface ReservationsSettings {
  /** TTL of cached now-showing lists; 0 = no cache. Always cut at the next UTC midnight. */
  moviesCacheTtlMs: number;
  /** GET /movies per client IP; null = no limit. */
  moviesRateRule: RateLimitRule | null;
  /** Successful bookings per user per screening; null = no limit. */
  bookingRateRule: RateLimitRule | null;
  /** Lease of a screening's booking lock (renewed while a batch runs). */
  lockTtlMs: number;
  /** How long a batch waits for the screening's lock before its requests get 503. */
  lockWaitMs: number;
}

/** The cache name in homebase_cache_requests_total. */
export const nowShowingCacheName = "now_showing";
/** Bumped after every catalog change: every cached list variant moves to a fresh key at once. */
const catalogNamespace = "reservations:catalog";
/** Most bookings taken from a screening's queue into one locked batch (one transaction). */
const maxBatch = 128;

export const allSeats: string[] = seatRows.flatMap((row) => Array.from({ length: seatColumns }, (_, i) => `${row}${i + 1}`));

export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Cache TTL for a list computed at `now`: never past the next UTC midnight, when "released by today" changes. */
export function listTtlMs(now: number, ttlMs: number): number {
  return Math.max(1, Math.min(ttlMs, nextUtcMidnight(now) - now));
}

/**
 * Sorted seats of one row with consecutive columns, or a 422. The schema already checked each
 * seat's format (A-E, 1-5), the count (1-5) and that none repeats.
 */
export function contiguousSeats(seats: string[]): string[] {
  const sorted = [...seats].sort((a, b) => a[0]!.localeCompare(b[0]!) || Number(a.slice(1)) - Number(b.slice(1)));
  const row = sorted[0]![0]!;
  const fail = (message: string) => problems.unprocessable("seats_not_contiguous", "seats must be in one row and consecutive, e.g. C2, C3, C4", [{ field: "/seats", message }]);
  if (sorted.some((s) => s[0] !== row)) throw fail("seats span several rows");
  for (let i = 1; i < sorted.length; i++) {
    if (Number(sorted[i]!.slice(1)) !== Number(sorted[i - 1]!.slice(1)) + 1) throw fail("seats are not consecutive");
  }
  return sorted;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function toMovie(row: MovieRow): Movie {
  return {
    id: row.id,
    title: row.title,
    grade: row.grade,
    genre: row.genre,
    releaseDate: row.release_date,
    thumbnailUrl: row.thumbnail_url,
    runningTime: row.running_time,
    createdAt: iso(row.created_at),
  };
}

function toTheater(row: TheaterRow): Theater {
  return { id: row.id, name: row.name, rows: [...seatRows], columns: seatColumns, createdAt: iso(row.created_at) };
}

function toScreening(row: ScreeningViewRow): Screening {
  return {
    id: row.id,
    movieId: row.movie_id,
    movieTitle: row.movie_title,
    theaterId: row.theater_id,
    theaterName: row.theater_name,
    startTime: iso(row.start_time),
    endTime: iso(row.end_time),
  };
}

function toReservation(row: ReservationViewRow): Reservation {
  return {
    id: row.id,
    screeningId: row.screening_id,
    movieId: row.movie_id,
    movieTitle: row.movie_title,
    theaterName: row.theater_name,
    startTime: iso(row.start_time),
    endTime: iso(row.end_time),
    seats: row.seats.split(","),
    status: row.status,
    createdAt: iso(row.created_at),
    cancelledAt: row.cancelled_at === null ? null : iso(row.cancelled_at),
  };
}

/** The text a confirmation carries; the same for the send and the record of it. */
export function confirmationMessage(e: ReservationConfirmed): string {
  return `Reservation confirmed: ${e.movieTitle}, ${e.theaterName}, ${e.startTime}, seats ${e.seats.join(", ")}`;
}

function isConstraintError(err: unknown): boolean {
  return typeof (err as { code?: unknown })?.code === "string" && (err as { code: string }).code.startsWith("SQLITE_CONSTRAINT");
}

interface BookingJob {
  userId: string;
  screening: ScreeningViewRow;
  seats: string[];
  resolve(reservation: Reservation): void;
  reject(err: unknown): void;
}

interface ScreeningQueue {
  jobs: BookingJob[];
}

export class ReservationsService implements ReservationsEventHandlers {
  private readonly queues = new Map<string, ScreeningQueue>();
  private readonly bookings: Counter<"outcome">;

  constructor(
    private readonly repo: ReservationsRepository,
    private readonly writer: GroupCommitWriter,
    private readonly events: ReservationsEventSink,
    private readonly cache: CacheAside,
    private readonly locks: LockManager,
    private readonly limiter: RateLimiter,
    private readonly notifier: Notifier,
    private readonly settings: ReservationsSettings,
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

  // ---------------------------------------------------------------------------------------------
  // Catalog (admin)

  async createMovie(body: CreateMovieBody): Promise<Movie> {
    const title = body.title.trim();
    if (title === "") throw problems.unprocessable("title_blank", "the title must not be blank", [{ field: "/title", message: "blank" }]);
    const row: MovieRow = {
      id: Bun.randomUUIDv7(),
      title,
      title_key: titleKey(title),
      grade: body.grade,
      genre: body.genre,
      release_date: body.releaseDate,
      thumbnail_url: body.thumbnailUrl,
      running_time: body.runningTime,
      created_at: Date.now(),
    };
    await this.writer.write(() => this.repo.insertMovie(row));
    await this.catalogChanged();
    return toMovie(row);
  }

  movie(id: string): Movie {
    const row = this.repo.movieById(id);
    if (!row) throw problems.notFound("movie_not_found", "no such movie");
    return toMovie(row);
  }

  async createTheater(body: { name: string }): Promise<Theater> {
    const name = body.name.trim();
    if (name === "") throw problems.unprocessable("name_blank", "the name must not be blank", [{ field: "/name", message: "blank" }]);
    const row: TheaterRow = { id: Bun.randomUUIDv7(), name, name_key: name.normalize("NFC").toLowerCase(), created_at: Date.now() };
    await this.writer.write(() => {
      if (this.repo.theaterByName(row.name_key)) throw problems.conflict("theater_name_taken", `a theater named "${name}" exists`);
      this.repo.insertTheater(row);
    });
    return toTheater(row);
  }

  theaters(): Theater[] {
    return this.repo.theaters().map(toTheater);
  }

  /** endTime = startTime + the movie's running time; 409 when it overlaps another screening in the theater. */
  async createScreening(body: CreateScreeningBody): Promise<Screening> {
    const start = Date.parse(body.startTime);
    if (!Number.isFinite(start)) {
      throw problems.unprocessable("invalid_start_time", "startTime is not a date-time", [{ field: "/startTime", message: "not a date-time" }]);
    }
    const now = Date.now();
    const id = Bun.randomUUIDv7();
    await this.writer.write(() => {
      const movie = this.repo.movieById(body.movieId);
      if (!movie) throw problems.notFound("movie_not_found", "no such movie");
      if (!this.repo.theaterById(body.theaterId)) throw problems.notFound("theater_not_found", "no such theater");
      const end = start + movie.running_time * 60_000;
      const clash = this.repo.overlappingScreening(body.theaterId, start, end);
      if (clash) {
        throw problems.conflict("screening_overlaps", `the theater is busy from ${iso(clash.start_time)} to ${iso(clash.end_time)}`, {
          screeningId: clash.id,
        });
      }
      this.repo.insertScreening({ id, movie_id: movie.id, theater_id: body.theaterId, start_time: start, end_time: end, created_at: now });
    });
    await this.catalogChanged();
    return this.screening(id);
  }

  screening(id: string): Screening {
    const row = this.repo.screening(id);
    if (!row) throw problems.notFound("screening_not_found", "no such screening");
    return toScreening(row);
  }

  seatMap(screeningId: string): SeatMap {
    if (!this.repo.screening(screeningId)) throw problems.notFound("screening_not_found", "no such screening");
    const taken = new Set(this.repo.takenSeats(screeningId));
    return {
      screeningId,
      rows: [...seatRows],
      columns: seatColumns,
      taken: allSeats.filter((s) => taken.has(s)),
      available: allSeats.filter((s) => !taken.has(s)),
    };
  }

  /** After a committed catalog change. Crash in between: the lists are stale until their TTL (≤ 1 h by default). */
  private async catalogChanged(): Promise<void> {
    await this.cache.bump(catalogNamespace);
  }

  // ---------------------------------------------------------------------------------------------
  // Now showing

  /** GET /movies for one client: counts against the per-IP limit (429 once blocked). */
  async admitListRequest(ip: string | null): Promise<void> {
    const rule = this.settings.moviesRateRule;
    if (!rule) return;
    const result = await this.limiter.hit(`movies:ip:${ip ?? "unknown"}`, rule).catch((err: unknown) => {
      // A read must not fail because the limiter's store is down: let it through, say so.
      this.logger.warn("movies rate limiter unavailable; request let through", { err });
      return null;
    });
    if (result && !result.allowed) {
      throw problems.tooManyRequests("movies_rate_limited", result.retryAfterMs, "too many movie list requests from this address; try again later");
    }
  }

  /**
   * Movies released on or before today (UTC) with screenings from now on, newest release first,
   * each with its upcoming screenings by start time — as the encoded JSON body, because the
   * cached lists are kept encoded: a hit costs no parse, no validation and no serialization.
   *
   * Lists without a title filter are cached per genre. An entry is good until the first of its
   * screenings starts (or the UTC day ends, when "released by today" changes): a reader that finds
   * it past that point drops it and loads afresh, so the list is exact at any moment; catalog
   * changes move every entry to a new generation.
   */
  async nowShowingJson(query: NowShowingQuery, now = Date.now()): Promise<string> {
    const genre = query.genre === undefined ? undefined : knownGenre(query.genre);
    const title = query.title?.trim() ?? "";
    const filter: NowShowingFilter = { today: utcDay(now), now, ...(genre ? { genre } : {}) };
    if (title !== "") return encodeList(this.loadNowShowing({ ...filter, titleKey: titleKey(title) }));
    const ttl = this.settings.moviesCacheTtlMs;
    if (ttl === 0) return encodeList(this.loadNowShowing(filter));
    const generation = await this.cache.generation(catalogNamespace);
    const key = `${catalogNamespace}@${generation}:now-showing:${filter.today}:${genre ?? "*"}`;
    const load = (at: number): CachedList => {
      const items = this.loadNowShowing({ ...filter, now: at });
      return { body: encodeList(items), validUntil: Math.min(nextUtcMidnight(at), firstStart(items)) };
    };
    let cached = await this.cache.getOrLoad(nowShowingCacheName, key, listTtlMs(now, ttl), () => load(now));
    if (Date.now() >= cached.validUntil) {
      // A screening in it has started since it was cached: replace it.
      await this.cache.invalidate(key);
      cached = await this.cache.getOrLoad(nowShowingCacheName, key, listTtlMs(Date.now(), ttl), () => load(Date.now()));
    }
    const at = Date.now();
    // Only when a reload raced another start (or the clocks of two instances disagree).
    if (at >= cached.validUntil) return encodeList(upcomingOnly((JSON.parse(cached.body) as NowShowing).items, at));
    return cached.body;
  }

  /** The decoded list (tests and internal callers). */
  async nowShowing(query: NowShowingQuery, now = Date.now()): Promise<NowShowing> {
    return JSON.parse(await this.nowShowingJson(query, now)) as NowShowing;
  }

  private loadNowShowing(filter: NowShowingFilter): NowShowingMovie[] {
    const items: NowShowingMovie[] = [];
    let current: NowShowingMovie | undefined;
    for (const r of this.repo.nowShowingRows(filter)) {
      if (current?.id !== r.id) {
        current = {
          id: r.id,
          title: r.title,
          grade: r.grade,
          genre: r.genre,
          releaseDate: r.release_date,
          thumbnailUrl: r.thumbnail_url,
          runningTime: r.running_time,
          screenings: [],
        };
        items.push(current);
      }
      current.screenings.push({ id: r.screening_id, theaterName: r.theater_name, startTime: iso(r.start_time), endTime: iso(r.end_time) });
    }
    return items;
  }

  /** The query plans of the now-showing shapes (for the index test and `EXPLAIN` curiosity). */
  nowShowingPlan(filter: { genre?: Genre; title?: string }): string[] {
    const now = Date.now();
    return this.repo.nowShowingPlan({
      today: utcDay(now),
      now,
      ...(filter.genre ? { genre: filter.genre } : {}),
      ...(filter.title ? { titleKey: titleKey(filter.title) } : {}),
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Booking

  async book(principal: Principal, body: BookBody): Promise<Reservation> {
    try {
      const seats = contiguousSeats(body.seats);
      const screening = this.repo.screening(body.screeningId);
      if (!screening) throw problems.notFound("screening_not_found", "no such screening");
      if (screening.start_time <= Date.now()) {
        throw problems.unprocessable("screening_started", "this screening has already started", [{ field: "/screeningId", message: "in the past" }]);
      }
      const rule = this.settings.bookingRateRule;
      if (rule) {
        // Fast refusal without queueing; the decisive check runs under the lock.
        const peek = await this.limiter.peek(bookingKey(principal.userId, screening.id), rule).catch((err: unknown) => {
          throw this.unavailable(err);
        });
        if (!peek.allowed) throw bookingRateLimited(peek.retryAfterMs);
      }
      const reservation = await new Promise<Reservation>((resolve, reject) =>
        this.enqueue({ userId: principal.userId, screening, seats, resolve, reject }),
      );
      this.bookings.inc({ outcome: "confirmed" });
      return reservation;
    } catch (err) {
      this.bookings.inc({ outcome: err instanceof HttpProblem ? outcomeOf(err) : "error" });
      throw err;
    }
  }

  private enqueue(job: BookingJob): void {
    const id = job.screening.id;
    const queue = this.queues.get(id);
    if (queue) {
      queue.jobs.push(job);
      return;
    }
    const fresh: ScreeningQueue = { jobs: [job] };
    this.queues.set(id, fresh);
    void this.drain(id, fresh);
  }

  /** Runs the screening's queued bookings batch by batch, each batch under the screening's lock. */
  private async drain(screeningId: string, queue: ScreeningQueue): Promise<void> {
    try {
      while (queue.jobs.length > 0) {
        const batch = queue.jobs.splice(0, maxBatch);
        try {
          const ran = await withLock(
            this.locks,
            `reservations:screening:${screeningId}`,
            { ttlMs: this.settings.lockTtlMs, waitMs: this.settings.lockWaitMs },
            (_lease, signal) => this.runBatch(batch, signal),
          );
          if (ran === null) {
            const busy = new HttpProblem(503, "screening_busy", "bookings for this screening are busy; try again", {}, { "retry-after": "1" });
            for (const job of batch) job.reject(busy);
          }
        } catch (err) {
          // The lock's backend (Redis) failed: refuse rather than book unserialized.
          const problem = this.unavailable(err);
          for (const job of batch) job.reject(problem);
        }
      }
    } finally {
      // Nothing can be queued between the loop's last check and here (no await in between).
      this.queues.delete(screeningId);
    }
  }

  /** One batch under the lock. Settles every job; never throws. */
  private async runBatch(batch: BookingJob[], signal: AbortSignal): Promise<true> {
    const rule = this.settings.bookingRateRule;
    const quota = new Map<string, { left: number; retryAfterMs: number }>();
    try {
      if (rule) {
        const keys = [...new Set(batch.map((j) => bookingKey(j.userId, j.screening.id)))];
        const peeks = await Promise.all(keys.map((k) => this.limiter.peek(k, rule)));
        keys.forEach((k, i) => {
          const p = peeks[i]!;
          quota.set(k, { left: p.allowed ? p.remaining : 0, retryAfterMs: p.allowed ? rule.windowMs : p.retryAfterMs });
        });
      }
    } catch (err) {
      const problem = this.unavailable(err);
      for (const job of batch) job.reject(problem);
      return true;
    }
    if (signal.aborted) {
      const problem = this.unavailable(signal.reason);
      for (const job of batch) job.reject(problem);
      return true;
    }
    // Queued in one tick: the group-commit writer runs them in one transaction, each in its
    // own savepoint and in order, so each sees the seats the previous ones took.
    const now = Date.now();
    const writes = batch.map((job) => this.writer.write(() => this.bookInTransaction(job, quota, now)));
    const settled = await Promise.allSettled(writes);
    const confirmed: BookingJob[] = [];
    settled.forEach((result, i) => {
      const job = batch[i]!;
      if (result.status === "fulfilled") {
        confirmed.push(job);
        job.resolve(result.value);
      } else if (isConstraintError(result.reason)) {
        // Only a writer that bypassed the lock gets here; the primary key held.
        job.reject(problems.conflict("seats_taken", "some of these seats were just taken", { seats: job.seats }));
      } else job.reject(result.reason);
    });
    if (rule) {
      // Only a booking that succeeded uses up the user's slot for the screening.
      await Promise.all(
        confirmed.map((job) =>
          this.limiter.hit(bookingKey(job.userId, job.screening.id), rule).catch((err: unknown) => {
            this.logger.warn("booking rate limit not recorded (limiter unavailable)", { userId: job.userId, screeningId: job.screening.id, err });
          }),
        ),
      );
    }
    return true;
  }

  /** In the writer's transaction: all checks against committed state, then the rows and the event. */
  private bookInTransaction(job: BookingJob, quota: Map<string, { left: number; retryAfterMs: number }>, now: number): Reservation {
    const { userId, screening, seats } = job;
    const key = bookingKey(userId, screening.id);
    const slot = quota.get(key);
    if (slot && slot.left <= 0) throw bookingRateLimited(slot.retryAfterMs);
    const held = this.repo.userSeatCount(userId, screening.id);
    if (held + seats.length > maxSeatsPerUser) {
      throw problems.conflict(
        "seat_limit_reached",
        `you hold ${held} seat(s) for this screening; at most ${maxSeatsPerUser} per person`,
        { held, limit: maxSeatsPerUser },
      );
    }
    const taken = new Set(this.repo.takenSeats(screening.id));
    const clash = seats.filter((s) => taken.has(s));
    if (clash.length > 0) {
      throw problems.conflict("seats_taken", `seat${clash.length > 1 ? "s" : ""} ${clash.join(", ")} ${clash.length > 1 ? "are" : "is"} taken`, {
        seats: clash,
      });
    }
    const id = Bun.randomUUIDv7();
    this.repo.insertReservation({ id, user_id: userId, screening_id: screening.id, seats: seats.join(","), seat_count: seats.length, created_at: now }, seats);
    const payload: ReservationConfirmed = {
      reservationId: id,
      userId,
      screeningId: screening.id,
      movieTitle: screening.movie_title,
      theaterName: screening.theater_name,
      startTime: iso(screening.start_time),
      seats,
      confirmedAt: iso(now),
    };
    this.events.emit(reservationEvents.reservationConfirmed, payload);
    if (slot) slot.left--;
    return {
      id,
      screeningId: screening.id,
      movieId: screening.movie_id,
      movieTitle: screening.movie_title,
      theaterName: screening.theater_name,
      startTime: iso(screening.start_time),
      endTime: iso(screening.end_time),
      seats,
      status: "confirmed",
      createdAt: iso(now),
      cancelledAt: null,
    };
  }

  private unavailable(err: unknown): HttpProblem {
    this.logger.warn("booking refused: lock or rate-limit backend unavailable", { err });
    return new HttpProblem(503, "booking_unavailable", "bookings are briefly unavailable; try again", {}, { "retry-after": "1" });
  }

  // ---------------------------------------------------------------------------------------------
  // The caller's reservations

  myReservations(principal: Principal, limit: number, cursor: string | undefined): ReservationPage {
    let after: { createdAt: number; id: string } | null = null;
    if (cursor !== undefined) {
      const [ms, id] = Buffer.from(cursor, "base64url").toString("utf8").split("|");
      const createdAt = Number(ms);
      if (!id || !Number.isSafeInteger(createdAt)) throw problems.badRequest("invalid_cursor", "the cursor is not one this server issued");
      after = { createdAt, id };
    }
    const rows = this.repo.userReservations(principal.userId, after, limit + 1);
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    const nextCursor = rows.length > limit && last ? Buffer.from(`${last.created_at}|${last.id}`).toString("base64url") : null;
    return { items: page.map(toReservation), nextCursor };
  }

  reservation(principal: Principal, id: string): Reservation {
    const row = this.repo.reservation(id);
    // Someone else's reservation is indistinguishable from none.
    if (!row || row.user_id !== principal.userId) throw problems.notFound("reservation_not_found", "no such reservation");
    return toReservation(row);
  }

  /** Cancels before the screening starts and frees the seats. Cancelling a cancelled one is a no-op. */
  async cancel(principal: Principal, id: string): Promise<void> {
    await this.writer.write(() => {
      const now = Date.now();
      const row = this.repo.reservation(id);
      if (!row || row.user_id !== principal.userId) throw problems.notFound("reservation_not_found", "no such reservation");
      if (row.status === "cancelled") return;
      if (row.start_time <= now) throw problems.conflict("screening_started", "a reservation can be cancelled only before its screening starts");
      this.cancelInTransaction(row.id, row.user_id, row.screening_id, row.seats.split(","), "user", now);
    });
  }

  private cancelInTransaction(id: string, userId: string, screeningId: string, seats: string[], reason: ReservationCancelled["reason"], now: number): void {
    if (!this.repo.cancelReservation(id, screeningId, now)) return;
    const payload: ReservationCancelled = { reservationId: id, userId, screeningId, seats, reason, cancelledAt: iso(now) };
    this.events.emit(reservationEvents.reservationCancelled, payload);
  }

  // ---------------------------------------------------------------------------------------------
  // Event handlers

  async sendConfirmation(eventId: string, e: ReservationConfirmed): Promise<void> {
    await this.notifier.send({ id: eventId, userId: e.userId, reservationId: e.reservationId, message: confirmationMessage(e) });
  }

  recordConfirmation(eventId: string, e: ReservationConfirmed): void {
    this.repo.insertNotification({
      event_id: eventId,
      reservation_id: e.reservationId,
      user_id: e.userId,
      channel: this.notifier.channel,
      message: confirmationMessage(e),
      sent_at: Date.now(),
    });
  }

  /** A deleted account's upcoming reservations are cancelled so their seats go back on sale. */
  applyUserDeleted(e: UserDeleted): void {
    const now = Date.now();
    for (const r of this.repo.upcomingReservationsOf(e.userId, now)) {
      this.cancelInTransaction(r.id, r.user_id, r.screening_id, r.seats.split(","), "user_deleted", now);
    }
  }

  /** Confirmations recorded as sent for a reservation (tests, support). */
  notificationsOf(reservationId: string) {
    return this.repo.notificationsOf(reservationId);
  }

  movieCount(): number {
    return this.repo.movieCount();
  }

  theaterByName(name: string): Theater | null {
    const row = this.repo.theaterByName(name.normalize("NFC").toLowerCase());
    return row ? toTheater(row) : null;
  }
}

function knownGenre(raw: string): Genre {
  if ((genres as readonly string[]).includes(raw)) return raw as Genre;
  throw problems.unprocessable("unknown_genre", `unknown genre "${raw.slice(0, 32)}"`, [{ field: "/genre", message: `must be one of ${genres.join(", ")}` }]);
}

function titleKey(title: string): string {
  return title.normalize("NFC").toLowerCase();
}

function bookingKey(userId: string, screeningId: string): string {
  return `booking:${userId}:${screeningId}`;
}

function bookingRateLimited(retryAfterMs: number): HttpProblem {
  return problems.tooManyRequests("booking_rate_limited", retryAfterMs, "you booked this screening recently; try again later");
}

function outcomeOf(err: HttpProblem): string {
  if (err.code === "seats_taken" || err.code === "seat_limit_reached" || err.code === "booking_rate_limited") {
    return err.code === "booking_rate_limited" ? "rate_limited" : err.code;
  }
  if (err.status === 503) return "busy";
  return "invalid";
}

interface CachedList {
  /** The encoded { items } body. */
  body: string;
  /** Epoch ms when it stops being exact: its first screening starts, or the UTC day ends. */
  validUntil: number;
}

function encodeList(items: NowShowingMovie[]): string {
  return JSON.stringify({ items } satisfies NowShowing);
}

function nextUtcMidnight(now: number): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
}

/** The earliest start among the lists' screenings (each movie's are sorted); Infinity when none. */
function firstStart(items: NowShowingMovie[]): number {
  let first = Infinity;
  for (const movie of items) {
    const start = movie.screenings[0] ? Date.parse(movie.screenings[0].startTime) : Infinity;
    if (start < first) first = start;
  }
  return first;
}

/** A cached list as of now: screenings that started since it was cached dropped, then movies left without any. */
function upcomingOnly(items: NowShowingMovie[], now: number): NowShowingMovie[] {
  const cutoff = iso(now);
  const out: NowShowingMovie[] = [];
  for (const movie of items) {
    // ISO-8601 UTC strings of one format compare like the instants they name.
    const first = movie.screenings.findIndex((s) => s.startTime > cutoff);
    if (first === -1) continue;
    out.push(first === 0 ? movie : { ...movie, screenings: movie.screenings.slice(first) });
  }
  return out;
}
