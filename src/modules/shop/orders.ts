// Carts, orders, payments and refunds. No Elysia types here; errors are HttpProblems.
//
// Stock is reserved when the order is created (REQUEST), by a compare-and-decrement in the
// same transaction as the order: concurrent orders can never sell more than there is. An
// order that is never paid gives its stock back when cancelled or after HOMEBASE_SHOP_ORDER_TTL_MIN.
//
// Payment follows the KakaoPay flow: ready (tid + redirect URL) → the buyer approves at the
// gateway, which sends them back with a pg_token → approve. Every gateway call carries an
// idempotency key derived from the order (and payment attempt / refund number), and the
// order's operations are serialised by a lock, so a repeated or concurrent approve charges
// once. Sales counts and cart clean-up follow the order.paid event.
import type { GroupCommitWriter } from "../../platform/db/sqlite";
import { HttpProblem, problems } from "../../platform/http/problem";
import { withLock, type LockManager } from "../../platform/lock";
import type { Logger } from "../../platform/logger";
import type { Principal } from "../accounts";
import {
  shopEvents,
  type OrderCancelled,
  type OrderCreated,
  type OrderLine,
  type OrderPaid,
  type OrderRefunded,
  type ShopEventSink,
  type SubscriptionStarted,
} from "./events";
import type { Cart, CheckoutBody, CreateOrderBody, Order, OrderKind, OrderListQuery, OrderPage, PaymentReady, RefundBody } from "./model";
import { GatewayError, type PaymentGateway } from "./payments/port";
import type { CartLineRow, OrderItemRow, OrderRow, RefundRow, ShopRepository } from "./repository";
import { addDays, toCartItem, toOrder, utcDay } from "./views";

export interface OrdersSettings {
  /** Base URL the gateway sends the buyer back to. */
  publicUrl: string;
  orderTtlMin: number;
}

const orderLock = (id: string) => `shop:order:${id}`;
const lockOptions = { ttlMs: 15_000, waitMs: 3_000 };

/** 503 for a gateway that is failing or unreachable: safe to retry (the idempotency key makes it so). */
export function gatewayUnavailable(err: GatewayError): HttpProblem {
  const retryAfter = err.code === "circuit_open" ? "10" : "2";
  return new HttpProblem(503, "payment_gateway_unavailable", `the payment gateway is unavailable (${err.code}); retry shortly — nothing is charged twice`, {}, { "retry-after": retryAfter });
}

function lineOf(item: { item_id: string; quantity: number }): OrderLine {
  return { itemId: item.item_id, quantity: item.quantity };
}

function itemName(items: OrderItemRow[]): string {
  const first = items[0]?.name ?? "order";
  const name = items.length > 1 ? `${first} and ${items.length - 1} more` : first;
  return name.slice(0, 100);
}

export class OrdersService {
  constructor(
    private readonly repo: ShopRepository,
    private readonly writer: GroupCommitWriter,
    private readonly events: ShopEventSink,
    private readonly locks: LockManager,
    private readonly gateway: PaymentGateway,
    private readonly settings: OrdersSettings,
    private readonly logger: Logger,
  ) {}

  // ---------------------------------------------------------------------------------------------
  // Carts

  cart(principal: Principal, kind: OrderKind): Cart {
    const items = this.repo.cartLines(principal.userId, kind).map(toCartItem);
    const total = items.reduce((a, i) => a + i.total, 0);
    const discount = items.reduce((a, i) => a + i.discount, 0);
    return { kind, items, total, discount, expected: total - discount };
  }

  async addToCart(principal: Principal, kind: OrderKind, body: { itemId: string; quantity: number; periodDays?: number }): Promise<Cart> {
    const now = Date.now();
    await this.writer.write(() => {
      if (!this.repo.item(body.itemId)) throw problems.notFound("item_not_found", "no such item");
      if (this.repo.cartHas(principal.userId, kind, body.itemId)) {
        throw problems.conflict("already_in_cart", "the item is already in this cart; change its quantity instead");
      }
      this.repo.insertCartLine({
        id: Bun.randomUUIDv7(),
        user_id: principal.userId,
        kind,
        item_id: body.itemId,
        quantity: body.quantity,
        period_days: kind === "SUBSCRIPTION" ? body.periodDays! : null,
        created_at: now,
      });
    });
    return this.cart(principal, kind);
  }

