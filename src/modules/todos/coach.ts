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
export const round3 = (x: number) => Math.round(x * 1000) / 1000;
export const round2 = (x: number) => Math.round(x * 100) / 100;
export const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));
export const round5 = (x: number) => Math.max(5, Math.round(x / 5) * 5);
export const pct = (x: number) => `${Math.round(x * 100)}%`;
export const hh = (hour: number) => `${String(hour).padStart(2, "0")}:00`;

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export interface Tally {
  n: number;
  failed: number;
}

export function tally<K>(history: readonly Outcome[], key: (o: Outcome) => K): Map<K, Tally> {
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

export const reasonWords: Record<FailReason, string> = {
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

export function ratios(history: readonly Outcome[]): number[] {
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
