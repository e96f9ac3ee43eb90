// Schemas of the failure coach's routes (insights, analysis, re-plans): the single source for
// their validation, types and OpenAPI. Split from model.ts, which holds the projects' and tasks'.
import { t, type Static } from "elysia";
import { analysisCategories } from "./analysis";
import { DateTime, Description, exampleTask, failReasons, ids, Minutes, Nullable, Task, Title, UuidV7 } from "./model";

export const InsightsQuery = t.Object({
  tz: t.Optional(t.String({ maxLength: 64, description: "IANA time zone for hours and weekdays (default UTC)", examples: ["Europe/Berlin"] })),
});

const RateStat = {
  n: t.Integer({ description: "Sample size: tasks closed as DONE or FAIL" }),
  failed: t.Integer(),
  failureRate: t.Number({ description: "failed / n" }),
};
const Ratio = t.Object({ n: t.Integer({ description: "Sample size" }), medianRatio: Nullable(t.Number()) });

export const Insights = t.Object(
  {
    timeZone: t.String(),
    totals: t.Object({ n: t.Integer(), done: t.Integer(), failed: t.Integer(), failureRate: Nullable(t.Number()) }),
    byReason: t.Array(t.Object({ reason: t.UnionEnum(failReasons), count: t.Integer(), n: t.Integer({ description: "All failures" }), share: t.Number() })),
    byCategory: t.Array(t.Object({ category: t.String({ description: "'uncategorized' for tasks without one" }), ...RateStat })),
    byHour: t.Array(t.Object({ hour: t.Integer({ minimum: 0, maximum: 23 }), ...RateStat })),
    byWeekday: t.Array(t.Object({ weekday: t.String(), ...RateStat })),
    estimateOverrun: t.Object({
      n: t.Integer({ description: "Closed tasks with both an estimate and actual minutes" }),
      medianRatio: Nullable(t.Number({ description: "actual / estimated minutes" })),
      meanRatio: Nullable(t.Number()),
      overrunShare: Nullable(t.Number({ description: "Share of tasks that took longer than estimated" })),
      done: Ratio,
      failed: Ratio,
    }),
    highlights: t.Array(t.String(), { description: "The strongest patterns, in plain words" }),
  },
  {
    description:
      "Failure patterns over the caller's closed tasks (DONE or FAIL). Hours and weekdays are those of the closing time (completedAt / failure time) in `timeZone`.",
    examples: [
      {
        timeZone: "UTC",
        totals: { n: 10, done: 6, failed: 4, failureRate: 0.4 },
        byReason: [{ reason: "too_big", count: 3, n: 4, share: 0.75 }],
        byCategory: [{ category: "work", n: 6, failed: 3, failureRate: 0.5 }],
        byHour: [{ hour: 9, n: 4, failed: 0, failureRate: 0 }],
        byWeekday: [{ weekday: "Mon", n: 3, failed: 2, failureRate: 0.667 }],
        estimateOverrun: { n: 5, medianRatio: 1.5, meanRatio: 1.4, overrunShare: 0.8, done: { n: 3, medianRatio: 1.2 }, failed: { n: 2, medianRatio: 1.75 } },
        highlights: ["Most failures were too big (3 of 4)."],
      },
    ],
  },
);
export type Insights = Static<typeof Insights>;

const category = t.UnionEnum(analysisCategories, {
  description:
    "scope: bigger than what you finish; estimation: took longer than estimated; timing: failed at an hour you mostly fail; capacity: no time; clarity, dependency, energy, attention: what the reason says; unknown: nothing stands out",
});

export const Analysis = t.Object(
  {
    taskId: t.String(),
    timeZone: t.String(),
    category,
    recommendations: t.Array(t.String(), { description: "What to change, most important first, in plain words" }),
    basis: t.Object({
      reason: t.UnionEnum(failReasons),
      usualMinutes: Nullable(t.Integer({ description: "Median size of the tasks you finished (same category when 3 or more)" })),
      usualSampleSize: t.Integer(),
      taskOverrun: Nullable(t.Number({ description: "This task's actual / estimated minutes" })),
      overrunRatio: Nullable(t.Number({ description: "Your median actual / estimated minutes (3 or more tasks)" })),
      overrunSampleSize: t.Integer(),
      failureHour: Nullable(t.Object({ hour: t.Integer(), n: t.Integer(), failed: t.Integer() }, { description: "Your closed tasks at the hour this one failed" })),
      sameReasonFailures: t.Integer({ description: "Your failures with this reason, this one included" }),
    }),
  },
  {
    description: "Why a failed task failed: deterministic, from the task, its failure reason and your closed tasks (this one included).",
    examples: [
      {
        taskId: ids.task,
        timeZone: "UTC",
        category: "scope",
        recommendations: ["Split it: 120 minutes is 4× what you usually finish; plan parts of 30 minutes, the usual length of the 6 tasks you finished.", "Give each part its own result you can tick off."],
        basis: { reason: "too_big", usualMinutes: 30, usualSampleSize: 6, taskOverrun: null, overrunRatio: 1.2, overrunSampleSize: 4, failureHour: { hour: 18, n: 3, failed: 2 }, sameReasonFailures: 2 },
      },
    ],
  },
);
export type Analysis = Static<typeof Analysis>;