  async updateCartLine(principal: Principal, kind: OrderKind, id: string, patch: { quantity?: number; periodDays?: number }): Promise<Cart> {
    await this.writer.write(() => {
      const line = this.repo.cartLine(id, principal.userId, kind);
      if (!line) throw problems.notFound("cart_item_not_found", "no such line in this cart");
      this.repo.updateCartLine(id, principal.userId, patch.quantity ?? line.quantity, kind === "SUBSCRIPTION" ? (patch.periodDays ?? line.period_days) : null, Date.now());
    });
    return this.cart(principal, kind);
  }

  async removeCartLine(principal: Principal, kind: OrderKind, id: string): Promise<void> {
    const removed = await this.writer.write(() => this.repo.deleteCartLine(id, principal.userId, kind));
    if (!removed) throw problems.notFound("cart_item_not_found", "no such line in this cart");
  }

  // ---------------------------------------------------------------------------------------------
  // Orders

  /** A direct order ("buy now"). */
  async create(principal: Principal, body: CreateOrderBody): Promise<Order> {
    if (body.kind === "SUBSCRIPTION" && body.periodDays === undefined) {
      throw problems.unprocessable("period_required", "a subscription order needs periodDays", [{ field: "/periodDays", message: "required for SUBSCRIPTION" }]);
    }
    if (body.kind === "NORMAL" && body.periodDays !== undefined) {
      throw problems.unprocessable("period_not_allowed", "periodDays is for subscription orders", [{ field: "/periodDays", message: "only for SUBSCRIPTION" }]);
    }
    const ids = body.items.map((i) => i.itemId);
    if (new Set(ids).size !== ids.length) {
      throw problems.unprocessable("duplicate_items", "each item may appear once; use its quantity", [{ field: "/items", message: "duplicate itemId" }]);
    }
    const id = await this.writer.write(() => this.placeOrder(principal.userId, body.kind, body.items, body.periodDays ?? null, false));
    return this.orderView(id);
  }

  /** Orders the cart (or some of its lines). The lines leave the cart once the order is paid. */
  async checkout(principal: Principal, kind: OrderKind, body: CheckoutBody): Promise<Order> {
    const id = await this.writer.write(() => {
      let lines: CartLineRow[] = this.repo.cartLines(principal.userId, kind);
      if (body.cartItemIds) {
        const wanted = new Set(body.cartItemIds);
        const found = lines.filter((l) => wanted.has(l.id));
        if (found.length !== wanted.size) throw problems.notFound("cart_item_not_found", "some cartItemIds are not in this cart");
        lines = found;
      }
      if (lines.length === 0) throw problems.conflict("cart_empty", "there is nothing to order in this cart");
      let period: number | null = null;
      if (kind === "SUBSCRIPTION") {
        const periods = new Set(lines.map((l) => l.period_days));
        if (periods.size > 1) {
          throw problems.unprocessable("mixed_periods", "one subscription has one period: order lines with different periods separately (cartItemIds)", [
            { field: "/cartItemIds", message: "lines with different periodDays" },
          ]);
        }
        period = lines[0]!.period_days;
      }
      return this.placeOrder(principal.userId, kind, lines.map((l) => ({ itemId: l.item_id, quantity: l.quantity })), period, true);
    });
    return this.orderView(id);
  }

