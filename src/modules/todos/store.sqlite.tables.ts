// The todo tables and the id registry in SQLite: prepared statements behind synchronous methods.
// Reads run directly; the writing methods run inside a transaction (GroupCommitWriter.write():
// the accepting one, or the write-behind consumer's). store.sqlite.ts builds the port on these.
import type { Database } from "bun:sqlite";
import {
  deletedRow,
  isOverdue,
  newProjectRow,
  overdueRow,
  newTaskRow,
  patchedProject,
  patchedTask,
  withStatus,
  type Command,
  type ProjectRow,
  type TaskRow,
} from "./commands";
import type { IdRow } from "./registry";
import type { TaskListSnapshot } from "./store";

/** A command arrived before the one creating what it needs; retrying the event later fixes it. */
export class NotYetApplied extends Error {
  override readonly name = "NotYetApplied";
}

/** Rows are plain objects of strings, numbers and nulls: bindable as named parameters. */
const bind = (row: object) => row as Record<string, string | number | null>;

export class TodoTables {
  private readonly q;

  constructor(db: Database) {
    this.q = {
      idRow: db.query<IdRow, [string]>("SELECT * FROM todo_ids WHERE id = ?"),
      insertId: db.query(
        `INSERT INTO todo_ids (id, kind, user_id, project_id, parent_id, body_hash, seq, created_at)
         VALUES ($id, $kind, $user_id, $project_id, $parent_id, $body_hash, $seq, $created_at)`,
      ),
      // A project id only appears as project_id, a task id only as parent_id: one statement serves both.
      markDeleted: db.query<unknown, [number, string, string, string]>(
        "UPDATE todo_ids SET deleted_at = ? WHERE (id = ? OR project_id = ? OR parent_id = ?) AND deleted_at IS NULL",
      ),
      liveTaskIds: db.query<{ id: string }, [string]>(
        "SELECT id FROM todo_ids WHERE project_id = ? AND parent_id IS NULL AND deleted_at IS NULL",
      ),
      // Gone for good: deleted projects, and ids deleted with their project (or account).
      goneAmong: db.query<{ id: string }, [string]>(
        `SELECT i.id FROM todo_ids i LEFT JOIN todo_ids p ON p.id = i.project_id
         WHERE i.id IN (SELECT value FROM json_each(?)) AND i.deleted_at IS NOT NULL AND (i.kind = 'project' OR p.deleted_at IS NOT NULL)`,
      ),
      overdueCandidates: db.query<{ id: string; user_id: string; due_at: number }, [number, number, number, string, number]>(
        `SELECT id, user_id, due_at FROM todo_tasks
         WHERE status IN ('PENDING', 'IN_PROGRESS') AND due_at IS NOT NULL AND due_at <= ? AND (due_at > ? OR (due_at = ? AND id > ?))
         ORDER BY due_at, id LIMIT ?`,
      ),
      allocSeq: db.query<{ n: number }, [number]>("UPDATE todo_seq SET n = n + ? WHERE id = 1 RETURNING n"),

      project: db.query<ProjectRow, [string]>("SELECT * FROM todo_projects WHERE id = ?"),
      projectsOf: db.query<ProjectRow, [string]>("SELECT * FROM todo_projects WHERE user_id = ? ORDER BY created_at, id"),
      task: db.query<TaskRow, [string]>("SELECT * FROM todo_tasks WHERE id = ?"),
      topLevel: db.query<TaskRow, [string]>(
        "SELECT * FROM todo_tasks WHERE project_id = ? AND parent_id IS NULL ORDER BY position, id",
      ),
      children: db.query<TaskRow, [string]>("SELECT * FROM todo_tasks WHERE parent_id = ? ORDER BY position, id"),
      tasksOf: db.query<TaskRow, [string]>("SELECT * FROM todo_tasks WHERE user_id = ?"),
      closedOf: db.query<TaskRow, [string]>("SELECT * FROM todo_tasks WHERE user_id = ? AND status IN ('DONE', 'FAIL')"),

      // Plain inserts (the checks are separate point lookups): INSERT … SELECT with EXISTS
      // guards cost three times as much per row.
      insertProject: db.query(
        `INSERT INTO todo_projects (id, user_id, title, description, rev, created_at, updated_at)
         VALUES ($id, $user_id, $title, $description, $rev, $created_at, $updated_at)
         ON CONFLICT (id) DO NOTHING`,
      ),
      updateProject: db.query(
        "UPDATE todo_projects SET title = $title, description = $description, rev = $rev, updated_at = $updated_at WHERE id = $id",
      ),
      deleteProject: db.query<unknown, [string]>("DELETE FROM todo_projects WHERE id = ?"),
      projectExists: db.query<{ one: number }, [string]>("SELECT 1 AS one FROM todo_projects WHERE id = ?"),
      taskExists: db.query<{ one: number }, [string]>("SELECT 1 AS one FROM todo_tasks WHERE id = ?"),
      insertTask: db.query(
        `INSERT INTO todo_tasks (id, project_id, parent_id, user_id, title, description, category, estimate_minutes, due_at,
           status, completed_at, failed_at, fail_reason, fail_note, actual_minutes, position, replan_of, rev, pos_rev, created_at, updated_at)
         VALUES ($id, $project_id, $parent_id, $user_id, $title, $description, $category, $estimate_minutes, $due_at,
           $status, $completed_at, $failed_at, $fail_reason, $fail_note, $actual_minutes, $position, $replan_of, $rev, $pos_rev, $created_at, $updated_at)
         ON CONFLICT (id) DO NOTHING`,
      ),
      updateTask: db.query(
        `UPDATE todo_tasks SET title = $title, description = $description, category = $category, estimate_minutes = $estimate_minutes,
           due_at = $due_at, status = $status, completed_at = $completed_at, failed_at = $failed_at, fail_reason = $fail_reason,
           fail_note = $fail_note, actual_minutes = $actual_minutes, rev = $rev, updated_at = $updated_at
         WHERE id = $id`,
      ),
      softDelete: db.query<unknown, [number, number, string, string]>(
        `UPDATE todo_tasks SET status = 'DELETED', completed_at = NULL, failed_at = NULL, fail_reason = NULL, fail_note = NULL,
           rev = max(rev, ?1), updated_at = ?2
         WHERE (id = ?3 OR parent_id = ?4) AND status <> 'DELETED'`,
      ),
      // Two steps so the unique (project, position) index never sees two tasks on one position.
      parkPosition: db.query<unknown, [string, string, number]>(
        "UPDATE todo_tasks SET position = -1 - position WHERE id = ? AND project_id = ? AND parent_id IS NULL AND status <> 'DELETED' AND pos_rev < ?",
      ),
      setPosition: db.query<unknown, [number, number, string]>(
        "UPDATE todo_tasks SET position = ?, pos_rev = ? WHERE id = ? AND position < 0",
      ),

      userProjectIds: db.query<{ id: string }, [string]>("SELECT id FROM todo_projects WHERE user_id = ?"),
      deleteUserProjects: db.query<unknown, [string]>("DELETE FROM todo_projects WHERE user_id = ?"),
      deleteUserIds: db.query<unknown, [number, string]>("UPDATE todo_ids SET deleted_at = ? WHERE user_id = ? AND deleted_at IS NULL"),
    };
  }