const ProposedSubtask = t.Object({
  id: t.String({ description: "A fresh UUIDv7 to send back to /replan/accept (keeps accepting idempotent)" }),
  title: t.String(),
  estimateMinutes: t.Integer(),
  startAt: t.String({ format: "date-time" }),
  dueAt: t.String({ format: "date-time" }),
  reason: t.String({ description: "Why this size and this time, in one sentence" }),
});

export const ReplanPlan = t.Object(
  {
    taskId: t.String(),
    timeZone: t.String(),
    explainedBy: t.Literal("rules", { description: "Always 'rules': the deterministic coach wrote the explanations" }),
    analysis: t.Object(
      { category, recommendations: t.Array(t.String()) },
      { description: "The failure analysis (POST /tasks/:id/analysis) the plan is shaped by" },
    ),
    summary: t.String(),
    basis: t.Object({
      chunkMinutes: t.Integer({ description: "Size of each part" }),
      chunkSource: t.UnionEnum(["category", "all", "default"] as const),
      chunkSampleSize: t.Integer(),
      overrunRatio: t.Number({ description: "Usual actual / estimated minutes (≥ 1)" }),
      overrunSampleSize: t.Integer(),
      totalMinutes: t.Integer(),
      bestHours: t.Array(t.Object({ hour: t.Integer(), successRate: Nullable(t.Number({ description: "null: a default hour, no history" })), n: t.Integer() })),
      hoursSource: t.UnionEnum(["history", "default"] as const),
      avoidedWeekdays: t.Array(t.String()),
    }),
    subtasks: t.Array(ProposedSubtask),
  },
  {
    examples: [
      {
        taskId: ids.task,
        timeZone: "UTC",
        explainedBy: "rules",
        analysis: { category: "unknown", recommendations: ["Try it again in parts of 30 minutes, the usual length of the 6 tasks you finished."] },
        summary: "Split into 2 parts of 30 minutes: about 60 minutes of work in all.",
        basis: {
          chunkMinutes: 30,
          chunkSource: "all",
          chunkSampleSize: 6,
          overrunRatio: 1,
          overrunSampleSize: 0,
          totalMinutes: 60,
          bestHours: [{ hour: 9, successRate: 1, n: 4 }],
          hoursSource: "history",
          avoidedWeekdays: [],
        },
        subtasks: [
          {
            id: ids.subtask,
            title: "Write the quarterly report (part 1 of 2)",
            estimateMinutes: 30,
            startAt: "2026-11-25T09:00:00.000Z",
            dueAt: "2026-11-25T09:30:00.000Z",
            reason: "30 minutes, the usual length of the 6 tasks you finished, set for 09:00, when you finished 4 of 4 tasks (100%).",
          },
        ],
      },
    ],
  },
);
export type ReplanPlan = Static<typeof ReplanPlan>;

export const AcceptReplanBody = t.Object(
  {
    subtasks: t.Array(
      t.Object({
        id: UuidV7,
        title: Title,
        description: t.Optional(Description),
        estimateMinutes: t.Optional(Minutes),
        dueAt: t.Optional(DateTime),
      }),
      { minItems: 1, maxItems: 12 },
    ),
  },
  {
    examples: [
      { subtasks: [{ id: ids.subtask, title: "Write the quarterly report (part 1 of 2)", estimateMinutes: 30, dueAt: "2026-11-25T09:30:00.000Z" }] },
    ],
  },
);
export type AcceptReplanBody = Static<typeof AcceptReplanBody>;

export const AcceptedReplan = t.Object(
  { taskId: t.String(), subtasks: t.Array(Task) },
  {
    examples: [
      {
        taskId: ids.task,
        subtasks: [
          {
            ...exampleTask,
            id: ids.subtask,
            parentId: ids.task,
            title: "Write the quarterly report (part 1 of 2)",
            estimateMinutes: 30,
            dueAt: "2026-11-25T09:30:00.000Z",
            status: "PENDING",
            failure: null,
            actualMinutes: null,
            replanOf: ids.task,
          },
        ],
      },
    ],
  },
);
export type AcceptedReplan = Static<typeof AcceptedReplan>;
