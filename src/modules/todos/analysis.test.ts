// The failure analysis on small fixed histories. Every expected number is worked out by hand
// from the history beside it (the comments show the arithmetic), not copied from a run.
import { describe, expect, test } from "bun:test";
import { analyze, type AnalysisInput } from "./analysis";
import type { Outcome } from "./coach";

const o = (status: "DONE" | "FAIL", category: string | null, est: number | null, act: number | null, reason: Outcome["reason"], at: string): Outcome => ({
  status,
  category,
  estimateMinutes: est,
  actualMinutes: act,
  reason,
  at: Date.parse(at),
});
type Task = AnalysisInput["task"];
const task = (t: Partial<Task> & Pick<Task, "reason">): Task => ({ category: null, estimateMinutes: null, actualMinutes: null, failedAt: null, ...t });
/** The failed task as it also appears in the history. */
const failed = (t: Task): Outcome => o("FAIL", t.category, t.estimateMinutes, t.actualMinutes, t.reason, new Date(t.failedAt!).toISOString());

describe("the reason names the cause", () => {
  test.each([
    ["unclear", "clarity", 'Start with 15 minutes writing down what "done" means for it.'],
    ["blocked", "dependency", "Start with a short step to clear the blocker: ask, order or escalate."],
    ["low_energy", "energy", "Use shorter parts, a quarter less than usual, at an hour where you finish most."],
    ["forgot", "attention", "Give it a due time and keep it on the current list, so it cannot slip."],
    ["too_big", "scope", "Split it into parts of 25 minutes."],
  ] as const)("%s → %s, whatever the history", (reason, category, first) => {
    const a = analyze({ task: task({ reason }), history: [], timeZone: "UTC" });
    expect(a.category).toBe(category);
    expect(a.recommendations[0]).toBe(first);
    expect(a.recommendations).toHaveLength(2);
  });
});

