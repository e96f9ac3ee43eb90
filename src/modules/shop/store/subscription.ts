// The subscription store: subscriptions born from paid subscription orders, and one charge row
// per subscription cycle — the record that makes recurring billing exactly-once (see billing.ts).
// SQLite implementation: subscription.sqlite.ts.
import type { ShopEvent } from "../events";
import type { SubscriptionStatus } from "../model";
import type { OrderItemRow, PaymentRow, Refund } from "./order";

export interface SubscriptionRow {
  id: string;
  user_id: string;
  order_id: string;
  /** The gateway's recurring-payment key. */
  sid: string;
  status: SubscriptionStatus;
  period_days: number;
  amount: number;
  /** The first payment is cycle 1. */
  paid_cycles: number;
  /** YYYY-MM-DD (UTC). */
  last_paid_on: string;
  /** The due date of cycle paid_cycles + 1. */
  next_payment_on: string;
  /** When billing tries next: the due date, or a decline retry day. */
  charge_on: string;
  /** Declines of the current cycle. */
  declines: number;
  created_at: number;
  updated_at: number;
  cancelled_at: number | null;
}

export interface NewSubscription {
  id: string;
  user_id: string;
  order_id: string;
  sid: string;
  period_days: number;
  amount: number;
  last_paid_on: string;
  next_payment_on: string;
  created_at: number;
}

export interface ChargeRow {
  subscription_id: string;
  cycle: number;
  status: "PENDING" | "PAID" | "DECLINED";
  /** Decline retries: part of the gateway idempotency key. */
  try: number;
  due_on: string;
  amount: number;
  attempts: number;
  last_error: string | null;
  tid: string | null;
  paid_on: string | null;
  /** The order the paid cycle created (null before it is paid, and for cycles paid before charge orders existed). */
  order_id: string | null;
  created_at: number;
  updated_at: number;
}

export interface SubscriptionDetail {
  subscription: SubscriptionRow;
  /** What each cycle delivers: the items of the order that started it. */
  items: OrderItemRow[];
}

/** What billing may do with a subscription's current cycle on a day. */
export type PreparedCharge =
  | { kind: "charge"; cycle: number; tryNo: number; dueOn: string; items: OrderItemRow[] }
  | { kind: "no_stock"; cycle: number; detail: string }
  | { kind: "skip"; detail: string };

export interface PaidCycle {
  subscriptionId: string;
  /** The order this charge creates (UUIDv7): the buyer's record of the cycle (GET /orders), paid, kind SUBSCRIPTION. */
  orderId: string;
  cycle: number;
  tid: string;
  paidOn: string;
  nextOn: string;
  payment: PaymentRow;
  now: number;
}

export interface DeclinedCycle {
  subscription: SubscriptionRow;
  cycle: number;
  reason: string;
  /** The cycle's stock was reserved (a gateway decline): it goes back. */
  reserved: boolean;
  now: number;
  /** Retry on a later day, or end the subscription (PAYMENT_FAILED); the events go with it. */
  next: { kind: "retry"; retryOn: string; events: readonly ShopEvent[] } | { kind: "end"; events: readonly ShopEvent[] };
}

/** One cycle of a subscription as its history shows it: cycle 1 is the order that started it. */
export interface CycleRow {
  cycle: number;
  status: "PENDING" | "PAID" | "DECLINED";
  try: number;
  due_on: string;
  amount: number;
  paid_on: string | null;
  last_error: string | null;
  /** The order of the cycle (the first order for cycle 1; null for cycles paid before charge orders existed). */
  order_id: string | null;
  refunded_amount: number;
}

/** An active subscription whose next cycle's notice is due. */
export interface NoticeDue {
  id: string;
  user_id: string;
  /** The cycle to come (paid_cycles + 1). */
  cycle: number;
  amount: number;
  next_payment_on: string;
  /** The first item's name, for the message. */
  item_name: string;
}

export interface NotificationRecord {
  eventId: string;
  subscriptionId: string;
  userId: string;
  kind: string;
  channel: string;
  message: string;
  sentAt: number;
}

