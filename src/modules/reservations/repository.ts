// What the reservations service needs from storage, and its SQLite implementation. Reads are
// prepared statements; writes are synchronous functions the service runs inside
// GroupCommitWriter.write(), so they commit (with their outbox rows) as one unit.
import type { Database, Statement } from "bun:sqlite";
import type { Genre, Grade, ReservationStatus } from "./model";

export interface MovieRow {
  id: string;
  title: string;
  title_key: string;
  grade: Grade;
  genre: Genre;
  release_date: string;
  thumbnail_url: string;
  running_time: number;
  created_at: number;
}

export interface TheaterRow {
  id: string;
  name: string;
  name_key: string;
  created_at: number;
}

export interface ScreeningRow {
  id: string;
  movie_id: string;
  theater_id: string;
  start_time: number;
  end_time: number;
  created_at: number;
}

export interface ScreeningViewRow extends ScreeningRow {
  movie_title: string;
  theater_name: string;
}

/** One row per (movie, upcoming screening) of the now-showing query. */
export interface NowShowingRow {
  id: string;
  title: string;
  grade: Grade;
  genre: Genre;
  release_date: string;
  thumbnail_url: string;
  running_time: number;
  screening_id: string;
  theater_name: string;
  start_time: number;
  end_time: number;
}

export interface ReservationRow {
  id: string;
  user_id: string;
  screening_id: string;
  seats: string;
  seat_count: number;
  status: ReservationStatus;
  created_at: number;
  cancelled_at: number | null;
}

export interface ReservationViewRow extends ReservationRow {
  movie_id: string;
  movie_title: string;
  theater_name: string;
  start_time: number;
  end_time: number;
}

export interface NotificationRow {
  event_id: string;
  reservation_id: string;
  user_id: string;
  channel: string;
  message: string;
  sent_at: number;
}

export interface NowShowingFilter {
  /** YYYY-MM-DD: movies released on or before it. */
  today: string;
  /** Epoch ms: screenings starting after it. */
  now: number;
  genre?: Genre;
  /** Lower-cased substring of the title. */
  titleKey?: string;
}

/** Longest running time (minutes, the CHECK in the migration): bounds the overlap search. */
const maxRunningMs = 600 * 60_000;

const nowShowingSql = (genre: boolean, title: boolean) => `
  SELECT m.id, m.title, m.grade, m.genre, m.release_date, m.thumbnail_url, m.running_time,
         s.id AS screening_id, t.name AS theater_name, s.start_time, s.end_time
  FROM movies m
  JOIN screenings s ON s.movie_id = m.id AND s.start_time > $now
  JOIN theaters t ON t.id = s.theater_id
  WHERE m.release_date <= $today
  ${genre ? "AND m.genre = $genre" : ""}
  ${title ? "AND instr(m.title_key, $title) > 0" : ""}
  ORDER BY m.release_date DESC, m.id, s.start_time, s.id`;

const reservationViewSql = `
  SELECT r.*, s.movie_id, s.start_time, s.end_time, m.title AS movie_title, t.name AS theater_name
  FROM reservations r
  JOIN screenings s ON s.id = r.screening_id
  JOIN movies m ON m.id = s.movie_id
  JOIN theaters t ON t.id = s.theater_id`;

type NowShowingParams = { now: number; today: string; genre?: string; title?: string };

export class ReservationsRepository {
  private readonly q;
  /** The four shapes of the now-showing query (genre and/or title filter), so each keeps its index plan. */
  private readonly nowShowing: Record<"none" | "genre" | "title" | "both", Statement<NowShowingRow, [NowShowingParams]>>;

