// Confirmations of a booking: sent through the Notifier port after the booking committed (the
// reservations-notifier consumer), and recorded once per event.
import type { Clock } from "../../platform/clock";
import type { ReservationConfirmed } from "./events";
import type { Notifier } from "./notifier";
import type { NotificationRecord, ReservationsStore } from "./store";

/** The text a confirmation carries; the same for the send and the record of it. */
export function confirmationMessage(e: ReservationConfirmed): string {
  return `Reservation confirmed: ${e.movieTitle}, ${e.theaterName}, ${e.startTime}, seats ${e.seats.join(", ")}`;
}

export class Confirmations {
  constructor(
    private readonly store: ReservationsStore,
    private readonly notifier: Notifier,
    private readonly clock: Clock,
  ) {}

  /** Outside the store; may run twice for one event (the event id is the idempotency key). */
  async send(eventId: string, e: ReservationConfirmed): Promise<void> {
    await this.notifier.send({ id: eventId, userId: e.userId, reservationId: e.reservationId, message: confirmationMessage(e) });
  }

  /** In the consumer's transaction: the send happened. */
  record(eventId: string, e: ReservationConfirmed): void {
    this.store.recordNotificationSync({
      eventId,
      reservationId: e.reservationId,
      userId: e.userId,
      channel: this.notifier.channel,
      message: confirmationMessage(e),
      sentAt: this.clock.now(),
    });
  }

  /** Confirmations recorded as sent for a reservation (tests, support). */
  of(reservationId: string): Promise<NotificationRecord[]> {
    return this.store.notificationsOf(reservationId);
  }
}
