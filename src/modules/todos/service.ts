// Todos use cases: projects → tasks → subtasks, idempotent creates, reorder, status rules,
// the failure coach. No Elysia types here; errors are HttpProblems.
//
// Every write becomes commands (commands.ts) validated against the id registry (todo_ids)
// inside one transaction, then, by write mode:
//
//   direct  the same transaction applies them to the todo tables (group commit: one fsync for
//           every request that arrived in the same tick). 201/200/204 after COMMIT.
//   async   write-behind: the transaction records them as one outbox event
//           (homebase.todos.write.requested) instead; after COMMIT they are recorded as pending
//           (Redis, or memory embedded) and the API answers 202. The consumer "todos-writer"
//           applies a whole event (every request of one tick: a batch) in one transaction.
//
// Why nothing that got a 202 can be lost, whatever moment the process is killed:
//   - The 202 is sent only after COMMIT of the transaction holding the outbox row, and with
//     synchronous=FULL a returned COMMIT is on disk. Killed before: no 202 was sent (the
//     client retries; creates are idempotent by id).
//   - The outbox row is marked sent only after the consumer's transaction committed (embedded
//     relay) or JetStream acknowledged it (NATS; the stream is fsynced, and the consumer acks
//     only after its transaction committed). Killed in between: the row (or the message) is
//     delivered again after restart.
//   - The consumer records (consumer, event id) in processed_events in the same transaction as
//     the applied commands, so a redelivery is skipped; and applying is idempotent anyway
//     (creates ignore existing ids, changes skip entities whose rev is already ≥ the command's seq).
//   - A command is never silently dropped because it arrived early: if what it needs (its
//     project, its task) is accepted in the registry but not applied yet (events reordered by
//     a failed publish or a retry), applying throws and the event is retried; only targets the
//     registry marks deleted are skipped. A command that keeps failing ends in dead_letters
//     (with its payload), never in nothing.
//   - The pending entries only serve read-your-writes; they are removed after the applying
//     transaction committed. Lost (memory store, process killed), reads simply wait for the
//     consumer, which runs at startup over the still-unsent outbox rows.
import type { Database } from "bun:sqlite";
import type { CacheAside } from "../../platform/cache/cache-aside";
import { transaction, type GroupCommitWriter } from "../../platform/db/sqlite";
import type { EventBus } from "../../platform/events/bus";
import { problems } from "../../platform/http/problem";
import type { Logger } from "../../platform/logger";
import { insights, isValidTimeZone, replan, type Outcome } from "./coach";
import {
  applyToView,
  byPosition,
  createdIds,
  newProjectRow,
  newTaskRow,
  newView,
  projectOf,
  toProject,
  toTask,
  type Command,
  type NewTask,
  type ProjectRow,
  type TaskPatch,
  type TaskRow,
  type View,
} from "./commands";
import { todoEvents } from "./events";
import type {
  AcceptReplanBody,
  AcceptedReplan,
  CreateProjectBody,
  CreateTaskBody,
  Insights,
  Project,
  ReplanPlan,
  StatusBody,
  Task,
  TaskDetail,
  TaskList,
  UpdateProjectBody,
  UpdateTaskBody,
} from "./model";
import type { PendingStore } from "./pending";
import type { IdRow, TaskListSnapshot, TodosRepository } from "./repository";

export type WriteMode = "direct" | "async";

export interface TodosSettings {
  writeMode: WriteMode;
  /** TTL of a cached task list (it is also invalidated on every write to its project). */
  listTtlMs: number;
}

export interface Principal {
  userId: string;
}

/** The HTTP status a write answers with and its body. */
export interface WriteResult<T> {
  status: 200 | 201 | 202 | 204;
  body: T;
}

/** What a write decided inside its transaction: the commands, and what to answer. */
interface Prepared<R> {
  commands: Command[];
  result: R;
}

/** Commands per outbox event: one event is applied in one transaction. */
const maxBatch = 256;

function sha256(value: unknown): string {
  return new Bun.CryptoHasher("sha256").update(JSON.stringify(value)).digest("hex");
}

