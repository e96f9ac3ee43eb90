// Re-planning a failed task: pure, like the rest of the coach (coach.ts). The failure analysis
// (analysis.ts) decides the plan's shape: its category adds a first step (clarity, dependency),
// shortens the parts (energy), spreads them one a day (capacity, timing), makes at least three
// (scope) or stretches the total by the task's own overrun (estimation).
import { analyze, type Analysis, type AnalysisCategory } from "./analysis";
import { clamp, hh, localTime, median, pct, ratios, round2, round3, round5, tally, weekdayNames, zonedTime, type Outcome } from "./coach";
import type { FailReason } from "./model";

export interface ReplanInput {
  task: {
    title: string;
    category: string | null;
    estimateMinutes: number | null;
    reason: FailReason;
    actualMinutes?: number | null;
    /** When it failed, epoch ms. */
    failedAt?: number | null;
  };
  history: readonly Outcome[];
  now: number;
  timeZone: string;
  /** The failure analysis to plan by; computed from the task and history when omitted. */
  analysis?: Analysis;
}

export interface PlannedStep {
  title: string;
  estimateMinutes: number;
  startAt: number;
  dueAt: number;
  reason: string;
}

export interface Plan {
  summary: string;
  /** The analysis category the plan was shaped by. */
  category: AnalysisCategory;
  basis: {
    chunkMinutes: number;
    chunkSource: "category" | "all" | "default";
    chunkSampleSize: number;
    overrunRatio: number;
    overrunSampleSize: number;
    totalMinutes: number;
    bestHours: Array<{ hour: number; successRate: number | null; n: number }>;
    hoursSource: "history" | "default";
    avoidedWeekdays: string[];
  };
  steps: PlannedStep[];
}

/** Hours planned into when the history has no hour with at least 2 tasks, half of them done. */
export const defaultHours = [9, 11, 14] as const;
const minSample = 3;

function withSuffix(title: string, suffix: string): string {
  return title.slice(0, 255 - suffix.length) + suffix;
}

/**
 * Proposes subtasks for a failed task: parts the size of the tasks the user usually finishes,
 * enough of them for the estimate (stretched by the user's usual overrun), placed in the hours
 * the user finishes most, skipping weekdays where most tasks fail.
 */
