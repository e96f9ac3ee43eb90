// The reservations module's error codes (the `code` of its problem+json answers), named after the
// scheme in src/platform/http/errors.ts, and the outcome the use cases return instead of throwing.
// A use case says what went wrong; the controller (routes.ts) picks the HTTP status.
import type { FieldError } from "../../platform/http/problem";

export const reservationErrors = {
  // catalog
  theaterNameTaken: "theater_name_taken",
  invalidStartTime: "invalid_start_time",
  movieNotFound: "movie_not_found",
  theaterNotFound: "theater_not_found",
  screeningNotFound: "screening_not_found",
  screeningOverlaps: "screening_overlaps",
  // now showing
  unknownGenre: "unknown_genre",
  moviesRateLimited: "movies_rate_limited",
  // booking
  seatsNotContiguous: "seats_not_contiguous",
  screeningStarted: "screening_started",
  seatLimitReached: "seat_limit_reached",
  seatsTaken: "seats_taken",
  bookingRateLimited: "booking_rate_limited",
  screeningBusy: "screening_busy",
  bookingUnavailable: "booking_unavailable",
  // the caller's reservations
  reservationNotFound: "reservation_not_found",
} as const;

export type ReservationErrorCode = (typeof reservationErrors)[keyof typeof reservationErrors];

/** Why a use case did not do what it was asked. */
export interface Failure<C extends ReservationErrorCode = ReservationErrorCode> {
  code: C;
  /** For people. */
  detail: string;
  /** The request field at fault, when there is one. */
  field?: FieldError;
  /** What the client can act on, e.g. the seats that are taken. */
  facts?: Record<string, unknown>;
  /** When trying again may succeed. */
  retryAfterMs?: number;
}

export type Outcome<T, C extends ReservationErrorCode> = { ok: true; value: T } | { ok: false; failure: Failure<C> };

export const ok = <T>(value: T): { ok: true; value: T } => ({ ok: true, value });

export function fail<C extends ReservationErrorCode>(code: C, detail: string, more: Omit<Failure<C>, "code" | "detail"> = {}): { ok: false; failure: Failure<C> } {
  return { ok: false, failure: { code, detail, ...more } };
}

/** The value of an outcome; a failure becomes an Error naming its code (seeders and tests, where a failure is a bug). */
export function orThrow<T>(outcome: Outcome<T, ReservationErrorCode>): T {
  if (outcome.ok) return outcome.value;
  throw new Error(`${outcome.failure.code}: ${outcome.failure.detail}`);
}
