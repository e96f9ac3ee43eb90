// Schemas for the todos routes: the single source for validation, types and OpenAPI.
import { t, type Static } from "elysia";
import { nonBlank } from "../../platform/http/schemas";

export const taskStatuses = ["PENDING", "IN_PROGRESS", "DONE", "FAIL", "CANCELED", "DEFERRED", "SKIPPED"] as const;
export type TaskStatus = (typeof taskStatuses)[number];
export const failReasons = ["too_big", "no_time", "unclear", "blocked", "low_energy", "forgot", "other"] as const;
export type FailReason = (typeof failReasons)[number];

const ids = {
  project: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2a20",
  task: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2a21",
  subtask: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2a22",
};

/** Client-generated ids (optimistic UI): UUIDv7, so they sort by creation time. */
export const UuidV7 = t.String({
  pattern: "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-7[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$",
  description: "Client-generated UUIDv7; sending the same id again makes the create idempotent",
  examples: [ids.task],
});
// Not blank: validation refuses "   " (422 validation_failed naming the field); stored trimmed.
const Title = nonBlank({ maxLength: 255, description: "1–255 characters, not blank (trimmed)", examples: ["Write the quarterly report"] });
const Description = t.String({ maxLength: 1000, description: "Up to 1000 characters", examples: ["Numbers from the finance sheet, two pages"] });
const Category = nonBlank({ maxLength: 50, description: "Free-form, e.g. work, study, home (trimmed)", examples: ["work"] });
const Minutes = t.Integer({ minimum: 1, maximum: 1440, description: "Minutes (1–1440)", examples: [60] });
const ActualMinutes = t.Integer({ minimum: 0, maximum: 10_080, description: "Minutes actually spent (0–10080)", examples: [90] });
const DateTime = t.String({ format: "date-time", description: "UTC ISO-8601", examples: ["2026-11-24T09:00:00.000Z"] });
const Nullable = <T extends Parameters<typeof t.Union>[0][number]>(schema: T) => t.Union([schema, t.Null()]);

export const IdParams = t.Object({ id: t.String({ format: "uuid", description: "Project or task id" }) });

export const Project = t.Object(
  {
    id: t.String(),
    title: t.String(),
    description: Nullable(t.String()),
    createdAt: t.String({ format: "date-time" }),
    updatedAt: t.String({ format: "date-time" }),
  },
  {
    examples: [
      { id: ids.project, title: "Q4 report", description: null, createdAt: "2026-11-22T10:00:00.000Z", updatedAt: "2026-11-22T10:00:00.000Z" },
    ],
  },
);
export type Project = Static<typeof Project>;

export const ProjectList = t.Object(
  { items: t.Array(Project) },
  { examples: [{ items: [{ id: ids.project, title: "Q4 report", description: null, createdAt: "2026-11-22T10:00:00.000Z", updatedAt: "2026-11-22T10:00:00.000Z" }] }] },
);

export const CreateProjectBody = t.Object(
  { id: UuidV7, title: Title, description: t.Optional(Description) },
  { examples: [{ id: ids.project, title: "Q4 report", description: "Everything for the quarterly report" }] },
);
export type CreateProjectBody = Static<typeof CreateProjectBody>;

export const UpdateProjectBody = t.Object(
  { title: t.Optional(Title), description: t.Optional(Nullable(Description)) },
  { minProperties: 1, examples: [{ title: "Q4 report (final)" }] },
);
export type UpdateProjectBody = Static<typeof UpdateProjectBody>;

const Failure = t.Object({
  reason: t.UnionEnum(failReasons),
  note: Nullable(t.String()),
  failedAt: t.String({ format: "date-time" }),
});

const exampleTask = {
  id: ids.task,
  projectId: ids.project,
  parentId: null,
  title: "Write the quarterly report",
  description: null,
  category: "work",
  estimateMinutes: 60,
  dueAt: "2026-11-24T17:00:00.000Z",
  status: "FAIL",
  completedAt: null,
  failure: { reason: "too_big", note: "Ran out of steam halfway", failedAt: "2026-11-24T18:00:00.000Z" },
  actualMinutes: 90,
  position: 3,
  replanOf: null,
  createdAt: "2026-11-22T10:00:00.000Z",
  updatedAt: "2026-11-24T18:00:00.000Z",
};