  // ── the id registry (API transaction) ──────────────────────────────────────────────────
  idRow(id: string): IdRow | null {
    return this.q.idRow.get(id);
  }
  insertId(row: Omit<IdRow, "deleted_at">): void {
    this.q.insertId.run(row);
  }
  /** Marks an id and everything under it deleted. */
  markDeleted(id: string, now: number): void {
    this.q.markDeleted.run(now, id, id, id);
  }
  /** A project's tasks (not subtasks) as of every accepted write, pending ones included. */
  liveTaskIds(projectId: string): string[] {
    return this.q.liveTaskIds.all(projectId).map((r) => r.id);
  }
  /** The ids among these removed for good (see applyToView); tasks deleted on their own are not. */
  goneAmong(ids: string[]): Set<string> {
    if (ids.length === 0) return new Set();
    return new Set(this.q.goneAmong.all(JSON.stringify(ids)).map((r) => r.id));
  }
  /** Open tasks due at or before `now`, in (due time, id) order after `after`. */
  overdueCandidates(now: number, limit: number, after: { dueAt: number; id: string } | null): Array<{ id: string; user_id: string; due_at: number }> {
    const mark = after ?? { dueAt: Number.MIN_SAFE_INTEGER, id: "" };
    return this.q.overdueCandidates.all(now, mark.dueAt, mark.dueAt, mark.id, limit);
  }
  /** Reserves `count` sequence numbers; returns the first. */
  allocSeq(count: number): number {
    const { n } = this.q.allocSeq.get(count)!;
    return n - count + 1;
  }

  // ── reads ──────────────────────────────────────────────────────────────────────────────
  project(id: string): ProjectRow | null {
    return this.q.project.get(id);
  }
  projectsOf(userId: string): ProjectRow[] {
    return this.q.projectsOf.all(userId);
  }
  task(id: string): TaskRow | null {
    return this.q.task.get(id);
  }
  taskList(projectId: string): TaskListSnapshot {
    return { project: this.q.project.get(projectId), tasks: this.q.topLevel.all(projectId) };
  }
  children(taskId: string): TaskRow[] {
    return this.q.children.all(taskId);
  }
  tasksOf(userId: string): TaskRow[] {
    return this.q.tasksOf.all(userId);
  }
  closedTasksOf(userId: string): TaskRow[] {
    return this.q.closedOf.all(userId);
  }

