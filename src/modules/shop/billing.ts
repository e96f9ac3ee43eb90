// Recurring billing. No HTTP here: a run answers what happened to each subscription.
//
// Exactly one charge per subscription per cycle, however many workers run billing:
//   1. a lock per subscription (platform.locks: Redis across instances, in-process embedded)
//      keeps two workers from charging it at the same time; after taking it, the
//      subscription is read again, so a worker with an old list skips what another just paid;
//   2. the (subscription, cycle) charge row is the record of that cycle: created PENDING
//      before the gateway is called, turned PAID in the same transaction that advances the
//      subscription (only from that cycle), so a cycle can be paid once;
//   3. the gateway call's idempotency key is (subscription, cycle, try): if a worker dies or
//      times out after the gateway charged, the next attempt replays the same key and gets the
//      same approval instead of a second charge — no double charge, and no lost one.
// 4. no run charges a cycle due after today (UTC, from the injected clock): a date in the
//    future is refused, so repeated or early calls can never bill cycles ahead of time.
// Declines move the cycle to a retry on day 1, 3 and 5 after its due date (each retry is a
// new try, hence a new key); a decline on day 5 cancels the subscription and emits
// subscription.payment_failed (the user's notification). Transient failures leave the charge
// PENDING for the next run; the worker re-runs the day with backoff while some remain.
import type { Clock } from "../../platform/clock";
import { withLock, type LockManager } from "../../platform/lock";
import type { Logger } from "../../platform/logger";
import { fieldRefusal, shopErrors } from "./errors";
import { shopEvent } from "./events";
import type { BillingSummary, ChargeResult } from "./model";
import { GatewayError, type PaymentGateway } from "./payments/port";
import type { SubscriptionRow, SubscriptionStore } from "./store";
import { cancelledEvent, subscriptionLock, subscriptionNotFound } from "./subscriptions";
import { addDays, utcDay } from "./views";

/** Days after the due date on which a declined cycle is tried again; declined on the last one, the subscription ends. */
export const declineRetryDays = [1, 3, 5] as const;

export interface BillingSettings {
  chunk: number;
  /** Lease of a subscription's billing lock (renewed while held). */
  lockTtlMs: number;
}

export class BillingService {
  constructor(
    private readonly store: SubscriptionStore,
    private readonly locks: LockManager,
    private readonly gateway: PaymentGateway,
    private readonly clock: Clock,
    private readonly settings: BillingSettings,
    private readonly logger: Logger,
  ) {}

  /** The day a run bills as: `day` (default today, UTC), never after today. */
  private billingDay(day: string | undefined): string {
    const today = utcDay(this.clock.now());
    if (day === undefined) return today;
    if (day > today) {
      throw fieldRefusal(
        shopErrors.billingDateInFuture,
        `cycles are billed on or after their day: ${day} is after today (${today}, UTC)`,
        "/date",
        `after ${today}`,
      );
    }
    return day;
  }

  /** Charges every active subscription due on or before `date` (default today; never after today), in chunks. */
  async runBilling(date?: string): Promise<BillingSummary> {
    const day = this.billingDay(date);
    const summary: BillingSummary = {
      date: day,
      due: await this.store.countDue(day),
      charged: 0,
      declined: 0,
      cancelled: 0,
      failed: 0,
      skipped: 0,
    };
    // Keyset over ids: a subscription left due by a transient failure is not retried in this run.
    let after = "";
    for (;;) {
      const ids = await this.store.dueIds(day, after, this.settings.chunk);
      if (ids.length === 0) break;
      after = ids[ids.length - 1]!;
      const results = await Promise.all(ids.map((id) => this.chargeOne(id, day)));
      for (const r of results) summary[r.outcome]++;
    }
    if (summary.due > 0) this.logger.info("billing run", { ...summary });
    return summary;
  }

  /** Charges one subscription's current cycle if it is due on `date` (default today; never after today). */
  async chargeOne(id: string, date?: string): Promise<ChargeResult> {
    const day = this.billingDay(date);
    const out = await withLock(this.locks, subscriptionLock(id), { ttlMs: this.settings.lockTtlMs, waitMs: 0 }, (_lease, lost) =>
      this.chargeLocked(id, day, lost),
    );
    return out ?? { subscriptionId: id, cycle: null, outcome: "skipped", detail: "another worker is billing it" };
  }

  /** The internal recurring-charge endpoint: one subscription, which must exist. */
  async chargeNow(id: string, date?: string): Promise<ChargeResult> {
    const day = this.billingDay(date);
    if (!(await this.store.subscription(id))) throw subscriptionNotFound();
    return this.chargeOne(id, day);
  }

