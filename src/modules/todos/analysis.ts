// Failure analysis ("analyze failure" in the reference): why one failed task failed, as a
// category and recommendations. Pure like the rest of the coach: the task, its failure reason
// and the user's closed tasks in, the same answer out every time. No clock, no randomness, no
// external service.
//
// The category, in this order:
//   unclear → clarity, blocked → dependency, low_energy → energy, forgot → attention: the reason
//   names the cause.
//   too_big → scope.
//   no_time → estimation when the task or the user's tasks overran their estimates, else timing
//   when it failed at an hour where the user mostly fails, else capacity.
//   other → scope when the task was at least twice the size the user usually finishes, else
//   estimation, timing as for no_time, else unknown.
// The re-plan (plan.ts) shapes its subtasks by the category.
import type { FailReason } from "./model";
import { localTime, median, ratios, reasonWords, round2, round5, type Outcome } from "./coach";

export const analysisCategories = ["scope", "estimation", "timing", "capacity", "clarity", "dependency", "energy", "attention", "unknown"] as const;
export type AnalysisCategory = (typeof analysisCategories)[number];

export interface AnalysisInput {
  task: {
    category: string | null;
    estimateMinutes: number | null;
    actualMinutes: number | null;
    reason: FailReason;
    /** When it failed, epoch ms (null: unknown). */
    failedAt: number | null;
  };
  /** The user's closed tasks (DONE or FAIL), this one included. */
  history: readonly Outcome[];
  timeZone: string;
}

export interface Analysis {
  category: AnalysisCategory;
  recommendations: string[];
  basis: {
    reason: FailReason;
    /** Median size of the tasks the user finished (same category when ≥ 3 of them), minutes. */
    usualMinutes: number | null;
    usualSampleSize: number;
    /** actual / estimated minutes of this task. */
    taskOverrun: number | null;
    /** Median actual / estimated minutes over the history. */
    overrunRatio: number | null;
    overrunSampleSize: number;
    /** The closed tasks at the hour this one failed, in the time zone. */
    failureHour: { hour: number; n: number; failed: number } | null;
    /** Failures with this reason in the history. */
    sameReasonFailures: number;
  };
}

const minSample = 3;
/** A task this many times the usual finished size is too big for the user. */
const oversize = 2;
/** Overruns from this ratio on count as an estimation problem. */
const overrunLimit = 1.25;

export function analyze({ task, history, timeZone }: AnalysisInput): Analysis {
  const sizeOf = (o: Outcome) => o.actualMinutes ?? o.estimateMinutes;
  const done = history.filter((o) => o.status === "DONE" && (sizeOf(o) ?? 0) > 0);
  const same = task.category === null ? [] : done.filter((o) => o.category === task.category);
  const sized = same.length >= minSample ? same : done;
  const usual = sized.length >= minSample ? round5(median(sized.map((o) => sizeOf(o)!))!) : null;

  const rs = ratios(history);
  const overrunRatio = rs.length >= minSample ? round2(median(rs)!) : null;
  const taskOverrun = task.estimateMinutes && task.actualMinutes !== null ? round2(task.actualMinutes / task.estimateMinutes) : null;

  let failureHour: Analysis["basis"]["failureHour"] = null;
  if (task.failedAt !== null) {
    const hour = localTime(task.failedAt, timeZone).hour;
    const at = history.filter((o) => localTime(o.at, timeZone).hour === hour);
    failureHour = { hour, n: at.length, failed: at.filter((o) => o.status === "FAIL").length };
  }
  const sameReasonFailures = history.filter((o) => o.status === "FAIL" && o.reason === task.reason).length;

  const oversized = usual !== null && task.estimateMinutes !== null && task.estimateMinutes >= oversize * usual;
  const overran = (taskOverrun !== null && taskOverrun >= overrunLimit) || (overrunRatio !== null && overrunRatio >= overrunLimit);
  const badHour = failureHour !== null && failureHour.n >= minSample && failureHour.failed / failureHour.n >= 0.6;

  const byReason: Partial<Record<FailReason, AnalysisCategory>> = { unclear: "clarity", blocked: "dependency", low_energy: "energy", forgot: "attention", too_big: "scope" };
  let category = byReason[task.reason];
  if (!category) {
    if (task.reason === "other" && oversized) category = "scope";
    else if (overran) category = "estimation";
    else if (badHour) category = "timing";
    else category = task.reason === "no_time" ? "capacity" : "unknown";
  }

  const basis = { reason: task.reason, usualMinutes: usual, usualSampleSize: sized.length, taskOverrun, overrunRatio, overrunSampleSize: rs.length, failureHour, sameReasonFailures };
  return { category, recommendations: recommend(category, basis, task), basis };
}

const hh = (hour: number) => `${String(hour).padStart(2, "0")}:00`;

function recommend(category: AnalysisCategory, b: Analysis["basis"], task: AnalysisInput["task"]): string[] {
  const out: string[] = [];
  const usual = b.usualMinutes !== null ? `${b.usualMinutes} minutes, the usual length of the ${b.usualSampleSize} tasks you finished` : "25 minutes";
  switch (category) {
    case "scope":
      out.push(
        task.estimateMinutes !== null && b.usualMinutes !== null
          ? `Split it: ${task.estimateMinutes} minutes is ${round2(task.estimateMinutes / b.usualMinutes)}× what you usually finish; plan parts of ${usual}.`
          : `Split it into parts of ${usual}.`,
      );
      out.push("Give each part its own result you can tick off.");
      break;
    case "estimation": {
      const ratio = Math.max(b.taskOverrun ?? 1, b.overrunRatio ?? 1);
      out.push(`Plan ${ratio}× your first estimate: ${b.taskOverrun !== null && b.taskOverrun >= overrunLimit ? `this task took ${b.taskOverrun}×` : `your tasks usually take ${b.overrunRatio}×`} the time you estimated.`);
      out.push("Record the minutes you actually spend, so the next estimates get closer.");
      break;
    }
    case "timing":
      out.push(`Move it away from ${hh(b.failureHour!.hour)}: ${b.failureHour!.failed} of the ${b.failureHour!.n} tasks you closed then failed.`);
      out.push("Put it at an hour where you finish most (GET /todos/insights shows them), one part a day.");
      break;
    case "capacity":
      out.push("Book the time before starting: one part a day in a slot you keep free.");
      out.push("Drop or defer something else that day, or move the due date honestly.");
      break;
    case "clarity":
      out.push('Start with 15 minutes writing down what "done" means for it.');
      out.push("Turn the first concrete action into a subtask.");
      break;
    case "dependency":
      out.push("Start with a short step to clear the blocker: ask, order or escalate.");
      out.push("Add the blocker as a subtask and set a due time on it.");
      break;
    case "energy":
      out.push("Use shorter parts, a quarter less than usual, at an hour where you finish most.");
      out.push("Take the hardest part first, while energy is high.");
      break;
    case "attention":
      out.push("Give it a due time and keep it on the current list, so it cannot slip.");
      out.push("Attach it to something you already do every day.");
      break;
    case "unknown":
      out.push("Note what got in the way: with a reason other than 'other', the coach can say more.");
      out.push(`Try it again in parts of ${usual}.`);
      break;
  }
  if (b.sameReasonFailures >= 3) out.push(`This is a pattern: ${b.sameReasonFailures} of your failures were "${reasonWords[b.reason]}".`);
  return out;
}
