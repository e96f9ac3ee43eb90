// The port the todos use cases need from storage. store.sqlite.ts implements it on the
// platform's SQLite file; a MongoDB implementation would sit beside it (DESIGN.md, multi-host).
//
// A write method is one use-case unit in one transaction: it checks the request against the id
// registry (the rules in registry.ts), registers new ids, draws sequence numbers and returns the
// commands the write became. How they are delivered is the caller's choice (writes.ts):
//   "apply"  the same transaction applies them to the todo tables;
//   "queue"  the same transaction records them in the outbox as a write-requested event, for the
//            write-behind consumer. Queued writes of one moment may share a transaction and an
//            event; a refused one (it throws) rolls back alone.
// Either way the promise resolves only after COMMIT, i.e. once the write is durable.
import type { Command, NewTask, ProjectRow, TaskPatch, TaskRow } from "./commands";
import type { FailReason, TaskStatus } from "./model";

export type Delivery = "apply" | "queue";

/** What a write became: the commands (none for a replay) and what the caller needs to answer. */
export interface Accepted<R> {
  commands: Command[];
  result: R;
}

/** A create: new (sequence numbers just drawn) or the same create again (as first registered). */
export interface Registration {
  replay: boolean;
  seqs: number[];
  /** When the create was first accepted. */
  at: number;
}

interface Write {
  userId: string;
  /** Epoch ms, from the clock: the write's timestamps. */
  at: number;
}

export interface ProjectCreate extends Write {
  project: { id: string; title: string; description: string | null };
}
export interface ProjectUpdate extends Write {
  projectId: string;
  patch: { title?: string; description?: string | null };
}
export interface ProjectDelete extends Write {
  projectId: string;
}

/** New tasks as the client sent them; where they go decides projectId, parentId and replanOf. */
export type TaskDraft = Omit<NewTask, "projectId" | "parentId" | "replanOf">;

export interface TasksCreate extends Write {
  /**
   * project: tasks of a project. task: subtasks of a task (not of a subtask). replan: the
   * accepted re-plan of a failed task, under it, or beside it when it is a subtask itself.
   */
  place: { under: "project"; projectId: string } | { under: "task"; taskId: string } | { under: "replan"; taskId: string };
  tasks: TaskDraft[];
}
export interface TaskUpdate extends Write {
  taskId: string;
  patch: TaskPatch;
}
export interface TaskStatusChange extends Write {
  taskId: string;
  status: TaskStatus;
  reason: FailReason | null;
  note: string | null;
  /** Omitted: keep what the task has. */
  actualMinutes?: number;
}
export interface TaskDelete extends Write {
  taskId: string;
}
/** The overdue job's write: these tasks (each its owner's) are past their due time at `at`. */
export interface TasksOverdue {
  at: number;
  tasks: Array<{ taskId: string; userId: string }>;
}
export interface TasksReorder extends Write {
  projectId: string;
  taskIds: string[];
}

export interface TaskListSnapshot {
  project: ProjectRow | null;
  /** The project's tasks (not subtasks) in order. */
  tasks: TaskRow[];
}

export interface TodosStore {
  readonly kind: "sqlite";

  // ── writes (one transaction each; see the top of this file) ───────────────────────────
  createProject(write: ProjectCreate, delivery: Delivery): Promise<Accepted<Registration>>;
  updateProject(write: ProjectUpdate, delivery: Delivery): Promise<Accepted<null>>;
  /** Marks the project and everything under it deleted in the registry at once. */
  /** Deleting a project already deleted is a no-op (no commands). */
  deleteProject(write: ProjectDelete, delivery: Delivery): Promise<Accepted<null>>;
  /** All the tasks or none; returns them as placed. */
  createTasks(write: TasksCreate, delivery: Delivery): Promise<Accepted<Registration & { tasks: NewTask[] }>>;
  updateTask(write: TaskUpdate, delivery: Delivery): Promise<Accepted<null>>;
  setStatus(write: TaskStatusChange, delivery: Delivery): Promise<Accepted<null>>;
  /** Marks the task DELETED with its subtasks; one already deleted is a no-op (no commands). */
  deleteTask(write: TaskDelete, delivery: Delivery): Promise<Accepted<null>>;
  /**
   * One task.overdue command per task still live in the registry. Applying it turns the task
   * OVERDUE only if it is still open and due by then, and emits todoEvents.taskOverdue in the
   * applying transaction.
   */
  markOverdue(write: TasksOverdue, delivery: Delivery): Promise<Accepted<null>>;
  reorder(write: TasksReorder, delivery: Delivery): Promise<Accepted<null>>;

  // ── the consumers' side ───────────────────────────────────────────────────────────────
  // These run inside the event bus's consumer transaction (it records the processed event in
  // the same SQLite database), which is synchronous: so are they.
  /** Applies queued commands; already-applied ones are skipped, early ones throw (retried). */
  applyQueued(commands: readonly Command[]): void;
  /** Removes an account's todos; returns the ids of the projects removed. */
  deleteUser(userId: string, at: number): string[];

  // ── reads (what is applied; reads.ts adds the pending commands) ───────────────────────
  project(id: string): Promise<ProjectRow | null>;
  projectsOf(userId: string): Promise<ProjectRow[]>;
  /** The task and its subtasks in order; empty when there is no such task. */
  taskWithSubtasks(id: string): Promise<TaskRow[]>;
  taskList(projectId: string): Promise<TaskListSnapshot>;
  /** Every task and subtask of the user, or only those closed as DONE or FAIL. */
  tasksOf(userId: string, only?: "closed"): Promise<TaskRow[]>;
  /** The ids among these removed for good: deleted projects and what went with them (not tasks deleted on their own). */
  goneAmong(ids: string[]): Promise<Set<string>>;
  /** Applied tasks that are open and due at or before `now`, by (due time, id), after `after`. */
  overdueCandidates(now: number, limit: number, after: { dueAt: number; id: string } | null): Promise<Array<{ id: string; userId: string; dueAt: number }>>;
  /** Whether every one of these ids is in the registry (created at some point). */
  allRegistered(ids: string[]): Promise<boolean>;
}
