// The failure coach: pure functions of a user's closed tasks. No I/O, no clock (the caller
// passes `now`), no randomness: the same history gives the same insights and the same plan.
//
// A task's "time" is when it was closed: completedAt for DONE, the failure time for FAIL,
// read as local hour and weekday in the caller's time zone.
import { failReasons, type FailReason } from "./model";

export interface Outcome {
  status: "DONE" | "FAIL";
  category: string | null;
  estimateMinutes: number | null;
  actualMinutes: number | null;
  reason: FailReason | null;
  /** When the task was closed, epoch ms. */
  at: number;
}

export const weekdayNames = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] as const;

// ── time zones ────────────────────────────────────────────────────────────────────────────
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

export interface LocalTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  /** 0 = Monday … 6 = Sunday */
  weekday: number;
}

export function localTime(ms: number, timeZone: string): LocalTime {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(ms)) if (p.type !== "literal") parts[p.type] = Number(p.value);
  const year = parts.year!;
  const month = parts.month!;
  const day = parts.day!;
  return { year, month, day, hour: parts.hour! % 24, minute: parts.minute!, weekday: (new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 6) % 7 };
}

/** Epoch ms of the local wall time year-month-day hour:00 in timeZone. */
export function zonedTime(year: number, month: number, day: number, hour: number, timeZone: string): number {
  const wall = Date.UTC(year, month - 1, day, hour);
  const offsetAt = (ms: number) => {
    const l = localTime(ms, timeZone);
    return Date.UTC(l.year, l.month - 1, l.day, l.hour, l.minute) - Math.floor(ms / 60_000) * 60_000;
  };
  const first = wall - offsetAt(wall);
  // Once more with the offset at the result: right across a DST change.
  return wall - offsetAt(first);
}

// ── small numerics ────────────────────────────────────────────────────────────────────────
const round3 = (x: number) => Math.round(x * 1000) / 1000;
const round2 = (x: number) => Math.round(x * 100) / 100;
const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));
const round5 = (x: number) => Math.max(5, Math.round(x / 5) * 5);
const pct = (x: number) => `${Math.round(x * 100)}%`;
const hh = (hour: number) => `${String(hour).padStart(2, "0")}:00`;

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

interface Tally {
  n: number;
  failed: number;
}

function tally<K>(history: readonly Outcome[], key: (o: Outcome) => K): Map<K, Tally> {
  const out = new Map<K, Tally>();
  for (const o of history) {
    const k = key(o);
    const t = out.get(k) ?? { n: 0, failed: 0 };
    t.n++;
    if (o.status === "FAIL") t.failed++;
    out.set(k, t);
  }
  return out;
}

const reasonWords: Record<FailReason, string> = {
  too_big: "too big",
  no_time: "no time",
  unclear: "unclear",
  blocked: "blocked",
  low_energy: "low energy",
  forgot: "forgotten",
  other: "other",
};

// ── insights ──────────────────────────────────────────────────────────────────────────────
export interface RateStat {
  n: number;
  failed: number;
  failureRate: number;
}

export interface InsightsResult {
  timeZone: string;
  totals: { n: number; done: number; failed: number; failureRate: number | null };
  byReason: Array<{ reason: FailReason; count: number; n: number; share: number }>;
  byCategory: Array<{ category: string } & RateStat>;
  byHour: Array<{ hour: number } & RateStat>;
  byWeekday: Array<{ weekday: string } & RateStat>;
  estimateOverrun: {
    n: number;
    medianRatio: number | null;
    meanRatio: number | null;
    overrunShare: number | null;
    done: { n: number; medianRatio: number | null };
    failed: { n: number; medianRatio: number | null };
  };
  highlights: string[];
}

const stat = (t: Tally): RateStat => ({ n: t.n, failed: t.failed, failureRate: round3(t.failed / t.n) });

function ratios(history: readonly Outcome[]): number[] {
  return history
    .filter((o) => o.estimateMinutes !== null && o.estimateMinutes > 0 && o.actualMinutes !== null)
    .map((o) => o.actualMinutes! / o.estimateMinutes!);
}

