// Reads. What the store holds is what is applied; in async write mode the user's pending
// commands (accepted, not applied yet) are replayed on top of it in memory (applyToView), so a
// client always reads its own writes.
import type { CacheAside } from "../../platform/cache/cache-aside";
import { ResponseCache, type StoredBody } from "../../platform/cache/response";
import type { Outcome } from "./coach";
import { applyToView, byPosition, createdIdsFor, newView, toProject, toTask, type Command, type ProjectRow, type TaskRow, type View } from "./commands";
import { todoProblems } from "./errors";
import { TaskList, type Project, type Task, type TaskDetail } from "./model";
import type { PendingStore } from "./pending";
import type { TaskListSnapshot, TodosStore } from "./store";
import { projectCacheKey, type WritePipeline } from "./writes";

const listed = (rows: TaskRow[], includeDeleted: boolean) => (includeDeleted ? rows : rows.filter((r) => r.status !== "DELETED"));

/** The cache name (metrics) of the task lists served as stored bytes. */
export const taskListBodyCacheName = "todos_task_list_body";

export class Reads {
  private readonly responses: ResponseCache;

  constructor(
    private readonly store: TodosStore,
    private readonly pending: PendingStore,
    private readonly cache: CacheAside,
    private readonly writes: WritePipeline,
    /** TTL of a cached task list (it is also invalidated on every write to its project). */
    private readonly listTtlMs: number,
  ) {
    this.responses = new ResponseCache(cache);
  }

  private async pendingOf(userId: string): Promise<Command[]> {
    return this.writes.writeBehind ? this.pending.list(userId) : [];
  }

  private async overlay(view: View, pending: readonly Command[]): Promise<View> {
    if (pending.length === 0) return view;
    const gone = await this.store.goneAmong(pending.flatMap((cmd) => createdIdsFor(view, cmd)));
    for (const cmd of pending) applyToView(view, cmd, gone);
    return view;
  }

  /** The user's project, or null when it doesn't exist or isn't theirs. */
  async projectRow(userId: string, id: string): Promise<ProjectRow | null> {
    const pending = await this.pendingOf(userId);
    const row = await this.store.project(id);
    const view = await this.overlay(newView(row ? [row] : [], [], (p) => p.id === id, () => false), pending);
    const project = view.projects.get(id);
    return project && project.user_id === userId ? project : null;
  }

  /** A task and its subtasks, or null when it doesn't exist or isn't the user's. */
  async taskRows(userId: string, id: string): Promise<{ task: TaskRow; children: TaskRow[] } | null> {
    const pending = await this.pendingOf(userId);
    const rows = await this.store.taskWithSubtasks(id);
    const view = await this.overlay(newView([], rows, () => false, (t) => t.id === id || t.parent_id === id), pending);
    const task = view.tasks.get(id);
    if (!task || task.user_id !== userId) return null;
    const children = [...view.tasks.values()].filter((t) => t.parent_id === id).sort(byPosition);
    return { task, children };
  }

  /**
   * Cache-aside per project, under a generation bumped after every applied write to it.
   * Pending entries are read before the cache: an entry already removed was applied and its
   * generation bumped before removal, so the list read next is that write or newer.
   */
  private async taskList(userId: string, projectId: string, pending?: readonly Command[]): Promise<TaskListSnapshot | null> {
    pending ??= await this.pendingOf(userId);
    return this.taskListAt(userId, projectId, await this.cache.generation(projectCacheKey(projectId)), pending);
  }

  private async taskListAt(userId: string, projectId: string, gen: number, pending: readonly Command[]): Promise<TaskListSnapshot | null> {
    const snapshot = await this.cache.getOrLoad<TaskListSnapshot>("todos_task_list", `todos:tasks:${projectId}@${gen}`, this.listTtlMs, () =>
      this.store.taskList(projectId),
    );
    const view = await this.overlay(
      newView(snapshot.project ? [snapshot.project] : [], snapshot.tasks, (p) => p.id === projectId, (t) => t.project_id === projectId && t.parent_id === null),
      pending,
    );
    const project = view.projects.get(projectId);
    if (!project || project.user_id !== userId) return null;
    return { project, tasks: [...view.tasks.values()].sort(byPosition) };
  }

