// Background work on a timer, for a module's `jobs` (worker roles start them): one run at start,
// then one every interval. A tick that finds the last run still going is skipped (runs never
// overlap), a failed run is logged and the next tick tries again, and stop waits for the run in
// flight.
import type { Logger } from "./logger";
import type { Job } from "./module";

export abstract class IntervalJob implements Job {
  private timer: ReturnType<typeof setInterval> | null = null;
  private running: Promise<void> | null = null;
  /** Set by stop(): a long run checks it between batches. */
  protected stopped = false;

  constructor(
    readonly name: string,
    private readonly intervalMs: number,
    protected readonly logger: Logger,
  ) {}

  /** One run. */
  protected abstract tick(): Promise<unknown>;

  start(): void {
    if (this.timer || this.stopped) return;
    const run = () => {
      if (this.running) return;
      this.running = this.tick()
        .then(
          () => undefined,
          (err: unknown) => this.logger.error("job run failed", { job: this.name, err: String(err) }),
        )
        .finally(() => {
          this.running = null;
        });
    };
    this.timer = setInterval(run, this.intervalMs);
    this.timer.unref?.();
    run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