  // ── applying commands (inside a write transaction) ────────────────────────────────────
  /**
   * Applies a command; already-applied or obsolete parts are skipped (see commands.ts). Returns
   * the task a task.overdue turned OVERDUE (the caller emits its event), else null.
   */
  applyCommand(cmd: Command): TaskRow | null {
    switch (cmd.kind) {
      case "project.create":
        // Deleted in the meantime (e.g. with the account): dropped.
        if (this.deleted(cmd.project.id)) return null;
        this.q.insertProject.run(bind(newProjectRow(cmd)));
        return null;
      case "project.update": {
        const row = this.q.project.get(cmd.projectId);
        if (!this.applied(cmd.projectId, row)) return null;
        if (row.rev < cmd.seq) {
          const next = patchedProject(row, cmd);
          this.q.updateProject.run({ id: next.id, title: next.title, description: next.description, rev: next.rev, updated_at: next.updated_at });
        }
        return null;
      }
      case "project.delete":
        this.q.deleteProject.run(cmd.projectId);
        return null;
      case "task.create": {
        // A task deleted on its own is created all the same: its task.delete, later in the
        // sequence, marks it DELETED. One deleted with its project is dropped (the project check).
        const { projectId, parentId, replanOf } = cmd.task;
        if (!this.applied(projectId, this.q.projectExists.get(projectId))) return null;
        if (parentId !== null && !this.applied(parentId, this.q.taskExists.get(parentId))) return null;
        const row = newTaskRow(cmd);
        if (replanOf !== null && this.q.taskExists.get(replanOf) === null) row.replan_of = null;
        this.q.insertTask.run(bind(row));
        return null;
      }
      case "task.update": {
        const row = this.q.task.get(cmd.taskId);
        if (this.applied(cmd.taskId, row) && this.changes(row, cmd.seq)) this.updateTask(patchedTask(row, cmd));
        return null;
      }
      case "task.status": {
        const row = this.q.task.get(cmd.taskId);
        if (this.applied(cmd.taskId, row) && this.changes(row, cmd.seq)) this.updateTask(withStatus(row, cmd));
        return null;
      }
      case "task.overdue": {
        const row = this.q.task.get(cmd.taskId);
        if (!this.applied(cmd.taskId, row) || !isOverdue(row, cmd)) return null;
        const next = overdueRow(row, cmd);
        this.updateTask(next);
        return next;
      }
      case "task.delete": {
        const row = this.q.task.get(cmd.taskId);
        // Not there: its create is still to come (a delete is accepted only after it), unless
        // the project is gone, which removed it anyway.
        if (row === null) {
          if (this.q.projectExists.get(cmd.projectId) !== null || !this.deleted(cmd.projectId)) {
            throw new NotYetApplied(`task ${cmd.taskId} is not created yet`);
          }
          return null;
        }
        const next = deletedRow(row, cmd);
        this.q.softDelete.run(cmd.seq, next.updated_at, cmd.taskId, cmd.taskId);
        return null;
      }
      case "tasks.reorder": {
        for (const id of cmd.taskIds) this.applied(id, this.q.taskExists.get(id));
        for (const id of cmd.taskIds) this.q.parkPosition.run(id, cmd.projectId, cmd.seq);
        cmd.taskIds.forEach((id, position) => this.q.setPosition.run(position, cmd.seq, id));
        return null;
      }
      default: {
        const unknown: never = cmd;
        throw new Error(`unknown todos command ${(unknown as { kind: string }).kind}`);
      }
    }
  }

  private changes(row: TaskRow, seq: number): boolean {
    return row.status !== "DELETED" && row.rev < seq;
  }

  private deleted(id: string): boolean {
    const registered = this.q.idRow.get(id);
    return registered !== null && registered.deleted_at !== null;
  }

  /**
   * Whether a command's target (or parent) is there. Absent and deleted in the registry: gone
   * for good, the command is skipped. Absent but live: the command creating it was accepted
   * and is not applied yet (events arrived out of order, e.g. after a failed publish): throws,
   * so the event is retried later instead of a write being dropped.
   */
  private applied<T>(id: string, row: T | null): row is T {
    if (row !== null) return true;
    const registered = this.q.idRow.get(id);
    if (registered && registered.deleted_at === null) throw new NotYetApplied(`${registered.kind} ${id} is not created yet`);
    return false;
  }

  private updateTask(row: TaskRow): void {
    this.q.updateTask.run({
      id: row.id,
      title: row.title,
      description: row.description,
      category: row.category,
      estimate_minutes: row.estimate_minutes,
      due_at: row.due_at,
      status: row.status,
      completed_at: row.completed_at,
      failed_at: row.failed_at,
      fail_reason: row.fail_reason,
      fail_note: row.fail_note,
      actual_minutes: row.actual_minutes,
      rev: row.rev,
      updated_at: row.updated_at,
    });
  }

  /** accountEvents.userDeleted: the account's todos go with it. Returns the projects removed. */
  deleteUser(userId: string, now: number): string[] {
    const projects = this.q.userProjectIds.all(userId).map((r) => r.id);
    this.q.deleteUserProjects.run(userId);
    this.q.deleteUserIds.run(now, userId);
    return projects;
  }
}