  constructor(private readonly db: Database) {
    this.nowShowing = {
      none: db.query(nowShowingSql(false, false)),
      genre: db.query(nowShowingSql(true, false)),
      title: db.query(nowShowingSql(false, true)),
      both: db.query(nowShowingSql(true, true)),
    };
    this.q = {
      insertMovie: db.query(
        `INSERT INTO movies (id, title, title_key, grade, genre, release_date, thumbnail_url, running_time, created_at)
         VALUES ($id, $title, $title_key, $grade, $genre, $release_date, $thumbnail_url, $running_time, $created_at)`,
      ),
      movieById: db.query<MovieRow, [string]>("SELECT * FROM movies WHERE id = ?"),
      movieCount: db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM movies"),
      insertTheater: db.query("INSERT INTO theaters (id, name, name_key, created_at) VALUES ($id, $name, $name_key, $created_at)"),
      theaterById: db.query<TheaterRow, [string]>("SELECT * FROM theaters WHERE id = ?"),
      theaterByName: db.query<TheaterRow, [string]>("SELECT * FROM theaters WHERE name_key = ?"),
      theaters: db.query<TheaterRow, []>("SELECT * FROM theaters ORDER BY name_key"),
      insertScreening: db.query(
        `INSERT INTO screenings (id, movie_id, theater_id, start_time, end_time, created_at)
         VALUES ($id, $movie_id, $theater_id, $start_time, $end_time, $created_at)`,
      ),
      // Half-open intervals [start, end): back-to-back screenings don't overlap. The lower
      // bound on start_time keeps the index range short (no screening is longer than maxRunningMs).
      overlapping: db.query<ScreeningRow, [string, number, number, number]>(
        `SELECT * FROM screenings WHERE theater_id = ? AND start_time > ? AND start_time < ? AND end_time > ?
         ORDER BY start_time LIMIT 1`,
      ),
      screeningView: db.query<ScreeningViewRow, [string]>(
        `SELECT s.*, m.title AS movie_title, t.name AS theater_name
         FROM screenings s JOIN movies m ON m.id = s.movie_id JOIN theaters t ON t.id = s.theater_id WHERE s.id = ?`,
      ),
      takenSeats: db.query<{ seat: string }, [string]>("SELECT seat FROM reservation_seats WHERE screening_id = ?"),
      userSeatCount: db.query<{ n: number }, [string, string]>(
        "SELECT COALESCE(SUM(seat_count), 0) AS n FROM reservations WHERE user_id = ? AND screening_id = ? AND status = 'confirmed'",
      ),
      insertReservation: db.query(
        `INSERT INTO reservations (id, user_id, screening_id, seats, seat_count, status, created_at)
         VALUES ($id, $user_id, $screening_id, $seats, $seat_count, 'confirmed', $created_at)`,
      ),
      insertSeat: db.query<unknown, [string, string, string]>(
        "INSERT INTO reservation_seats (screening_id, seat, reservation_id) VALUES (?, ?, ?)",
      ),
      reservationView: db.query<ReservationViewRow, [string]>(`${reservationViewSql} WHERE r.id = ?`),
      userReservations: db.query<ReservationViewRow, [string, number, number, string, number]>(
        `${reservationViewSql} WHERE r.user_id = ? AND (r.created_at < ? OR (r.created_at = ? AND r.id < ?))
         ORDER BY r.created_at DESC, r.id DESC LIMIT ?`,
      ),
      upcomingOfUser: db.query<ReservationRow & { start_time: number }, [string, number]>(
        `SELECT r.*, s.start_time FROM reservations r JOIN screenings s ON s.id = r.screening_id
         WHERE r.user_id = ? AND r.status = 'confirmed' AND s.start_time > ?`,
      ),
      cancel: db.query<unknown, [number, string]>(
        "UPDATE reservations SET status = 'cancelled', cancelled_at = ? WHERE id = ? AND status = 'confirmed'",
      ),
      freeSeats: db.query<unknown, [string, string]>("DELETE FROM reservation_seats WHERE screening_id = ? AND reservation_id = ?"),
      insertNotification: db.query(
        `INSERT OR IGNORE INTO reservation_notifications (event_id, reservation_id, user_id, channel, message, sent_at)
         VALUES ($event_id, $reservation_id, $user_id, $channel, $message, $sent_at)`,
      ),
      notificationsOf: db.query<NotificationRow, [string]>(
        "SELECT * FROM reservation_notifications WHERE reservation_id = ? ORDER BY sent_at",
      ),
    };
  }

