// Orders and their payment. No HTTP here: refusals are ShopErrors, and the gateway's own
// answers (declined, rejected, unavailable) pass through as GatewayErrors for the controllers.
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
//
// One checkout at a time: starting the payment of an order whose checkout is still open answers
// that checkout again (same tid, same page), so approving it — in whichever tab — completes the
// order. A new one starts once it ended: declined, cancelled or failed at the gateway (its
// return URLs carry the attempt's reference, so only its own redirect ends it), or older than
// checkoutTtlMs (KakaoPay's ready is valid 15 minutes).
import { createHmac } from "node:crypto";
import type { Clock } from "../../platform/clock";
import { withLock, type LockManager } from "../../platform/lock";
import type { Logger } from "../../platform/logger";
import type { Principal } from "../accounts";
import { fieldRefusal, ShopError, shopErrors } from "./errors";
import { shopEvent, type OrderCancelled, type OrderLine, type ShopEvent } from "./events";
import type { CheckoutBody, CreateOrderBody, Order, OrderKind, OrderListQuery, OrderPage, PaymentReady } from "./model";
import { type Approval, GatewayError, type PaymentGateway } from "./payments/port";
import type { CartStore, NewSubscription, OrderItemRow, OrderRow, OrderStore, Placement } from "./store";
import { addDays, toOrder, utcDay } from "./views";

export interface OrdersSettings {
  /** Base URL the gateway sends the buyer back to. */
  publicUrl: string;
  /** Keys the attempt references on the cancel and fail URLs (unguessable, so a stranger cannot end a checkout). */
  checkoutSecret: string;
  orderTtlMin: number;
  /** Per user: unpaid orders held at once, and units they reserve in all (0 = no cap). */
  unpaidOrdersMax: number;
  unpaidUnitsMax: number;
}

/** How long a started checkout is answered again: KakaoPay's payment window after ready. */
export const checkoutTtlMs = 15 * 60_000;

/** How a checkout ended, as the gateway's return URL says. */
export type CheckoutEnd = "cancelled" | "failed";

const orderLock = (id: string) => `shop:order:${id}`;
const lockOptions = { ttlMs: 15_000, waitMs: 3_000 };

/** Runs fn holding the order's lock (payment, cancel and refund operations are serialised). */
export async function withOrderLock<T>(locks: LockManager, orderId: string, fn: () => Promise<T>): Promise<T> {
  const out = await withLock(locks, orderLock(orderId), lockOptions, async () => ({ value: await fn() }));
  if (!out) throw new ShopError(shopErrors.orderBusy, "another payment operation on this order is in progress; retry");
  return out.value;
}

export const orderNotFound = () => new ShopError(shopErrors.orderNotFound, "no such order");

/** The caller's order; someone else's is "not found". */
export async function ownedOrder(store: OrderStore, principal: Principal, id: string): Promise<OrderRow> {
  const row = await store.order(id);
  if (!row || row.user_id !== principal.userId) throw orderNotFound();
  return row;
}

export const lineOf = (item: { item_id: string; quantity: number }): OrderLine => ({ itemId: item.item_id, quantity: item.quantity });

function itemName(items: OrderItemRow[]): string {
  const first = items[0]?.name ?? "order";
  const name = items.length > 1 ? `${first} and ${items.length - 1} more` : first;
  return name.slice(0, 100);
}

function placementRefusal(p: Exclude<Placement, { ok: true }>): ShopError {
  if (p.reason === "item_not_found") return new ShopError(shopErrors.itemNotFound, `no such item ${p.itemId}`);
  if (p.reason === "unpaid_limit") {
    const extra = { max: p.max, held: p.held };
    return p.limit === "orders"
      ? new ShopError(shopErrors.unpaidOrderLimit, `you have ${p.held} unpaid orders (at most ${p.max}): pay or cancel one first`, extra)
      : new ShopError(
          shopErrors.unpaidQuantityLimit,
          `your unpaid orders already reserve ${p.held} units (at most ${p.max} in all): pay or cancel one first`,
          extra,
        );
  }
  return new ShopError(shopErrors.outOfStock, `only ${p.available} of "${p.name}" left`, { itemId: p.itemId, available: p.available });
}

