// Write commands: what every todos write becomes, in both write modes.
//
//   direct: the API validates and applies the command in one group-committed transaction.
//   async:  the API validates and records the command in the outbox (durable), a consumer
//           applies it later; until then reads apply it in memory to what they read
//           (applyToView below), so a client always reads its own writes.
//
// Commands carry everything they need (timestamps, positions, sequence number), so applying
// one is deterministic: SQLite (TodoTables.applyCommand) and a read's in-memory view reach
// the same state. Each entity remembers the seq of the last command applied to it (rev,
// pos_rev); a command at or below that is already in, which makes applying idempotent.
import { type Static, t, type TSchema } from "elysia";
import { integer } from "../../platform/events";
import { type FailReason, failReasons, openStatuses, type Project, type Task, type TaskStatus, taskStatuses } from "./model";

export interface ProjectRow {
  id: string;
  user_id: string;
  title: string;
  description: string | null;
  rev: number;
  created_at: number;
  updated_at: number;
}

export interface TaskRow {
  id: string;
  project_id: string;
  parent_id: string | null;
  user_id: string;
  title: string;
  description: string | null;
  category: string | null;
  estimate_minutes: number | null;
  due_at: number | null;
  status: TaskStatus;
  completed_at: number | null;
  failed_at: number | null;
  fail_reason: FailReason | null;
  fail_note: string | null;
  actual_minutes: number | null;
  position: number;
  replan_of: string | null;
  rev: number;
  pos_rev: number;
  created_at: number;
  updated_at: number;
}

// The commands' schema is the type: they travel in todos.write.requested payloads, which the
// bus validates against it before the write-behind consumer applies them. Change it only by
// adding optional fields: outbox rows the previous version wrote are checked against it too.
const nullable = <T extends TSchema>(schema: T) => t.Union([schema, t.Null()]);

const base = {
  /** Position in the one command sequence (todo_seq), in commit order. */
  seq: integer(),
  userId: t.String(),
  /** Epoch ms when the API accepted the write: the write's timestamps. */
  at: integer(),
};

const newTaskSchema = t.Object({
  id: t.String(),
  projectId: t.String(),
  parentId: nullable(t.String()),
  title: t.String(),
  description: nullable(t.String()),
  category: nullable(t.String()),
  estimateMinutes: nullable(integer()),
  dueAt: nullable(integer({ description: "Epoch ms" })),
  replanOf: nullable(t.String()),
});

const taskPatchSchema = t.Object({
  title: t.Optional(t.String()),
  description: t.Optional(nullable(t.String())),
  category: t.Optional(nullable(t.String())),
  estimateMinutes: t.Optional(nullable(integer())),
  dueAt: t.Optional(nullable(integer({ description: "Epoch ms" }))),
});

export const commandSchema = t.Union([
  t.Object({
    ...base,
    kind: t.Literal("project.create"),
    project: t.Object({ id: t.String(), title: t.String(), description: nullable(t.String()) }),
  }),
  t.Object({
    ...base,
    kind: t.Literal("project.update"),
    projectId: t.String(),
    patch: t.Object({ title: t.Optional(t.String()), description: t.Optional(nullable(t.String())) }),
  }),
  t.Object({ ...base, kind: t.Literal("project.delete"), projectId: t.String() }),
  t.Object({ ...base, kind: t.Literal("task.create"), task: newTaskSchema }),
  t.Object({ ...base, kind: t.Literal("task.update"), taskId: t.String(), projectId: t.String(), patch: taskPatchSchema }),
  t.Object({
    ...base,
    kind: t.Literal("task.status"),
    taskId: t.String(),
    projectId: t.String(),
    status: t.UnionEnum(taskStatuses),
    reason: nullable(t.UnionEnum(failReasons)),
    note: nullable(t.String()),
    /** Omitted: keep what the task has. */
    actualMinutes: t.Optional(integer()),
  }),
  t.Object({ ...base, kind: t.Literal("task.delete"), taskId: t.String(), projectId: t.String() }),
  /** The overdue job: OVERDUE if, when applied, the task is still open and due at or before `at`. */
  t.Object({ ...base, kind: t.Literal("task.overdue"), taskId: t.String(), projectId: t.String() }),
  t.Object({ ...base, kind: t.Literal("tasks.reorder"), projectId: t.String(), taskIds: t.Array(t.String()) }),
]);

export type Command = Static<typeof commandSchema>;
export type NewTask = Static<typeof newTaskSchema>;
export type TaskPatch = Static<typeof taskPatchSchema>;

/** The project a command touches: its cached task list is invalidated once it is applied. */
export function projectOf(cmd: Command): string {
  switch (cmd.kind) {
    case "project.create":
      return cmd.project.id;
    case "task.create":
      return cmd.task.projectId;
    default:
      return cmd.projectId;
  }
}

/**
 * Ids a command would create in this view (its filter takes them in); a read skips those the
 * registry marks gone for good. Only these are looked up: a read of one task asked the registry
 * about every id the user had pending (thousands while the worker is behind, ~70 % of the
 * server's time under load in async mode).
 */