  /** In a write: prices from the catalog, stock reserved, order and its items inserted. */
  private placeOrder(userId: string, kind: OrderKind, wanted: Array<{ itemId: string; quantity: number }>, periodDays: number | null, fromCart: boolean): string {
    const rows = new Map(this.repo.itemsByIds(wanted.map((w) => w.itemId)).map((r) => [r.id, r]));
    const orderId = Bun.randomUUIDv7();
    const items: OrderItemRow[] = [];
    for (const w of wanted) {
      const item = rows.get(w.itemId);
      if (!item) throw problems.notFound("item_not_found", `no such item ${w.itemId}`);
      // Throwing rolls back this write's savepoint: earlier reservations go with it.
      if (!this.repo.reserveStock(item.id, w.quantity)) {
        throw problems.conflict("out_of_stock", `only ${item.stock} of "${item.name}" left`, { itemId: item.id, available: item.stock });
      }
      items.push({
        id: Bun.randomUUIDv7(),
        order_id: orderId,
        item_id: item.id,
        name: item.name,
        price: item.price,
        discount_price: item.discount_price,
        quantity: w.quantity,
        refunded_quantity: 0,
      });
    }
    const total = items.reduce((a, i) => a + i.quantity * i.price, 0);
    const discount = items.reduce((a, i) => a + i.quantity * i.discount_price, 0);
    const now = Date.now();
    this.repo.insertOrder(
      { id: orderId, user_id: userId, kind, status: "REQUEST", from_cart: fromCart ? 1 : 0, period_days: periodDays, total, discount, amount: total - discount, created_at: now, updated_at: now },
      items,
    );
    this.events.emit(shopEvents.orderCreated, { orderId, userId, kind, amount: total - discount, items: items.map(lineOf) } satisfies OrderCreated);
    return orderId;
  }

  orderView(id: string): Order {
    const row = this.repo.order(id);
    if (!row) throw problems.notFound("order_not_found", "no such order");
    return toOrder(row, this.repo.orderItems(id), this.repo.subscriptionOfOrder(id)?.id ?? null);
  }

  /** The caller's order; someone else's is "not found". */
  private owned(principal: Principal, id: string): OrderRow {
    const row = this.repo.order(id);
    if (!row || row.user_id !== principal.userId) throw problems.notFound("order_not_found", "no such order");
    return row;
  }

  get(principal: Principal, id: string): Order {
    this.owned(principal, id);
    return this.orderView(id);
  }

  list(principal: Principal, query: OrderListQuery): OrderPage {
    const page = query.page ?? 1;
    const size = query.size ?? 20;
    const rows = this.repo.ordersOfUser(principal.userId, query.status, size, (page - 1) * size);
    return {
      items: rows.map((r) => toOrder(r, this.repo.orderItems(r.id), this.repo.subscriptionOfOrder(r.id)?.id ?? null)),
      page,
      size,
      total: this.repo.countOrdersOfUser(principal.userId, query.status),
    };
  }

  private async locked<T>(orderId: string, fn: () => Promise<T>): Promise<T> {
    const out = await withLock(this.locks, orderLock(orderId), lockOptions, async () => ({ value: await fn() }));
    if (!out) throw problems.conflict("order_busy", "another payment operation on this order is in progress; retry");
    return out.value;
  }

  private expired(row: OrderRow, now: number): boolean {
    return row.created_at + this.settings.orderTtlMin * 60_000 < now;
  }

  // ---------------------------------------------------------------------------------------------
  // Payment