export class OrdersService {
  constructor(
    private readonly store: OrderStore,
    private readonly carts: CartStore,
    private readonly locks: LockManager,
    private readonly gateway: PaymentGateway,
    private readonly clock: Clock,
    private readonly settings: OrdersSettings,
    private readonly logger: Logger,
  ) {}

  // ---------------------------------------------------------------------------------------------
  // Orders

  /** A direct order ("buy now"). */
  async create(principal: Principal, body: CreateOrderBody): Promise<Order> {
    if (body.kind === "SUBSCRIPTION" && body.periodDays === undefined) {
      throw fieldRefusal(shopErrors.periodRequired, "a subscription order needs periodDays", "/periodDays", "required for SUBSCRIPTION");
    }
    if (body.kind === "NORMAL" && body.periodDays !== undefined) {
      throw fieldRefusal(shopErrors.periodNotAllowed, "periodDays is for subscription orders", "/periodDays", "only for SUBSCRIPTION");
    }
    const ids = body.items.map((i) => i.itemId);
    if (new Set(ids).size !== ids.length)
      throw fieldRefusal(shopErrors.duplicateItems, "each item may appear once; use its quantity", "/items", "duplicate itemId");
    return this.place(principal.userId, body.kind, body.items, body.periodDays ?? null, false);
  }

  /** Orders the cart (or some of its lines). The lines leave the cart once the order is paid. */
  async checkout(principal: Principal, kind: OrderKind, body: CheckoutBody): Promise<Order> {
    let lines = await this.carts.lines(principal.userId, kind);
    if (body.cartItemIds) {
      const wanted = new Set(body.cartItemIds);
      const found = lines.filter((l) => wanted.has(l.id));
      if (found.length !== wanted.size) throw new ShopError(shopErrors.cartItemNotFound, "some cartItemIds are not in this cart");
      lines = found;
    }
    if (lines.length === 0) throw new ShopError(shopErrors.cartEmpty, "there is nothing to order in this cart");
    let period: number | null = null;
    if (kind === "SUBSCRIPTION") {
      if (new Set(lines.map((l) => l.period_days)).size > 1) {
        throw fieldRefusal(
          shopErrors.mixedPeriods,
          "one subscription has one period: order lines with different periods separately (cartItemIds)",
          "/cartItemIds",
          "lines with different periodDays",
        );
      }
      period = lines[0]!.period_days;
    }
    return this.place(
      principal.userId,
      kind,
      lines.map((l) => ({ itemId: l.item_id, quantity: l.quantity })),
      period,
      true,
    );
  }

  private async place(
    userId: string,
    kind: OrderKind,
    lines: Array<{ itemId: string; quantity: number }>,
    periodDays: number | null,
    fromCart: boolean,
  ): Promise<Order> {
    const id = Bun.randomUUIDv7();
    const now = this.clock.now();
    // Unpaid orders reserve stock until they expire: a user may hold only so much of it at once.
    const unpaid = {
      maxOrders: this.settings.unpaidOrdersMax,
      maxUnits: this.settings.unpaidUnitsMax,
      since: now - this.settings.orderTtlMin * 60_000,
    };
    const placed = await this.store.place({ id, userId, kind, periodDays, fromCart, lines, now, unpaid }, (order, items) =>
      shopEvent.orderCreated({ orderId: id, userId, kind, amount: order.amount, items: items.map(lineOf) }),
    );
    if (!placed.ok) throw placementRefusal(placed);
    return this.view(id);
  }

  async view(id: string): Promise<Order> {
    const detail = await this.store.detail(id);
    if (!detail) throw orderNotFound();
    return toOrder(detail);
  }

  async get(principal: Principal, id: string): Promise<Order> {
    await ownedOrder(this.store, principal, id);
    return this.view(id);
  }

  async list(principal: Principal, query: OrderListQuery): Promise<OrderPage> {
    const page = query.page ?? 1;
    const size = query.size ?? 20;
    const rows = await this.store.ofUser(principal.userId, query.status, size, (page - 1) * size);
    return { items: rows.map(toOrder), page, size, total: await this.store.countOfUser(principal.userId, query.status) };
  }

  private expired(row: OrderRow, now: number): boolean {
    return row.created_at + this.settings.orderTtlMin * 60_000 < now;
  }

