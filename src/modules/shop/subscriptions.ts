// The subscriber's side of subscriptions: list, change the period, skip a cycle, cancel. Each
// change holds the subscription's billing lock, so it never lands in the middle of a charge.
// No HTTP here: refusals are ShopErrors.
import type { Clock } from "../../platform/clock";
import { withLock, type LockManager } from "../../platform/lock";
import type { Logger } from "../../platform/logger";
import type { Principal, UserDeleted } from "../accounts";
import { ShopError, shopErrors } from "./errors";
import { shopEvent, type SubscriptionCancelled } from "./events";
import type { Subscription } from "./model";
import type { PaymentGateway } from "./payments/port";
import type { SubscriptionRow, SubscriptionStore } from "./store";
import { addDays, toSubscription, utcDay } from "./views";

/** The lock billing and the subscriber's changes share. */
export const subscriptionLock = (id: string) => `shop:subscription:${id}`;

export const subscriptionNotFound = () => new ShopError(shopErrors.subscriptionNotFound, "no such subscription");

/** The event of a subscription that ends. */
export const cancelledEvent = (row: SubscriptionRow, reason: SubscriptionCancelled["reason"]) =>
  shopEvent.subscriptionCancelled({ subscriptionId: row.id, orderId: row.order_id, userId: row.user_id, reason });

export class SubscriptionsService {
  constructor(
    private readonly store: SubscriptionStore,
    private readonly locks: LockManager,
    private readonly gateway: PaymentGateway,
    private readonly clock: Clock,
    private readonly settings: { lockTtlMs: number },
    private readonly logger: Logger,
  ) {}

  async list(principal: Principal): Promise<Subscription[]> {
    return (await this.store.ofUser(principal.userId)).map(toSubscription);
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

  cancel(principal: Principal, id: string): Promise<Subscription> {
    return this.changing(principal, id, async (row) => {
      await this.store.end(row, "CANCELLED", this.clock.now(), [cancelledEvent(row, "user")]);
      // The SID is never charged again either way; telling the gateway is good hygiene.
      await this.gateway
        .inactivate(row.sid)
        .catch((err: unknown) =>
          this.logger.warn("SID inactivation failed", { subscriptionId: id, err: err instanceof Error ? err.message : String(err) }),
        );
    });
  }

  /** A deleted account's subscriptions stop (never charged again). In the consumer's transaction. */
  applyUserDeleted(event: UserDeleted): void {
    this.store.endAllOfUser(event.userId, this.clock.now(), (row) => cancelledEvent(row, "user_deleted"));
  }
}
