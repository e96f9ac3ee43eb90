// Subscriptions and recurring billing. No Elysia types here; errors are HttpProblems.
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
// Declines move the cycle to a retry on day 1, 3 and 5 after its due date (each retry is a
// new try, hence a new key); a decline on day 5 cancels the subscription and emits
// subscription.payment_failed (the user's notification). Transient failures leave the charge
// PENDING for the next run; the worker re-runs the day with backoff while some remain.
import { Cron } from "croner";
import type { GroupCommitWriter } from "../../platform/db/sqlite";
import { problems } from "../../platform/http/problem";
import { withLock, type LockManager } from "../../platform/lock";
import type { Logger } from "../../platform/logger";
import type { Principal, UserDeleted } from "../accounts";
import {
  shopEvents,
  type ShopEventSink,
  type SubscriptionCancelled,
  type SubscriptionCharged,
  type SubscriptionChargeDeclined,
  type SubscriptionPaymentFailed,
} from "./events";
import type { BillingSummary, ChargeResult, Subscription } from "./model";
import { GatewayError, type PaymentGateway } from "./payments/port";
import type { OrderItemRow, ShopRepository, SubscriptionRow } from "./repository";
import { gatewayUnavailable } from "./orders";
import { addDays, toSubscription, utcDay } from "./views";

/** Days after the due date on which a declined cycle is tried again; declined on the last one, the subscription ends. */
export const declineRetryDays = [1, 3, 5] as const;

export interface BillingSettings {
  chunk: number;
  /** Lease of a subscription's billing lock (renewed while held). */
  lockTtlMs: number;
}

const subscriptionLock = (id: string) => `shop:subscription:${id}`;

type Prepared =
  | { kind: "charge"; cycle: number; tryNo: number; dueOn: string; items: OrderItemRow[] }
  | { kind: "no_stock"; cycle: number; detail: string }
  | { kind: "skip"; detail: string };

export class SubscriptionsService {
  constructor(
    private readonly repo: ShopRepository,
    private readonly writer: GroupCommitWriter,
    private readonly events: ShopEventSink,
    private readonly locks: LockManager,
    private readonly gateway: PaymentGateway,
    private readonly settings: BillingSettings,
    private readonly logger: Logger,
  ) {}

  // ---------------------------------------------------------------------------------------------
  // The user's side

  list(principal: Principal): Subscription[] {
    return this.repo.subscriptionsOfUser(principal.userId).map((row) => toSubscription(row, this.repo.orderItems(row.order_id)));
  }

  get(principal: Principal, id: string): Subscription {
    const row = this.owned(principal, id);
    return toSubscription(row, this.repo.orderItems(row.order_id));
  }

  private owned(principal: Principal, id: string): SubscriptionRow {
    const row = this.repo.subscription(id);
    if (!row || row.user_id !== principal.userId) throw problems.notFound("subscription_not_found", "no such subscription");
    return row;
  }

  /** Runs fn on the live subscription while holding its billing lock: never in the middle of a charge. */
  private async changing(principal: Principal, id: string, fn: (row: SubscriptionRow) => Promise<void>): Promise<Subscription> {
    this.owned(principal, id);
    const done = await withLock(this.locks, subscriptionLock(id), { ttlMs: this.settings.lockTtlMs, waitMs: 3_000 }, async () => {
      const row = this.repo.subscription(id)!;
      if (row.status !== "ACTIVE") throw problems.conflict("subscription_not_active", `the subscription is ${row.status}`);
      if (this.repo.pendingCharge(id)) {
        throw problems.conflict("charge_in_progress", "a charge of this subscription is still being settled with the payment gateway; retry later");
      }
      await fn(row);
      return true;
    });
    if (!done) throw problems.conflict("subscription_busy", "the subscription is being billed right now; retry shortly");
    return this.get(principal, id);
  }

  /** New period from the next cycle on: next payment = last payment + new period (tomorrow at the earliest). */
  changePeriod(principal: Principal, id: string, periodDays: number): Promise<Subscription> {
    return this.changing(principal, id, async (row) => {
      const tomorrow = addDays(utcDay(Date.now()), 1);
      const byPeriod = addDays(row.last_paid_on, periodDays);
      const next = byPeriod > tomorrow ? byPeriod : tomorrow;
      await this.writer.write(() => this.repo.rescheduleSubscription(id, periodDays, next, next, false, Date.now()));
    });
  }

