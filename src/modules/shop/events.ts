// Events the shop emits through the outbox, and the consumers it registers on the bus.
// Payloads are the contract (add fields, never rename or remove).
import type { ConsumerSpec, EventEnvelope } from "../../platform/events/bus";
import { accountEvents, type UserDeleted } from "../accounts";
import type { OrderKind } from "./model";

export const shopEvents = {
  orderCreated: "homebase.shop.order.created",
  orderPaid: "homebase.shop.order.paid",
  orderRefunded: "homebase.shop.order.refunded",
  orderCancelled: "homebase.shop.order.cancelled",
  subscriptionStarted: "homebase.shop.subscription.started",
  subscriptionCharged: "homebase.shop.subscription.charged",
  /** A recurring charge was declined; billing retries on day 1, 3 and 5 after the due date. */
  subscriptionChargeDeclined: "homebase.shop.subscription.charge_declined",
  /** The last retry was declined too: the subscription is cancelled. The user's notification. */
  subscriptionPaymentFailed: "homebase.shop.subscription.payment_failed",
  subscriptionCancelled: "homebase.shop.subscription.cancelled",
} as const;

export interface OrderLine {
  itemId: string;
  quantity: number;
}

export interface OrderCreated {
  orderId: string;
  userId: string;
  kind: OrderKind;
  amount: number;
  items: OrderLine[];
}

export interface OrderPaid {
  orderId: string;
  userId: string;
  kind: OrderKind;
  amount: number;
  items: OrderLine[];
  /** The order was made from the user's cart: its lines leave that cart. */
  fromCart: boolean;
  paidAt: string;
}

export interface OrderRefunded {
  orderId: string;
  userId: string;
  refundId: string;
  amount: number;
  items: OrderLine[];
  /** Everything is refunded now (status REFUND). */
  full: boolean;
}

export interface OrderCancelled {
  orderId: string;
  userId: string;
  reason: "cancelled" | "expired";
}

export interface SubscriptionStarted {
  subscriptionId: string;
  orderId: string;
  userId: string;
  periodDays: number;
  amount: number;
  nextPaymentOn: string;
}

export interface SubscriptionCharged {
  subscriptionId: string;
  userId: string;
  cycle: number;
  amount: number;
  items: OrderLine[];
  paidOn: string;
  nextPaymentOn: string;
}

export interface SubscriptionChargeDeclined {
  subscriptionId: string;
  userId: string;
  cycle: number;
  declines: number;
  retryOn: string;
  reason: string;
}

export interface SubscriptionPaymentFailed {
  subscriptionId: string;
  orderId: string;
  userId: string;
  cycle: number;
  declines: number;
  reason: string;
}

export interface SubscriptionCancelled {
  subscriptionId: string;
  orderId: string;
  userId: string;
  reason: "user" | "payment_failed" | "user_deleted";
}

/** The one capability the services need from the event bus: an outbox insert in the current transaction. */
export interface ShopEventSink {
  emit(subject: string, payload: unknown): string;
}

/** What the consumers call; each runs inside the consumer's transaction. */
export interface ShopEventHandlers {
  applyOrderPaid(event: OrderPaid): void;
  applyOrderRefunded(event: OrderRefunded): void;
  applySubscriptionCharged(event: SubscriptionCharged): void;
  applyUserDeleted(event: UserDeleted): void;
}

export function shopConsumers(handlers: ShopEventHandlers): ConsumerSpec[] {
  return [
    {
      // Sales counts and carts follow payments: exactly once per event (processed_events).
      name: "shop-sales",
      subjects: [shopEvents.orderPaid, shopEvents.orderRefunded, shopEvents.subscriptionCharged],
      apply(event: EventEnvelope) {
        if (event.subject === shopEvents.orderPaid) handlers.applyOrderPaid(event.payload as OrderPaid);
        else if (event.subject === shopEvents.orderRefunded) handlers.applyOrderRefunded(event.payload as OrderRefunded);
        else handlers.applySubscriptionCharged(event.payload as SubscriptionCharged);
      },
    },
    {
      // A deleted account's carts go, and its subscriptions stop (never charged again).
      name: "shop-accounts",
      subjects: [accountEvents.userDeleted],
      apply(event: EventEnvelope) {
        handlers.applyUserDeleted(event.payload as UserDeleted);
      },
    },
  ];
}