export function createdIdsFor(view: View, cmd: Command): string[] {
  if (cmd.kind === "project.create") return view.wantsProject(projectPlace(cmd)) ? [cmd.project.id] : [];
  if (cmd.kind === "task.create") return view.wantsTask(taskPlace(cmd)) ? [cmd.task.id] : [];
  return [];
}

export function newProjectRow(cmd: Extract<Command, { kind: "project.create" }>): ProjectRow {
  return {
    id: cmd.project.id,
    user_id: cmd.userId,
    title: cmd.project.title,
    description: cmd.project.description,
    rev: cmd.seq,
    created_at: cmd.at,
    updated_at: cmd.at,
  };
}

/** A new task's position is its creating command's seq: unique, and after every existing one. */
export function newTaskRow(cmd: Extract<Command, { kind: "task.create" }>): TaskRow {
  const t = cmd.task;
  return {
    id: t.id,
    project_id: t.projectId,
    parent_id: t.parentId,
    user_id: cmd.userId,
    title: t.title,
    description: t.description,
    category: t.category,
    estimate_minutes: t.estimateMinutes,
    due_at: t.dueAt,
    status: "PENDING",
    completed_at: null,
    failed_at: null,
    fail_reason: null,
    fail_note: null,
    actual_minutes: null,
    position: cmd.seq,
    replan_of: t.replanOf,
    rev: cmd.seq,
    pos_rev: cmd.seq,
    created_at: cmd.at,
    updated_at: cmd.at,
  };
}

export function patchedProject(row: ProjectRow, cmd: Extract<Command, { kind: "project.update" }>): ProjectRow {
  return {
    ...row,
    title: cmd.patch.title ?? row.title,
    description: cmd.patch.description !== undefined ? cmd.patch.description : row.description,
    rev: cmd.seq,
    updated_at: cmd.at,
  };
}

/**
 * An OVERDUE task whose due time is moved past the write's time (or cleared) is open again:
 * PENDING, so the overdue job may mark it again when the new due time passes.
 */
export function patchedTask(row: TaskRow, cmd: Extract<Command, { kind: "task.update" }>): TaskRow {
  const p = cmd.patch;
  const reopened = row.status === "OVERDUE" && p.dueAt !== undefined && (p.dueAt === null || p.dueAt > cmd.at);
  return {
    ...row,
    status: reopened ? "PENDING" : row.status,
    title: p.title ?? row.title,
    description: p.description !== undefined ? p.description : row.description,
    category: p.category !== undefined ? p.category : row.category,
    estimate_minutes: p.estimateMinutes !== undefined ? p.estimateMinutes : row.estimate_minutes,
    due_at: p.dueAt !== undefined ? p.dueAt : row.due_at,
    rev: cmd.seq,
    updated_at: cmd.at,
  };
}

/**
 * Status rules: DONE sets completedAt, FAIL records the failure; any other status clears
 * both. Setting the status a task already has keeps its timestamps (the call is idempotent).
 */
export function withStatus(row: TaskRow, cmd: Extract<Command, { kind: "task.status" }>): TaskRow {
  const same = row.status === cmd.status;
  return {
    ...row,
    status: cmd.status,
    completed_at: cmd.status === "DONE" ? (same ? row.completed_at : cmd.at) : null,
    failed_at: cmd.status === "FAIL" ? (same ? row.failed_at : cmd.at) : null,
    fail_reason: cmd.status === "FAIL" ? cmd.reason : null,
    fail_note: cmd.status === "FAIL" ? cmd.note : null,
    actual_minutes: cmd.actualMinutes ?? row.actual_minutes,
    rev: cmd.seq,
    updated_at: cmd.at,
  };
}

/** Whether a task.overdue applies to the row: still open, not already changed by a later command, due by then. */
export function isOverdue(row: TaskRow, cmd: Extract<Command, { kind: "task.overdue" }>): boolean {
  return row.rev < cmd.seq && (openStatuses as readonly string[]).includes(row.status) && row.due_at !== null && row.due_at <= cmd.at;
}

export function overdueRow(row: TaskRow, cmd: Extract<Command, { kind: "task.overdue" }>): TaskRow {
  return { ...row, status: "OVERDUE", completed_at: null, failed_at: null, fail_reason: null, fail_note: null, rev: cmd.seq, updated_at: cmd.at };
}

/** A deleted task keeps its content, with status DELETED (which, like any status but DONE and FAIL, clears completedAt and the failure). */
export function deletedRow(row: TaskRow, cmd: Extract<Command, { kind: "task.delete" }>): TaskRow {
  return { ...row, status: "DELETED", completed_at: null, failed_at: null, fail_reason: null, fail_note: null, rev: Math.max(row.rev, cmd.seq), updated_at: cmd.at };
}

/** Where a row sits: all a view's filter looks at (a pending create is tested before its row is built). */
export type ProjectPlace = Pick<ProjectRow, "id" | "user_id">;
export type TaskPlace = Pick<TaskRow, "id" | "project_id" | "parent_id" | "user_id">;

