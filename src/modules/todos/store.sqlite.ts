// The todos store on the platform's SQLite file (the port is store.ts; the statements are in
// store.sqlite.tables.ts).
//
//   apply  one GroupCommitWriter.write(): accepted and applied in one transaction, sharing the
//          fsync with every write of the same tick.
//   queue  the writes of one tick are accepted in one transaction, each in its own savepoint
//          (a refused one rolls back alone), and their commands become one outbox event: the
//          write-behind consumer applies a whole batch in one transaction too.
import type { Database } from "bun:sqlite";
import { transaction, type GroupCommitWriter } from "../../platform/db/sqlite";
import type { EventEmitter } from "../../platform/events";
import type { Command, NewTask, TaskRow } from "./commands";
import { todoProblems } from "./errors";
import { todoEvents } from "./events";
import { assertFullOrder, assertReplay, assertTasksReplay, ownedId, ownedProject, ownedTask, projectHash, taskHash, type IdRow } from "./registry";
import type {
  Accepted,
  Delivery,
  ProjectCreate,
  ProjectDelete,
  ProjectUpdate,
  Registration,
  TaskDelete,
  TaskListSnapshot,
  TasksCreate,
  TasksOverdue,
  TaskStatusChange,
  TasksReorder,
  TaskUpdate,
  TodosStore,
} from "./store";
import { TodoTables } from "./store.sqlite.tables";

/** Writes per outbox event: one event is applied in one transaction. */
const maxBatch = 256;

interface QueuedWrite {
  accept: () => Accepted<unknown>;
  resolve: (accepted: Accepted<unknown>) => void;
  reject: (err: unknown) => void;
}

/** "queue" delivery: the writes of one tick, accepted in one transaction that emits one event. */
class WriteQueue {
  private queue: QueuedWrite[] = [];
  private scheduled = false;

  constructor(
    private readonly db: Database,
    private readonly writer: GroupCommitWriter,
    private readonly events: EventEmitter,
  ) {}