export function replan(input: ReplanInput): Plan {
  const { task, history, now, timeZone } = input;
  const { category } =
    input.analysis ??
    analyze({
      task: { category: task.category, estimateMinutes: task.estimateMinutes, actualMinutes: task.actualMinutes ?? null, reason: task.reason, failedAt: task.failedAt ?? null },
      history,
      timeZone,
    });
  // Size: the median finished task (its actual minutes, else its estimate).
  const sizeOf = (o: Outcome) => o.actualMinutes ?? o.estimateMinutes;
  const done = history.filter((o) => o.status === "DONE" && (sizeOf(o) ?? 0) > 0);
  const sameCategory = task.category === null ? [] : done.filter((o) => o.category === task.category);
  let chunkSource: Plan["basis"]["chunkSource"] = "default";
  let sample = done.length;
  let usual = 25;
  if (sameCategory.length >= minSample) {
    chunkSource = "category";
    sample = sameCategory.length;
    usual = median(sameCategory.map((o) => sizeOf(o)!))!;
  } else if (done.length >= minSample) {
    chunkSource = "all";
    usual = median(done.map((o) => sizeOf(o)!))!;
  }
  usual = clamp(round5(usual), 10, 90);
  const lowEnergy = category === "energy";
  const chunk = lowEnergy ? clamp(round5(usual * 0.75), 10, 90) : usual;

  // Total: the estimate, stretched by the usual overrun when there are enough samples.
  const rs = ratios(history);
  let overrun = rs.length >= minSample ? clamp(round2(median(rs)!), 1, 3) : 1;
  // An estimation failure: at least this task's own overrun.
  const own = task.estimateMinutes && task.actualMinutes ? round2(task.actualMinutes / task.estimateMinutes) : null;
  if (category === "estimation" && own !== null) overrun = clamp(Math.max(overrun, own), 1, 3);
  const base = task.estimateMinutes ?? chunk * 2;
  const total = round5(base * overrun);
  const parts = clamp(Math.ceil(total / chunk), category === "scope" ? 3 : 2, 8);
  // No time, or the wrong time of day: one part a day.
  const perDay = category === "capacity" || category === "timing" ? 1 : Number.POSITIVE_INFINITY;

  // Hours: the best three with ≥ 2 closed tasks and at least half of them done.
  const byHour = tally(history, (o) => localTime(o.at, timeZone).hour);
  const ranked = [...byHour]
    .filter(([, t]) => t.n >= 2 && t.failed / t.n <= 0.5)
    .map(([hour, t]) => ({ hour, successRate: round3((t.n - t.failed) / t.n), n: t.n }))
    .sort((a, b) => b.successRate - a.successRate || b.n - a.n || a.hour - b.hour)
    .slice(0, 3);
  const hoursSource: Plan["basis"]["hoursSource"] = ranked.length > 0 ? "history" : "default";
  const bestHours = ranked.length > 0 ? ranked : defaultHours.map((hour) => ({ hour, successRate: null, n: 0 }));
  const doneAt = (hour: number) => {
    const t = byHour.get(hour);
    return t ? { done: t.n - t.failed, n: t.n } : null;
  };
  const hours = bestHours.map((h) => h.hour).sort((a, b) => a - b);

  // Weekdays where at least 3 tasks closed and 60 % or more failed are skipped (unless all are).
  const byDay = tally(history, (o) => localTime(o.at, timeZone).weekday);
  let avoided = [...byDay].filter(([, t]) => t.n >= minSample && t.failed / t.n >= 0.6).map(([d]) => d);
  if (avoided.length === 7) avoided = [];
  avoided.sort((a, b) => a - b);

  // The steps: an unclear or blocked task (clarity, dependency) first gets a short step to fix that.
  const drafts: Array<{ title: string; minutes: number; lead: string }> = [];
  const sizeWords =
    chunkSource === "default"
      ? `a short focused block while there are fewer than ${minSample} finished tasks to size from`
      : `${lowEnergy ? `a quarter less than the usual ${usual} minutes` : "the usual length"} of the ${sample} ${chunkSource === "category" ? `"${task.category}" ` : ""}tasks you finished${lowEnergy ? ", because energy ran low" : ""}`;
  if (category === "clarity" || category === "dependency") {
    const minutes = Math.min(15, chunk);
    drafts.push(
      category === "clarity"
        ? { title: withSuffix(`Decide what "done" means for: ${task.title}`, ""), minutes, lead: `${minutes} minutes first, because the task failed as unclear` }
        : { title: withSuffix(`Clear the blocker on: ${task.title}`, ""), minutes, lead: `${minutes} minutes first, because the task was blocked` },
    );
  }
  for (let i = 1; i <= parts; i++) {
    drafts.push({ title: withSuffix(task.title, ` (part ${i} of ${parts})`), minutes: chunk, lead: `${chunk} minutes, ${sizeWords}` });
  }

  // Schedule: one step per best hour (or one a day), from now on, never overlapping, over up to four weeks.
  const steps: PlannedStep[] = [];
  const today = localTime(now, timeZone);
  let free = now;
  for (let d = 0; d < 28 && steps.length < drafts.length; d++) {
    const date = new Date(Date.UTC(today.year, today.month - 1, today.day + d));
    const weekday = (date.getUTCDay() + 6) % 7;
    if (avoided.includes(weekday)) continue;
    let placed = 0;
    for (const hour of hours) {
      if (steps.length === drafts.length || placed === perDay) break;
      const startAt = zonedTime(date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate(), hour, timeZone);
      if (startAt <= free) continue;
      const draft = drafts[steps.length]!;
      const seen = hoursSource === "history" ? doneAt(hour) : null;
      const when = seen
        ? `set for ${hh(hour)}, when you finished ${seen.done} of ${seen.n} tasks (${pct(seen.done / seen.n)})`
        : `set for ${hh(hour)}, a default slot until your history shows better hours`;
      const dueAt = startAt + draft.minutes * 60_000;
      steps.push({ title: draft.title, estimateMinutes: draft.minutes, startAt, dueAt, reason: `${draft.lead}, ${when}.` });
      free = dueAt;
      placed++;
    }
  }

  const avoidedNames = avoided.map((d) => weekdayNames[d]!);
  const summary =
    `Split into ${parts} parts of ${chunk} minutes: about ${total} minutes of work in all` +
    (overrun > 1 ? `, as your tasks usually take ${overrun}× the estimate` : "") +
    (drafts.length > parts ? `, after a ${drafts[0]!.minutes}-minute first step` : "") +
    (perDay === 1 ? ", one part a day" : "") +
    (avoidedNames.length ? `; ${avoidedNames.join(", ")} skipped, as most of your tasks then fail` : "") +
    ".";

  return {
    summary,
    category,
    basis: {
      chunkMinutes: chunk,
      chunkSource,
      chunkSampleSize: sample,
      overrunRatio: overrun,
      overrunSampleSize: rs.length,
      totalMinutes: total,
      bestHours,
      hoursSource,
      avoidedWeekdays: avoidedNames,
    },
    steps,
  };
}
