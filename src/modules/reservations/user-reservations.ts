// A user's reservations: listing them, reading one, cancelling one, and cancelling all upcoming
// ones when the account is deleted (so their seats go back on sale).
import type { Clock } from "../../platform/clock";
import type { UserDeleted } from "../accounts";
import { iso } from "./calendar";
import { fail, ok, reservationErrors as errors, type Outcome } from "./errors";
import type { ReservationCancelled } from "./events";
import type { Reservation } from "./model";
import type { CancelDecision, ReservationRecord, ReservationView, ReservationsStore } from "./store";

export function toReservation(r: ReservationView): Reservation {
  return {
    id: r.id,
    screeningId: r.screeningId,
    movieId: r.movieId,
    movieTitle: r.movieTitle,
    theaterName: r.theaterName,
    startTime: iso(r.startTime),
    endTime: iso(r.endTime),
    seats: r.seats,
    status: r.status,
    createdAt: iso(r.createdAt),
    cancelledAt: r.cancelledAt === null ? null : iso(r.cancelledAt),
  };
}

function cancelledEvent(r: ReservationRecord, reason: ReservationCancelled["reason"], at: number): ReservationCancelled {
  return { reservationId: r.id, userId: r.userId, screeningId: r.screeningId, seats: r.seats, reason, cancelledAt: iso(at) };
}

/** Where a page of a user's reservations starts: strictly older than this one. */
export interface ReservationsAfter {
  createdAt: number;
  id: string;
}

type CancelFailureCode = typeof errors.reservationNotFound | typeof errors.screeningStarted;

export class UserReservations {
  constructor(
    private readonly store: ReservationsStore,
    private readonly clock: Clock,
  ) {}

  /** Newest first, cancelled ones included; `next` is where the following page starts (null on the last). */
  async list(userId: string, limit: number, after: ReservationsAfter | null): Promise<{ items: Reservation[]; next: ReservationsAfter | null }> {
    const rows = await this.store.userReservations(userId, after, limit + 1);
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { items: page.map(toReservation), next: rows.length > limit && last ? { createdAt: last.createdAt, id: last.id } : null };
  }

  /** Null for someone else's reservation: it is indistinguishable from none. */
  async get(userId: string, id: string): Promise<Reservation | null> {
    const r = await this.store.reservation(id);
    return r && r.userId === userId ? toReservation(r) : null;
  }

  /** Cancels before the screening starts and frees the seats. Cancelling a cancelled one is a no-op. */
  cancel(userId: string, id: string): Promise<Outcome<void, CancelFailureCode>> {
    return this.store.cancelReservation(id, (current): CancelDecision<Outcome<void, CancelFailureCode>> => {
      if (!current || current.userId !== userId) return { result: fail(errors.reservationNotFound, "no such reservation") };
      if (current.status === "cancelled") return { result: ok(undefined) };
      const now = this.clock.now();
      if (current.startTime <= now) return { result: fail(errors.screeningStarted, "a reservation can be cancelled only before its screening starts") };
      return { result: ok(undefined), cancel: { at: now, event: cancelledEvent(current, "user", now) } };
    });
  }

  /** In the accounts consumer's transaction: the deleted user's upcoming reservations are cancelled. */
  cancelAllOfDeletedUser(e: UserDeleted): void {
    const now = this.clock.now();
    this.store.cancelUpcomingOfUserSync(e.userId, now, (r) => cancelledEvent(r, "user_deleted", now));
  }
}
