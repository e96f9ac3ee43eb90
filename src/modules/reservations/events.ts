// Events reservations emits through the outbox, and the consumers it registers on the bus.
// Payloads are the contract (add fields, never rename or remove).
import { t } from "elysia";
import { type ConsumerSpec, defineConsumer, defineEvent, type EventEmitter, type EventPayload } from "../../platform/events";
import { accountEvents, type UserDeleted } from "../accounts";

export const reservationEvents = {
  reservationConfirmed: defineEvent(
    "homebase.reservations.reservation.confirmed",
    t.Object({
      reservationId: t.String(),
      userId: t.String(),
      screeningId: t.String(),
      movieTitle: t.String(),
      theaterName: t.String(),
      startTime: t.String(),
      seats: t.Array(t.String()),
      confirmedAt: t.String(),
    }),
  ),
  reservationCancelled: defineEvent(
    "homebase.reservations.reservation.cancelled",
    t.Object({
      reservationId: t.String(),
      userId: t.String(),
      screeningId: t.String(),
      seats: t.Array(t.String()),
      /** "user": the holder cancelled; "user_deleted": the account was deleted. */
      reason: t.Union([t.Literal("user"), t.Literal("user_deleted")]),
      cancelledAt: t.String(),
    }),
  ),
} as const;

export type ReservationConfirmed = EventPayload<typeof reservationEvents.reservationConfirmed>;
export type ReservationCancelled = EventPayload<typeof reservationEvents.reservationCancelled>;

/** What the service needs from the event bus: an outbox insert in the current transaction. */
export type ReservationsEventSink = EventEmitter;

/** What the consumers call; built by `eventHandlers(api)` in api.ts. */
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
    defineConsumer({
      // At least once: effect() may send twice if the process dies between it and apply();
      // apply() records the send exactly once (with the processed-event row). A failing
      // notifier throws, so the bus retries it (and dead-letters it after the last attempt).
      name: "reservations-notifier",
      events: [reservationEvents.reservationConfirmed],
      // Confirmations are independent and the push service is slow (~500 ms): send many at once.
      concurrency: 32,
      effect: (event) => handlers.sendConfirmation(event.id, event.payload),
      apply: (event) => handlers.recordConfirmation(event.id, event.payload),
    }),
    defineConsumer({
      name: "reservations-accounts",
      events: [accountEvents.userDeleted],
      apply: (event) => handlers.applyUserDeleted(event.payload),
    }),
  ];
}