  /** Skips the coming cycle: its due date moves one period on (pending decline retries are dropped). */
  skip(principal: Principal, id: string): Promise<Subscription> {
    return this.changing(principal, id, async (row) => {
      const next = addDays(row.next_payment_on, row.period_days);
      await this.writer.write(() => this.repo.rescheduleSubscription(id, row.period_days, next, next, true, Date.now()));
    });
  }

  cancel(principal: Principal, id: string): Promise<Subscription> {
    return this.changing(principal, id, async (row) => {
      await this.writer.write(() => this.end(row, "CANCELLED", "user"));
      // The SID is never charged again either way; telling the gateway is good hygiene.
      await this.gateway.inactivate(row.sid).catch((err: unknown) => this.logger.warn("SID inactivation failed", { subscriptionId: id, err: err instanceof Error ? err.message : String(err) }));
    });
  }

  /** In a write: ends an active subscription and its order. */
  private end(row: SubscriptionRow, status: "CANCELLED" | "PAYMENT_FAILED", reason: SubscriptionCancelled["reason"]): boolean {
    const now = Date.now();
    if (!this.repo.endSubscription(row.id, status, now)) return false;
    this.repo.setOrderStatus(row.order_id, "SUBSCRIPTION", status === "CANCELLED" ? "SUBSCRIBE_CANCEL" : "SUBSCRIBE_PAYMENT_FAIL", now);
    this.events.emit(shopEvents.subscriptionCancelled, { subscriptionId: row.id, orderId: row.order_id, userId: row.user_id, reason } satisfies SubscriptionCancelled);
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // Billing

  /** Charges every active subscription due on or before `day`, in chunks. */
  async runBilling(day = utcDay(Date.now())): Promise<BillingSummary> {
    const summary: BillingSummary = { date: day, due: this.repo.countDue(day), charged: 0, declined: 0, cancelled: 0, failed: 0, skipped: 0 };
    // Keyset over ids: a subscription left due by a transient failure is not retried in this run.
    let after = "";
    for (;;) {
      const ids = this.repo.dueSubscriptionIds(day, after, this.settings.chunk);
      if (ids.length === 0) break;
      after = ids[ids.length - 1]!;
      const results = await Promise.all(ids.map((id) => this.chargeOne(id, day)));
      for (const r of results) summary[r.outcome]++;
    }
    if (summary.due > 0) this.logger.info("billing run", { ...summary });
    return summary;
  }

  /** Charges one subscription's current cycle if it is due on `day`. */
  async chargeOne(id: string, day = utcDay(Date.now())): Promise<ChargeResult> {
    const out = await withLock(this.locks, subscriptionLock(id), { ttlMs: this.settings.lockTtlMs, waitMs: 0 }, (_lease, lost) => this.chargeLocked(id, day, lost));
    return out ?? { subscriptionId: id, cycle: null, outcome: "skipped", detail: "another worker is billing it" };
  }

  private async chargeLocked(id: string, day: string, lost: AbortSignal): Promise<ChargeResult> {
    const sub = this.repo.subscription(id);
    if (!sub) return { subscriptionId: id, cycle: null, outcome: "skipped", detail: "no such subscription" };
    const prepared = await this.writer.write(() => this.prepare(sub.id, day));
    if (prepared.kind === "skip") return { subscriptionId: id, cycle: null, outcome: "skipped", detail: prepared.detail };
    const fresh = this.repo.subscription(id)!;
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
      const recorded = await this.writer.write(() => {
        const now = Date.now();
        // Already recorded by a worker that got the same (replayed) approval: nothing to do.
        if (!this.repo.chargePaid(id, cycle, approval.tid, day, now)) return false;
        this.repo.subscriptionPaid(id, cycle - 1, day, nextOn, now);
        this.repo.chargeAttempted(id, cycle, 1, null, now);
        this.repo.insertPayment({ id: Bun.randomUUIDv7(), order_id: fresh.order_id, subscription_id: id, cycle, type: "PAYMENT", amount: approval.amount, tid: approval.tid, aid: approval.aid, idempotency_key: key, created_at: now });
        this.events.emit(shopEvents.subscriptionCharged, {
          subscriptionId: id,
          userId: fresh.user_id,
          cycle,
          amount: approval.amount,
          items: items.map((i) => ({ itemId: i.item_id, quantity: i.quantity })),
          paidOn: day,
          nextPaymentOn: nextOn,
        } satisfies SubscriptionCharged);
        return true;
      });
      return recorded ? { subscriptionId: id, cycle, outcome: "charged" } : { subscriptionId: id, cycle, outcome: "skipped", detail: "recorded by another worker" };
    } catch (err) {
      if (err instanceof GatewayError && err.kind !== "transient") return this.declined(fresh, cycle, day, `${err.code}: ${err.message}`, true);
      const detail = err instanceof Error ? err.message : String(err);
      await this.writer.write(() => this.repo.chargeAttempted(id, cycle, 1, detail.slice(0, 500), Date.now()));
      this.logger.warn("recurring charge failed; left pending for the next run", { subscriptionId: id, cycle, err: detail });
      return { subscriptionId: id, cycle, outcome: "failed", detail };
    }
  }

