// The notice before each recurring charge: the worker's daily job (before the billing run)
// emits homebase.shop.subscription.charge_upcoming for every active subscription whose next
// cycle is due within HOMEBASE_SHOP_CHARGE_NOTICE_DAYS and not yet tried, once per cycle (the
// shop_subscription_notices row, written in the event's transaction, is the record); the
// shop-notifier consumer sends it through the Notifier port and records the send, like the
// reservations' confirmations. No HTTP here.
import type { Clock } from "../../platform/clock";
import type { Logger } from "../../platform/logger";
import { fieldRefusal, shopErrors } from "./errors";
import { shopEvent, type SubscriptionChargeUpcoming } from "./events";
import type { SubscriptionStore } from "./store";
import { addDays, utcDay } from "./views";

export interface NoticeSummary {
  date: string;
  noticed: number;
}

/** A notification to a user; `id` (the event id) is the idempotency key a push service can drop a resend by. */
export interface ShopNotification {
  id: string;
  userId: string;
  subscriptionId: string;
  message: string;
}

/** How a notification reaches its user. The default writes it to the log; a push service would replace it. */
export interface ShopNotifier {
  readonly channel: string;
  /** Resolves once delivered; throws to have the event retried. */
  send(notification: ShopNotification): Promise<void>;
}

export class LogShopNotifier implements ShopNotifier {
  readonly channel = "log";
  constructor(private readonly logger: Logger) {}
  async send(n: ShopNotification): Promise<void> {
    this.logger.info("notification sent", { notificationId: n.id, userId: n.userId, subscriptionId: n.subscriptionId, message: n.message });
  }
}

/** The text of a charge notice; the same for the send and its record. */
export function chargeNoticeMessage(e: SubscriptionChargeUpcoming): string {
  return `Your subscription (${e.itemName}) will be charged ${e.amount.toLocaleString("en-US")} KRW on ${e.dueOn} (cycle ${e.cycle}).`;
}

export class ChargeNotices {
  constructor(
    private readonly store: SubscriptionStore,
    private readonly notifier: ShopNotifier,
    private readonly clock: Clock,
    private readonly settings: { noticeDays: number; chunk: number },
    private readonly logger: Logger,
  ) {}

  /** Emits the notices of cycles due within the notice days of `date` (default today; never after today). */
  async run(date?: string): Promise<NoticeSummary> {
    const today = utcDay(this.clock.now());
    const day = date ?? today;
    if (day > today) {
      throw fieldRefusal(
        shopErrors.billingDateInFuture,
        `notices are sent on their day: ${day} is after today (${today}, UTC)`,
        "/date",
        `after ${today}`,
      );
    }
    const until = addDays(day, this.settings.noticeDays);
    let noticed = 0;
    let after = "";
    for (;;) {
      const due = await this.store.noticesDue(until, after, this.settings.chunk);
      if (due.length === 0) break;
      after = due[due.length - 1]!.id;
      for (const d of due) {
        const event = shopEvent.subscriptionChargeUpcoming({
          subscriptionId: d.id,
          userId: d.user_id,
          cycle: d.cycle,
          amount: d.amount,
          dueOn: d.next_payment_on,
          itemName: d.item_name,
        });
        if (await this.store.recordNotice(d.id, d.cycle, d.next_payment_on, this.clock.now(), event)) noticed++;
      }
    }
    if (noticed > 0) this.logger.info("charge notices", { date: day, noticed });
    return { date: day, noticed };
  }

  /** Outside the store; may run twice for one event (the event id is the idempotency key). */
  send(eventId: string, e: SubscriptionChargeUpcoming): Promise<void> {
    return this.notifier.send({ id: eventId, userId: e.userId, subscriptionId: e.subscriptionId, message: chargeNoticeMessage(e) });
  }

  /** In the consumer's transaction: the send happened. */
  record(eventId: string, e: SubscriptionChargeUpcoming): void {
    this.store.recordNotificationSync({
      eventId,
      subscriptionId: e.subscriptionId,
      userId: e.userId,
      kind: "charge_upcoming",
      channel: this.notifier.channel,
      message: chargeNoticeMessage(e),
      sentAt: this.clock.now(),
    });
  }
}