  // ---------------------------------------------------------------------------------------------
  // Payment

  async ready(principal: Principal, id: string): Promise<PaymentReady> {
    await ownedOrder(this.store, principal, id);
    return withOrderLock(this.locks, id, async () => {
      const order = (await this.store.order(id))!;
      if (order.status !== "REQUEST") throw new ShopError(shopErrors.orderNotPayable, `the order is ${order.status}`);
      if (this.expired(order, this.clock.now())) {
        await this.cancelLocked(order, "expired");
        throw new ShopError(shopErrors.orderExpired, "the order was not paid in time; its stock is released");
      }
      const open = this.openCheckout(order, this.clock.now());
      if (open) return { orderId: id, tid: open.tid, redirectUrl: open.url, resumed: true };
      const items = await this.store.items(id);
      const base = `${this.settings.publicUrl}/orders/${id}/payment`;
      const attempt = order.ready_count + 1;
      const ref = `checkout=${this.checkoutRef(id, attempt)}`;
      const ready = await this.gateway.ready({
        idempotencyKey: `order:${id}:ready:${attempt}`,
        orderId: id,
        userId: order.user_id,
        itemName: itemName(items),
        quantity: items.reduce((a, i) => a + i.quantity, 0),
        amount: order.amount,
        subscription: order.kind === "SUBSCRIPTION",
        approvalUrl: `${base}/approved`,
        cancelUrl: `${base}/cancelled?${ref}`,
        failUrl: `${base}/failed?${ref}`,
      });
      if (!(await this.store.startPayment(id, ready.tid, ready.redirectUrl, this.clock.now()))) {
        throw new ShopError(shopErrors.orderNotPayable, "the order changed while the payment was being prepared");
      }
      return { orderId: id, tid: ready.tid, redirectUrl: ready.redirectUrl, resumed: false };
    });
  }

  /** The order's checkout if one is open: started, not ended, and recent enough to approve. */
  private openCheckout(order: OrderRow, now: number): { tid: string; url: string } | null {
    if (order.tid === null || order.checkout_url === null || order.checkout_at === null) return null;
    return now - order.checkout_at < checkoutTtlMs ? { tid: order.tid, url: order.checkout_url } : null;
  }

  /** The reference of a payment attempt on its cancel and fail URLs. */
  private checkoutRef(orderId: string, attempt: number): string {
    return createHmac("sha256", this.settings.checkoutSecret)
      .update(`shop-checkout:${orderId}:${attempt}`)
      .digest("base64url")
      .slice(0, 22);
  }

  /**
   * The gateway sent the buyer back to the cancel or fail URL: the attempt that URL belongs to
   * ends (when it is still the current one), so the next start opens a new checkout. No
   * principal: the reference on the URL is the credential. True when it ended an attempt.
   */
  async endCheckout(id: string, ref: string | undefined, how: CheckoutEnd): Promise<boolean> {
    const first = await this.store.order(id);
    if (!first || first.tid === null || ref === undefined || ref !== this.checkoutRef(id, first.ready_count)) return false;
    return withOrderLock(this.locks, id, async () => {
      const order = (await this.store.order(id))!;
      if (order.tid === null || order.status !== "REQUEST" || ref !== this.checkoutRef(id, order.ready_count)) return false;
      const ended = await this.store.abandonPayment(id, order.tid, this.clock.now());
      if (ended) this.logger.info("checkout ended at the gateway", { orderId: id, tid: order.tid, how });
      return ended;
    });
  }

