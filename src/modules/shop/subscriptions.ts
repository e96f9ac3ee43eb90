// The subscriber's side of subscriptions: list, charge history, change the period, skip a
// cycle, cancel (with the refund of the current cycle if asked). Each change holds the
// subscription's billing lock, so it never lands in the middle of a charge. No HTTP here:
// refusals are ShopErrors.
//
// Cancel with refund: the subscription ends and a PENDING refund of the current cycle's order is
// recorded in one transaction, then the gateway refunds it (the same idempotency key as order
// refunds: order:<id>:refund:<seq>). A gateway failure leaves the refund pending — the
// subscription is cancelled either way and never charged again — and asking again finishes it.
import { decodeCursor, encodeCursor } from "../../platform/http/paging";
import type { Clock } from "../../platform/clock";
import { withLock, type LockManager } from "../../platform/lock";
import type { Logger } from "../../platform/logger";
import type { Principal, UserDeleted } from "../accounts";
import { ShopError, shopErrors } from "./errors";
import { shopEvent, type SubscriptionCancelled } from "./events";
import type { ChargePage, Subscription, SubscriptionPage } from "./model";
import { GatewayError, type PaymentGateway } from "./payments/port";
import type { OrderStore, Refund, SubscriptionRow, SubscriptionStore } from "./store";
import { addDays, toCharge, toSubscription, utcDay } from "./views";

/** The lock billing and the subscriber's changes share. */
export const subscriptionLock = (id: string) => `shop:subscription:${id}`;

export const subscriptionNotFound = () => new ShopError(shopErrors.subscriptionNotFound, "no such subscription");

/** The event of a subscription that ends. */
export const cancelledEvent = (row: SubscriptionRow, reason: SubscriptionCancelled["reason"]) =>
  shopEvent.subscriptionCancelled({ subscriptionId: row.id, orderId: row.order_id, userId: row.user_id, reason });

export class SubscriptionsService {
  constructor(
    private readonly store: SubscriptionStore,
    private readonly orders: OrderStore,
    private readonly locks: LockManager,
    private readonly gateway: PaymentGateway,
    private readonly clock: Clock,
    private readonly settings: { lockTtlMs: number },
    private readonly logger: Logger,
  ) {}

  /** Newest first, a keyset page (cursor: the last id). */
  async list(principal: Principal, query: { limit?: number; cursor?: string }): Promise<SubscriptionPage> {
    const limit = query.limit ?? 20;
    const [before] = query.cursor ? decodeCursor(query.cursor, ["string"]) : [""];
    const rows = await this.store.ofUser(principal.userId, before, limit + 1);
    const page = rows.slice(0, limit);
    return {
      items: page.map(toSubscription),
      nextCursor: rows.length > limit ? encodeCursor([page.at(-1)!.subscription.id]) : null,
    };
  }

  /** The charge history, newest cycle first (cycle 1: the first payment), a keyset page (cursor: the last cycle). */
  async charges(principal: Principal, id: string, query: { limit?: number; cursor?: string }): Promise<ChargePage> {
    await this.owned(principal, id);
    const limit = query.limit ?? 20;
    const [before] = query.cursor ? decodeCursor(query.cursor, ["number"]) : [Number.MAX_SAFE_INTEGER];
    const rows = await this.store.cycles(id, before, limit + 1);
    const page = rows.slice(0, limit);
    return { items: page.map(toCharge), nextCursor: rows.length > limit ? encodeCursor([page.at(-1)!.cycle]) : null };
  }

  async get(principal: Principal, id: string): Promise<Subscription> {
    const detail = await this.store.detail(id);
    if (!detail || detail.subscription.user_id !== principal.userId) throw subscriptionNotFound();
    return toSubscription(detail);
  }

  /** The caller's subscription; someone else's is "not found". */
  private async owned(principal: Principal, id: string): Promise<SubscriptionRow> {
    const row = await this.store.subscription(id);
    if (!row || row.user_id !== principal.userId) throw subscriptionNotFound();
    return row;
  }

  /** Runs fn on the live subscription while holding its billing lock: never in the middle of a charge. */
  private async changing(principal: Principal, id: string, fn: (row: SubscriptionRow) => Promise<void>): Promise<Subscription> {
    await this.owned(principal, id);
    const done = await withLock(this.locks, subscriptionLock(id), { ttlMs: this.settings.lockTtlMs, waitMs: 3_000 }, async () => {
      const row = (await this.store.subscription(id))!;
      if (row.status !== "ACTIVE") throw new ShopError(shopErrors.subscriptionNotActive, `the subscription is ${row.status}`);
      if (await this.store.pendingCharge(id)) {
        throw new ShopError(
          shopErrors.chargeInProgress,
          "a charge of this subscription is still being settled with the payment gateway; retry later",
        );
      }
      await fn(row);
      return true;
    });
    if (!done) throw new ShopError(shopErrors.subscriptionBusy, "the subscription is being billed right now; retry shortly");
    return this.get(principal, id);
  }

