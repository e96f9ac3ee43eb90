// The order store: orders and their items, the payments ledger and refunds. A use case that
// changes stock (placing, cancelling, refunding) does so in the same transaction, and records
// its events in the outbox there too. SQLite implementation: order.sqlite.ts.
import type { ShopEvent } from "../events";
import type { OrderKind, OrderStatus } from "../model";
import type { NewSubscription } from "./subscription";

export interface OrderRow {
  id: string;
  user_id: string;
  kind: OrderKind;
  status: OrderStatus;
  /** 1: the paid items leave the cart. */
  from_cart: number;
  period_days: number | null;
  total: number;
  discount: number;
  amount: number;
  refunded_amount: number;
  /** The gateway transaction of the current payment attempt. */
  tid: string | null;
  /** Payment attempts started (part of their idempotency keys). */
  ready_count: number;
  /** Where the buyer approves the current attempt, and when it started (null when none is open). */
  checkout_url: string | null;
  checkout_at: number | null;
  /** An order a recurring charge created: its subscription and the cycle it paid. */
  subscription_id: string | null;
  cycle: number | null;
  paid_at: number | null;
  created_at: number;
  updated_at: number;
}

/** An ordered item, with the name and prices it had when ordered. */
export interface OrderItemRow {
  id: string;
  order_id: string;
  item_id: string;
  name: string;
  price: number;
  discount_price: number;
  quantity: number;
  refunded_quantity: number;
}

/** A money movement, recorded once: a replayed idempotency key is a no-op. Refunds are negative. */
export interface PaymentRow {
  id: string;
  order_id: string;
  subscription_id: string | null;
  cycle: number | null;
  type: "PAYMENT" | "REFUND";
  amount: number;
  tid: string;
  aid: string | null;
  idempotency_key: string;
  created_at: number;
}

export interface RefundLine {
  orderItemId: string;
  itemId: string;
  quantity: number;
}

export interface Refund {
  id: string;
  order_id: string;
  /** 1, 2, … per order: part of the gateway's idempotency key. */
  seq: number;
  amount: number;
  lines: RefundLine[];
  status: "PENDING" | "DONE";
  created_at: number;
}

export interface OrderDetail {
  order: OrderRow;
  items: OrderItemRow[];
  /** The subscription the order started, or whose recurring charge created it. */
  subscriptionId: string | null;
}

export interface NewOrder {
  id: string;
  userId: string;
  kind: OrderKind;
  periodDays: number | null;
  fromCart: boolean;
  lines: ReadonlyArray<{ itemId: string; quantity: number }>;
  now: number;
  /**
   * What the user's unpaid orders may hold, this one included: orders and units (0 = no cap).
   * Only those created since `since` count (older ones are expired, whether swept yet or not).
   */
  unpaid: { maxOrders: number; maxUnits: number; since: number };
}

export type Placement =
  | { ok: true }
  | { ok: false; reason: "item_not_found"; itemId: string }
  | { ok: false; reason: "out_of_stock"; itemId: string; name: string; available: number }
  | { ok: false; reason: "unpaid_limit"; limit: "orders" | "units"; max: number; held: number };

export interface PaidOrder {
  orderId: string;
  /** The payment attempt that was approved: the order is paid only while it is still the current one. */
  tid: string;
  status: "COMPLETE" | "SUBSCRIPTION";
  payment: PaymentRow;
  /** Started by the first payment of a subscription order. */
  subscription: NewSubscription | null;
  now: number;
}

export interface OrderStore {
  order(id: string): Promise<OrderRow | null>;
  items(orderId: string): Promise<OrderItemRow[]>;
  detail(id: string): Promise<OrderDetail | null>;
  /** Newest first; `status` filters when given. */
  ofUser(userId: string, status: OrderStatus | undefined, limit: number, offset: number): Promise<OrderDetail[]>;
  countOfUser(userId: string, status: OrderStatus | undefined): Promise<number>;
  /**
   * In one transaction: prices from the catalog, the stock of every line reserved by a
   * compare-and-decrement (concurrent orders never sell more than there is), the order
   * (REQUEST) and its items inserted and `created(order, items)` recorded. A missing item, short
   * stock or a user past the unpaid caps (checked in the same transaction) changes nothing.
   */
  place(order: NewOrder, created: (order: OrderRow, items: OrderItemRow[]) => ShopEvent): Promise<Placement>;
  /** A new payment attempt of an unpaid order, its checkout open at `checkoutUrl`; false when it is no longer REQUEST. */
  startPayment(id: string, tid: string, checkoutUrl: string, now: number): Promise<boolean>;
  /** Ends an attempt (declined, or cancelled or failed at the gateway) if it is still the current one; false otherwise. */
  abandonPayment(id: string, tid: string, now: number): Promise<boolean>;
  /**
   * Marks the order paid (only from REQUEST with this tid), records the payment, starts the
   * subscription and records `events`, in one transaction. False when the order was no longer payable.
   */
  recordPaid(paid: PaidOrder, events: readonly ShopEvent[]): Promise<boolean>;
  /** REQUEST → CANCEL with its reserved stock released and `cancelled` recorded; false when it was not REQUEST. */
  cancelUnpaid(id: string, now: number, cancelled: ShopEvent): Promise<boolean>;
  /** Unpaid orders created before the instant, oldest first. */
  expiredIds(createdBefore: number, limit: number): Promise<string[]>;
  /** The refund left pending by a gateway failure, if any (at most one per order). */
  pendingRefund(orderId: string): Promise<Refund | null>;
  /** Records a PENDING refund with the order's next sequence number. */
  openRefund(refund: Omit<Refund, "seq" | "status">): Promise<Refund>;
  /** Forgets a pending refund the gateway refused. */
  dropRefund(id: string): Promise<void>;
  /**
   * Once the gateway refunded: the refund DONE, the order items' refunded quantities and the
   * order's refunded amount raised, the stock released, REFUND when everything is refunded, the
   * (negative) payment and `refunded(full)` recorded. False when it was completed already.
   */
  completeRefund(refund: Refund, payment: PaymentRow, now: number, refunded: (full: boolean) => ShopEvent): Promise<boolean>;
}