export const Task = t.Object(
  {
    id: t.String(),
    projectId: t.String(),
    parentId: Nullable(t.String({ description: "Set on subtasks: the task they belong to" })),
    title: t.String(),
    description: Nullable(t.String()),
    category: Nullable(t.String()),
    estimateMinutes: Nullable(t.Integer()),
    dueAt: Nullable(t.String({ format: "date-time" })),
    status: t.UnionEnum(taskStatuses),
    completedAt: Nullable(t.String({ format: "date-time", description: "Set by DONE, cleared by any other status" })),
    failure: Nullable(Failure),
    actualMinutes: Nullable(t.Integer()),
    position: t.Integer({ description: "Ordering key among siblings, ascending (not an index)" }),
    replanOf: Nullable(t.String({ description: "The failed task whose re-plan created this subtask" })),
    createdAt: t.String({ format: "date-time" }),
    updatedAt: t.String({ format: "date-time" }),
  },
  { examples: [exampleTask] },
);
export type Task = Static<typeof Task>;

export const TaskDetail = t.Object(
  { ...Task.properties, subtasks: t.Array(Task) },
  { examples: [{ ...exampleTask, subtasks: [] }] },
);
export type TaskDetail = Static<typeof TaskDetail>;

export const TaskList = t.Object({ projectId: t.String(), items: t.Array(Task) }, { examples: [{ projectId: ids.project, items: [exampleTask] }] });
export type TaskList = Static<typeof TaskList>;

export const SubtaskList = t.Object(
  { taskId: t.String(), items: t.Array(Task) },
  { examples: [{ taskId: ids.task, items: [{ ...exampleTask, id: ids.subtask, parentId: ids.task, status: "PENDING", failure: null, actualMinutes: null }] }] },
);

export const CreateTaskBody = t.Object(
  {
    id: UuidV7,
    title: Title,
    description: t.Optional(Description),
    category: t.Optional(Category),
    estimateMinutes: t.Optional(Minutes),
    dueAt: t.Optional(DateTime),
  },
  {
    examples: [
      { id: ids.task, title: "Write the quarterly report", category: "work", estimateMinutes: 60, dueAt: "2026-11-24T17:00:00.000Z" },
    ],
  },
);
export type CreateTaskBody = Static<typeof CreateTaskBody>;

export const UpdateTaskBody = t.Object(
  {
    title: t.Optional(Title),
    description: t.Optional(Nullable(Description)),
    category: t.Optional(Nullable(Category)),
    estimateMinutes: t.Optional(Nullable(Minutes)),
    dueAt: t.Optional(Nullable(DateTime)),
  },
  { minProperties: 1, examples: [{ estimateMinutes: 90, dueAt: null }] },
);
export type UpdateTaskBody = Static<typeof UpdateTaskBody>;

export const StatusBody = t.Object(
  {
    status: t.UnionEnum(taskStatuses),
    // Literals, not t.UnionEnum: Elysia 1.4 fills an absent optional UnionEnum with its first value.
    reason: t.Optional(t.Union(failReasons.map((r) => t.Literal(r)), { description: "Required with FAIL, refused otherwise" })),
    note: t.Optional(t.String({ maxLength: 1000, description: "With FAIL only" })),
    actualMinutes: t.Optional(ActualMinutes),
  },
  {
    examples: [
      { status: "FAIL", reason: "too_big", note: "Ran out of steam halfway", actualMinutes: 90 },
      { status: "DONE", actualMinutes: 45 },
    ],
  },
);
export type StatusBody = Static<typeof StatusBody>;

export const ReorderBody = t.Object(
  {
    taskIds: t.Array(t.String({ format: "uuid" }), {
      uniqueItems: true,
      maxItems: 10_000,
      description: "Every task of the project (not subtasks), in the new order",
    }),
  },
  { examples: [{ taskIds: [ids.task, "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2a23"] }] },
);

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