  /** New period from the next cycle on: next payment = last payment + new period (tomorrow at the earliest). */
  changePeriod(principal: Principal, id: string, periodDays: number): Promise<Subscription> {
    return this.changing(principal, id, async (row) => {
      const tomorrow = addDays(utcDay(this.clock.now()), 1);
      const byPeriod = addDays(row.last_paid_on, periodDays);
      // The later of the two (YYYY-MM-DD days sort as text).
      const next = [byPeriod, tomorrow].sort()[1]!;
      await this.store.reschedule(id, { periodDays, nextOn: next, chargeOn: next, resetDeclines: false }, this.clock.now());
    });
  }

  /** Skips the coming cycle: its due date moves one period on (pending decline retries are dropped). */
  skip(principal: Principal, id: string): Promise<Subscription> {
    return this.changing(principal, id, async (row) => {
      const next = addDays(row.next_payment_on, row.period_days);
      await this.store.reschedule(id, { periodDays: row.period_days, nextOn: next, chargeOn: next, resetDeclines: true }, this.clock.now());
    });
  }

  cancel(principal: Principal, id: string, refund = false): Promise<Subscription> {
    if (refund) return this.cancelWithRefund(principal, id);
    return this.changing(principal, id, async (row) => {
      await this.store.end(row, "CANCELLED", this.clock.now(), [cancelledEvent(row, "user")]);
      await this.inactivate(row);
    });
  }

  /** The SID is never charged again either way; telling the gateway is good hygiene. */
  private async inactivate(row: SubscriptionRow): Promise<void> {
    await this.gateway
      .inactivate(row.sid)
      .catch((err: unknown) =>
        this.logger.warn("SID inactivation failed", { subscriptionId: row.id, err: err instanceof Error ? err.message : String(err) }),
      );
  }

  /** Cancel and refund the current cycle; a refund left pending by a gateway failure is finished first. */
  private async cancelWithRefund(principal: Principal, id: string): Promise<Subscription> {
    await this.owned(principal, id);
    const done = await withLock(this.locks, subscriptionLock(id), { ttlMs: this.settings.lockTtlMs, waitMs: 3_000 }, async () => {
      let pending = await this.store.pendingRefund(id);
      if (!pending) {
        const row = (await this.store.subscription(id))!;
        if (row.status !== "ACTIVE") throw new ShopError(shopErrors.subscriptionNotActive, `the subscription is ${row.status}`);
        if (await this.store.pendingCharge(id)) {
          throw new ShopError(
            shopErrors.chargeInProgress,
            "a charge of this subscription is still being settled with the payment gateway; retry later",
          );
        }
        const ended = await this.store.endWithRefund(row, Bun.randomUUIDv7(), this.clock.now(), [cancelledEvent(row, "user")]);
        if (ended === "not_active") throw new ShopError(shopErrors.subscriptionNotActive, "the subscription is no longer active");
        if (ended === "no_order") {
          throw new ShopError(
            shopErrors.cycleNotRefundable,
            `cycle ${row.paid_cycles} was charged before cycles had orders: cancel without refund, and refund it by hand`,
          );
        }
        pending = ended;
        await this.inactivate(row);
      }
      await this.refundCycle(pending.refund, pending.tid);
      return true;
    });
    if (!done) throw new ShopError(shopErrors.subscriptionBusy, "the subscription is being billed right now; retry shortly");
    return this.get(principal, id);
  }

  private async refundCycle(refund: Refund, tid: string): Promise<void> {
    const key = `order:${refund.order_id}:refund:${refund.seq}`;
    try {
      await this.gateway.cancel({ idempotencyKey: key, tid, amount: refund.amount, subscription: true });
    } catch (err) {
      // A refusal will not change on retry: forget the attempt. A transient failure keeps it pending.
      if (err instanceof GatewayError && err.kind !== "transient") await this.orders.dropRefund(refund.id);
      throw err;
    }
    const now = this.clock.now();
    const order = (await this.orders.order(refund.order_id))!;
    await this.orders.completeRefund(
      refund,
      {
        id: Bun.randomUUIDv7(),
        order_id: refund.order_id,
        subscription_id: null,
        cycle: null,
        type: "REFUND",
        amount: -refund.amount,
        tid,
        aid: null,
        idempotency_key: key,
        created_at: now,
      },
      now,
      (full) =>
        shopEvent.orderRefunded({
          orderId: refund.order_id,
          userId: order.user_id,
          refundId: refund.id,
          amount: refund.amount,
          items: refund.lines.map((l) => ({ itemId: l.itemId, quantity: l.quantity })),
          full,
        }),
    );
  }

  /** A deleted account's subscriptions stop (never charged again). In the consumer's transaction. */
  applyUserDeleted(event: UserDeleted): void {
    this.store.endAllOfUser(event.userId, this.clock.now(), (row) => cancelledEvent(row, "user_deleted"));
  }
}