  async listProjects(userId: string): Promise<{ items: Project[] }> {
    const pending = await this.pendingOf(userId);
    const view = await this.overlay(newView(await this.store.projectsOf(userId), [], (r) => r.user_id === userId, () => false), pending);
    const items = [...view.projects.values()].sort((a, b) => a.created_at - b.created_at || (a.id < b.id ? -1 : 1));
    return { items: items.map(toProject) };
  }

  async getProject(userId: string, id: string): Promise<Project> {
    const row = await this.projectRow(userId, id.toLowerCase());
    if (!row) throw todoProblems.projectNotFound();
    return toProject(row);
  }

  /** Lists leave DELETED tasks out unless asked. */
  async listTasks(userId: string, projectId: string, includeDeleted = false): Promise<TaskList> {
    const id = projectId.toLowerCase();
    return this.toTaskList(await this.taskList(userId, id), id, includeDeleted);
  }

  /**
   * listTasks as the response body. While none of the user's writes is pending (always, in
   * direct mode) it is stored bytes under the project's generation, per reader and flag: the
   * owner check happens when the body is made, so another user's read never finds it; a hit
   * neither parses nor re-serializes the list. With pending writes the body is made afresh.
   */
  listTasksBody(userId: string, projectId: string, includeDeleted = false): StoredBody | Promise<StoredBody> {
    const id = projectId.toLowerCase();
    if (!this.writes.writeBehind && this.listTtlMs !== 0) return this.storedTaskList(userId, id, includeDeleted, []);
    return this.pendingOf(userId).then(async (pending) =>
      pending.length > 0 || this.listTtlMs === 0
        ? this.responses.once(TaskList, this.toTaskList(await this.taskList(userId, id, pending), id, includeDeleted), taskListBodyCacheName)
        : this.storedTaskList(userId, id, includeDeleted, pending),
    );
  }

  private storedTaskList(userId: string, id: string, includeDeleted: boolean, pending: readonly Command[]): StoredBody | Promise<StoredBody> {
    return this.responses.versioned(taskListBodyCacheName, projectCacheKey(id), `:${userId}:${includeDeleted ? "all" : "live"}`, this.listTtlMs, TaskList, async (gen) => ({
      value: this.toTaskList(await this.taskListAt(userId, id, gen, pending), id, includeDeleted),
    }));
  }

  private toTaskList(list: TaskListSnapshot | null, projectId: string, includeDeleted: boolean): TaskList {
    if (!list) throw todoProblems.projectNotFound();
    return { projectId, items: listed(list.tasks, includeDeleted).map(toTask) };
  }

  /** A task reads whatever its status, DELETED included; its subtasks list like any list. */
  async getTask(userId: string, id: string, includeDeleted = false): Promise<TaskDetail> {
    const rows = await this.taskRows(userId, id.toLowerCase());
    if (!rows) throw todoProblems.taskNotFound();
    return { ...toTask(rows.task), subtasks: listed(rows.children, includeDeleted).map(toTask) };
  }

  async listSubtasks(userId: string, id: string, includeDeleted = false): Promise<{ taskId: string; items: Task[] }> {
    const rows = await this.taskRows(userId, id.toLowerCase());
    if (!rows) throw todoProblems.taskNotFound();
    return { taskId: rows.task.id, items: listed(rows.children, includeDeleted).map(toTask) };
  }

  /** The task as the user reads it now (after a change), or 404. */
  async task(userId: string, id: string): Promise<Task> {
    const rows = await this.taskRows(userId, id);
    if (!rows) throw todoProblems.taskNotFound();
    return toTask(rows.task);
  }

  /** The user's closed tasks (pending status changes included) as the coach's history. */
  async outcomes(userId: string): Promise<Outcome[]> {
    const pending = await this.pendingOf(userId);
    const rows =
      pending.length === 0
        ? await this.store.tasksOf(userId, "closed")
        : [...(await this.overlay(newView([], await this.store.tasksOf(userId), () => false, (t) => t.user_id === userId), pending)).tasks.values()];
    return rows
      .filter((r) => r.status === "DONE" || r.status === "FAIL")
      .map((r) => ({
        status: r.status as "DONE" | "FAIL",
        category: r.category,
        estimateMinutes: r.estimate_minutes,
        actualMinutes: r.actual_minutes,
        reason: r.fail_reason,
        at: (r.status === "DONE" ? r.completed_at : r.failed_at) ?? r.updated_at,
      }))
      .sort((a, b) => a.at - b.at);
  }
}