  private shape(f: { genre?: unknown; titleKey?: unknown }): keyof ReservationsRepository["nowShowing"] {
    if (f.genre !== undefined) return f.titleKey !== undefined ? "both" : "genre";
    return f.titleKey !== undefined ? "title" : "none";
  }

  private params(f: NowShowingFilter): NowShowingParams {
    return {
      now: f.now,
      today: f.today,
      ...(f.genre !== undefined ? { genre: f.genre } : {}),
      ...(f.titleKey !== undefined ? { title: f.titleKey } : {}),
    };
  }

  nowShowingRows(filter: NowShowingFilter): NowShowingRow[] {
    return this.nowShowing[this.shape(filter)].all(this.params(filter));
  }

  /** EXPLAIN QUERY PLAN of the now-showing query for a filter shape (the index test reads it). */
  nowShowingPlan(filter: NowShowingFilter): string[] {
    const sql = nowShowingSql(filter.genre !== undefined, filter.titleKey !== undefined);
    const stmt = this.db.prepare<{ detail: string }, [NowShowingParams]>(`EXPLAIN QUERY PLAN ${sql}`);
    try {
      return stmt.all(this.params(filter)).map((r) => r.detail);
    } finally {
      stmt.finalize();
    }
  }

  insertMovie(row: MovieRow): void {
    this.q.insertMovie.run({ ...row });
  }
  movieById(id: string): MovieRow | null {
    return this.q.movieById.get(id);
  }
  movieCount(): number {
    return this.q.movieCount.get()!.n;
  }

  insertTheater(row: TheaterRow): void {
    this.q.insertTheater.run({ ...row });
  }
  theaterById(id: string): TheaterRow | null {
    return this.q.theaterById.get(id);
  }
  theaterByName(nameKey: string): TheaterRow | null {
    return this.q.theaterByName.get(nameKey);
  }
  theaters(): TheaterRow[] {
    return this.q.theaters.all();
  }

  insertScreening(row: ScreeningRow): void {
    this.q.insertScreening.run({ ...row });
  }
  /** A screening of the theater overlapping [start, end), or null. */
  overlappingScreening(theaterId: string, start: number, end: number): ScreeningRow | null {
    return this.q.overlapping.get(theaterId, start - maxRunningMs, end, start);
  }
  screening(id: string): ScreeningViewRow | null {
    return this.q.screeningView.get(id);
  }

  takenSeats(screeningId: string): string[] {
    return this.q.takenSeats.all(screeningId).map((r) => r.seat);
  }
  userSeatCount(userId: string, screeningId: string): number {
    return this.q.userSeatCount.get(userId, screeningId)!.n;
  }
  /** Inserts the reservation and its seats; a seat someone holds fails the (screening, seat) primary key. */
  insertReservation(row: Omit<ReservationRow, "status" | "cancelled_at">, seats: string[]): void {
    this.q.insertReservation.run({ ...row });
    for (const seat of seats) this.q.insertSeat.run(row.screening_id, seat, row.id);
  }
  reservation(id: string): ReservationViewRow | null {
    return this.q.reservationView.get(id);
  }
  userReservations(userId: string, after: { createdAt: number; id: string } | null, limit: number): ReservationViewRow[] {
    const at = after?.createdAt ?? Number.MAX_SAFE_INTEGER;
    return this.q.userReservations.all(userId, at, at, after?.id ?? "\uffff", limit);
  }
  upcomingReservationsOf(userId: string, now: number): Array<ReservationRow & { start_time: number }> {
    return this.q.upcomingOfUser.all(userId, now);
  }
  /** Marks it cancelled and frees its seats; false when it was not confirmed. */
  cancelReservation(id: string, screeningId: string, now: number): boolean {
    if (this.q.cancel.run(now, id).changes !== 1) return false;
    this.q.freeSeats.run(screeningId, id);
    return true;
  }

  insertNotification(row: NotificationRow): void {
    this.q.insertNotification.run({ ...row });
  }
  notificationsOf(reservationId: string): NotificationRow[] {
    return this.q.notificationsOf.all(reservationId);
  }
}
