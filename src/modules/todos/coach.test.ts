// The coach on three fixed histories. Every expected number below is worked out by hand from
// the history next to it (the comments show the arithmetic), not copied from a run.
import { describe, expect, test } from "bun:test";
import { insights, localTime, median, zonedTime, type InsightsResult, type Outcome } from "./coach";
import { analysisCategories, analyze, type AnalysisCategory } from "./analysis";
import { replan } from "./plan";

const o = (status: "DONE" | "FAIL", category: string | null, est: number | null, act: number | null, reason: Outcome["reason"], at: string): Outcome => ({
  status,
  category,
  estimateMinutes: est,
  actualMinutes: act,
  reason,
  at: Date.parse(at),
});
const iso = (ms: number) => new Date(ms).toISOString();
/** Reverses the history: nothing may depend on its order. */
const shuffled = (h: Outcome[]) => [...h].reverse();

describe("time zones", () => {
  test("local time and wall-clock → instant, across the Berlin DST change (2026-10-25)", () => {
    expect(localTime(Date.parse("2026-10-24T18:00:00Z"), "Europe/Berlin")).toEqual({ year: 2026, month: 10, day: 24, hour: 20, minute: 0, weekday: 5 });
    expect(iso(zonedTime(2026, 10, 24, 14, "Europe/Berlin"))).toBe("2026-10-24T12:00:00.000Z"); // CEST, UTC+2
    expect(iso(zonedTime(2026, 10, 25, 14, "Europe/Berlin"))).toBe("2026-10-25T13:00:00.000Z"); // CET, UTC+1
    expect(iso(zonedTime(2026, 11, 9, 9, "Asia/Seoul"))).toBe("2026-11-09T00:00:00.000Z");
    expect(iso(zonedTime(2026, 11, 9, 9, "Asia/Kolkata"))).toBe("2026-11-09T03:30:00.000Z"); // UTC+5:30
  });

  test("median", () => {
    expect(median([])).toBeNull();
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});

describe("history A: nothing closed yet", () => {
  const now = Date.parse("2026-11-23T10:30:00Z"); // a Monday

  test("insights are empty and say so", () => {
    expect(insights([], "UTC")).toEqual({
      timeZone: "UTC",
      totals: { n: 0, done: 0, failed: 0, failureRate: null },
      byReason: [],
      byCategory: [],
      byHour: [],
      byWeekday: [],
      estimateOverrun: { n: 0, medianRatio: null, meanRatio: null, overrunShare: null, done: { n: 0, medianRatio: null }, failed: { n: 0, medianRatio: null } },
      highlights: ["No closed tasks yet: mark tasks DONE or FAIL to see your patterns."],
    });
  });

  test("too big: default 25-minute parts in the default hours, from the next free slot", () => {
    const plan = replan({ task: { title: "Write report", category: null, estimateMinutes: 60, reason: "too_big" }, history: [], now, timeZone: "UTC" });
    // 60 min / 25 → 3 parts; 09:00 today has passed, so 11:00, 14:00, then 09:00 tomorrow.
    expect(plan.basis).toEqual({
      chunkMinutes: 25,
      chunkSource: "default",
      chunkSampleSize: 0,
      overrunRatio: 1,
      overrunSampleSize: 0,
      totalMinutes: 60,
      bestHours: [
        { hour: 9, successRate: null, n: 0 },
        { hour: 11, successRate: null, n: 0 },
        { hour: 14, successRate: null, n: 0 },
      ],
      hoursSource: "default",
      avoidedWeekdays: [],
    });
    expect(plan.summary).toBe("Split into 3 parts of 25 minutes: about 60 minutes of work in all.");
    expect(plan.steps.map((s) => [s.title, s.estimateMinutes, iso(s.startAt), iso(s.dueAt)])).toEqual([
      ["Write report (part 1 of 3)", 25, "2026-11-23T11:00:00.000Z", "2026-11-23T11:25:00.000Z"],
      ["Write report (part 2 of 3)", 25, "2026-11-23T14:00:00.000Z", "2026-11-23T14:25:00.000Z"],
      ["Write report (part 3 of 3)", 25, "2026-11-24T09:00:00.000Z", "2026-11-24T09:25:00.000Z"],
    ]);
    expect(plan.steps[0]!.reason).toBe(
      "25 minutes, a short focused block while there are fewer than 3 finished tasks to size from, set for 11:00, a default slot until your history shows better hours.",
    );
  });

  test("unclear: a 15-minute first step to decide what done means; no estimate → two parts", () => {
    const plan = replan({ task: { title: "Fix the garden", category: null, estimateMinutes: null, reason: "unclear" }, history: [], now, timeZone: "UTC" });
    // No estimate: 2 × 25 = 50 min → 2 parts, after min(15, 25) = 15 minutes of clarifying.
    expect(plan.summary).toBe("Split into 2 parts of 25 minutes: about 50 minutes of work in all, after a 15-minute first step.");
    expect(plan.steps.map((s) => [s.title, s.estimateMinutes, iso(s.startAt)])).toEqual([
      ['Decide what "done" means for: Fix the garden', 15, "2026-11-23T11:00:00.000Z"],
      ["Fix the garden (part 1 of 2)", 25, "2026-11-23T14:00:00.000Z"],
      ["Fix the garden (part 2 of 2)", 25, "2026-11-24T09:00:00.000Z"],
    ]);
    expect(plan.steps[0]!.reason).toBe(
      "15 minutes first, because the task failed as unclear, set for 11:00, a default slot until your history shows better hours.",
    );
  });

  test("a 255-character title still fits with its part suffix", () => {
    const plan = replan({ task: { title: "x".repeat(255), category: null, estimateMinutes: 30, reason: "other" }, history: [], now, timeZone: "UTC" });
    for (const s of plan.steps) expect(s.title.length).toBeLessThanOrEqual(255);
    expect(plan.steps[0]!.title.endsWith(" (part 1 of 2)")).toBe(true);
  });
});

// History B, in Asia/Seoul (UTC+9, no DST): a morning person whose big evening tasks fail.
const seoul = "Asia/Seoul";
const historyB: Outcome[] = [
  o("DONE", "writing", 30, 30, null, "2026-11-02T09:10:00+09:00"), // Mon 09
  o("DONE", "writing", 30, 45, null, "2026-11-03T09:40:00+09:00"), // Tue 09
  o("DONE", "writing", 60, 60, null, "2026-11-04T10:20:00+09:00"), // Wed 10
  o("DONE", "admin", 15, 20, null, "2026-11-04T09:05:00+09:00"), // Wed 09
  o("FAIL", "writing", 120, 150, "too_big", "2026-11-05T21:30:00+09:00"), // Thu 21
  o("FAIL", "writing", 90, null, "too_big", "2026-11-06T22:15:00+09:00"), // Fri 22
  o("FAIL", "admin", 30, 60, "no_time", "2026-11-02T21:00:00+09:00"), // Mon 21
  o("DONE", "admin", null, 10, null, "2026-11-05T10:45:00+09:00"), // Thu 10
];

describe("history B: morning successes, evening failures (Asia/Seoul)", () => {
  test("insights", () => {
    const expected: InsightsResult = {
      timeZone: seoul,
      // 3 of 8 failed
      totals: { n: 8, done: 5, failed: 3, failureRate: 0.375 },
      byReason: [
        { reason: "too_big", count: 2, n: 3, share: 0.667 },
        { reason: "no_time", count: 1, n: 3, share: 0.333 },
      ],
      byCategory: [
        { category: "writing", n: 5, failed: 2, failureRate: 0.4 },
        { category: "admin", n: 3, failed: 1, failureRate: 0.333 },
      ],
      byHour: [
        { hour: 9, n: 3, failed: 0, failureRate: 0 },
        { hour: 10, n: 2, failed: 0, failureRate: 0 },
        { hour: 21, n: 2, failed: 2, failureRate: 1 },
        { hour: 22, n: 1, failed: 1, failureRate: 1 },
      ],
      byWeekday: [
        { weekday: "Mon", n: 2, failed: 1, failureRate: 0.5 },
        { weekday: "Tue", n: 1, failed: 0, failureRate: 0 },
        { weekday: "Wed", n: 2, failed: 0, failureRate: 0 },
        { weekday: "Thu", n: 2, failed: 1, failureRate: 0.5 },
        { weekday: "Fri", n: 1, failed: 1, failureRate: 1 },
      ],
      // actual/estimate where both exist: 1, 1.5, 1, 1.333, 1.25, 2 → median (1.25+1.333)/2 = 1.29,
      // mean 8.083/6 = 1.35, 4 of 6 over; DONE 1, 1, 1.333, 1.5 → 1.17; FAIL 1.25, 2 → 1.625 → 1.63
      estimateOverrun: {
        n: 6,
        medianRatio: 1.29,
        meanRatio: 1.35,
        overrunShare: 0.667,
        done: { n: 4, medianRatio: 1.17 },
        failed: { n: 2, medianRatio: 1.63 },
      },
      highlights: [
        'Your most common failure reason is "too big" (2 of 3 failures).',
        '"writing" tasks fail most often: 2 of 5.',
        "You finish most reliably around 09:00: 3 of 3 done.",
        "Tasks closed around 21:00 fail most: 2 of 2.",
        "Tasks usually take 1.29× your estimate (6 tasks with both numbers).",
      ],
    };
    expect(insights(historyB, seoul)).toEqual(expected);
    expect(insights(shuffled(historyB), seoul)).toEqual(expected);
  });

  test("re-plan a big writing task: writing-sized parts, stretched by the usual overrun, in the morning hours", () => {
    const input = {
      task: { title: "Draft the essay", category: "writing", estimateMinutes: 90, reason: "too_big" as const },
      history: historyB,
      now: Date.parse("2026-11-09T08:00:00+09:00"), // Monday 08:00 in Seoul
      timeZone: seoul,
    };
    const plan = replan(input);
    // Finished writing tasks took 30, 45, 60 → 45-minute parts. 90 × 1.29 = 116.1 → 115 → 3 parts.
    // Hours with ≥ 2 closed and ≥ half done: 09 (3/3), 10 (2/2); 21 (0/2) is out.
    expect(plan.basis).toEqual({
      chunkMinutes: 45,
      chunkSource: "category",
      chunkSampleSize: 3,
      overrunRatio: 1.29,
      overrunSampleSize: 6,
      totalMinutes: 115,
      bestHours: [
        { hour: 9, successRate: 1, n: 3 },
        { hour: 10, successRate: 1, n: 2 },
      ],
      hoursSource: "history",
      avoidedWeekdays: [],
    });
    expect(plan.summary).toBe("Split into 3 parts of 45 minutes: about 115 minutes of work in all, as your tasks usually take 1.29× the estimate.");
    expect(plan.steps).toEqual([
      {
        title: "Draft the essay (part 1 of 3)",
        estimateMinutes: 45,
        startAt: Date.parse("2026-11-09T00:00:00Z"),
        dueAt: Date.parse("2026-11-09T00:45:00Z"),
        reason: '45 minutes, the usual length of the 3 "writing" tasks you finished, set for 09:00, when you finished 3 of 3 tasks (100%).',
      },
      {
        title: "Draft the essay (part 2 of 3)",
        estimateMinutes: 45,
        startAt: Date.parse("2026-11-09T01:00:00Z"),
        dueAt: Date.parse("2026-11-09T01:45:00Z"),
        reason: '45 minutes, the usual length of the 3 "writing" tasks you finished, set for 10:00, when you finished 2 of 2 tasks (100%).',
      },
      {
        title: "Draft the essay (part 3 of 3)",
        estimateMinutes: 45,
        startAt: Date.parse("2026-11-10T00:00:00Z"),
        dueAt: Date.parse("2026-11-10T00:45:00Z"),
        reason: '45 minutes, the usual length of the 3 "writing" tasks you finished, set for 09:00, when you finished 3 of 3 tasks (100%).',
      },
    ]);
    expect(replan({ ...input, history: shuffled(historyB) })).toEqual(plan);
  });

  test("a category with fewer than 3 finished tasks is sized from all finished tasks", () => {
    const plan = replan({
      task: { title: "File taxes", category: "admin", estimateMinutes: 40, reason: "no_time" },
      history: historyB,
      now: Date.parse("2026-11-09T08:00:00+09:00"),
      timeZone: seoul,
    });
    // admin finished: 20, 10 (2 < 3) → all finished: 30, 45, 60, 20, 10 → median 30.
    // 40 × 1.29 = 51.6 → 50 → ceil(50/30) = 2 parts.
    expect([plan.basis.chunkSource, plan.basis.chunkSampleSize, plan.basis.chunkMinutes, plan.basis.totalMinutes, plan.steps.length]).toEqual(["all", 5, 30, 50, 2]);
    expect(plan.steps[0]!.reason).toStartWith("30 minutes, the usual length of the 5 tasks you finished, set for 09:00");
  });
});

// History C, in Europe/Berlin: Mondays and evenings go badly, and energy runs low.
const berlin = "Europe/Berlin";
const historyC: Outcome[] = [
  o("FAIL", "study", 60, 20, "low_energy", "2026-10-05T20:00:00+02:00"), // Mon 20
  o("FAIL", "study", 45, null, "low_energy", "2026-10-12T20:30:00+02:00"), // Mon 20
  o("FAIL", null, null, null, "forgot", "2026-10-19T19:00:00+02:00"), // Mon 19
  o("DONE", "study", 40, 50, null, "2026-10-10T14:10:00+02:00"), // Sat 14
  o("DONE", "study", 30, 30, null, "2026-10-17T14:40:00+02:00"), // Sat 14
  o("DONE", null, 20, null, null, "2026-10-11T16:00:00+02:00"), // Sun 16
  o("DONE", "study", 60, 70, null, "2026-10-18T14:20:00+02:00"), // Sun 14
  o("FAIL", "study", 90, 30, "other", "2026-10-14T16:30:00+02:00"), // Wed 16
  o("DONE", "home", null, 35, null, "2026-10-13T20:15:00+02:00"), // Tue 20
];

describe("history C: bad Mondays and evenings, low energy (Europe/Berlin, across DST)", () => {
  test("insights", () => {
    const expected: InsightsResult = {
      timeZone: berlin,
      totals: { n: 9, done: 5, failed: 4, failureRate: 0.444 },
      // equal counts keep the reasons' listed order: forgot before other
      byReason: [
        { reason: "low_energy", count: 2, n: 4, share: 0.5 },
        { reason: "forgot", count: 1, n: 4, share: 0.25 },
        { reason: "other", count: 1, n: 4, share: 0.25 },
      ],
      byCategory: [
        { category: "study", n: 6, failed: 3, failureRate: 0.5 },
        { category: "uncategorized", n: 2, failed: 1, failureRate: 0.5 },
        { category: "home", n: 1, failed: 0, failureRate: 0 },
      ],
      byHour: [
        { hour: 14, n: 3, failed: 0, failureRate: 0 },
        { hour: 16, n: 2, failed: 1, failureRate: 0.5 },
        { hour: 19, n: 1, failed: 1, failureRate: 1 },
        { hour: 20, n: 3, failed: 2, failureRate: 0.667 },
      ],
      byWeekday: [
        { weekday: "Mon", n: 3, failed: 3, failureRate: 1 },
        { weekday: "Tue", n: 1, failed: 0, failureRate: 0 },
        { weekday: "Wed", n: 1, failed: 1, failureRate: 1 },
        { weekday: "Sat", n: 2, failed: 0, failureRate: 0 },
        { weekday: "Sun", n: 2, failed: 0, failureRate: 0 },
      ],
      // ratios: 0.333, 1.25, 1, 1.167, 0.333 → median 1, mean 4.083/5 = 0.82, 2 of 5 over;
      // DONE 1.25, 1, 1.167 → 1.17; FAIL 0.333, 0.333 → 0.33
      estimateOverrun: {
        n: 5,
        medianRatio: 1,
        meanRatio: 0.82,
        overrunShare: 0.4,
        done: { n: 3, medianRatio: 1.17 },
        failed: { n: 2, medianRatio: 0.33 },
      },
      highlights: [
        'Your most common failure reason is "low energy" (2 of 4 failures).',
        '"study" tasks fail most often: 3 of 6.',
        "You finish most reliably around 14:00: 3 of 3 done.",
        "Tasks closed around 20:00 fail most: 2 of 3.",
      ],
    };
    expect(insights(historyC, berlin)).toEqual(expected);
    expect(insights(shuffled(historyC), berlin)).toEqual(expected);
  });

  test("re-plan after low energy: shorter parts, afternoon hours, Mondays skipped, across the DST change", () => {
    const input = {
      task: { title: "Revise chapter 3", category: "study", estimateMinutes: 60, reason: "low_energy" as const },
      history: historyC,
      now: Date.parse("2026-10-24T20:00:00+02:00"), // Saturday 20:00, the night before DST ends
      timeZone: berlin,
    };
    const plan = replan(input);
    // study finished: 50, 30, 70 → 50, a quarter less = 37.5 → 40. Overrun median 1 → 60 min → 2 parts.
    // Hours: 14 (3/3), 16 (1/2 = half); 20 (1/3) is out. Monday: 3 of 3 failed → skipped.
    expect(plan.basis).toEqual({
      chunkMinutes: 40,
      chunkSource: "category",
      chunkSampleSize: 3,
      overrunRatio: 1,
      overrunSampleSize: 5,
      totalMinutes: 60,
      bestHours: [
        { hour: 14, successRate: 1, n: 3 },
        { hour: 16, successRate: 0.5, n: 2 },
      ],
      hoursSource: "history",
      avoidedWeekdays: ["Mon"],
    });
    expect(plan.summary).toBe("Split into 2 parts of 40 minutes: about 60 minutes of work in all; Mon skipped, as most of your tasks then fail.");
    // Saturday's hours have passed; Sunday is on CET (UTC+1).
    expect(plan.steps).toEqual([
      {
        title: "Revise chapter 3 (part 1 of 2)",
        estimateMinutes: 40,
        startAt: Date.parse("2026-10-25T13:00:00Z"),
        dueAt: Date.parse("2026-10-25T13:40:00Z"),
        reason:
          '40 minutes, a quarter less than the usual 50 minutes of the 3 "study" tasks you finished, because energy ran low, set for 14:00, when you finished 3 of 3 tasks (100%).',
      },
      {
        title: "Revise chapter 3 (part 2 of 2)",
        estimateMinutes: 40,
        startAt: Date.parse("2026-10-25T15:00:00Z"),
        dueAt: Date.parse("2026-10-25T15:40:00Z"),
        reason:
          '40 minutes, a quarter less than the usual 50 minutes of the 3 "study" tasks you finished, because energy ran low, set for 16:00, when you finished 1 of 2 tasks (50%).',
      },
    ]);
    expect(replan({ ...input, history: shuffled(historyC) })).toEqual(plan);
  });

  test("a plan that runs into a Monday skips it", () => {
    const plan = replan({
      task: { title: "Read papers", category: "study", estimateMinutes: 240, reason: "too_big" },
      history: historyC,
      now: Date.parse("2026-10-24T20:00:00+02:00"),
      timeZone: berlin,
    });
    // 240 / 50 → 5 parts: Sun 14, Sun 16, (Mon skipped) Tue 14, Tue 16, Wed 14.
    expect(plan.steps.map((s) => localTime(s.startAt, berlin)).map((l) => `${l.day} ${l.hour}`)).toEqual(["25 14", "25 16", "27 14", "27 16", "28 14"]);
  });
});

describe("the re-plan is shaped by the failure analysis", () => {
  const now = Date.parse("2026-11-23T10:30:00Z"); // a Monday; default hours 09:00, 11:00, 14:00 UTC
  const task = { title: "Tidy the shed", category: null, estimateMinutes: 60, reason: "no_time" as const, actualMinutes: 90, failedAt: now - 60_000 };
  const input = { task, history: [] as Outcome[], now, timeZone: "UTC" };
  const as = (category: AnalysisCategory) => replan({ ...input, analysis: { ...analyze({ task, history: [], timeZone: "UTC" }), category } });
  const slots = (plan: ReturnType<typeof replan>) => plan.steps.map((s) => `${iso(s.startAt).slice(5, 16)} ${s.estimateMinutes}`);

  test("the same task and history give another plan for each category", () => {
    // Computed: no time, and the task took 90 / 60 = 1.5 ≥ 1.25 of its estimate → estimation:
    // 60 × 1.5 = 90 minutes → 4 parts of 25, at the default hours from now on.
    const computed = replan(input);
    expect(computed.category).toBe("estimation");
    expect(slots(computed)).toEqual(["11-23T11:00 25", "11-23T14:00 25", "11-24T09:00 25", "11-24T11:00 25"]);
    expect(computed.basis).toMatchObject({ overrunRatio: 1.5, totalMinutes: 90 });

    // unknown: the estimate as is, 60 → 3 parts of 25.
    expect(slots(as("unknown"))).toEqual(["11-23T11:00 25", "11-23T14:00 25", "11-24T09:00 25"]);
    // capacity: the same 3 parts, one a day.
    const capacity = as("capacity");
    expect(slots(capacity)).toEqual(["11-23T11:00 25", "11-24T09:00 25", "11-25T09:00 25"]);
    expect(capacity.summary).toBe("Split into 3 parts of 25 minutes: about 60 minutes of work in all, one part a day.");
    expect(slots(as("timing"))).toEqual(slots(capacity));
    // energy: parts a quarter shorter, 25 × 0.75 = 18.75 → 20, and 60 / 20 = 3 of them.
    expect(slots(as("energy"))).toEqual(["11-23T11:00 20", "11-23T14:00 20", "11-24T09:00 20"]);
    // clarity and dependency: a 15-minute first step, then the 3 parts.
    const clarity = as("clarity");
    expect(clarity.steps.map((s) => s.title)).toEqual([
      'Decide what "done" means for: Tidy the shed',
      "Tidy the shed (part 1 of 3)",
      "Tidy the shed (part 2 of 3)",
      "Tidy the shed (part 3 of 3)",
    ]);
    expect(as("dependency").steps[0]!.title).toBe("Clear the blocker on: Tidy the shed");
    for (const category of analysisCategories) expect(as(category).category).toBe(category);
  });

  test("scope: at least three parts where the estimate would give two", () => {
    const small = { ...task, estimateMinutes: 30, actualMinutes: null };
    const plan = (category: AnalysisCategory) =>
      replan({ ...input, task: small, analysis: { ...analyze({ task: small, history: [], timeZone: "UTC" }), category } });
    // 30 / 25 → 2 parts; scope makes it 3
    expect(plan("unknown").steps).toHaveLength(2);
    expect(plan("scope").steps).toHaveLength(3);
  });
});
