// The failure coach's use cases: insights over the user's closed tasks, the analysis of a failed
// task, a proposed re-plan of it (shaped by the analysis), and accepting it. The coach itself (coach.ts) is pure; this feeds it the user's
// history as they read it (pending writes included) and the clock's "now".
import type { Clock } from "../../platform/clock";
import { analyze, type Analysis as AnalysisResult } from "./analysis";
import { insights, isValidTimeZone, type Outcome } from "./coach";
import type { TaskRow } from "./commands";
import { todoProblems } from "./errors";
import type { AcceptedReplan, AcceptReplanBody, Analysis, Insights, ReplanPlan } from "./model.coach";
import { replan } from "./plan";
import type { Reads } from "./reads";
import type { TodosStore } from "./store";
import { epochMs, type Creation, type Tasks } from "./tasks";

export class Coach {
  constructor(
    private readonly store: TodosStore,
    private readonly reads: Reads,
    private readonly tasks: Tasks,
    private readonly clock: Clock,
  ) {}

  private timeZone(tz: string | undefined): string {
    const zone = tz ?? "UTC";
    if (!isValidTimeZone(zone)) throw todoProblems.invalidTimeZone(zone);
    return zone;
  }

  async insights(userId: string, tz: string | undefined): Promise<Insights> {
    const zone = this.timeZone(tz);
    return insights(await this.reads.outcomes(userId), zone);
  }

  private async failedTask(userId: string, id: string): Promise<TaskRow> {
    const rows = await this.reads.taskRows(userId, id);
    if (!rows) throw todoProblems.taskNotFound();
    if (rows.task.status !== "FAIL" || rows.task.fail_reason === null) throw todoProblems.taskNotFailed(rows.task.status);
    return rows.task;
  }

  private static analyzed(task: TaskRow, history: readonly Outcome[], timeZone: string): AnalysisResult {
    return analyze({
      task: { category: task.category, estimateMinutes: task.estimate_minutes, actualMinutes: task.actual_minutes, reason: task.fail_reason!, failedAt: task.failed_at },
      history,
      timeZone,
    });
  }

  /** Why the failed task failed: a category and recommendations. Creates nothing. */
  async analysis(userId: string, id: string, tz: string | undefined): Promise<Analysis> {
    const zone = this.timeZone(tz);
    const task = await this.failedTask(userId, id.toLowerCase());
    const { category, recommendations, basis } = Coach.analyzed(task, await this.reads.outcomes(userId), zone);
    return { taskId: task.id, timeZone: zone, category, recommendations, basis };
  }

  /** Proposes subtasks, shaped by the task's analysis; creates nothing (the client sends them to accept). */
  async replan(userId: string, id: string, tz: string | undefined): Promise<ReplanPlan> {
    const zone = this.timeZone(tz);
    const task = await this.failedTask(userId, id.toLowerCase());
    const history = await this.reads.outcomes(userId);
    const analysis = Coach.analyzed(task, history, zone);
    const plan = replan({
      task: { title: task.title, category: task.category, estimateMinutes: task.estimate_minutes, reason: task.fail_reason!, actualMinutes: task.actual_minutes, failedAt: task.failed_at },
      history,
      now: this.clock.now(),
      timeZone: zone,
      analysis,
    });
    return {
      taskId: task.id,
      timeZone: zone,
      explainedBy: "rules",
      analysis: { category: analysis.category, recommendations: analysis.recommendations },
      summary: plan.summary,
      basis: plan.basis,
      subtasks: plan.steps.map((s) => ({
        id: Bun.randomUUIDv7(),
        title: s.title,
        estimateMinutes: s.estimateMinutes,
        startAt: new Date(s.startAt).toISOString(),
        dueAt: new Date(s.dueAt).toISOString(),
        reason: s.reason,
      })),
    };
  }

  /**
   * Creates the accepted subtasks in one transaction (one outbox event in async mode), linked
   * to the failed task by replanOf. Sending the same ids and bodies again is a replay.
   */
  async accept(userId: string, id: string, body: AcceptReplanBody): Promise<Creation<AcceptedReplan>> {
    const taskId = id.toLowerCase();
    const ids = body.subtasks.map((s) => s.id.toLowerCase());
    if (new Set(ids).size !== ids.length) throw todoProblems.duplicateIds();
    // The status is checked on what the user reads; a replay is recognised whatever it is now.
    const original = (await this.store.allRegistered(ids)) ? null : await this.failedTask(userId, taskId);
    const drafts = body.subtasks.map((s, i) => ({
      id: ids[i]!,
      title: s.title.trim(),
      description: s.description ?? null,
      category: original?.category ?? null,
      estimateMinutes: s.estimateMinutes ?? null,
      dueAt: epochMs(s.dueAt),
    }));
    const out = await this.tasks.createMany(userId, { under: "replan", taskId }, drafts);
    return { outcome: out.outcome, body: { taskId, subtasks: out.body } };
  }
}