  private async chargeLocked(id: string, day: string, lost: AbortSignal): Promise<ChargeResult> {
    if (!(await this.store.subscription(id)))
      return { subscriptionId: id, cycle: null, outcome: "skipped", detail: "no such subscription" };
    const prepared = await this.store.prepareCharge(id, day, this.clock.now());
    if (prepared.kind === "skip") return { subscriptionId: id, cycle: null, outcome: "skipped", detail: prepared.detail };
    const fresh = (await this.store.subscription(id))!;
    if (prepared.kind === "no_stock") return this.declined(fresh, prepared.cycle, day, prepared.detail, false);
    // The lease was lost while preparing: whoever holds it now does the charge.
    if (lost.aborted) return { subscriptionId: id, cycle: prepared.cycle, outcome: "skipped", detail: "billing lock lost" };

    const { cycle, tryNo, items } = prepared;
    const key = `subscription:${id}:cycle:${cycle}:try:${tryNo}`;
    try {
      const approval = await this.gateway.charge({
        idempotencyKey: key,
        sid: fresh.sid,
        orderId: `${id}-${cycle}`,
        userId: fresh.user_id,
        itemName: (items.length > 1 ? `${items[0]!.name} and ${items.length - 1} more` : (items[0]?.name ?? "subscription")).slice(0, 100),
        quantity: items.reduce((a, i) => a + i.quantity, 0),
        amount: fresh.amount,
      });
      const nextOn = addDays(day, fresh.period_days);
      const now = this.clock.now();
      // The order this cycle creates: the buyer's record of the charge.
      const cycleOrderId = Bun.randomUUIDv7();
      const recorded = await this.store.recordCharge(
        {
          subscriptionId: id,
          orderId: cycleOrderId,
          cycle,
          tid: approval.tid,
          paidOn: day,
          nextOn,
          payment: {
            id: Bun.randomUUIDv7(),
            order_id: cycleOrderId,
            subscription_id: id,
            cycle,
            type: "PAYMENT",
            amount: approval.amount,
            tid: approval.tid,
            aid: approval.aid,
            idempotency_key: key,
            created_at: now,
          },
          now,
        },
        shopEvent.subscriptionCharged({
          subscriptionId: id,
          userId: fresh.user_id,
          cycle,
          amount: approval.amount,
          items: items.map((i) => ({ itemId: i.item_id, quantity: i.quantity })),
          paidOn: day,
          nextPaymentOn: nextOn,
        }),
      );
      return recorded
        ? { subscriptionId: id, cycle, outcome: "charged" }
        : { subscriptionId: id, cycle, outcome: "skipped", detail: "recorded by another worker" };
    } catch (err) {
      if (err instanceof GatewayError && err.kind !== "transient")
        return this.declined(fresh, cycle, day, `${err.code}: ${err.message}`, true);
      const detail = err instanceof Error ? err.message : String(err);
      await this.store.chargeFailed(id, cycle, detail.slice(0, 500), this.clock.now());
      this.logger.warn("recurring charge failed; left pending for the next run", { subscriptionId: id, cycle, err: detail });
      return { subscriptionId: id, cycle, outcome: "failed", detail };
    }
  }

  /** A decline (or a refusal, or no stock): retry on day 1, 3, 5 after the due date, then end the subscription. */
  private async declined(sub: SubscriptionRow, cycle: number, day: string, reason: string, reserved: boolean): Promise<ChargeResult> {
    // Read under the billing lock: nothing else changes the count meanwhile.
    const declines = sub.declines + 1;
    let next: Parameters<SubscriptionStore["recordDecline"]>[0]["next"];
    if (declines > declineRetryDays.length) {
      next = {
        kind: "end",
        events: [
          cancelledEvent(sub, "payment_failed"),
          shopEvent.subscriptionPaymentFailed({
            subscriptionId: sub.id,
            orderId: sub.order_id,
            userId: sub.user_id,
            cycle,
            declines,
            reason,
          }),
        ],
      };
    } else {
      const scheduled = addDays(sub.next_payment_on, declineRetryDays[declines - 1]!);
      const retryOn = scheduled > day ? scheduled : addDays(day, 1);
      next = {
        kind: "retry",
        retryOn,
        events: [shopEvent.subscriptionChargeDeclined({ subscriptionId: sub.id, userId: sub.user_id, cycle, declines, retryOn, reason })],
      };
    }
    const outcome = await this.store.recordDecline({
      subscription: sub,
      cycle,
      reason: reason.slice(0, 500),
      reserved,
      now: this.clock.now(),
      next,
    });
    if (outcome !== "skipped") this.logger.info("recurring charge declined", { subscriptionId: sub.id, cycle, outcome, reason });
    return { subscriptionId: sub.id, cycle, outcome, detail: reason };
  }
}