  async ready(principal: Principal, id: string): Promise<PaymentReady> {
    this.owned(principal, id);
    return this.locked(id, async () => {
      const order = this.repo.order(id)!;
      if (order.status !== "REQUEST") throw problems.conflict("order_not_payable", `the order is ${order.status}`);
      if (this.expired(order, Date.now())) {
        await this.cancelLocked(order, "expired");
        throw problems.conflict("order_expired", "the order was not paid in time; its stock is released");
      }
      const items = this.repo.orderItems(id);
      const base = `${this.settings.publicUrl}/orders/${id}/payment`;
      let ready;
      try {
        ready = await this.gateway.ready({
          idempotencyKey: `order:${id}:ready:${order.ready_count + 1}`,
          orderId: id,
          userId: order.user_id,
          itemName: itemName(items),
          quantity: items.reduce((a, i) => a + i.quantity, 0),
          amount: order.amount,
          subscription: order.kind === "SUBSCRIPTION",
          approvalUrl: `${base}/approved`,
          cancelUrl: `${base}/cancelled`,
          failUrl: `${base}/failed`,
        });
      } catch (err) {
        throw this.paymentProblem(err);
      }
      const stored = await this.writer.write(() => this.repo.setOrderTid(id, ready.tid, Date.now()));
      if (!stored) throw problems.conflict("order_not_payable", "the order changed while the payment was being prepared");
      return { orderId: id, tid: ready.tid, redirectUrl: ready.redirectUrl };
    });
  }

  /**
   * Approves the payment the buyer authorized. `principal` is null on the gateway's redirect
   * back (the pg_token, single-use and bound to this payment, is the credential there).
   * Repeating it after success answers the paid order without charging again.
   */
  async approve(principal: Principal | null, id: string, pgToken: string): Promise<Order> {
    const first = principal ? this.owned(principal, id) : this.repo.order(id);
    if (!first) throw problems.notFound("order_not_found", "no such order");
    if (first.paid_at !== null) return this.orderView(id);
    return this.locked(id, async () => {
      const order = this.repo.order(id)!;
      if (order.paid_at !== null) return this.orderView(id);
      if (order.status !== "REQUEST") throw problems.conflict("order_not_payable", `the order is ${order.status}`);
      if (order.tid === null) throw problems.conflict("payment_not_started", "start the payment first (POST /orders/{id}/payment)");
      const tid = order.tid;
      const key = `order:${id}:approve:${tid}`;
      const subscription = order.kind === "SUBSCRIPTION";
      let approval;
      try {
        approval = await this.gateway.approve({ idempotencyKey: key, tid, orderId: id, userId: order.user_id, pgToken, subscription });
      } catch (err) {
        if (err instanceof GatewayError && err.kind === "declined") {
          // This payment attempt is over; a new one starts with POST /orders/{id}/payment.
          await this.writer.write(() => this.repo.clearOrderTid(id, tid, Date.now()));
        }
        throw this.paymentProblem(err);
      }
      if (approval.amount !== order.amount) {
        this.logger.error("gateway approved a different amount", { orderId: id, expected: order.amount, approved: approval.amount });
      }
      const now = Date.now();
      const paid = await this.writer.write(() => {
        if (!this.repo.markPaid(id, tid, subscription ? "SUBSCRIPTION" : "COMPLETE", now)) return false;
        this.repo.insertPayment({ id: Bun.randomUUIDv7(), order_id: id, subscription_id: null, cycle: null, type: "PAYMENT", amount: approval.amount, tid, aid: approval.aid, idempotency_key: key, created_at: now });
        const items = this.repo.orderItems(id);
        this.events.emit(shopEvents.orderPaid, {
          orderId: id,
          userId: order.user_id,
          kind: order.kind,
          amount: approval.amount,
          items: items.map(lineOf),
          fromCart: order.from_cart === 1,
          paidAt: new Date(now).toISOString(),
        } satisfies OrderPaid);
        if (subscription) {
          if (!approval.sid) this.logger.error("subscription approved without a SID: recurring charges will be declined", { orderId: id });
          const today = utcDay(now);
          const row = {
            id: Bun.randomUUIDv7(),
            user_id: order.user_id,
            order_id: id,
            sid: approval.sid ?? "",
            period_days: order.period_days!,
            amount: order.amount,
            last_paid_on: today,
            next_payment_on: addDays(today, order.period_days!),
            created_at: now,
          };
          this.repo.insertSubscription(row);
          this.events.emit(shopEvents.subscriptionStarted, {
            subscriptionId: row.id,
            orderId: id,
            userId: order.user_id,
            periodDays: row.period_days,
            amount: row.amount,
            nextPaymentOn: row.next_payment_on,
          } satisfies SubscriptionStarted);
        }
        return true;
      });
      if (!paid) {
        // Cancelled or expired under us (a lost lock): the money goes back.
        this.logger.warn("payment approved for an order that is no longer payable; refunding", { orderId: id, tid });
        await this.gateway.cancel({ idempotencyKey: `order:${id}:void:${tid}`, tid, amount: approval.amount, subscription }).catch((err: unknown) =>
          this.logger.error("refund of an unpayable order failed; reconcile by hand", { orderId: id, tid, err }),
        );
        throw problems.conflict("order_not_payable", "the order was cancelled before the payment completed; the payment is refunded");
      }
      return this.orderView(id);
    });
  }

