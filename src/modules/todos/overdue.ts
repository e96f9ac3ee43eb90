// The overdue job (worker roles): open tasks (PENDING, IN_PROGRESS) whose due time has passed
// become OVERDUE. It writes through the users' pipeline (Tasks.markOverdue → WritePipeline), so
// the registry, the sequence, the write mode, cache invalidation and pending entries all apply;
// the change itself and its todoEvents.taskOverdue are one transaction (store.sqlite.ts).
//
// Each command is conditional: applied, it changes the task only if it is still open and due by
// the sweep's time. A task a user completed, deleted or rescheduled meanwhile is left alone, and
// a task found twice (two workers, or a sweep before the write-behind consumer caught up) turns
// OVERDUE, with its event, once.
//
// What an OVERDUE task can do next: any status a user sets (DONE, FAIL, back to PENDING or
// IN_PROGRESS, …), or a new due time: moving dueAt past now (or clearing it) makes it PENDING
// again. DELETE deletes it like any task.
import type { Clock } from "../../platform/clock";
import { withLock, type LockManager } from "../../platform/lock";
import type { Logger } from "../../platform/logger";
import { IntervalJob } from "../../platform/jobs";
import type { TodosStore } from "./store";
import type { Tasks } from "./tasks";

export interface OverdueSettings {
  /** How often the job sweeps (it also sweeps once at start). */
  intervalMs: number;
  /** Tasks per write (one transaction, one outbox event in async mode). */
  batch: number;
}

export const overdueSettings: OverdueSettings = { intervalMs: 30_000, batch: 200 };

/** Sweeps are bounded: what one cannot reach in this many batches waits for the next. */
const maxRounds = 50;

export class OverdueJob extends IntervalJob {
  constructor(
    private readonly store: TodosStore,
    private readonly tasks: Tasks,
    private readonly locks: LockManager,
    private readonly clock: Clock,
    logger: Logger,
    private readonly settings: OverdueSettings = overdueSettings,
  ) {
    super("todos-overdue", settings.intervalMs, logger);
  }

  protected tick(): Promise<number> {
    return this.sweep();
  }

  /**
   * One sweep at the clock's now: returns how many tasks it submitted as overdue (applied at
   * once in direct mode, queued in async). One worker sweeps at a time (a lock); another
   * finding it held skips its turn and returns 0.
   */
  async sweep(): Promise<number> {
    const out = await withLock(this.locks, "todos:overdue", { ttlMs: 60_000, waitMs: 0 }, async (_lease, lost) => {
      const now = this.clock.now();
      let submitted = 0;
      // Keyset over (due time, id): in async mode the tasks just submitted are still open in the
      // tables until the consumer applies them; the sweep does not pick them up again.
      let after: { dueAt: number; id: string } | null = null;
      for (let round = 0; round < maxRounds && !this.stopped && !lost.aborted; round++) {
        const page = await this.store.overdueCandidates(now, this.settings.batch, after);
        if (page.length === 0) break;
        submitted += await this.tasks.markOverdue(now, page.map((c) => ({ taskId: c.id, userId: c.userId })));
        const last = page[page.length - 1]!;
        after = { dueAt: last.dueAt, id: last.id };
        if (page.length < this.settings.batch) break;
      }
      if (submitted > 0) this.logger.info("tasks overdue", { submitted, at: new Date(now).toISOString() });
      return submitted;
    });
    return out ?? 0;
  }
}
