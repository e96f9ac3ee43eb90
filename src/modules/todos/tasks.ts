// Task and subtask use cases: create (idempotent by the client's id), edit, status, delete,
// reorder. Status rules live in commands.ts (withStatus), applied alike by the store and reads.
import type { Clock } from "../../platform/clock";
import { newTaskRow, toTask, type TaskPatch } from "./commands";
import { todoProblems } from "./errors";
import type { CreateTaskBody, StatusBody, Task, TaskList, UpdateTaskBody } from "./model";
import type { Reads } from "./reads";
import type { TaskDraft, TasksCreate, TaskStatusChange, TodosStore } from "./store";
import type { WritePipeline, Written } from "./writes";

export type Creation<T> = Written<T, "created" | "accepted" | "replayed">;
type Change<T> = Written<T, "updated" | "accepted">;

/** Wire time → epoch ms. */
export const epochMs = (iso: string | null | undefined): number | null => (iso === undefined || iso === null ? null : Date.parse(iso));

export function taskDraft(body: CreateTaskBody): TaskDraft {
  return {
    id: body.id.toLowerCase(),
    title: body.title.trim(),
    description: body.description ?? null,
    category: body.category?.trim() ?? null,
    estimateMinutes: body.estimateMinutes ?? null,
    dueAt: epochMs(body.dueAt),
  };
}

export class Tasks {
  constructor(
    private readonly store: TodosStore,
    private readonly writes: WritePipeline,
    private readonly reads: Reads,
    private readonly clock: Clock,
  ) {}

  /**
   * Creates tasks in one transaction. The answer: the new tasks, or on a replay the tasks as
   * they are now (they may have changed since the first create).
   */
  async createMany(userId: string, place: TasksCreate["place"], drafts: TaskDraft[]): Promise<Creation<Task[]>> {
    const at = this.clock.now();
    const { result, queued } = await this.writes.submit((delivery) => this.store.createTasks({ userId, at, place, tasks: drafts }, delivery));
    const rows = result.tasks.map((task, i) => newTaskRow({ kind: "task.create", seq: result.seqs[i]!, userId, at: result.at, task }));
    if (!result.replay) return { outcome: queued ? "accepted" : "created", body: rows.map(toTask) };
    const now = await Promise.all(rows.map(async (row) => (await this.reads.taskRows(userId, row.id))?.task ?? row));
    return { outcome: "replayed", body: now.map(toTask) };
  }

  /** Appended after the project's existing tasks, status PENDING. */
  async create(userId: string, projectId: string, body: CreateTaskBody): Promise<Creation<Task>> {
    const out = await this.createMany(userId, { under: "project", projectId: projectId.toLowerCase() }, [taskDraft(body)]);
    return { outcome: out.outcome, body: out.body[0]! };
  }

  /** One level only: a subtask's subtasks are refused. */
  async createSubtask(userId: string, parentId: string, body: CreateTaskBody): Promise<Creation<Task>> {
    const out = await this.createMany(userId, { under: "task", taskId: parentId.toLowerCase() }, [taskDraft(body)]);
    return { outcome: out.outcome, body: out.body[0]! };
  }

  /** The answer to a change: the task as the user reads it now. */
  private async changed(userId: string, taskId: string, queued: boolean): Promise<Change<Task>> {
    return { outcome: queued ? "accepted" : "updated", body: await this.reads.task(userId, taskId) };
  }

  async update(userId: string, id: string, body: UpdateTaskBody): Promise<Change<Task>> {
    const taskId = id.toLowerCase();
    const patch: TaskPatch = {};
    if (body.title !== undefined) patch.title = body.title.trim();
    if (body.description !== undefined) patch.description = body.description;
    if (body.category !== undefined) patch.category = body.category === null ? null : body.category.trim();
    if (body.estimateMinutes !== undefined) patch.estimateMinutes = body.estimateMinutes;
    if (body.dueAt !== undefined) patch.dueAt = epochMs(body.dueAt);
    const at = this.clock.now();
    const { queued } = await this.writes.submit((delivery) => this.store.updateTask({ userId, at, taskId, patch }, delivery));
    return this.changed(userId, taskId, queued);
  }

  /** DONE sets completedAt, FAIL records the failure (a reason is required), others clear both. */
  async setStatus(userId: string, id: string, body: StatusBody): Promise<Change<Task>> {
    const taskId = id.toLowerCase();
    if (body.status === "FAIL" && body.reason === undefined) throw todoProblems.reasonRequired();
    if (body.status !== "FAIL" && (body.reason !== undefined || body.note !== undefined)) {
      throw todoProblems.reasonOnlyForFail(body.reason !== undefined ? "/reason" : "/note");
    }
    const change: TaskStatusChange = { userId, at: this.clock.now(), taskId, status: body.status, reason: body.reason ?? null, note: body.note ?? null };
    if (body.actualMinutes !== undefined) change.actualMinutes = body.actualMinutes;
    const { queued } = await this.writes.submit((delivery) => this.store.setStatus(change, delivery));
    return this.changed(userId, taskId, queued);
  }

  /**
   * Marks the task and its subtasks DELETED: they still read (status DELETED), never change
   * again, and lists leave them out unless asked. Deleting it again is done already: 204 in
   * both write modes.
   */
  async delete(userId: string, id: string): Promise<Written<undefined, "deleted" | "accepted">> {
    const taskId = id.toLowerCase();
    const at = this.clock.now();
    const { queued, commands } = await this.writes.submit((delivery) => this.store.deleteTask({ userId, at, taskId }, delivery));
    return { outcome: queued && commands.length > 0 ? "accepted" : "deleted", body: undefined };
  }

  /**
   * The overdue job's write, through the same pipeline as the users' (registry check, sequence,
   * outbox or group commit, cache invalidation, pending entries). Returns the commands submitted:
   * each turns its task OVERDUE only if, when applied, it is still open and due by `at`.
   */
  async markOverdue(at: number, tasks: Array<{ taskId: string; userId: string }>): Promise<number> {
    if (tasks.length === 0) return 0;
    const { commands } = await this.writes.submit((delivery) => this.store.markOverdue({ at, tasks }, delivery));
    return commands.length;
  }

  /** Sets the order of all of a project's tasks at once; positions become 0…n-1. */
  async reorder(userId: string, id: string, taskIds: string[]): Promise<Change<TaskList>> {
    const projectId = id.toLowerCase();
    const ids = taskIds.map((t) => t.toLowerCase());
    const at = this.clock.now();
    const { queued } = await this.writes.submit((delivery) => this.store.reorder({ userId, at, projectId, taskIds: ids }, delivery));
    return { outcome: queued ? "accepted" : "updated", body: await this.reads.listTasks(userId, projectId) };
  }
}