  private paymentProblem(err: unknown): Error {
    if (!(err instanceof GatewayError)) return err instanceof Error ? err : new Error(String(err));
    if (err.kind === "declined") return new HttpProblem(402, "payment_declined", `the payment was declined: ${err.message}`);
    if (err.kind === "rejected") return problems.conflict("payment_rejected", `the payment gateway refused the request: ${err.message}`);
    return gatewayUnavailable(err);
  }

  // ---------------------------------------------------------------------------------------------
  // Cancel, expiry, refunds

  async cancel(principal: Principal, id: string): Promise<Order> {
    this.owned(principal, id);
    await this.locked(id, async () => {
      const order = this.repo.order(id)!;
      if (order.status !== "REQUEST") throw problems.conflict("order_not_cancellable", `the order is ${order.status}; paid orders are refunded instead`);
      await this.cancelLocked(order, "cancelled");
    });
    return this.orderView(id);
  }

  private async cancelLocked(order: OrderRow, reason: OrderCancelled["reason"]): Promise<boolean> {
    return this.writer.write(() => {
      if (!this.repo.setOrderStatus(order.id, "REQUEST", "CANCEL", Date.now())) return false;
      for (const item of this.repo.orderItems(order.id)) this.repo.releaseStock(item.item_id, item.quantity);
      this.events.emit(shopEvents.orderCancelled, { orderId: order.id, userId: order.user_id, reason } satisfies OrderCancelled);
      return true;
    });
  }

  /** Cancels unpaid orders older than the TTL (the worker runs it every minute). */
  async expireUnpaid(now = Date.now(), limit = 100): Promise<number> {
    let expired = 0;
    for (const id of this.repo.expiredOrderIds(now - this.settings.orderTtlMin * 60_000, limit)) {
      const done = await withLock(this.locks, orderLock(id), { ttlMs: lockOptions.ttlMs, waitMs: 0 }, async () => {
        const order = this.repo.order(id);
        return order !== null && order.status === "REQUEST" && this.expired(order, now) && (await this.cancelLocked(order, "expired"));
      });
      if (done) expired++;
    }
    return expired;
  }

