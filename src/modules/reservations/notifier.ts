// The Notifier port: how a reservation confirmation reaches its user. The default one stands in
// for the reference's push service: it takes about as long (HOMEBASE_NOTIFIER_LATENCY_MS) and
// writes the message to the log; the consumer records every send in reservation_notifications.
import type { Logger } from "../../platform/logger";

export interface Notification {
  /** Idempotency key (the event id): a push service can drop a resend of the same one. */
  id: string;
  userId: string;
  reservationId: string;
  message: string;
}

export interface Notifier {
  /** Stored with each sent notification, e.g. "log", "push". */
  readonly channel: string;
  /** Resolves once delivered; throws to have the event retried. */
  send(notification: Notification): Promise<void>;
}

export class LogNotifier implements Notifier {
  readonly channel = "log";

  constructor(
    private readonly logger: Logger,
    private readonly latencyMs: number,
  ) {}

  async send(n: Notification): Promise<void> {
    if (this.latencyMs > 0) await Bun.sleep(this.latencyMs);
    this.logger.info("notification sent", { notificationId: n.id, userId: n.userId, reservationId: n.reservationId, message: n.message });
  }
}