const ms = (iso: string | null | undefined): number | null => (iso === undefined || iso === null ? null : Date.parse(iso));

/**
 * Async mode: requests of one tick are validated in one transaction (each in its own
 * savepoint, so a refused request rolls back alone) that records one outbox event.
 */
class CommandBatcher {
  private queue: Array<{ prepare: () => Prepared<unknown>; resolve: (p: Prepared<unknown>) => void; reject: (err: unknown) => void }> = [];
  private scheduled = false;

  constructor(
    private readonly db: Database,
    private readonly writer: GroupCommitWriter,
    private readonly events: EventBus,
    private readonly pending: PendingStore,
  ) {}

  submit<R>(prepare: () => Prepared<R>): Promise<Prepared<R>> {
    return new Promise((resolve, reject) => {
      this.queue.push({ prepare, resolve: resolve as (p: Prepared<unknown>) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    while (this.queue.length > 0) void this.run(this.queue.splice(0, maxBatch));
  }

  private async run(batch: CommandBatcher["queue"]): Promise<void> {
    const outcomes: Array<{ ok: true; value: Prepared<unknown> } | { ok: false; err: unknown }> = [];
    const commands: Command[] = [];
    try {
      await this.writer.write(() => {
        for (const job of batch) {
          try {
            const value = transaction(this.db, job.prepare);
            outcomes.push({ ok: true, value });
            commands.push(...value.commands);
          } catch (err) {
            outcomes.push({ ok: false, err });
          }
        }
        if (commands.length > 0) this.events.emit(todoEvents.writeRequested, { commands });
      });
    } catch (err) {
      for (const job of batch) job.reject(err);
      return;
    }
    // Durable from here on. Pending before answering, so the client's next read sees it.
    await this.pending.add(commands);
    batch.forEach((job, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) job.resolve(outcome.value);
      else job.reject(outcome.err);
    });
  }
}

export class TodosService {
  private readonly batcher: CommandBatcher;
  /** Work to do once the consumer's transaction committed: invalidations, pending removal. */
  private afterCommit: Command[] = [];
  private afterCommitUsers: string[] = [];

  constructor(
    private readonly repo: TodosRepository,
    private readonly db: Database,
    private readonly writer: GroupCommitWriter,
    private readonly events: EventBus,
    private readonly cache: CacheAside,
    private readonly pending: PendingStore,
    private readonly settings: TodosSettings,
    private readonly logger: Logger,
  ) {
    this.batcher = new CommandBatcher(db, writer, events, pending);
    writer.onCommit(() => this.committed());
  }

  get writeMode(): WriteMode {
    return this.settings.writeMode;
  }

  // ── consumers (events.ts registers them) ──────────────────────────────────────────────
  /** Applies a write-behind event's commands; runs inside the consumer's transaction. */
  applyEvent(commands: Command[]): void {
    for (const cmd of commands) this.repo.applyCommand(cmd);
    this.afterCommit.push(...commands);
  }

  /** homebase.accounts.user.deleted: removes the account's todos (inside the consumer's transaction). */
  deleteUser(userId: string): void {
    const projects = this.repo.deleteUser(userId, Date.now());
    this.afterCommit.push(
      ...projects.map((projectId): Command => ({ kind: "project.delete", projectId, seq: 0, userId, at: 0 })),
    );
    this.afterCommitUsers.push(userId);
  }

  /** writer.onCommit hook: runs after every commit, so it only looks at what apply() queued. */
  private committed(): void {
    if (this.afterCommit.length === 0 && this.afterCommitUsers.length === 0) return;
    const applied = this.afterCommit;
    const users = this.afterCommitUsers;
    this.afterCommit = [];
    this.afterCommitUsers = [];
    void (async () => {
      // Invalidate first, then drop the pending entries: a read that no longer finds an entry
      // then also finds a fresh cache generation (see readTaskList).
      await this.invalidate(applied);
      await this.pending.remove(applied.filter((c) => c.seq > 0));
      for (const userId of users) await this.pending.remove(await this.pending.list(userId));
    })().catch((err: unknown) => this.logger.warn("todos: post-apply cleanup failed", { err }));
  }

  private async invalidate(commands: readonly Command[]): Promise<void> {
    const projects = new Set(commands.map(projectOf));
    await Promise.all([...projects].map((id) => this.cache.bump(`todos:project:${id}`)));
  }

  // ── the write pipeline ─────────────────────────────────────────────────────────────────
  private async write<R>(prepare: () => Prepared<R>): Promise<Prepared<R>> {
    if (this.settings.writeMode === "async") return this.batcher.submit(prepare);
    const prepared = await this.writer.write(() => {
      const p = prepare();
      for (const cmd of p.commands) this.repo.applyCommand(cmd);
      return p;
    });
    await this.invalidate(prepared.commands);
    return prepared;
  }

  private get accepted(): 201 | 202 {
    return this.settings.writeMode === "async" ? 202 : 201;
  }
  private get changed(): 200 | 202 {
    return this.settings.writeMode === "async" ? 202 : 200;
  }
  private get removed(): 202 | 204 {
    return this.settings.writeMode === "async" ? 202 : 204;
  }

  /** The registry row of a live project of the user, or 404 (also for other users' projects). */
  private ownedProject(userId: string, id: string): IdRow {
    const row = this.repo.idRow(id.toLowerCase());
    if (!row || row.kind !== "project" || row.user_id !== userId || row.deleted_at !== null) {
      throw problems.notFound("project_not_found", "no such project");
    }
    return row;
  }

  private ownedTask(userId: string, id: string): IdRow {
    const row = this.repo.idRow(id.toLowerCase());
    if (!row || row.kind !== "task" || row.user_id !== userId || row.deleted_at !== null) {
      throw problems.notFound("task_not_found", "no such task");
    }
    return row;
  }

  /** A create whose id is registered already: the same create again, or a conflict. */
  private assertReplay(existing: IdRow, userId: string, kind: IdRow["kind"], hash: string): void {
    if (existing.user_id !== userId || existing.kind !== kind || existing.body_hash !== hash) {
      throw problems.conflict("id_conflict", `id ${existing.id} is already used by a different create`);
    }
    if (existing.deleted_at !== null) {
      throw problems.conflict("id_deleted", `id ${existing.id} was created and has since been deleted; ids are not reused`);
    }
  }

  private newSeqs(count: number): number[] {
    const first = this.repo.allocSeq(count);
    return Array.from({ length: count }, (_, i) => first + i);
  }

  // ── reads (with pending writes applied in async mode) ──────────────────────────────────
  private async pendingOf(userId: string): Promise<Command[]> {
    return this.settings.writeMode === "async" ? this.pending.list(userId) : [];
  }

  private overlay(view: View, pending: readonly Command[]): View {
    if (pending.length === 0) return view;
    const deleted = this.repo.deletedAmong(pending.flatMap(createdIds));
    for (const cmd of pending) applyToView(view, cmd, deleted);
    return view;
  }

  private async projectRow(userId: string, id: string): Promise<ProjectRow | null> {
    const pending = await this.pendingOf(userId);
    const row = this.repo.project(id);
    const view = this.overlay(newView(row ? [row] : [], [], (p) => p.id === id, () => false), pending);
    const project = view.projects.get(id);
    return project && project.user_id === userId ? project : null;
  }

  /** A task and its subtasks, or null when it doesn't exist or isn't the user's. */
  private async taskRows(userId: string, id: string): Promise<{ task: TaskRow; children: TaskRow[] } | null> {
    const pending = await this.pendingOf(userId);
    const row = this.repo.task(id);
    const rows = row ? [row, ...this.repo.children(id)] : [];
    const view = this.overlay(newView([], rows, () => false, (t) => t.id === id || t.parent_id === id), pending);
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
  private async readTaskList(userId: string, projectId: string): Promise<TaskListSnapshot | null> {
    const pending = await this.pendingOf(userId);
    const gen = await this.cache.generation(`todos:project:${projectId}`);
    const snapshot = await this.cache.getOrLoad<TaskListSnapshot>(
      "todos_task_list",
      `todos:tasks:${projectId}@${gen}`,
      this.settings.listTtlMs,
      () => this.repo.taskList(projectId),
    );
    const view = this.overlay(
      newView(snapshot.project ? [snapshot.project] : [], snapshot.tasks, (p) => p.id === projectId, (t) => t.project_id === projectId && t.parent_id === null),
      pending,
    );
    const project = view.projects.get(projectId);
    if (!project || project.user_id !== userId) return null;
    return { project, tasks: [...view.tasks.values()].sort(byPosition) };
  }

  async listProjects(p: Principal): Promise<{ items: Project[] }> {
    const pending = await this.pendingOf(p.userId);
    const view = this.overlay(newView(this.repo.projectsOf(p.userId), [], (r) => r.user_id === p.userId, () => false), pending);
    const items = [...view.projects.values()].sort((a, b) => a.created_at - b.created_at || (a.id < b.id ? -1 : 1));
    return { items: items.map(toProject) };
  }

  async getProject(p: Principal, id: string): Promise<Project> {
    const row = await this.projectRow(p.userId, id.toLowerCase());
    if (!row) throw problems.notFound("project_not_found", "no such project");
    return toProject(row);
  }

  async listTasks(p: Principal, projectId: string): Promise<TaskList> {
    const id = projectId.toLowerCase();
    const list = await this.readTaskList(p.userId, id);
    if (!list) throw problems.notFound("project_not_found", "no such project");
    return { projectId: id, items: list.tasks.map(toTask) };
  }

  async getTask(p: Principal, id: string): Promise<TaskDetail> {
    const rows = await this.taskRows(p.userId, id.toLowerCase());
    if (!rows) throw problems.notFound("task_not_found", "no such task");
    return { ...toTask(rows.task), subtasks: rows.children.map(toTask) };
  }

  async listSubtasks(p: Principal, id: string): Promise<{ taskId: string; items: Task[] }> {
    const rows = await this.taskRows(p.userId, id.toLowerCase());
    if (!rows) throw problems.notFound("task_not_found", "no such task");
    return { taskId: rows.task.id, items: rows.children.map(toTask) };
  }

  // ── project writes ─────────────────────────────────────────────────────────────────────
  async createProject(p: Principal, body: CreateProjectBody): Promise<WriteResult<Project>> {
    const id = body.id.toLowerCase();
    const project = { id, title: body.title.trim(), description: body.description ?? null };
    const hash = sha256(["project", project.title, project.description]);
    const now = Date.now();
    const { result } = await this.write(() => {
      const existing = this.repo.idRow(id);
      if (existing) {
        this.assertReplay(existing, p.userId, "project", hash);
        return { commands: [], result: { replay: true, seq: existing.seq, at: existing.created_at } };
      }
      const [seq] = this.newSeqs(1) as [number];
      this.repo.insertId({ id, kind: "project", user_id: p.userId, project_id: null, parent_id: null, body_hash: hash, seq, created_at: now });
      return { commands: [{ kind: "project.create", seq, userId: p.userId, at: now, project }], result: { replay: false, seq, at: now } };
    });
    const created = newProjectRow({ kind: "project.create", seq: result.seq, userId: p.userId, at: result.at, project });
    if (!result.replay) return { status: this.accepted, body: toProject(created) };
    // The same create again: the resource as it is now (it may have changed since).
    return { status: 200, body: toProject((await this.projectRow(p.userId, id)) ?? created) };
  }

  async updateProject(p: Principal, id: string, body: UpdateProjectBody): Promise<WriteResult<Project>> {
    const projectId = id.toLowerCase();
    const patch: { title?: string; description?: string | null } = {};
    if (body.title !== undefined) patch.title = body.title.trim();
    if (body.description !== undefined) patch.description = body.description;
    const now = Date.now();
    await this.write(() => {
      this.ownedProject(p.userId, projectId);
      const [seq] = this.newSeqs(1) as [number];
      return { commands: [{ kind: "project.update", seq, userId: p.userId, at: now, projectId, patch }], result: null };
    });
    const row = await this.projectRow(p.userId, projectId);
    if (!row) throw problems.notFound("project_not_found", "no such project");
    return { status: this.changed, body: toProject(row) };
  }

  async deleteProject(p: Principal, id: string): Promise<WriteResult<undefined>> {
    const projectId = id.toLowerCase();
    const now = Date.now();
    await this.write(() => {
      this.ownedProject(p.userId, projectId);
      const [seq] = this.newSeqs(1) as [number];
      this.repo.markDeleted(projectId, now);
      return { commands: [{ kind: "project.delete", seq, userId: p.userId, at: now, projectId }], result: null };
    });
    return { status: this.removed, body: undefined };
  }

  // ── task writes ────────────────────────────────────────────────────────────────────────
  private taskHash(t: NewTask): string {
    return sha256(["task", t.projectId, t.parentId, t.replanOf, t.title, t.description, t.estimateMinutes, t.dueAt]);
  }

  /** Registers new tasks (or recognises a replay of all of them) inside the transaction. */
  private registerTasks(userId: string, tasks: NewTask[], now: number): Prepared<{ replay: boolean; seqs: number[]; at: number }> {
    const existing = tasks.map((t) => this.repo.idRow(t.id));
    if (existing.some((e) => e !== null)) {
      if (existing.some((e) => e === null)) throw problems.conflict("id_conflict", "some of these ids are already used by a different create");
      existing.forEach((e, i) => this.assertReplay(e!, userId, "task", this.taskHash(tasks[i]!)));
      return { commands: [], result: { replay: true, seqs: existing.map((e) => e!.seq), at: existing[0]!.created_at } };
    }
    const seqs = this.newSeqs(tasks.length);
    const commands = tasks.map((task, i): Command => {
      const seq = seqs[i]!;
      this.repo.insertId({ id: task.id, kind: "task", user_id: userId, project_id: task.projectId, parent_id: task.parentId, body_hash: this.taskHash(task), seq, created_at: now });
      return { kind: "task.create", seq, userId, at: now, task };
    });
    return { commands, result: { replay: false, seqs, at: now } };
  }

  private newTask(body: CreateTaskBody, projectId: string, parentId: string | null): NewTask {
    return {
      id: body.id.toLowerCase(),
      projectId,
      parentId,
      title: body.title.trim(),
      description: body.description ?? null,
      category: body.category?.trim() ?? null,
      estimateMinutes: body.estimateMinutes ?? null,
      dueAt: ms(body.dueAt),
      replanOf: null,
    };
  }

  /** The answer to a create: the new tasks, or on a replay the tasks as they are now. */
  private async createdTasks(userId: string, tasks: NewTask[], r: { replay: boolean; seqs: number[]; at: number }): Promise<WriteResult<Task[]>> {
    const rows = tasks.map((task, i) => newTaskRow({ kind: "task.create", seq: r.seqs[i]!, userId, at: r.at, task }));
    if (!r.replay) return { status: this.accepted, body: rows.map(toTask) };
    const now = await Promise.all(rows.map(async (row) => (await this.taskRows(userId, row.id))?.task ?? row));
    return { status: 200, body: now.map(toTask) };
  }

  async createTask(p: Principal, projectId: string, body: CreateTaskBody): Promise<WriteResult<Task>> {
    const task = this.newTask(body, projectId.toLowerCase(), null);
    const now = Date.now();
    const { result } = await this.write(() => {
      if (this.repo.idRow(task.id) === null) this.ownedProject(p.userId, task.projectId);
      return this.registerTasks(p.userId, [task], now);
    });
    const out = await this.createdTasks(p.userId, [task], result);
    return { status: out.status, body: out.body[0]! };
  }

  async createSubtask(p: Principal, parentId: string, body: CreateTaskBody): Promise<WriteResult<Task>> {
    const parent = parentId.toLowerCase();
    const now = Date.now();
    let task: NewTask | null = null;
    const { result } = await this.write(() => {
      const parentRow = this.ownedTask(p.userId, parent);
      if (parentRow.parent_id !== null) throw problems.conflict("subtask_depth", "subtasks cannot have subtasks of their own");
      task = this.newTask(body, parentRow.project_id!, parent);
      return this.registerTasks(p.userId, [task], now);
    });
    const out = await this.createdTasks(p.userId, [task!], result);
    return { status: out.status, body: out.body[0]! };
  }

  private async changedTask(userId: string, id: string): Promise<Task> {
    const rows = await this.taskRows(userId, id);
    if (!rows) throw problems.notFound("task_not_found", "no such task");
    return toTask(rows.task);
  }

  async updateTask(p: Principal, id: string, body: UpdateTaskBody): Promise<WriteResult<Task>> {
    const taskId = id.toLowerCase();
    const patch: TaskPatch = {};
    if (body.title !== undefined) patch.title = body.title.trim();
    if (body.description !== undefined) patch.description = body.description;
    if (body.category !== undefined) patch.category = body.category === null ? null : body.category.trim();
    if (body.estimateMinutes !== undefined) patch.estimateMinutes = body.estimateMinutes;
    if (body.dueAt !== undefined) patch.dueAt = ms(body.dueAt);
    const now = Date.now();
    await this.write(() => {
      const row = this.ownedTask(p.userId, taskId);
      const [seq] = this.newSeqs(1) as [number];
      return { commands: [{ kind: "task.update", seq, userId: p.userId, at: now, taskId, projectId: row.project_id!, patch }], result: null };
    });
    return { status: this.changed, body: await this.changedTask(p.userId, taskId) };
  }

  async setStatus(p: Principal, id: string, body: StatusBody): Promise<WriteResult<Task>> {
    const taskId = id.toLowerCase();
    if (body.status === "FAIL" && body.reason === undefined) {
      throw problems.unprocessable("reason_required", "failing a task needs a reason", [
        { field: "/reason", message: "required when status is FAIL" },
      ]);
    }
    if (body.status !== "FAIL" && (body.reason !== undefined || body.note !== undefined)) {
      throw problems.unprocessable("reason_only_for_fail", "reason and note go with status FAIL only", [
        { field: body.reason !== undefined ? "/reason" : "/note", message: "only allowed when status is FAIL" },
      ]);
    }
    const now = Date.now();
    await this.write(() => {
      const row = this.ownedTask(p.userId, taskId);
      const [seq] = this.newSeqs(1) as [number];
      const cmd: Command = {
        kind: "task.status",
        seq,
        userId: p.userId,
        at: now,
        taskId,
        projectId: row.project_id!,
        status: body.status,
        reason: body.reason ?? null,
        note: body.note ?? null,
      };
      if (body.actualMinutes !== undefined) cmd.actualMinutes = body.actualMinutes;
      return { commands: [cmd], result: null };
    });
    return { status: this.changed, body: await this.changedTask(p.userId, taskId) };
  }

  async deleteTask(p: Principal, id: string): Promise<WriteResult<undefined>> {
    const taskId = id.toLowerCase();
    const now = Date.now();
    await this.write(() => {
      const row = this.ownedTask(p.userId, taskId);
      const [seq] = this.newSeqs(1) as [number];
      this.repo.markDeleted(taskId, now);
      return { commands: [{ kind: "task.delete", seq, userId: p.userId, at: now, taskId, projectId: row.project_id! }], result: null };
    });
    return { status: this.removed, body: undefined };
  }

  /** Sets the order of all of a project's tasks at once; positions become 0…n-1. */
  async reorder(p: Principal, projectId: string, taskIds: string[]): Promise<WriteResult<TaskList>> {
    const id = projectId.toLowerCase();
    const ids = taskIds.map((t) => t.toLowerCase());
    const now = Date.now();
    await this.write(() => {
      this.ownedProject(p.userId, id);
      const live = new Set(this.repo.liveTaskIds(id));
      const given = new Set(ids);
      const missing = [...live].filter((t) => !given.has(t));
      const unknown = ids.filter((t) => !live.has(t));
      if (missing.length > 0 || unknown.length > 0 || given.size !== ids.length) {
        throw problems.conflict("order_mismatch", "taskIds must list every task of the project exactly once", { missing, unknown });
      }
      const [seq] = this.newSeqs(1) as [number];
      return { commands: [{ kind: "tasks.reorder", seq, userId: p.userId, at: now, projectId: id, taskIds: ids }], result: null };
    });
    return { status: this.changed, body: await this.listTasks(p, id) };
  }

  // ── the coach ──────────────────────────────────────────────────────────────────────────
  private timeZone(tz: string | undefined): string {
    const zone = tz ?? "UTC";
    if (!isValidTimeZone(zone)) {
      throw problems.unprocessable("invalid_time_zone", `unknown time zone ${JSON.stringify(zone)}`, [
        { field: "/tz", message: "expected an IANA time zone such as Europe/Berlin" },
      ]);
    }
    return zone;
  }

  /** The user's closed tasks (pending status changes included) as the coach's history. */
  private async history(userId: string): Promise<Outcome[]> {
    const pending = await this.pendingOf(userId);
    const rows =
      pending.length === 0
        ? this.repo.closedTasksOf(userId)
        : [...this.overlay(newView([], this.repo.tasksOf(userId), () => false, (t) => t.user_id === userId), pending).tasks.values()];
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

  async insights(p: Principal, tz: string | undefined): Promise<Insights> {
    const zone = this.timeZone(tz);
    return insights(await this.history(p.userId), zone);
  }

  private async failedTask(userId: string, id: string): Promise<TaskRow> {
    const rows = await this.taskRows(userId, id);
    if (!rows) throw problems.notFound("task_not_found", "no such task");
    if (rows.task.status !== "FAIL" || rows.task.fail_reason === null) {
      throw problems.conflict("task_not_failed", `only a failed task can be re-planned; this one is ${rows.task.status}`);
    }
    return rows.task;
  }

  async replan(p: Principal, id: string, tz: string | undefined): Promise<ReplanPlan> {
    const zone = this.timeZone(tz);
    const task = await this.failedTask(p.userId, id.toLowerCase());
    const plan = replan({
      task: { title: task.title, category: task.category, estimateMinutes: task.estimate_minutes, reason: task.fail_reason! },
      history: await this.history(p.userId),
      now: Date.now(),
      timeZone: zone,
    });
    return {
      taskId: task.id,
      timeZone: zone,
      explainedBy: "rules",
      summary: plan.summary,
      basis: plan.basis,
      subtasks: plan.steps.map((s) => ({
        id: Bun.randomUUIDv7(),
        title: s.title,
        estimateMinutes: s.estimateMinutes,
        startAt: new Date(s.startAt).toISOString(),
        dueAt: new Date(s.dueAt).toISOString(),
        reason: s.reason,
      })),
    };
  }

  /**
   * Creates the accepted subtasks in one transaction (one outbox event in async mode), linked
   * to the failed task by replanOf. They go under the failed task, or beside it when it is a
   * subtask itself. Sending the same ids and bodies again is a replay.
   */
  async acceptReplan(p: Principal, id: string, body: AcceptReplanBody): Promise<WriteResult<AcceptedReplan>> {
    const taskId = id.toLowerCase();
    const ids = body.subtasks.map((s) => s.id.toLowerCase());
    if (new Set(ids).size !== ids.length) {
      throw problems.unprocessable("duplicate_ids", "each subtask needs its own id", [{ field: "/subtasks", message: "ids repeat" }]);
    }
    // The status is checked on what the user reads; a replay is recognised whatever it is now.
    const original = ids.every((s) => this.repo.idRow(s) !== null) ? null : await this.failedTask(p.userId, taskId);
    const now = Date.now();
    let tasks: NewTask[] = [];
    const { result } = await this.write(() => {
      const row = this.ownedTask(p.userId, taskId);
      const parentId = row.parent_id ?? taskId;
      tasks = body.subtasks.map((s, i) => ({
        id: ids[i]!,
        projectId: row.project_id!,
        parentId,
        title: s.title.trim(),
        description: s.description ?? null,
        category: original?.category ?? null,
        estimateMinutes: s.estimateMinutes ?? null,
        dueAt: ms(s.dueAt),
        replanOf: taskId,
      }));
      return this.registerTasks(p.userId, tasks, now);
    });
    const out = await this.createdTasks(p.userId, tasks, result);
    return { status: out.status, body: { taskId, subtasks: out.body } };
  }
}