  submit<R>(accept: () => Accepted<R>): Promise<Accepted<R>> {
    return new Promise((resolve, reject) => {
      this.queue.push({ accept, resolve: resolve as QueuedWrite["resolve"], reject });
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

  private async run(batch: QueuedWrite[]): Promise<void> {
    const outcomes: Array<{ ok: true; value: Accepted<unknown> } | { ok: false; err: unknown }> = [];
    try {
      await this.writer.write(() => {
        const commands: Command[] = [];
        for (const write of batch) {
          try {
            const value = transaction(this.db, write.accept);
            outcomes.push({ ok: true, value });
            commands.push(...value.commands);
          } catch (err) {
            outcomes.push({ ok: false, err });
          }
        }
        if (commands.length > 0) this.events.emit(todoEvents.writeRequested, { commands });
      });
    } catch (err) {
      // COMMIT failed: nothing of this batch is durable.
      for (const write of batch) write.reject(err);
      return;
    }
    batch.forEach((write, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) write.resolve(outcome.value);
      else write.reject(outcome.err);
    });
  }
}

export class SqliteTodosStore implements TodosStore {
  readonly kind = "sqlite" as const;
  private readonly tables: TodoTables;
  private readonly queue: WriteQueue;

  constructor(
    db: Database,
    private readonly writer: GroupCommitWriter,
    private readonly events: EventEmitter,
  ) {
    this.tables = new TodoTables(db);
    this.queue = new WriteQueue(db, writer, events);
  }

  /** Runs a use case's accepting step in a transaction, delivered as asked. */
  private unit<R>(delivery: Delivery, accept: () => Accepted<R>): Promise<Accepted<R>> {
    if (delivery === "queue") return this.queue.submit(accept);
    return this.writer.write(() => {
      const accepted = accept();
      this.apply(accepted.commands);
      return accepted;
    });
  }

  /** Applies commands in the current transaction; a task turned OVERDUE emits its event with it. */
  private apply(commands: readonly Command[]): void {
    for (const cmd of commands) {
      const overdue = this.tables.applyCommand(cmd);
      if (overdue) this.emitOverdue(overdue, cmd.at);
    }
  }

  private emitOverdue(row: TaskRow, at: number): void {
    this.events.emit(todoEvents.taskOverdue, {
      taskId: row.id,
      projectId: row.project_id,
      parentId: row.parent_id,
      userId: row.user_id,
      title: row.title,
      dueAt: new Date(row.due_at!).toISOString(),
      overdueAt: new Date(at).toISOString(),
    });
  }

  private seqs(count: number): number[] {
    const first = this.tables.allocSeq(count);
    return Array.from({ length: count }, (_, i) => first + i);
  }

  private ownedTask(userId: string, id: string) {
    return ownedTask(this.tables.idRow(id), userId, (projectId) => this.tables.idRow(projectId));
  }

  // ── writes ─────────────────────────────────────────────────────────────────────────────
  createProject(w: ProjectCreate, delivery: Delivery): Promise<Accepted<Registration>> {
    return this.unit<Registration>(delivery, () => {
      const { project, userId, at } = w;
      const hash = projectHash(project);
      const existing = this.tables.idRow(project.id);
      if (existing) {
        assertReplay(existing, userId, "project", hash);
        return { commands: [], result: { replay: true, seqs: [existing.seq], at: existing.created_at } };
      }
      const [seq] = this.seqs(1) as [number];
      this.tables.insertId({ id: project.id, kind: "project", user_id: userId, project_id: null, parent_id: null, body_hash: hash, seq, created_at: at });
      return { commands: [{ kind: "project.create", seq, userId, at, project }], result: { replay: false, seqs: [seq], at } };
    });
  }

  updateProject(w: ProjectUpdate, delivery: Delivery): Promise<Accepted<null>> {
    return this.unit(delivery, () => {
      ownedProject(this.tables.idRow(w.projectId), w.userId);
      const [seq] = this.seqs(1) as [number];
      return { commands: [{ kind: "project.update", seq, userId: w.userId, at: w.at, projectId: w.projectId, patch: w.patch }], result: null };
    });
  }

  deleteProject(w: ProjectDelete, delivery: Delivery): Promise<Accepted<null>> {
    return this.unit(delivery, () => {
      // Deleted already: idempotent, nothing to do.
      if (ownedId(this.tables.idRow(w.projectId), w.userId, "project").deleted_at !== null) return { commands: [], result: null };
      const [seq] = this.seqs(1) as [number];
      this.tables.markDeleted(w.projectId, w.at);
      return { commands: [{ kind: "project.delete", seq, userId: w.userId, at: w.at, projectId: w.projectId }], result: null };
    });
  }

  createTasks(w: TasksCreate, delivery: Delivery): Promise<Accepted<Registration & { tasks: NewTask[] }>> {
    return this.unit<Registration & { tasks: NewTask[] }>(delivery, () => {
      const { userId, at, place } = w;
      let where: Pick<NewTask, "projectId" | "parentId" | "replanOf">;
      // Each id looked up once: the ownership check below and the replay check both use it.
      const existing = w.tasks.map((t) => this.tables.idRow(t.id));
      if (place.under === "project") {
        // Ownership of a replay is checked against its registration instead (assertReplay).
        if (existing.includes(null)) ownedProject(this.tables.idRow(place.projectId), userId);
        where = { projectId: place.projectId, parentId: null, replanOf: null };
      } else {
        const row = this.ownedTask(userId, place.taskId);
        if (place.under === "task") {
          if (row.parent_id !== null) throw todoProblems.subtaskDepth();
          where = { projectId: row.project_id, parentId: place.taskId, replanOf: null };
        } else where = { projectId: row.project_id, parentId: row.parent_id ?? place.taskId, replanOf: place.taskId };
      }
      const tasks = w.tasks.map((t): NewTask => ({ ...t, ...where }));
      if (assertTasksReplay(existing, userId, tasks)) {
        return { commands: [], result: { replay: true, seqs: existing.map((e) => (e as IdRow).seq), at: existing[0]!.created_at, tasks } };
      }
      const seqs = this.seqs(tasks.length);
      const commands = tasks.map((task, i): Command => {
        const seq = seqs[i]!;
        this.tables.insertId({ id: task.id, kind: "task", user_id: userId, project_id: task.projectId, parent_id: task.parentId, body_hash: taskHash(task), seq, created_at: at });
        return { kind: "task.create", seq, userId, at, task };
      });
      return { commands, result: { replay: false, seqs, at, tasks } };
    });
  }

  updateTask(w: TaskUpdate, delivery: Delivery): Promise<Accepted<null>> {
    return this.unit(delivery, () => {
      const row = this.ownedTask(w.userId, w.taskId);
      const [seq] = this.seqs(1) as [number];
      return { commands: [{ kind: "task.update", seq, userId: w.userId, at: w.at, taskId: w.taskId, projectId: row.project_id, patch: w.patch }], result: null };
    });
  }

  setStatus(w: TaskStatusChange, delivery: Delivery): Promise<Accepted<null>> {
    return this.unit(delivery, () => {
      const row = this.ownedTask(w.userId, w.taskId);
      const [seq] = this.seqs(1) as [number];
      const cmd: Command = { kind: "task.status", seq, userId: w.userId, at: w.at, taskId: w.taskId, projectId: row.project_id, status: w.status, reason: w.reason, note: w.note };
      if (w.actualMinutes !== undefined) cmd.actualMinutes = w.actualMinutes;
      return { commands: [cmd], result: null };
    });
  }

  deleteTask(w: TaskDelete, delivery: Delivery): Promise<Accepted<null>> {
    return this.unit(delivery, () => {
      // Deleted already (on its own or with its project): idempotent, nothing to do.
      const row = ownedId(this.tables.idRow(w.taskId), w.userId, "task") as IdRow & { project_id: string };
      if (row.deleted_at !== null) return { commands: [], result: null };
      const [seq] = this.seqs(1) as [number];
      this.tables.markDeleted(w.taskId, w.at);
      return { commands: [{ kind: "task.delete", seq, userId: w.userId, at: w.at, taskId: w.taskId, projectId: row.project_id }], result: null };
    });
  }

  markOverdue(w: TasksOverdue, delivery: Delivery): Promise<Accepted<null>> {
    return this.unit(delivery, () => {
      const live = w.tasks.flatMap(({ taskId, userId }) => {
        const row = this.tables.idRow(taskId);
        return row?.kind === "task" && row.user_id === userId && row.deleted_at === null && row.project_id !== null ? [{ taskId, userId, projectId: row.project_id }] : [];
      });
      const seqs = live.length > 0 ? this.seqs(live.length) : [];
      const commands = live.map((t, i): Command => ({ kind: "task.overdue", seq: seqs[i]!, userId: t.userId, at: w.at, taskId: t.taskId, projectId: t.projectId }));
      return { commands, result: null };
    });
  }

  reorder(w: TasksReorder, delivery: Delivery): Promise<Accepted<null>> {
    return this.unit(delivery, () => {
      ownedProject(this.tables.idRow(w.projectId), w.userId);
      assertFullOrder(this.tables.liveTaskIds(w.projectId), w.taskIds);
      const [seq] = this.seqs(1) as [number];
      return { commands: [{ kind: "tasks.reorder", seq, userId: w.userId, at: w.at, projectId: w.projectId, taskIds: w.taskIds }], result: null };
    });
  }

  // ── the consumers' side (inside the bus's transaction) ─────────────────────────────────
  applyQueued(commands: readonly Command[]): void {
    this.apply(commands);
  }

  deleteUser(userId: string, at: number): string[] {
    return this.tables.deleteUser(userId, at);
  }

  // ── reads ──────────────────────────────────────────────────────────────────────────────
  async project(id: string) {
    return this.tables.project(id);
  }
  async projectsOf(userId: string) {
    return this.tables.projectsOf(userId);
  }
  async taskWithSubtasks(id: string) {
    const task = this.tables.task(id);
    return task ? [task, ...this.tables.children(id)] : [];
  }
  async taskList(projectId: string): Promise<TaskListSnapshot> {
    return this.tables.taskList(projectId);
  }
  async tasksOf(userId: string, only?: "closed") {
    return only === "closed" ? this.tables.closedTasksOf(userId) : this.tables.tasksOf(userId);
  }
  async goneAmong(ids: string[]) {
    return this.tables.goneAmong(ids);
  }
  async overdueCandidates(now: number, limit: number, after: { dueAt: number; id: string } | null) {
    return this.tables.overdueCandidates(now, limit, after).map((r) => ({ id: r.id, userId: r.user_id, dueAt: r.due_at }));
  }
  async allRegistered(ids: string[]) {
    return ids.every((id) => this.tables.idRow(id) !== null);
  }
}
