// The id registry (table todo_ids): every id a client ever created, with its owner, its place
// in the tree and a hash of its create body. Written in the accepting transaction in both write
// modes, so it answers "does it exist, whose is it, was this create already done" at once, even
// while the write itself is still pending. Ids are never reused: deleting marks the row.
//
// The rules below are pure: every store implementation applies them inside the transaction that
// accepts a write, so the check and the registration are one atomic step.
import type { NewTask } from "./commands";
import { todoProblems } from "./errors";

export interface IdRow {
  id: string;
  kind: "project" | "task";
  user_id: string;
  project_id: string | null;
  parent_id: string | null;
  body_hash: string;
  /** The creating command's sequence number. */
  seq: number;
  created_at: number;
  deleted_at: number | null;
}

function sha256(value: unknown): string {
  return new Bun.CryptoHasher("sha256").update(JSON.stringify(value)).digest("hex");
}

/** The hash of a project's canonical create body: the same create again has the same hash. */
export function projectHash(project: { title: string; description: string | null }): string {
  return sha256(["project", project.title, project.description]);
}

export function taskHash(t: NewTask): string {
  return sha256(["task", t.projectId, t.parentId, t.replanOf, t.title, t.description, t.estimateMinutes, t.dueAt]);
}

/** The registry row of a live project of the user, or 404 (also for other users' projects). */
export function ownedProject(row: IdRow | null, userId: string): IdRow {
  if (row?.kind !== "project" || row.user_id !== userId || row.deleted_at !== null) throw todoProblems.projectNotFound();
  return row;
}

/** The registry row of one of the user's projects or tasks, live or deleted, or 404. */
export function ownedId<K extends IdRow["kind"]>(row: IdRow | null, userId: string, kind: K): IdRow {
  if (row?.kind !== kind || row.user_id !== userId || (kind === "task" && row.project_id === null)) {
    throw kind === "project" ? todoProblems.projectNotFound() : todoProblems.taskNotFound();
  }
  return row;
}

/**
 * The registry row of a live task of the user, for a write. Deleted on its own (it still reads,
 * as DELETED): 409 task_deleted, it never changes again. Gone with its project, or another
 * user's: 404.
 */
export function ownedTask(row: IdRow | null, userId: string, project: (id: string) => IdRow | null): IdRow & { project_id: string } {
  const task = ownedId(row, userId, "task") as IdRow & { project_id: string };
  if (task.deleted_at !== null) {
    if (project(task.project_id)?.deleted_at === null) throw todoProblems.taskDeleted(task.id);
    throw todoProblems.taskNotFound();
  }
  return task;
}

/** A create whose id is registered already: the same create again (returns), or a conflict. */
export function assertReplay(existing: IdRow, userId: string, kind: IdRow["kind"], hash: string): void {
  if (existing.user_id !== userId || existing.kind !== kind || existing.body_hash !== hash) {
    throw todoProblems.idConflict(`id ${existing.id} is already used by a different create`);
  }
  if (existing.deleted_at !== null) throw todoProblems.idDeleted(existing.id);
}

/** A create of several tasks at once is a replay of all of them or of none. */
export function assertTasksReplay(existing: ReadonlyArray<IdRow | null>, userId: string, tasks: readonly NewTask[]): existing is IdRow[] {
  if (existing.every((e) => e === null)) return false;
  if (existing.some((e) => e === null)) throw todoProblems.idConflict("some of these ids are already used by a different create");
  existing.forEach((e, i) => assertReplay(e!, userId, "task", taskHash(tasks[i]!)));
  return true;
}

/** A reorder lists every live task of the project exactly once. */
export function assertFullOrder(live: readonly string[], ids: readonly string[]): void {
  const liveSet = new Set(live);
  const given = new Set(ids);
  const missing = live.filter((t) => !given.has(t));
  const unknown = ids.filter((t) => !liveSet.has(t));
  if (missing.length > 0 || unknown.length > 0 || given.size !== ids.length) throw todoProblems.orderMismatch(missing, unknown);
}
