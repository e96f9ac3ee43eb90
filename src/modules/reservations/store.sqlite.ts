// The SQLite reservations store (store.ts). Reads are prepared statements whose columns are
// aliased to the record fields, so most rows are records as they come; every write runs inside
// GroupCommitWriter.write(), so it commits with its outbox rows as one unit.
import type { Database, Statement } from "bun:sqlite";
import { LRUCache } from "lru-cache";
import type { GroupCommitWriter } from "../../platform/db/sqlite";
import { reservationEvents, type ReservationCancelled, type ReservationsEventSink } from "./events";
import type { ReservationStatus } from "./model";
import type {
  BookingAttempt,
  BookingResult,
  StagedBooking,
  CancelDecision,
  MovieRecord,
  NotificationRecord,
  NowShowingEntry,
  NowShowingFilter,
  ReservationRecord,
  ReservationView,
  ReservationsStore,
  ScreeningInsert,
  ScreeningRecord,
  ScreeningView,
  TheaterRecord,
} from "./store";

/** Longest running time (minutes, the CHECK in the migration): bounds the overlap search. */
const maxRunningMs = 600 * 60_000;

const movieColumns = `id, title, title_key AS titleKey, grade, genre, release_date AS releaseDate,
  thumbnail_url AS thumbnailUrl, running_time AS runningTime, created_at AS createdAt`;
const theaterColumns = "id, name, name_key AS nameKey, created_at AS createdAt";
const screeningColumns = "s.id, s.movie_id AS movieId, s.theater_id AS theaterId, s.start_time AS startTime, s.end_time AS endTime, s.created_at AS createdAt";

const nowShowingSql = (genre: boolean, title: boolean) => `
  SELECT m.id, m.title, m.grade, m.genre, m.release_date AS releaseDate, m.thumbnail_url AS thumbnailUrl,
         m.running_time AS runningTime, s.id AS screeningId, t.name AS theaterName,
         s.start_time AS startTime, s.end_time AS endTime
  FROM movies m
  JOIN screenings s ON s.movie_id = m.id AND s.start_time > $now
  JOIN theaters t ON t.id = s.theater_id
  WHERE m.release_date <= $today
  ${genre ? "AND m.genre = $genre" : ""}
  ${title ? "AND instr(m.title_key, $title) > 0" : ""}
  ORDER BY m.release_date DESC, m.id, s.start_time, s.id`;

const reservationViewSql = `
  SELECT r.id, r.user_id, r.screening_id, r.seats, r.status, r.created_at, r.cancelled_at,
         s.movie_id, s.start_time, s.end_time, m.title AS movie_title, t.name AS theater_name
  FROM reservations r
  JOIN screenings s ON s.id = r.screening_id
  JOIN movies m ON m.id = s.movie_id
  JOIN theaters t ON t.id = s.theater_id`;

interface ReservationRow {
  id: string;
  user_id: string;
  screening_id: string;
  /** "A1,A2" */
  seats: string;
  status: ReservationStatus;
  created_at: number;
  cancelled_at: number | null;
}

interface ReservationViewRow extends ReservationRow {
  movie_id: string;
  movie_title: string;
  theater_name: string;
  start_time: number;
  end_time: number;
}

const toReservation = (r: ReservationRow): ReservationRecord => ({
  id: r.id,
  userId: r.user_id,
  screeningId: r.screening_id,
  seats: r.seats.split(","),
  status: r.status,
  createdAt: r.created_at,
  cancelledAt: r.cancelled_at,
});

const toReservationView = (r: ReservationViewRow): ReservationView => ({
  ...toReservation(r),
  movieId: r.movie_id,
  movieTitle: r.movie_title,
  theaterName: r.theater_name,
  startTime: r.start_time,
  endTime: r.end_time,
});

function isConstraintError(err: unknown): boolean {
  return typeof (err as { code?: unknown })?.code === "string" && (err as { code: string }).code.startsWith("SQLITE_CONSTRAINT");
}

type NowShowingParams = { now: number; today: string; genre?: string; title?: string };
type Shape = "none" | "genre" | "title" | "both";

function shape(f: NowShowingFilter): Shape {
  if (f.genre !== undefined) return f.titleKey !== undefined ? "both" : "genre";
  return f.titleKey !== undefined ? "title" : "none";
}