  /**
   * Approves the payment the buyer authorized. `principal` is null on the gateway's redirect
   * back (the pg_token, single-use and bound to this payment, is the credential there).
   * Repeating it after success answers the paid order without charging again.
   */
  async approve(principal: Principal | null, id: string, pgToken: string): Promise<Order> {
    const first = principal ? await ownedOrder(this.store, principal, id) : await this.store.order(id);
    if (!first) throw orderNotFound();
    if (first.paid_at !== null) return this.view(id);
    return withOrderLock(this.locks, id, async () => {
      const order = (await this.store.order(id))!;
      if (order.paid_at !== null) return this.view(id);
      if (order.status !== "REQUEST") throw new ShopError(shopErrors.orderNotPayable, `the order is ${order.status}`);
      if (order.tid === null) throw new ShopError(shopErrors.paymentNotStarted, "start the payment first (POST /orders/{id}/payment)");
      const tid = order.tid;
      const key = `order:${id}:approve:${tid}`;
      const subscription = order.kind === "SUBSCRIPTION";
      let approval: Approval;
      try {
        approval = await this.gateway.approve({ idempotencyKey: key, tid, orderId: id, userId: order.user_id, pgToken, subscription });
      } catch (err) {
        // This payment attempt is over; a new one starts with POST /orders/{id}/payment.
        if (err instanceof GatewayError && err.kind === "declined") await this.store.abandonPayment(id, tid, this.clock.now());
        throw err;
      }
      if (approval.amount !== order.amount) {
        this.logger.error("gateway approved a different amount", { orderId: id, expected: order.amount, approved: approval.amount });
      }
      const now = this.clock.now();
      const items = await this.store.items(id);
      const events: ShopEvent[] = [
        shopEvent.orderPaid({
          orderId: id,
          userId: order.user_id,
          kind: order.kind,
          amount: approval.amount,
          items: items.map(lineOf),
          fromCart: order.from_cart === 1,
          paidAt: new Date(now).toISOString(),
        }),
      ];
      let started: NewSubscription | null = null;
      if (subscription) {
        if (!approval.sid) this.logger.error("subscription approved without a SID: recurring charges will be declined", { orderId: id });
        const today = utcDay(now);
        started = {
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
        events.push(
          shopEvent.subscriptionStarted({
            subscriptionId: started.id,
            orderId: id,
            userId: order.user_id,
            periodDays: started.period_days,
            amount: started.amount,
            nextPaymentOn: started.next_payment_on,
          }),
        );
      }
      const payment = {
        id: Bun.randomUUIDv7(),
        order_id: id,
        subscription_id: null,
        cycle: null,
        type: "PAYMENT" as const,
        amount: approval.amount,
        tid,
        aid: approval.aid,
        idempotency_key: key,
        created_at: now,
      };
      const paid = await this.store.recordPaid(
        { orderId: id, tid, status: subscription ? "SUBSCRIPTION" : "COMPLETE", payment, subscription: started, now },
        events,
      );
      if (!paid) {
        // Cancelled or expired under us (a lost lock): the money goes back.
        this.logger.warn("payment approved for an order that is no longer payable; refunding", { orderId: id, tid });
        await this.gateway
          .cancel({ idempotencyKey: `order:${id}:void:${tid}`, tid, amount: approval.amount, subscription })
          .catch((err: unknown) => this.logger.error("refund of an unpayable order failed; reconcile by hand", { orderId: id, tid, err }));
        throw new ShopError(shopErrors.orderNotPayable, "the order was cancelled before the payment completed; the payment is refunded");
      }
      return this.view(id);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Cancel and expiry

  async cancel(principal: Principal, id: string): Promise<Order> {
    await ownedOrder(this.store, principal, id);
    await withOrderLock(this.locks, id, async () => {
      const order = (await this.store.order(id))!;
      if (order.status !== "REQUEST")
        throw new ShopError(shopErrors.orderNotCancellable, `the order is ${order.status}; paid orders are refunded instead`);
      await this.cancelLocked(order, "cancelled");
    });
    return this.view(id);
  }

  private cancelLocked(order: OrderRow, reason: OrderCancelled["reason"]): Promise<boolean> {
    return this.store.cancelUnpaid(
      order.id,
      this.clock.now(),
      shopEvent.orderCancelled({ orderId: order.id, userId: order.user_id, reason }),
    );
  }

  /** Cancels unpaid orders older than the TTL (the worker runs it every minute). */
  async expireUnpaid(now = this.clock.now(), limit = 100): Promise<number> {
    let expired = 0;
    for (const id of await this.store.expiredIds(now - this.settings.orderTtlMin * 60_000, limit)) {
      const done = await withLock(this.locks, orderLock(id), { ttlMs: lockOptions.ttlMs, waitMs: 0 }, async () => {
        const order = await this.store.order(id);
        return order !== null && order.status === "REQUEST" && this.expired(order, now) && (await this.cancelLocked(order, "expired"));
      });
      if (done) expired++;
    }
    return expired;
  }
}