/** Part of the data a read loaded, plus which rows belong to it (for rows a command creates). */
export interface View {
  projects: Map<string, ProjectRow>;
  tasks: Map<string, TaskRow>;
  wantsProject(row: ProjectPlace): boolean;
  wantsTask(row: TaskPlace): boolean;
}

const projectPlace = (cmd: Extract<Command, { kind: "project.create" }>): ProjectPlace => ({ id: cmd.project.id, user_id: cmd.userId });
const taskPlace = (cmd: Extract<Command, { kind: "task.create" }>): TaskPlace => ({
  id: cmd.task.id,
  project_id: cmd.task.projectId,
  parent_id: cmd.task.parentId,
  user_id: cmd.userId,
});

export function newView(
  projects: Iterable<ProjectRow>,
  tasks: Iterable<TaskRow>,
  wantsProject: (row: ProjectPlace) => boolean,
  wantsTask: (row: TaskPlace) => boolean,
): View {
  return {
    projects: new Map([...projects].map((p) => [p.id, p])),
    tasks: new Map([...tasks].map((t) => [t.id, t])),
    wantsProject,
    wantsTask,
  };
}

/** task.delete: the task and its subtasks become DELETED (those deleted before keep their time). */
function deleteTask(view: View, cmd: Extract<Command, { kind: "task.delete" }>): void {
  for (const [id, t] of view.tasks) {
    if ((id === cmd.taskId || t.parent_id === cmd.taskId) && t.status !== "DELETED") view.tasks.set(id, deletedRow(t, cmd));
  }
}

/** A command changing a task's content applies to a live row it is newer than. */
const changes = (row: TaskRow | undefined, seq: number): row is TaskRow => row !== undefined && row.status !== "DELETED" && row.rev < seq;

/**
 * Applies a pending command to a read's view, the way TodoTables.applyCommand applies it to
 * SQLite. `gone` holds ids removed for good (deleted projects and what was under them, deleted
 * accounts): a stale pending create of one of them must not bring it back. Tasks deleted on
 * their own stay, as DELETED.
 */
export function applyToView(view: View, cmd: Command, gone: ReadonlySet<string>): void {
  switch (cmd.kind) {
    case "project.create": {
      const id = cmd.project.id;
      if (!view.projects.has(id) && !gone.has(id) && view.wantsProject(projectPlace(cmd))) view.projects.set(id, newProjectRow(cmd));
      return;
    }
    case "project.update": {
      const row = view.projects.get(cmd.projectId);
      if (row && row.rev < cmd.seq) view.projects.set(row.id, patchedProject(row, cmd));
      return;
    }
    case "project.delete": {
      view.projects.delete(cmd.projectId);
      for (const [id, t] of view.tasks) if (t.project_id === cmd.projectId) view.tasks.delete(id);
      return;
    }
    case "task.create": {
      const id = cmd.task.id;
      if (!view.tasks.has(id) && !gone.has(id) && view.wantsTask(taskPlace(cmd))) view.tasks.set(id, newTaskRow(cmd));
      return;
    }
    case "task.update": {
      const row = view.tasks.get(cmd.taskId);
      if (changes(row, cmd.seq)) view.tasks.set(row.id, patchedTask(row, cmd));
      return;
    }
    case "task.status": {
      const row = view.tasks.get(cmd.taskId);
      if (changes(row, cmd.seq)) view.tasks.set(row.id, withStatus(row, cmd));
      return;
    }
    case "task.overdue": {
      const row = view.tasks.get(cmd.taskId);
      if (row && isOverdue(row, cmd)) view.tasks.set(row.id, overdueRow(row, cmd));
      return;
    }
    case "task.delete":
      deleteTask(view, cmd);
      return;
    case "tasks.reorder": {
      cmd.taskIds.forEach((id, position) => {
        const row = view.tasks.get(id);
        if (row && row.project_id === cmd.projectId && row.parent_id === null && row.status !== "DELETED" && row.pos_rev < cmd.seq) {
          view.tasks.set(id, { ...row, position, pos_rev: cmd.seq });
        }
      });
      return;
    }
  }
}

export function byPosition(a: TaskRow, b: TaskRow): number {
  return a.position - b.position || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

export function toProject(row: ProjectRow): Project {
  return { id: row.id, title: row.title, description: row.description, createdAt: iso(row.created_at), updatedAt: iso(row.updated_at) };
}

export function toTask(row: TaskRow): Task {
  return {
    id: row.id,
    projectId: row.project_id,
    parentId: row.parent_id,
    title: row.title,
    description: row.description,
    category: row.category,
    estimateMinutes: row.estimate_minutes,
    dueAt: isoOrNull(row.due_at),
    status: row.status,
    completedAt: isoOrNull(row.completed_at),
    failure:
      row.status === "FAIL" && row.fail_reason !== null
        ? { reason: row.fail_reason, note: row.fail_note, failedAt: iso(row.failed_at ?? row.updated_at) }
        : null,
    actualMinutes: row.actual_minutes,
    position: row.position,
    replanOf: row.replan_of,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}