  /** In a write: the charge row of the current cycle, PENDING with its stock reserved. */
  private prepare(id: string, day: string): Prepared {
    const sub = this.repo.subscription(id);
    if (!sub || sub.status !== "ACTIVE") return { kind: "skip", detail: "not active" };
    if (sub.charge_on > day) return { kind: "skip", detail: `not due until ${sub.charge_on}` };
    const cycle = sub.paid_cycles + 1;
    const items = this.repo.orderItems(sub.order_id);
    const existing = this.repo.charge(id, cycle);
    if (existing?.status === "PENDING") return { kind: "charge", cycle, tryNo: existing.try, dueOn: existing.due_on, items };
    if (existing?.status === "PAID") return { kind: "skip", detail: `cycle ${cycle} is already paid` };
    // New cycle, or a new try after a decline: reserve the stock again (a decline released it).
    for (const [i, item] of items.entries()) {
      if (!this.repo.reserveStock(item.item_id, item.quantity)) {
        for (const done of items.slice(0, i)) this.repo.releaseStock(done.item_id, done.quantity);
        if (!existing) {
          this.repo.insertCharge({ subscription_id: id, cycle, try: 0, due_on: sub.next_payment_on, amount: sub.amount, created_at: Date.now() });
          this.repo.chargeDeclined(id, cycle, "out_of_stock", Date.now());
        }
        return { kind: "no_stock", cycle, detail: `out_of_stock: "${item.name}" is sold out` };
      }
    }
    if (existing) {
      this.repo.chargeAgain(id, cycle, existing.try + 1, Date.now());
      return { kind: "charge", cycle, tryNo: existing.try + 1, dueOn: existing.due_on, items };
    }
    this.repo.insertCharge({ subscription_id: id, cycle, try: 0, due_on: sub.next_payment_on, amount: sub.amount, created_at: Date.now() });
    return { kind: "charge", cycle, tryNo: 0, dueOn: sub.next_payment_on, items };
  }

