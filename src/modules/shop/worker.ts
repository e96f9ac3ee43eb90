// The shop's worker-role job: the daily billing run (croner, UTC), preceded by the notices of
// coming charges, with same-day re-runs while transient failures remain, and the minute sweep
// of unpaid orders.
import { Cron } from "croner";
import type { Clock } from "../../platform/clock";
import type { Logger } from "../../platform/logger";
import type { BillingService } from "./billing";
import { utcDay } from "./views";

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
    private readonly billing: BillingService,
    private readonly expire: () => Promise<number>,
    private readonly settings: BillingWorkerSettings,
    private readonly clock: Clock,
    private readonly logger: Logger,
    /** The notices of coming charges: sent before each day's billing run. */
    private readonly notices: (day: string) => Promise<unknown> = async () => {},
  ) {}

  start(): void {
    if (this.job || this.stopped) return;
    this.job = new Cron(this.settings.cron, { timezone: "UTC", protect: true, name: "shop-billing" }, () => void this.bill(0));
    this.sweeper = setInterval(
      () => void this.track(this.expire().catch((err: unknown) => this.logger.error("order expiry failed", { err }))),
      60_000,
    );
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
    const day = utcDay(this.clock.now());
    // First the notices (a charge due today gets its notice before it is made, had none gone out).
    if (attempt === 0) await this.track(this.notices(day)).catch((err: unknown) => this.logger.error("charge notices failed", { err }));
    try {
      const summary = await this.track(this.billing.runBilling(day));
      if (summary.failed > 0 && !this.stopped) {
        const delay = Math.min(30 * 60_000, this.settings.retryBaseMs * 2 ** attempt);
        // Same day only: tomorrow's run picks up whatever is still pending.
        if (utcDay(this.clock.now() + delay) === day) this.retryTimer = setTimeout(() => void this.bill(attempt + 1), delay);
      }
    } catch (err) {
      this.logger.error("billing run failed", { err });
    }
  }
}
