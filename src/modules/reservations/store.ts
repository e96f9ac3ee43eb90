// The port the reservation use cases need from storage: async, one method per use-case unit,
// each write one transaction inside the port (with the outbox events of the same change). The
// use cases decide (the 5-seat rule, who may cancel); the store reads the state they decide on
// and writes the outcome atomically. SQLite: store.sqlite.ts.
import type { ReservationCancelled, ReservationConfirmed } from "./events";
import type { Genre, Grade, ReservationStatus } from "./model";

export interface MovieRecord {
  id: string;
  title: string;
  /** The title after NFC + lower-casing: contains-match is case-insensitive. */
  titleKey: string;
  grade: Grade;
  genre: Genre;
  /** YYYY-MM-DD (UTC). */
  releaseDate: string;
  thumbnailUrl: string;
  /** Minutes. */
  runningTime: number;
  createdAt: number;
}

export interface TheaterRecord {
  id: string;
  name: string;
  /** The name after NFC + lower-casing: unique. */
  nameKey: string;
  createdAt: number;
}

export interface ScreeningRecord {
  id: string;
  movieId: string;
  theaterId: string;
  startTime: number;
  endTime: number;
  createdAt: number;
}

export interface ScreeningView extends ScreeningRecord {
  movieTitle: string;
  theaterName: string;
}

/** One (movie, upcoming screening) pair of the now-showing list, newest release first, then by start. */
export interface NowShowingEntry {
  id: string;
  title: string;
  grade: Grade;
  genre: Genre;
  releaseDate: string;
  thumbnailUrl: string;
  runningTime: number;
  screeningId: string;
  theaterName: string;
  startTime: number;
  endTime: number;
}

export interface NowShowingFilter {
  /** YYYY-MM-DD: movies released on or before it. */
  today: string;
  /** Epoch ms: screenings starting after it. */
  now: number;
  genre?: Genre;
  /** A title key (NFC, lower-cased) the title must contain. */
  titleKey?: string;
}

export interface ReservationRecord {
  id: string;
  userId: string;
  screeningId: string;
  /** Sorted; kept after a cancel. */
  seats: string[];
  status: ReservationStatus;
  createdAt: number;
  cancelledAt: number | null;
}

export interface ReservationView extends ReservationRecord {
  movieId: string;
  movieTitle: string;
  theaterName: string;
  startTime: number;
  endTime: number;
}

export interface NotificationRecord {
  /** The confirmed event's id: one record per event. */
  eventId: string;
  reservationId: string;
  userId: string;
  channel: string;
  message: string;
  sentAt: number;
}

export type ScreeningInsert =
  | { kind: "inserted"; screening: ScreeningView }
  | { kind: "movie_not_found" }
  | { kind: "theater_not_found" }
  /** Another screening of the theater overlaps [start, end) (half-open: back to back is fine). */
  | { kind: "overlaps"; clash: ScreeningRecord };

/** The screening's committed state a booking is decided on. */
export interface SeatState {
  /** Seats the booking user holds for the screening (confirmed reservations). */
  heldByUser: number;
  /** Seats anyone holds for the screening. */
  taken: ReadonlySet<string>;
}

export interface BookingAttempt<R> {
  reservation: { id: string; userId: string; screeningId: string; seats: string[]; createdAt: number };
  /** In the transaction, on the committed state (the attempts before it included): a refusal writes nothing. */
  refusal(state: SeatState): R | null;
  /** In the transaction once the rows are in: the confirmed event, emitted in the same transaction. */
  booked(): ReservationConfirmed;
}

export type BookingResult<R> =
  | { kind: "booked" }
  | { kind: "refused"; refusal: R }
  /** The (screening, seat) key refused a seat: only a writer that bypassed the screening's lock sees this. */
  | { kind: "seat_conflict" }
  | { kind: "failed"; error: unknown };

export interface StagedBooking<R> {
  decided: Promise<BookingResult<R>[]>;
  durable: Promise<void>;
}

/** What a cancel use case decides on seeing the reservation as committed: its result, and whether to cancel. */
export interface CancelDecision<T> {
  result: T;
  cancel?: { at: number; event: ReservationCancelled };
}

export interface ReservationsStore {
  // Catalog
  insertMovie(movie: MovieRecord): Promise<void>;
  movie(id: string): Promise<MovieRecord | null>;
  movieCount(): Promise<number>;
  /** False (nothing written) when a theater with its name key exists. */
  insertTheater(theater: TheaterRecord): Promise<boolean>;
  theaterByNameKey(nameKey: string): Promise<TheaterRecord | null>;
  theaters(): Promise<TheaterRecord[]>;
  /** One transaction: the movie and the theater exist and the theater is free for the screening's time. */
  insertScreening(screening: ScreeningRecord): Promise<ScreeningInsert>;
  screening(id: string): Promise<ScreeningView | null>;
  takenSeats(screeningId: string): Promise<string[]>;
  /** Seats the user holds for the screening (confirmed reservations), as committed. */
  seatsHeld(userId: string, screeningId: string): Promise<number>;

  // Now showing
  nowShowing(filter: NowShowingFilter): Promise<NowShowingEntry[]>;
  /** How the store runs the now-showing query for a filter's shape (EXPLAIN QUERY PLAN for SQLite). */
  nowShowingPlan(filter: NowShowingFilter): Promise<string[]>;

  // Booking
  /**
   * Each attempt in its own transaction (all or nothing per attempt), all of them in one group
   * commit and in order, so each sees the seats the ones before it took. `decided`: one result
   * per attempt once the group committed — the next bookings see them, nothing is acknowledged
   * yet; `durable`: resolves once that commit is on disk (rejects if it may not be), the moment
   * a booking can be answered.
   */
  book<R>(attempts: BookingAttempt<R>[]): StagedBooking<R>;

  // The caller's reservations
  reservation(id: string): Promise<ReservationView | null>;
  /** Newest first, strictly after the cursor (created at, id). */
  userReservations(userId: string, after: { createdAt: number; id: string } | null, limit: number): Promise<ReservationView[]>;
  /** One transaction: `decide` sees the reservation (null when unknown); a cancel marks it cancelled, frees its seats and emits the event. */
  cancelReservation<T>(id: string, decide: (current: ReservationView | null) => CancelDecision<T>): Promise<T>;

  // In the consumer's transaction (the bus runs apply synchronously inside its own write)
  /** Cancels the user's confirmed reservations of screenings starting after `now`, emitting `event(r)` for each. */
  cancelUpcomingOfUserSync(userId: string, now: number, event: (r: ReservationRecord) => ReservationCancelled): void;
  /** Records a sent confirmation; a second record of the same event is ignored. */
  recordNotificationSync(notification: NotificationRecord): void;
  notificationsOf(reservationId: string): Promise<NotificationRecord[]>;
}
