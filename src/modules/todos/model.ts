// Schemas for the todos routes: the single source for validation, types and OpenAPI.
import { t, type Static } from "elysia";
import { nonBlank } from "../../platform/http/schemas";

export const taskStatuses = ["PENDING", "IN_PROGRESS", "DONE", "FAIL", "CANCELED", "OVERDUE", "DEFERRED", "SKIPPED", "DELETED"] as const;
export type TaskStatus = (typeof taskStatuses)[number];
/**
 * What PUT /tasks/:id/status takes. OVERDUE is set by the worker (open tasks past their due
 * time), DELETED by DELETE /tasks/:id: neither is a client's to set.
 */
export const settableStatuses = ["PENDING", "IN_PROGRESS", "DONE", "FAIL", "CANCELED", "DEFERRED", "SKIPPED"] as const;
export type SettableStatus = (typeof settableStatuses)[number];
/** Open statuses: the overdue job turns these into OVERDUE once their due time has passed. */
export const openStatuses = ["PENDING", "IN_PROGRESS"] as const satisfies readonly TaskStatus[];
export const failReasons = ["too_big", "no_time", "unclear", "blocked", "low_energy", "forgot", "other"] as const;
export type FailReason = (typeof failReasons)[number];

export const ids = {
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
export const Title = nonBlank({ maxLength: 255, description: "1–255 characters, not blank (trimmed)", examples: ["Write the quarterly report"] });
export const Description = t.String({ maxLength: 1000, description: "Up to 1000 characters", examples: ["Numbers from the finance sheet, two pages"] });
const Category = nonBlank({ maxLength: 50, description: "Free-form, e.g. work, study, home (trimmed)", examples: ["work"] });
export const Minutes = t.Integer({ minimum: 1, maximum: 1440, description: "Minutes (1–1440)", examples: [60] });
const ActualMinutes = t.Integer({ minimum: 0, maximum: 10_080, description: "Minutes actually spent (0–10080)", examples: [90] });
export const DateTime = t.String({ format: "date-time", description: "UTC ISO-8601", examples: ["2026-11-24T09:00:00.000Z"] });
export const Nullable = <T extends Parameters<typeof t.Union>[0][number]>(schema: T) => t.Union([schema, t.Null()]);

export const IdParams = t.Object({ id: t.String({ format: "uuid", description: "Project or task id" }) });

export const ListQuery = t.Object({
  includeDeleted: t.Optional(
    t.Boolean({ default: false, description: "Also list DELETED tasks (default false: deleted tasks are left out of lists)" }),
  ),
});

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

export const exampleTask = {
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
    status: t.UnionEnum(taskStatuses, {
      description:
        "OVERDUE: was PENDING or IN_PROGRESS when its due time passed (set by the worker). DELETED: deleted, read-only for good.",
    }),
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
    status: t.UnionEnum(settableStatuses, { description: "OVERDUE and DELETED are not set here (the worker, DELETE /tasks/:id)" }),
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