  /** A decline (or a refusal, or no stock): retry on day 1, 3, 5 after the due date, then end the subscription. */
  private async declined(sub: SubscriptionRow, cycle: number, day: string, reason: string, reserved: boolean): Promise<ChargeResult> {
    const outcome = await this.writer.write((): "declined" | "cancelled" | "skipped" => {
      const now = Date.now();
      if (reserved) {
        if (!this.repo.chargeDeclined(sub.id, cycle, reason.slice(0, 500), now)) return "skipped";
        for (const item of this.repo.orderItems(sub.order_id)) this.repo.releaseStock(item.item_id, item.quantity);
      }
      const declines = sub.declines + 1;
      if (declines > declineRetryDays.length) {
        if (!this.end(sub, "PAYMENT_FAILED", "payment_failed")) return "skipped";
        this.events.emit(shopEvents.subscriptionPaymentFailed, {
          subscriptionId: sub.id,
          orderId: sub.order_id,
          userId: sub.user_id,
          cycle,
          declines,
          reason,
        } satisfies SubscriptionPaymentFailed);
        return "cancelled";
      }
      const scheduled = addDays(sub.next_payment_on, declineRetryDays[declines - 1]!);
      const tomorrow = addDays(day, 1);
      const retryOn = scheduled > day ? scheduled : tomorrow;
      this.repo.subscriptionDeclined(sub.id, retryOn, now);
      this.events.emit(shopEvents.subscriptionChargeDeclined, { subscriptionId: sub.id, userId: sub.user_id, cycle, declines, retryOn, reason } satisfies SubscriptionChargeDeclined);
      return "declined";
    });
    if (outcome !== "skipped") this.logger.info("recurring charge declined", { subscriptionId: sub.id, cycle, outcome, reason });
    return { subscriptionId: sub.id, cycle, outcome, detail: reason };
  }

  /** For the internal endpoint: a failed charge answers 503 like any gateway outage. */
  async chargeNow(id: string, day?: string): Promise<ChargeResult> {
    if (!this.repo.subscription(id)) throw problems.notFound("subscription_not_found", "no such subscription");
    const result = await this.chargeOne(id, day);
    if (result.outcome === "failed") throw gatewayUnavailable(new GatewayError("transient", "charge_failed", result.detail ?? "charge failed"));
    return result;
  }

  // ---------------------------------------------------------------------------------------------
  // Event handlers (in the consumer's transaction)

  applySubscriptionCharged(event: SubscriptionCharged): void {
    for (const line of event.items) this.repo.addSales(line.itemId, line.quantity);
  }

  applyUserDeleted(event: UserDeleted): void {
    this.repo.deleteUserCarts(event.userId);
    for (const row of this.repo.activeSubscriptionsOfUser(event.userId)) {
      // A pending charge settles (or fails) on its own; the subscription is never charged again.
      this.end(row, "CANCELLED", "user_deleted");
    }
  }
}

export interface BillingWorkerSettings {
  cron: string;
  /** First delay before re-running a day with failures left; doubles, capped at 30 minutes. */
  retryBaseMs: number;
}

/**
 * The worker-role part of the shop: the daily billing run (croner, UTC) with same-day re-runs
 * while transient failures remain, and the minute sweep of unpaid orders. start() and stop()
 * are called by main for the worker and all roles.
 */
export class ShopWorker {
  private job: Cron | null = null;
  private sweeper: ReturnType<typeof setInterval> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private running: Promise<unknown> | null = null;
  private stopped = false;

  constructor(
    private readonly subscriptions: SubscriptionsService,
    private readonly expire: () => Promise<number>,
    private readonly settings: BillingWorkerSettings,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.job || this.stopped) return;
    this.job = new Cron(this.settings.cron, { timezone: "UTC", protect: true, name: "shop-billing" }, () => void this.bill(0));
    this.sweeper = setInterval(() => void this.track(this.expire().catch((err: unknown) => this.logger.error("order expiry failed", { err }))), 60_000);
    this.logger.info("shop worker started", { billingCron: this.settings.cron, nextRun: this.job.nextRun()?.toISOString() ?? null });
  }

  /** Stops scheduling and waits for a run in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.job?.stop();
    if (this.sweeper) clearInterval(this.sweeper);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.job = null;
    await this.running;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.running = Promise.allSettled([this.running, p]);
    return p;
  }

  private async bill(attempt: number): Promise<void> {
    const day = utcDay(Date.now());
    try {
      const summary = await this.track(this.subscriptions.runBilling(day));
      if (summary.failed > 0 && !this.stopped) {
        const delay = Math.min(30 * 60_000, this.settings.retryBaseMs * 2 ** attempt);
        // Same day only: tomorrow's run picks up whatever is still pending.
        if (utcDay(Date.now() + delay) === day) this.retryTimer = setTimeout(() => void this.bill(attempt + 1), delay);
      }
    } catch (err) {
      this.logger.error("billing run failed", { err });
    }
  }
}
