// Events the shop emits through the outbox, and the consumers it registers on the bus.
// Payloads are the contract (add fields, never rename or remove). Money is integer KRW.
import { t } from "elysia";
import {
  type ConsumerSpec,
  defineConsumer,
  defineEvent,
  type EventEmitter,
  eventMessages,
  type EventMessage,
  type EventPayload,
  integer,
  isEvent,
} from "../../platform/events";
import { accountEvents, type UserDeleted } from "../accounts";
import { orderKinds } from "./model";

const line = t.Object({ itemId: t.String(), quantity: integer() });
const won = integer({ description: "KRW" });
const day = t.String({ description: "YYYY-MM-DD (UTC)" });

export const shopEvents = {
  orderCreated: defineEvent(
    "homebase.shop.order.created",
    t.Object({ orderId: t.String(), userId: t.String(), kind: t.UnionEnum(orderKinds), amount: won, items: t.Array(line) }),
  ),
  orderPaid: defineEvent(
    "homebase.shop.order.paid",
    t.Object({
      orderId: t.String(),
      userId: t.String(),
      kind: t.UnionEnum(orderKinds),
      amount: won,
      items: t.Array(line),
      /** The order was made from the user's cart: its lines leave that cart. */
      fromCart: t.Boolean(),
      paidAt: t.String(),
    }),
  ),
  orderRefunded: defineEvent(
    "homebase.shop.order.refunded",
    t.Object({
      orderId: t.String(),
      userId: t.String(),
      refundId: t.String(),
      amount: won,
      items: t.Array(line),
      /** Everything is refunded now (status REFUND). */
      full: t.Boolean(),
    }),
  ),
  orderCancelled: defineEvent(
    "homebase.shop.order.cancelled",
    t.Object({ orderId: t.String(), userId: t.String(), reason: t.Union([t.Literal("cancelled"), t.Literal("expired")]) }),
  ),
  subscriptionStarted: defineEvent(
    "homebase.shop.subscription.started",
    t.Object({
      subscriptionId: t.String(),
      orderId: t.String(),
      userId: t.String(),
      periodDays: integer(),
      amount: won,
      nextPaymentOn: day,
    }),
  ),
  subscriptionCharged: defineEvent(
    "homebase.shop.subscription.charged",
    t.Object({
      subscriptionId: t.String(),
      userId: t.String(),
      cycle: integer(),
      amount: won,
      items: t.Array(line),
      paidOn: day,
      nextPaymentOn: day,
    }),
  ),
  /**
   * A recurring charge is coming (HOMEBASE_SHOP_CHARGE_NOTICE_DAYS before its due date): emitted
   * once per cycle by the worker's daily job; the shop-notifier consumer tells the user.
   */
  subscriptionChargeUpcoming: defineEvent(
    "homebase.shop.subscription.charge_upcoming",
    t.Object({
      subscriptionId: t.String(),
      userId: t.String(),
      cycle: integer(),
      amount: won,
      dueOn: day,
      itemName: t.String(),
    }),
  ),
  /** A recurring charge was declined; billing retries on day 1, 3 and 5 after the due date. */
  subscriptionChargeDeclined: defineEvent(
    "homebase.shop.subscription.charge_declined",
    t.Object({ subscriptionId: t.String(), userId: t.String(), cycle: integer(), declines: integer(), retryOn: day, reason: t.String() }),
  ),
  /** The last retry was declined too: the subscription is cancelled. The user's notification. */
  subscriptionPaymentFailed: defineEvent(
    "homebase.shop.subscription.payment_failed",
    t.Object({
      subscriptionId: t.String(),
      orderId: t.String(),
      userId: t.String(),
      cycle: integer(),
      declines: integer(),
      reason: t.String(),
    }),
  ),
  subscriptionCancelled: defineEvent(
    "homebase.shop.subscription.cancelled",
    t.Object({
      subscriptionId: t.String(),
      orderId: t.String(),
      userId: t.String(),
      reason: t.Union([t.Literal("user"), t.Literal("payment_failed"), t.Literal("user_deleted")]),
    }),
  ),
} as const;