describe("no time: the history decides", () => {
  // Three finished "work" tasks and this failure, Mon–Thu 2026-11-23…26, UTC.
  const t = task({ reason: "no_time", category: "work", estimateMinutes: 60, actualMinutes: 90, failedAt: Date.parse("2026-11-26T18:00:00Z") });
  const history = [
    o("DONE", "work", 30, 30, null, "2026-11-23T09:00:00Z"), // ratio 1
    o("DONE", "work", 30, 40, null, "2026-11-24T09:00:00Z"), // ratio 1.333
    o("DONE", "work", 20, 30, null, "2026-11-25T10:00:00Z"), // ratio 1.5
    failed(t), // ratio 1.5
  ];

  test("overran its estimate → estimation, with the numbers", () => {
    expect(analyze({ task: t, history, timeZone: "UTC" })).toEqual({
      category: "estimation",
      recommendations: [
        // max(this task's 90 / 60 = 1.5, the median 1.42)
        "Plan 1.5× your first estimate: this task took 1.5× the time you estimated.",
        "Record the minutes you actually spend, so the next estimates get closer.",
      ],
      basis: {
        reason: "no_time",
        // sizes (actual, else estimate) of the 3 "work" tasks done: 30, 40, 30 → median 30
        usualMinutes: 30,
        usualSampleSize: 3,
        taskOverrun: 1.5,
        // ratios 1, 1.333, 1.5, 1.5 → median (1.333 + 1.5) / 2 = 1.4167 → 1.42
        overrunRatio: 1.42,
        overrunSampleSize: 4,
        failureHour: { hour: 18, n: 1, failed: 1 },
        sameReasonFailures: 1,
      },
    });
    // Nothing depends on the history's order.
    expect(analyze({ task: t, history: [...history].reverse(), timeZone: "UTC" })).toEqual(analyze({ task: t, history, timeZone: "UTC" }));
  });

  test("on time, but at an hour where most tasks fail → timing", () => {
    const late = task({ reason: "no_time", estimateMinutes: 30, failedAt: Date.parse("2026-11-26T18:20:00Z") });
    const h = [
      o("DONE", null, 30, 30, null, "2026-11-23T09:00:00Z"),
      o("DONE", null, 30, 30, null, "2026-11-24T09:00:00Z"),
      o("DONE", null, 30, 30, null, "2026-11-23T18:00:00Z"),
      o("FAIL", null, 30, null, "other", "2026-11-24T18:10:00Z"),
      o("FAIL", null, 30, null, "forgot", "2026-11-25T18:45:00Z"),
      failed(late),
    ];
    const a = analyze({ task: late, history: h, timeZone: "UTC" });
    // at 18:xx: 4 closed, 3 failed (75 % ≥ 60 %); every ratio with an actual is 1, no overrun
    expect(a.category).toBe("timing");
    expect(a.basis).toMatchObject({ failureHour: { hour: 18, n: 4, failed: 3 }, overrunRatio: 1, taskOverrun: null });
    expect(a.recommendations[0]).toBe("Move it away from 18:00: 3 of the 4 tasks you closed then failed.");
    // Two more finished at 18:xx: 3 of 6 failed (50 % < 60 %), no timing problem.
    const more = [...h, o("DONE", null, 30, 30, null, "2026-11-27T18:00:00Z"), o("DONE", null, 30, 30, null, "2026-11-28T18:30:00Z")];
    expect(analyze({ task: late, history: more, timeZone: "UTC" }).category).toBe("capacity");
    // Hours are the time zone's: in Seoul (UTC+9) those closings are at 03:xx, and 03:00 is named.
    expect(analyze({ task: late, history: h, timeZone: "Asia/Seoul" }).recommendations[0]).toBe("Move it away from 03:00: 3 of the 4 tasks you closed then failed.");
  });

  test("nothing in the history → capacity", () => {
    const alone = task({ reason: "no_time", estimateMinutes: 30, failedAt: Date.parse("2026-11-26T18:00:00Z") });
    const a = analyze({ task: alone, history: [failed(alone)], timeZone: "UTC" });
    expect(a.category).toBe("capacity");
    expect(a.basis).toMatchObject({ usualMinutes: null, usualSampleSize: 0, overrunRatio: null, overrunSampleSize: 0, failureHour: { hour: 18, n: 1, failed: 1 } });
    expect(a.recommendations).toEqual([
      "Book the time before starting: one part a day in a slot you keep free.",
      "Drop or defer something else that day, or move the due date honestly.",
    ]);
  });

  test("a third failure for the same reason is called a pattern", () => {
    const third = task({ reason: "no_time", failedAt: Date.parse("2026-11-26T12:00:00Z") });
    const h = [o("FAIL", null, null, null, "no_time", "2026-11-23T08:00:00Z"), o("FAIL", null, null, null, "no_time", "2026-11-24T15:00:00Z"), failed(third)];
    const a = analyze({ task: third, history: h, timeZone: "UTC" });
    expect(a.category).toBe("capacity");
    expect(a.basis.sameReasonFailures).toBe(3);
    expect(a.recommendations.at(-1)).toBe('This is a pattern: 3 of your failures were "no time".');
  });
});

describe("other: the history decides", () => {
  const done = [
    o("DONE", "home", 30, 30, null, "2026-11-23T09:00:00Z"),
    o("DONE", "home", 30, 30, null, "2026-11-24T09:00:00Z"),
    o("DONE", "home", 40, null, null, "2026-11-25T09:00:00Z"),
  ];

  test("twice the size usually finished → scope", () => {
    const big = task({ reason: "other", estimateMinutes: 120, failedAt: Date.parse("2026-11-26T09:00:00Z") });
    const a = analyze({ task: big, history: [...done, failed(big)], timeZone: "UTC" });
    // sizes 30, 30, 40 (no actual: the estimate) → median 30; 120 ≥ 2 × 30
    expect(a.category).toBe("scope");
    expect(a.basis).toMatchObject({ usualMinutes: 30, usualSampleSize: 3 });
    expect(a.recommendations[0]).toBe("Split it: 120 minutes is 4× what you usually finish; plan parts of 30 minutes, the usual length of the 3 tasks you finished.");
  });

  test("usual size, no overrun, no bad hour → unknown", () => {
    const plain = task({ reason: "other", estimateMinutes: 45, failedAt: Date.parse("2026-11-26T09:00:00Z") });
    const a = analyze({ task: plain, history: [...done, failed(plain)], timeZone: "UTC" });
    expect(a.category).toBe("unknown");
    expect(a.recommendations).toEqual([
      "Note what got in the way: with a reason other than 'other', the coach can say more.",
      "Try it again in parts of 30 minutes, the usual length of the 3 tasks you finished.",
    ]);
  });
});