export function insights(history: readonly Outcome[], timeZone: string): InsightsResult {
  const n = history.length;
  const failed = history.filter((o) => o.status === "FAIL");
  const local = history.map((o) => ({ o, t: localTime(o.at, timeZone) }));

  const reasonCounts = new Map<FailReason, number>();
  for (const o of failed) reasonCounts.set(o.reason ?? "other", (reasonCounts.get(o.reason ?? "other") ?? 0) + 1);
  const byReason = failReasons
    .filter((r) => reasonCounts.has(r))
    .map((reason) => ({ reason, count: reasonCounts.get(reason)!, n: failed.length, share: round3(reasonCounts.get(reason)! / failed.length) }))
    .sort((a, b) => b.count - a.count || failReasons.indexOf(a.reason) - failReasons.indexOf(b.reason));

  const byCategory = [...tally(history, (o) => o.category ?? "uncategorized")]
    .map(([category, t]) => ({ category, ...stat(t) }))
    .sort((a, b) => b.failureRate - a.failureRate || b.n - a.n || (a.category < b.category ? -1 : 1));

  const hours = new Map<number, Tally>();
  const days = new Map<number, Tally>();
  for (const { o, t } of local) {
    for (const [map, k] of [[hours, t.hour], [days, t.weekday]] as const) {
      const s = map.get(k) ?? { n: 0, failed: 0 };
      s.n++;
      if (o.status === "FAIL") s.failed++;
      map.set(k, s);
    }
  }
  const byHour = [...hours].sort(([a], [b]) => a - b).map(([hour, t]) => ({ hour, ...stat(t) }));
  const byWeekday = [...days].sort(([a], [b]) => a - b).map(([d, t]) => ({ weekday: weekdayNames[d]!, ...stat(t) }));

  const all = ratios(history);
  const doneRatios = ratios(history.filter((o) => o.status === "DONE"));
  const failRatios = ratios(failed);
  const med = (xs: number[]) => {
    const m = median(xs);
    return m === null ? null : round2(m);
  };
  const estimateOverrun = {
    n: all.length,
    medianRatio: med(all),
    meanRatio: all.length ? round2(all.reduce((a, b) => a + b, 0) / all.length) : null,
    overrunShare: all.length ? round3(all.filter((r) => r > 1).length / all.length) : null,
    done: { n: doneRatios.length, medianRatio: med(doneRatios) },
    failed: { n: failRatios.length, medianRatio: med(failRatios) },
  };

  const failureRate = n ? round3(failed.length / n) : null;
  const highlights: string[] = [];
  if (n === 0) highlights.push("No closed tasks yet: mark tasks DONE or FAIL to see your patterns.");
  const top = byReason[0];
  if (top) highlights.push(`Your most common failure reason is "${reasonWords[top.reason]}" (${top.count} of ${failed.length} failures).`);
  const worstCategory = byCategory.find((c) => c.n >= 3);
  if (worstCategory && failureRate !== null && worstCategory.failureRate > failureRate) {
    highlights.push(`"${worstCategory.category}" tasks fail most often: ${worstCategory.failed} of ${worstCategory.n}.`);
  }
  const rankedHours = byHour.filter((h) => h.n >= 2).sort((a, b) => a.failureRate - b.failureRate || b.n - a.n || a.hour - b.hour);
  const best = rankedHours[0];
  if (best && best.failureRate < 0.5) highlights.push(`You finish most reliably around ${hh(best.hour)}: ${best.n - best.failed} of ${best.n} done.`);
  const worst = rankedHours[rankedHours.length - 1];
  if (worst && worst !== best && worst.failureRate > 0.5) highlights.push(`Tasks closed around ${hh(worst.hour)} fail most: ${worst.failed} of ${worst.n}.`);
  if (estimateOverrun.n >= 3 && estimateOverrun.medianRatio !== null && estimateOverrun.medianRatio > 1) {
    highlights.push(`Tasks usually take ${estimateOverrun.medianRatio}× your estimate (${estimateOverrun.n} tasks with both numbers).`);
  }

  return {
    timeZone,
    totals: { n, done: n - failed.length, failed: failed.length, failureRate },
    byReason,
    byCategory,
    byHour,
    byWeekday,
    estimateOverrun,
    highlights,
  };
}

// ── re-planning ───────────────────────────────────────────────────────────────────────────
export interface ReplanInput {
  task: { title: string; category: string | null; estimateMinutes: number | null; reason: FailReason };
  history: readonly Outcome[];
  now: number;
  timeZone: string;
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
export function replan({ task, history, now, timeZone }: ReplanInput): Plan {
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
  const lowEnergy = task.reason === "low_energy";
  const chunk = lowEnergy ? clamp(round5(usual * 0.75), 10, 90) : usual;

  // Total: the estimate, stretched by the usual overrun when there are enough samples.
  const rs = ratios(history);
  const overrun = rs.length >= minSample ? clamp(round2(median(rs)!), 1, 3) : 1;
  const base = task.estimateMinutes ?? chunk * 2;
  const total = round5(base * overrun);
  const parts = clamp(Math.ceil(total / chunk), 2, 8);

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

  // The steps: an unclear or blocked task first gets a short step to fix that.
  const drafts: Array<{ title: string; minutes: number; lead: string }> = [];
  const sizeWords =
    chunkSource === "default"
      ? `a short focused block while there are fewer than ${minSample} finished tasks to size from`
      : `${lowEnergy ? `a quarter less than the usual ${usual} minutes` : "the usual length"} of the ${sample} ${chunkSource === "category" ? `"${task.category}" ` : ""}tasks you finished${lowEnergy ? ", because energy ran low" : ""}`;
  if (task.reason === "unclear" || task.reason === "blocked") {
    const minutes = Math.min(15, chunk);
    drafts.push(
      task.reason === "unclear"
        ? { title: withSuffix(`Decide what "done" means for: ${task.title}`, ""), minutes, lead: `${minutes} minutes first, because the task failed as unclear` }
        : { title: withSuffix(`Clear the blocker on: ${task.title}`, ""), minutes, lead: `${minutes} minutes first, because the task was blocked` },
    );
  }
  for (let i = 1; i <= parts; i++) {
    drafts.push({ title: withSuffix(task.title, ` (part ${i} of ${parts})`), minutes: chunk, lead: `${chunk} minutes, ${sizeWords}` });
  }

  // Schedule: one step per best hour, from now on, never overlapping, over up to four weeks.
  const steps: PlannedStep[] = [];
  const today = localTime(now, timeZone);
  let free = now;
  for (let d = 0; d < 28 && steps.length < drafts.length; d++) {
    const date = new Date(Date.UTC(today.year, today.month - 1, today.day + d));
    const weekday = (date.getUTCDay() + 6) % 7;
    if (avoided.includes(weekday)) continue;
    for (const hour of hours) {
      if (steps.length === drafts.length) break;
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
    }
  }

  const avoidedNames = avoided.map((d) => weekdayNames[d]!);
  const summary =
    `Split into ${parts} parts of ${chunk} minutes: about ${total} minutes of work in all` +
    (overrun > 1 ? `, as your tasks usually take ${overrun}× the estimate` : "") +
    (drafts.length > parts ? `, after a ${drafts[0]!.minutes}-minute first step` : "") +
    (avoidedNames.length ? `; ${avoidedNames.join(", ")} skipped, as most of your tasks then fail` : "") +
    ".";

  return {
    summary,
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