export interface SubscriptionStore {
  /**
   * Active subscriptions whose next cycle is due on or before `until`, not tried yet and not
   * noticed yet, in id order after `afterId`.
   */
  noticesDue(until: string, afterId: string, limit: number): Promise<NoticeDue[]>;
  /** Records the notice of the cycle and `event` in one transaction; false (nothing recorded) when it was noticed already. */
  recordNotice(subscriptionId: string, cycle: number, dueOn: string, now: number, event: ShopEvent): Promise<boolean>;
  /** Inside the consumer's transaction: a notification was sent (once per event). */
  recordNotificationSync(n: NotificationRecord): void;
  /** Notifications sent about a subscription, oldest first. */
  notificationsOf(subscriptionId: string): Promise<NotificationRecord[]>;
  subscription(id: string): Promise<SubscriptionRow | null>;
  detail(id: string): Promise<SubscriptionDetail | null>;
  /** Newest first, ids below `beforeId` ("" for the first page). */
  ofUser(userId: string, beforeId: string, limit: number): Promise<SubscriptionDetail[]>;
  /** The cycles, newest first, below `beforeCycle` (keyset paging). */
  cycles(id: string, beforeCycle: number, limit: number): Promise<CycleRow[]>;
  /** The cycle being settled with the gateway, if any. */
  pendingCharge(id: string): Promise<ChargeRow | null>;
  /** New period and due dates of an active subscription (declines reset when asked); false when it is not active. */
  reschedule(
    id: string,
    change: { periodDays: number; nextOn: string; chargeOn: string; resetDeclines: boolean },
    now: number,
  ): Promise<boolean>;
  /** Ends an active subscription and its order (SUBSCRIBE_CANCEL or SUBSCRIBE_PAYMENT_FAIL) and records `events`; false when it was not active. */
  end(subscription: SubscriptionRow, status: "CANCELLED" | "PAYMENT_FAILED", now: number, events: readonly ShopEvent[]): Promise<boolean>;
  /** Active subscriptions due on or before the day. */
  countDue(day: string): Promise<number>;
  /** Their ids, in id order after `afterId` (keyset paging). */
  dueIds(day: string, afterId: string, limit: number): Promise<string[]>;
  /**
   * In one transaction: the current cycle's charge row, PENDING with its stock reserved — a
   * new cycle, a new try after a decline (try + 1), or the pending one as it is (a retry after
   * a timeout: same try, same idempotency key). Skipped when not active, not due or paid; when
   * the stock is short, nothing is reserved and the cycle is declined out_of_stock.
   */
  prepareCharge(id: string, day: string, now: number): Promise<PreparedCharge>;
  /**
   * The cycle PAID (only from PENDING: a worker replaying the same approval records nothing),
   * the subscription advanced to the next cycle, the cycle's order (paid, with the
   * subscription's items), the payment and `charged` recorded. False when it was recorded already.
   */
  recordCharge(paid: PaidCycle, charged: ShopEvent): Promise<boolean>;
  /** A transient failure: the charge stays PENDING for the next run, with the attempt counted. */
  chargeFailed(id: string, cycle: number, error: string, now: number): Promise<void>;
  /** A decline: the cycle DECLINED (its stock released), then a retry day or the end. "skipped" when another worker settled it. */
  recordDecline(declined: DeclinedCycle): Promise<"declined" | "cancelled" | "skipped">;
  /**
   * Cancel with refund, in one transaction: the subscription and its order end (CANCELLED, with
   * `events`) and a PENDING refund of everything left of the current cycle's order (the last
   * paid: the first order for cycle 1) is recorded, the gateway to be called after. Null, with
   * nothing changed, when the subscription is not active or the cycle has no order (paid before
   * charge orders existed).
   */
  endWithRefund(
    subscription: SubscriptionRow,
    refundId: string,
    now: number,
    events: readonly ShopEvent[],
  ): Promise<{ refund: Refund; tid: string } | "not_active" | "no_order">;
  /** The refund of a cycle of this subscription left pending by a gateway failure, with the tid it refunds. */
  pendingRefund(subscriptionId: string): Promise<{ refund: Refund; tid: string } | null>;
  /**
   * A deleted account's active subscriptions end (CANCELLED, never charged again) with the
   * event `cancelled(subscription)`. Inside the caller's transaction (an event consumer's apply).
   */
  endAllOfUser(userId: string, now: number, cancelled: (subscription: SubscriptionRow) => ShopEvent): void;
}