function params(f: NowShowingFilter): NowShowingParams {
  return {
    now: f.now,
    today: f.today,
    ...(f.genre !== undefined ? { genre: f.genre } : {}),
    ...(f.titleKey !== undefined ? { title: f.titleKey } : {}),
  };
}

export class SqliteReservationsStore implements ReservationsStore {
  private readonly q;
  /** The four shapes of the now-showing query (genre and/or title filter), so each keeps its index plan. */
  private readonly nowShowingQueries: Record<Shape, Statement<NowShowingEntry, [NowShowingParams]>>;
  /**
   * Screenings as booked: a screening, its movie's title and its theater's name never change
   * once inserted (nothing updates or deletes them), so a found one is kept; one not found is
   * asked again. The join was ~6 % of a booking under contention.
   */
  private readonly screenings = new LRUCache<string, ScreeningView>({ max: 10_000 });

  constructor(
    private readonly db: Database,
    private readonly writer: GroupCommitWriter,
    private readonly events: ReservationsEventSink,
  ) {
    this.nowShowingQueries = {
      none: db.query(nowShowingSql(false, false)),
      genre: db.query(nowShowingSql(true, false)),
      title: db.query(nowShowingSql(false, true)),
      both: db.query(nowShowingSql(true, true)),
    };
    this.q = {
      insertMovie: db.query<unknown, [string, string, string, string, string, string, string, number, number]>(
        `INSERT INTO movies (id, title, title_key, grade, genre, release_date, thumbnail_url, running_time, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      movieById: db.query<MovieRecord, [string]>(`SELECT ${movieColumns} FROM movies WHERE id = ?`),
      movieCount: db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM movies"),
      insertTheater: db.query<unknown, [string, string, string, number]>("INSERT INTO theaters (id, name, name_key, created_at) VALUES (?, ?, ?, ?)"),
      theaterById: db.query<TheaterRecord, [string]>(`SELECT ${theaterColumns} FROM theaters WHERE id = ?`),
      theaterByName: db.query<TheaterRecord, [string]>(`SELECT ${theaterColumns} FROM theaters WHERE name_key = ?`),
      theaters: db.query<TheaterRecord, []>(`SELECT ${theaterColumns} FROM theaters ORDER BY name_key`),
      insertScreening: db.query<unknown, [string, string, string, number, number, number]>(
        "INSERT INTO screenings (id, movie_id, theater_id, start_time, end_time, created_at) VALUES (?, ?, ?, ?, ?, ?)",
      ),
      // Half-open intervals [start, end): back-to-back screenings don't overlap. The lower
      // bound on start_time keeps the index range short (no screening is longer than maxRunningMs).
      overlapping: db.query<ScreeningRecord, [string, number, number, number]>(
        `SELECT ${screeningColumns} FROM screenings s
         WHERE s.theater_id = ? AND s.start_time > ? AND s.start_time < ? AND s.end_time > ?
         ORDER BY s.start_time LIMIT 1`,
      ),
      screeningView: db.query<ScreeningView, [string]>(
        `SELECT ${screeningColumns}, m.title AS movieTitle, t.name AS theaterName
         FROM screenings s JOIN movies m ON m.id = s.movie_id JOIN theaters t ON t.id = s.theater_id WHERE s.id = ?`,
      ),
      takenSeats: db.query<{ seat: string }, [string]>("SELECT seat FROM reservation_seats WHERE screening_id = ?"),
      userSeatCount: db.query<{ n: number }, [string, string]>(
        "SELECT COALESCE(SUM(seat_count), 0) AS n FROM reservations WHERE user_id = ? AND screening_id = ? AND status = 'confirmed'",
      ),
      insertReservation: db.query<unknown, [string, string, string, string, number, number]>(
        `INSERT INTO reservations (id, user_id, screening_id, seats, seat_count, status, created_at)
         VALUES (?, ?, ?, ?, ?, 'confirmed', ?)`,
      ),
      insertSeat: db.query<unknown, [string, string, string]>("INSERT INTO reservation_seats (screening_id, seat, reservation_id) VALUES (?, ?, ?)"),
      reservationView: db.query<ReservationViewRow, [string]>(`${reservationViewSql} WHERE r.id = ?`),
      userReservations: db.query<ReservationViewRow, [string, number, number, string, number]>(
        `${reservationViewSql} WHERE r.user_id = ? AND (r.created_at < ? OR (r.created_at = ? AND r.id < ?))
         ORDER BY r.created_at DESC, r.id DESC LIMIT ?`,
      ),
      upcomingOfUser: db.query<ReservationRow, [string, number]>(
        `SELECT r.id, r.user_id, r.screening_id, r.seats, r.status, r.created_at, r.cancelled_at
         FROM reservations r JOIN screenings s ON s.id = r.screening_id
         WHERE r.user_id = ? AND r.status = 'confirmed' AND s.start_time > ?`,
      ),
      cancel: db.query<unknown, [number, string]>("UPDATE reservations SET status = 'cancelled', cancelled_at = ? WHERE id = ? AND status = 'confirmed'"),
      freeSeats: db.query<unknown, [string, string]>("DELETE FROM reservation_seats WHERE screening_id = ? AND reservation_id = ?"),
      insertNotification: db.query<unknown, [string, string, string, string, string, number]>(
        `INSERT OR IGNORE INTO reservation_notifications (event_id, reservation_id, user_id, channel, message, sent_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      ),
      notificationsOf: db.query<NotificationRecord, [string]>(
        `SELECT event_id AS eventId, reservation_id AS reservationId, user_id AS userId, channel, message, sent_at AS sentAt
         FROM reservation_notifications WHERE reservation_id = ? ORDER BY sent_at`,
      ),
    };
  }

  // Catalog

  async insertMovie(m: MovieRecord): Promise<void> {
    await this.writer.write(() => {
      this.q.insertMovie.run(m.id, m.title, m.titleKey, m.grade, m.genre, m.releaseDate, m.thumbnailUrl, m.runningTime, m.createdAt);
    });
  }

  async movie(id: string): Promise<MovieRecord | null> {
    return this.q.movieById.get(id);
  }

  async movieCount(): Promise<number> {
    return this.q.movieCount.get()!.n;
  }

  insertTheater(t: TheaterRecord): Promise<boolean> {
    return this.writer.write(() => {
      if (this.q.theaterByName.get(t.nameKey)) return false;
      this.q.insertTheater.run(t.id, t.name, t.nameKey, t.createdAt);
      return true;
    });
  }

  async theaterByNameKey(nameKey: string): Promise<TheaterRecord | null> {
    return this.q.theaterByName.get(nameKey);
  }

  async theaters(): Promise<TheaterRecord[]> {
    return this.q.theaters.all();
  }

  insertScreening(s: ScreeningRecord): Promise<ScreeningInsert> {
    return this.writer.write((): ScreeningInsert => {
      if (!this.q.movieById.get(s.movieId)) return { kind: "movie_not_found" };
      if (!this.q.theaterById.get(s.theaterId)) return { kind: "theater_not_found" };
      const clash = this.q.overlapping.get(s.theaterId, s.startTime - maxRunningMs, s.endTime, s.startTime);
      if (clash) return { kind: "overlaps", clash };
      this.q.insertScreening.run(s.id, s.movieId, s.theaterId, s.startTime, s.endTime, s.createdAt);
      return { kind: "inserted", screening: this.q.screeningView.get(s.id)! };
    });
  }

  async screening(id: string): Promise<ScreeningView | null> {
    const known = this.screenings.get(id);
    if (known !== undefined) return known;
    const row = this.q.screeningView.get(id);
    if (row !== null) this.screenings.set(id, Object.freeze(row));
    return row;
  }

  async takenSeats(screeningId: string): Promise<string[]> {
    return this.takenSeatsSync(screeningId);
  }

  async seatsHeld(userId: string, screeningId: string): Promise<number> {
    return this.q.userSeatCount.get(userId, screeningId)!.n;
  }

  private takenSeatsSync(screeningId: string): string[] {
    return this.q.takenSeats.all(screeningId).map((r) => r.seat);
  }

  // Now showing

  async nowShowing(filter: NowShowingFilter): Promise<NowShowingEntry[]> {
    return this.nowShowingQueries[shape(filter)].all(params(filter));
  }

  async nowShowingPlan(filter: NowShowingFilter): Promise<string[]> {
    const sql = nowShowingSql(filter.genre !== undefined, filter.titleKey !== undefined);
    const stmt = this.db.prepare<{ detail: string }, [NowShowingParams]>(`EXPLAIN QUERY PLAN ${sql}`);
    try {
      return stmt.all(params(filter)).map((r) => r.detail);
    } finally {
      stmt.finalize();
    }
  }

  // Booking

  book<R>(attempts: BookingAttempt<R>[]): StagedBooking<R> {
    // Queued in one tick (no await before the last write): the group-commit writer runs them in
    // one transaction, each in its own savepoint and in order.
    const writes = attempts.map((attempt) => this.writer.writeStaged(() => this.bookInTransaction(attempt)));
    const decided = Promise.allSettled(writes.map((w) => w.committed)).then((settled) =>
      settled.map((result): BookingResult<R> => {
        if (result.status === "fulfilled") return result.value;
        return isConstraintError(result.reason) ? { kind: "seat_conflict" } : { kind: "failed", error: result.reason };
      }),
    );
    // Every write of the group has committed (or rolled back) once decided: the writer's next
    // sync covers them all.
    const durable = decided.then(() => this.writer.durable());
    durable.catch(() => undefined);
    return { decided, durable };
  }

  private bookInTransaction<R>(attempt: BookingAttempt<R>): BookingResult<R> {
    const r = attempt.reservation;
    const refusal = attempt.refusal({
      heldByUser: this.q.userSeatCount.get(r.userId, r.screeningId)!.n,
      taken: new Set(this.takenSeatsSync(r.screeningId)),
    });
    if (refusal !== null) return { kind: "refused", refusal };
    this.q.insertReservation.run(r.id, r.userId, r.screeningId, r.seats.join(","), r.seats.length, r.createdAt);
    // A seat someone holds fails the (screening, seat) primary key: the savepoint rolls back.
    for (const seat of r.seats) this.q.insertSeat.run(r.screeningId, seat, r.id);
    this.events.emit(reservationEvents.reservationConfirmed, attempt.booked());
    return { kind: "booked" };
  }

  // The caller's reservations

  async reservation(id: string): Promise<ReservationView | null> {
    const row = this.q.reservationView.get(id);
    return row ? toReservationView(row) : null;
  }

  async userReservations(userId: string, after: { createdAt: number; id: string } | null, limit: number): Promise<ReservationView[]> {
    const at = after?.createdAt ?? Number.MAX_SAFE_INTEGER;
    return this.q.userReservations.all(userId, at, at, after?.id ?? "\uffff", limit).map(toReservationView);
  }

  cancelReservation<T>(id: string, decide: (current: ReservationView | null) => CancelDecision<T>): Promise<T> {
    return this.writer.write(() => {
      const row = this.q.reservationView.get(id);
      const current = row ? toReservationView(row) : null;
      const decision = decide(current);
      if (decision.cancel && current) this.cancelInTransaction(current.id, current.screeningId, decision.cancel.at, decision.cancel.event);
      return decision.result;
    });
  }

  cancelUpcomingOfUserSync(userId: string, now: number, event: (r: ReservationRecord) => ReservationCancelled): void {
    for (const row of this.q.upcomingOfUser.all(userId, now)) {
      const r = toReservation(row);
      this.cancelInTransaction(r.id, r.screeningId, now, event(r));
    }
  }

  /** Marks it cancelled, frees its seats and emits the event; nothing when it was not confirmed. */
  private cancelInTransaction(id: string, screeningId: string, at: number, event: ReservationCancelled): void {
    if (this.q.cancel.run(at, id).changes !== 1) return;
    this.q.freeSeats.run(screeningId, id);
    this.events.emit(reservationEvents.reservationCancelled, event);
  }

  recordNotificationSync(n: NotificationRecord): void {
    this.q.insertNotification.run(n.eventId, n.reservationId, n.userId, n.channel, n.message, n.sentAt);
  }

  async notificationsOf(reservationId: string): Promise<NotificationRecord[]> {
    return this.q.notificationsOf.all(reservationId);
  }
}
