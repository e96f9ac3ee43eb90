// Events reservations emits through the outbox, and the consumers it registers on the bus.
// Payloads are the contract (add fields, never rename or remove).
import type { ConsumerSpec, EventEnvelope } from "../../platform/events/bus";
import { accountEvents, type UserDeleted } from "../accounts";

export const reservationEvents = {
  reservationConfirmed: "homebase.reservations.reservation.confirmed",
  reservationCancelled: "homebase.reservations.reservation.cancelled",
} as const;

export interface ReservationConfirmed {
  reservationId: string;
  userId: string;
  screeningId: string;
  movieTitle: string;
  theaterName: string;
  startTime: string;
  seats: string[];
  confirmedAt: string;
}

export interface ReservationCancelled {
  reservationId: string;
  userId: string;
  screeningId: string;
  seats: string[];
  /** "user": the holder cancelled; "user_deleted": the account was deleted. */
  reason: "user" | "user_deleted";
  cancelledAt: string;
}

/** The one capability the service needs from the event bus: an outbox insert in the current transaction. */
export interface ReservationsEventSink {
  emit(subject: string, payload: unknown): string;
}

/** What the consumers call; implemented by ReservationsService. */
export interface ReservationsEventHandlers {
  /** Sends the confirmation through the Notifier port (idempotency key: the event id). Outside SQLite; may run twice. */
  sendConfirmation(eventId: string, event: ReservationConfirmed): Promise<void>;
  /** In the consumer's transaction: record that the confirmation was sent. */
  recordConfirmation(eventId: string, event: ReservationConfirmed): void;
  /** In the consumer's transaction: cancel the deleted user's upcoming reservations, freeing their seats. */
  applyUserDeleted(event: UserDeleted): void;
}

/** Consumers, registered in the module's wiring (before the bus starts). */
export function reservationConsumers(handlers: ReservationsEventHandlers): ConsumerSpec[] {
  return [
    {
      // At least once: effect() may send twice if the process dies between it and apply();
      // apply() records the send exactly once (with the processed-event row). A failing
      // notifier throws, so the bus retries it (and dead-letters it after the last attempt).
      name: "reservations-notifier",
      subjects: [reservationEvents.reservationConfirmed],
      // Confirmations are independent and the push service is slow (~500 ms): send many at once.
      concurrency: 32,
      effect: (event: EventEnvelope) => handlers.sendConfirmation(event.id, event.payload as ReservationConfirmed),
      apply: (event: EventEnvelope) => handlers.recordConfirmation(event.id, event.payload as ReservationConfirmed),
    },
    {
      name: "reservations-accounts",
      subjects: [accountEvents.userDeleted],
      apply: (event: EventEnvelope) => handlers.applyUserDeleted(event.payload as UserDeleted),
    },
  ];
}