export type OrderLine = EventPayload<typeof shopEvents.orderCreated>["items"][number];
export type OrderCreated = EventPayload<typeof shopEvents.orderCreated>;
export type OrderPaid = EventPayload<typeof shopEvents.orderPaid>;
export type OrderRefunded = EventPayload<typeof shopEvents.orderRefunded>;
export type OrderCancelled = EventPayload<typeof shopEvents.orderCancelled>;
export type SubscriptionStarted = EventPayload<typeof shopEvents.subscriptionStarted>;
export type SubscriptionCharged = EventPayload<typeof shopEvents.subscriptionCharged>;
export type SubscriptionChargeUpcoming = EventPayload<typeof shopEvents.subscriptionChargeUpcoming>;
export type SubscriptionChargeDeclined = EventPayload<typeof shopEvents.subscriptionChargeDeclined>;
export type SubscriptionPaymentFailed = EventPayload<typeof shopEvents.subscriptionPaymentFailed>;
export type SubscriptionCancelled = EventPayload<typeof shopEvents.subscriptionCancelled>;

/** Any one shop event with its payload, e.g. to hand a store the events its transaction emits. */
export type ShopEvent = EventMessage<(typeof shopEvents)[keyof typeof shopEvents]>;

/** Builds a ShopEvent, typed: `shopEvent.orderPaid({ ... })`. */
export const shopEvent = eventMessages(shopEvents);

/** What the services need from the event bus: an outbox insert in the current transaction. */
export type ShopEventSink = EventEmitter;

/** What the consumers call; each runs inside the consumer's transaction. */
export interface ShopEventHandlers {
  applyOrderPaid(event: OrderPaid): void;
  applyOrderRefunded(event: OrderRefunded): void;
  applySubscriptionCharged(event: SubscriptionCharged): void;
  applyUserDeleted(event: UserDeleted): void;
  /** Tells the user of a coming charge through the notifier (idempotency key: the event id). Outside SQLite; may run twice. */
  sendChargeNotice(eventId: string, event: SubscriptionChargeUpcoming): Promise<void>;
  /** In the consumer's transaction: record that the notice was sent. */
  recordChargeNotice(eventId: string, event: SubscriptionChargeUpcoming): void;
}

export function shopConsumers(handlers: ShopEventHandlers): ConsumerSpec[] {
  return [
    defineConsumer({
      // Sales counts and carts follow payments: exactly once per event (processed_events).
      name: "shop-sales",
      events: [shopEvents.orderPaid, shopEvents.orderRefunded, shopEvents.subscriptionCharged],
      apply(event) {
        if (isEvent(event, shopEvents.orderPaid)) handlers.applyOrderPaid(event.payload);
        else if (isEvent(event, shopEvents.orderRefunded)) handlers.applyOrderRefunded(event.payload);
        else handlers.applySubscriptionCharged(event.payload);
      },
    }),
    defineConsumer({
      // At least once: effect() may send twice if the process dies between it and apply();
      // apply() records the send exactly once (with the processed-event row). A failing
      // notifier throws, so the bus retries it (and dead-letters it after the last attempt).
      name: "shop-notifier",
      events: [shopEvents.subscriptionChargeUpcoming],
      concurrency: 16,
      effect: (event) => handlers.sendChargeNotice(event.id, event.payload),
      apply: (event) => handlers.recordChargeNotice(event.id, event.payload),
    }),
    defineConsumer({
      // A deleted account's carts go, and its subscriptions stop (never charged again).
      name: "shop-accounts",
      events: [accountEvents.userDeleted],
      apply(event) {
        handlers.applyUserDeleted(event.payload);
      },
    }),
  ];
}