  /**
   * Refunds some or all of a paid one-time order. A refund left pending by a gateway failure
   * is finished first (same idempotency key) and the call then answers with its result.
   */
  async refund(principal: Principal, id: string, body: RefundBody): Promise<Order> {
    this.owned(principal, id);
    await this.locked(id, async () => {
      const order = this.repo.order(id)!;
      const pending = this.repo.pendingRefund(id);
      if (pending) return this.finishRefund(order, pending);
      if (order.kind !== "NORMAL") throw problems.conflict("order_not_refundable", "subscription orders are cancelled, not refunded");
      if (order.status === "REFUND") throw problems.conflict("already_refunded", "the order is fully refunded");
      if (order.status !== "COMPLETE" || order.tid === null) throw problems.conflict("order_not_refundable", `the order is ${order.status}`);
      const items = this.repo.orderItems(id);
      const byId = new Map(items.map((i) => [i.id, i]));
      const wanted = body.items ?? items.filter((i) => i.refunded_quantity < i.quantity).map((i) => ({ orderItemId: i.id, quantity: i.quantity - i.refunded_quantity }));
      if (new Set(wanted.map((w) => w.orderItemId)).size !== wanted.length) {
        throw problems.unprocessable("duplicate_items", "each order item may appear once", [{ field: "/items", message: "duplicate orderItemId" }]);
      }
      const lines = wanted.map((w) => {
        const item = byId.get(w.orderItemId);
        if (!item) throw problems.notFound("order_item_not_found", `no order item ${w.orderItemId} in this order`);
        if (w.quantity > item.quantity - item.refunded_quantity) {
          throw problems.conflict("refund_exceeds_quantity", `only ${item.quantity - item.refunded_quantity} of "${item.name}" can still be refunded`);
        }
        return { orderItemId: item.id, itemId: item.item_id, quantity: w.quantity, amount: w.quantity * (item.price - item.discount_price) };
      });
      if (lines.length === 0) throw problems.conflict("nothing_to_refund", "everything is refunded already");
      const refund = await this.writer.write(() => {
        const row = {
          id: Bun.randomUUIDv7(),
          order_id: id,
          seq: this.repo.nextRefundSeq(id),
          amount: lines.reduce((a, l) => a + l.amount, 0),
          items: JSON.stringify(lines.map(({ orderItemId, itemId, quantity }) => ({ orderItemId, itemId, quantity }))),
          created_at: Date.now(),
        };
        this.repo.insertRefund(row);
        return { ...row, status: "PENDING" as const, done_at: null };
      });
      await this.finishRefund(order, refund);
    });
    return this.orderView(id);
  }

  private async finishRefund(order: OrderRow, refund: RefundRow): Promise<void> {
    const key = `order:${order.id}:refund:${refund.seq}`;
    try {
      await this.gateway.cancel({ idempotencyKey: key, tid: order.tid!, amount: refund.amount, subscription: false });
    } catch (err) {
      // A refusal will not change on retry: forget the attempt. A transient failure keeps it pending.
      if (err instanceof GatewayError && err.kind !== "transient") await this.writer.write(() => this.repo.deletePendingRefund(refund.id));
      throw this.paymentProblem(err);
    }
    const lines = JSON.parse(refund.items) as Array<{ orderItemId: string; itemId: string; quantity: number }>;
    await this.writer.write(() => {
      const now = Date.now();
      if (!this.repo.markRefundDone(refund.id, now)) return;
      for (const l of lines) {
        if (!this.repo.refundOrderItem(l.orderItemId, l.quantity)) throw new Error(`refund ${refund.id} exceeds order item ${l.orderItemId}`);
        this.repo.releaseStock(l.itemId, l.quantity);
      }
      this.repo.addRefunded(order.id, refund.amount, now);
      const full = this.repo.orderItems(order.id).every((i) => i.refunded_quantity === i.quantity);
      if (full) this.repo.setOrderStatus(order.id, "COMPLETE", "REFUND", now);
      this.repo.insertPayment({ id: Bun.randomUUIDv7(), order_id: order.id, subscription_id: null, cycle: null, type: "REFUND", amount: -refund.amount, tid: order.tid!, aid: null, idempotency_key: key, created_at: now });
      this.events.emit(shopEvents.orderRefunded, {
        orderId: order.id,
        userId: order.user_id,
        refundId: refund.id,
        amount: refund.amount,
        items: lines.map((l) => ({ itemId: l.itemId, quantity: l.quantity })),
        full,
      } satisfies OrderRefunded);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Event handlers (in the consumer's transaction)

  applyOrderPaid(event: OrderPaid): void {
    for (const line of event.items) this.repo.addSales(line.itemId, line.quantity);
    if (event.fromCart) this.repo.deleteCartLinesByItems(event.userId, event.kind, event.items.map((l) => l.itemId));
  }

  applyOrderRefunded(event: OrderRefunded): void {
    for (const line of event.items) this.repo.addSales(line.itemId, -line.quantity);
  }
}
