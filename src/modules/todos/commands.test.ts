// A read in async mode applies pending commands in memory (applyToView) on top of what it
// loaded; the worker applies them to SQLite (the SQLite store's TodoTables.applyCommand). Both must reach the same
// state, from any snapshot, including when a snapshot already holds some of the commands.
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { migrationSets } from "../../app";
import { migrate } from "../../platform/db/sqlite";
import { applyToView, newView, type Command, type ProjectRow, type TaskRow } from "./commands";
import { settableStatuses, failReasons } from "./model";
import { NotYetApplied, TodoTables } from "./store.sqlite.tables";

const userId = "01936f3e-0000-7000-8000-000000000001";

/** A deterministic pseudo-random sequence (LCG), so a failure can be replayed. */
function rng(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

interface Registry {
  kind: "project" | "task";
  projectId: string | null;
  parentId: string | null;
  deleted: boolean;
}

/** Valid commands, as the API would accept them, plus the registry ops the API does at once. */
function generate(seed: number, count: number) {
  const pick = rng(seed);
  const registry = new Map<string, Registry>();
  const commands: Command[] = [];
  let n = 0;
  const id = () => `01936f3e-${String(++n).padStart(4, "0")}-7000-8000-${String(seed).padStart(12, "0")}`;
  const live = (f: (r: Registry) => boolean) => [...registry].filter(([, r]) => !r.deleted && f(r)).map(([k]) => k);
  const one = <T>(xs: T[]) => xs[pick(xs.length)]!;
  for (let seq = 1; commands.length < count; seq++) {
    const at = 1_700_000_000_000 + seq * 1000;
    const projects = live((r) => r.kind === "project");
    const tasks = live((r) => r.kind === "task");
    const op = projects.length === 0 ? 0 : pick(10);
    if (op === 0 && projects.length < 3) {
      const pid = id();
      registry.set(pid, { kind: "project", projectId: null, parentId: null, deleted: false });
      commands.push({ kind: "project.create", seq, userId, at, project: { id: pid, title: `p${seq}`, description: null } });
    } else if (op <= 2 || tasks.length === 0) {
      const projectId = one(projects);
      const parents = live((r) => r.kind === "task" && r.projectId === projectId && r.parentId === null);
      const parentId = parents.length > 0 && pick(2) === 0 ? one(parents) : null;
      const siblings = parentId ? live((r) => r.parentId === parentId) : [];
      const replanOf = siblings.length > 0 && pick(2) === 0 ? one(siblings) : null;
      const tid = id();
      registry.set(tid, { kind: "task", projectId, parentId, deleted: false });
      commands.push({
        kind: "task.create",
        seq,
        userId,
        at,
        task: { id: tid, projectId, parentId, title: `t${seq}`, description: null, category: pick(2) ? "work" : null, estimateMinutes: 10 + pick(50), dueAt: pick(2) ? at + (pick(3) - 1) * 5000 : null, replanOf },
      });
    } else if (op === 3) {
      const taskId = one(tasks);
      commands.push({ kind: "task.update", seq, userId, at, taskId, projectId: registry.get(taskId)!.projectId!, patch: { title: `u${seq}`, dueAt: pick(2) ? at + (pick(3) - 1) * 5000 : null } });
    } else if (op === 4 || op === 5) {
      const taskId = one(tasks);
      const status = one([...settableStatuses]);
      commands.push({
        kind: "task.status",
        seq,
        userId,
        at,
        taskId,
        projectId: registry.get(taskId)!.projectId!,
        status,
        reason: status === "FAIL" ? one([...failReasons]) : null,
        note: status === "FAIL" && pick(2) ? "note" : null,
        ...(pick(2) ? { actualMinutes: pick(90) } : {}),
      });
    } else if (op === 6) {
      const taskId = one(tasks);
      for (const [k, r] of registry) if (k === taskId || r.parentId === taskId) r.deleted = true;
      commands.push({ kind: "task.delete", seq, userId, at, taskId, projectId: registry.get(taskId)!.projectId! });
    } else if (op === 7) {
      const projectId = one(projects);
      const ids = live((r) => r.projectId === projectId && r.parentId === null);
      for (let i = ids.length - 1; i > 0; i--) {
        const j = pick(i + 1);
        [ids[i], ids[j]] = [ids[j]!, ids[i]!];
      }
      commands.push({ kind: "tasks.reorder", seq, userId, at, projectId, taskIds: ids });
    } else if (op === 9) {
      // The overdue job: applies only to tasks still open and due by `at`.
      const taskId = one(tasks);
      commands.push({ kind: "task.overdue", seq, userId, at, taskId, projectId: registry.get(taskId)!.projectId! });
    } else if (op === 8 && pick(4) === 0) {
      const projectId = one(projects);
      for (const [k, r] of registry) if (k === projectId || r.projectId === projectId) r.deleted = true;
      commands.push({ kind: "project.delete", seq, userId, at, projectId });
    } else {
      const projectId = one(projects);
      commands.push({ kind: "project.update", seq, userId, at, projectId, patch: { title: `r${seq}` } });
    }
  }
  return { commands, registry };
}

function database(registry: Map<string, Registry>) {
  const db = new Database(":memory:", { strict: true });
  db.exec("PRAGMA foreign_keys = ON");
  migrate(db, migrationSets());
  const repo = new TodoTables(db);
  for (const [id, r] of registry) {
    repo.insertId({ id, kind: r.kind, user_id: userId, project_id: r.projectId, parent_id: r.parentId, body_hash: "h", seq: 0, created_at: 0 });
  }
  // The API marks deletions when it accepts them, ahead of the worker.
  db.query("UPDATE todo_ids SET deleted_at = 1 WHERE id IN (SELECT value FROM json_each(?))").run(
    JSON.stringify([...registry].filter(([, r]) => r.deleted).map(([k]) => k)),
  );
  return { db, repo };
}

function state(projects: Iterable<ProjectRow>, tasks: Iterable<TaskRow>) {
  const byId = <T extends { id: string }>(a: T, b: T) => (a.id < b.id ? -1 : 1);
  return { projects: [...projects].sort(byId), tasks: [...tasks].sort(byId) };
}

/** How many OVERDUE and DELETED tasks the seeds reached (each seed adds its own). */
const kinds = { overdue: 0, deleted: 0 };

describe("pending commands applied in memory = applied by the worker", () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    test(`seed ${seed}: from every snapshot, with overlaps`, () => {
      const { commands, registry } = generate(seed, 120);
      const full = database(registry);
      for (const cmd of full.db.transaction(() => commands)()) full.db.transaction(() => full.repo.applyCommand(cmd))();
      const expected = state(full.repo.projectsOf(userId), full.repo.tasksOf(userId));
      expect(expected.tasks.length).toBeGreaterThan(0);
      const statuses = (s: string) => expected.tasks.filter((t) => t.status === s).length;
      kinds.overdue += statuses("OVERDUE");
      kinds.deleted += statuses("DELETED");

      for (const k of [0, 17, 40, 60, 99, 120]) {
        const partial = database(registry);
        for (const cmd of commands.slice(0, k)) partial.repo.applyCommand(cmd);
        // The read's pending list may still hold commands the snapshot already contains: the
        // last few (applied, not yet removed) and leftovers from long ago (a crash between
        // apply and removal).
        const leftover = rng(seed * 31 + k);
        const pending = commands.filter((_, i) => i >= k - 10 || (i < k && leftover(4) === 0));
        const view = newView(partial.repo.projectsOf(userId), partial.repo.tasksOf(userId), (p) => p.user_id === userId, (t) => t.user_id === userId);
        const gone = partial.repo.goneAmong([...registry.keys()]);
        for (const cmd of pending) applyToView(view, cmd, gone);
        expect({ k, ...state(view.projects.values(), view.tasks.values()) }).toEqual({ k, ...expected });

        // And the worker applying the overlap again (a redelivery) changes nothing either.
        for (const cmd of pending) partial.repo.applyCommand(cmd);
        expect({ k, ...state(partial.repo.projectsOf(userId), partial.repo.tasksOf(userId)) }).toEqual({ k, ...expected });
        partial.db.close();
      }
      full.db.close();
    });
  }
  test("the seeds cover OVERDUE and DELETED tasks", () => {
    expect(kinds.overdue).toBeGreaterThan(0);
    expect(kinds.deleted).toBeGreaterThan(0);
  });
});

describe("events applied out of order", () => {
  test("a command whose target is accepted but not applied yet throws (the event is retried); a deleted one waits for its create, then reads DELETED", () => {
    const projectId = "01936f3e-0001-7000-8000-00000000000a";
    const taskId = "01936f3e-0002-7000-8000-00000000000a";
    const registry = new Map<string, Registry>([
      [projectId, { kind: "project", projectId: null, parentId: null, deleted: false }],
      [taskId, { kind: "task", projectId, parentId: null, deleted: false }],
    ]);
    const { db, repo } = database(registry);
    const at = 1_700_000_000_000;
    const createProject: Command = { kind: "project.create", seq: 1, userId, at, project: { id: projectId, title: "p", description: null } };
    const createTask: Command = {
      kind: "task.create",
      seq: 2,
      userId,
      at,
      task: { id: taskId, projectId, parentId: null, title: "t", description: null, category: null, estimateMinutes: null, dueAt: null, replanOf: null },
    };
    const fail: Command = { kind: "task.status", seq: 3, userId, at, taskId, projectId, status: "FAIL", reason: "blocked", note: null };
    expect(() => repo.applyCommand(createTask)).toThrow(NotYetApplied);
    expect(() => repo.applyCommand(fail)).toThrow(NotYetApplied);
    repo.applyCommand(createProject);
    repo.applyCommand(createTask);
    repo.applyCommand(fail);
    expect(repo.task(taskId)).toMatchObject({ status: "FAIL", fail_reason: "blocked", rev: 3 });

    // Deleted in the registry (the API accepted a delete), its delete ahead of its create: the
    // delete waits (throws) for the create; a change to it in between is skipped.
    const other = "01936f3e-0003-7000-8000-00000000000a";
    repo.insertId({ id: other, kind: "task", user_id: userId, project_id: projectId, parent_id: null, body_hash: "h", seq: 4, created_at: at });
    repo.markDeleted(other, at + 9);
    const remove: Command = { kind: "task.delete", seq: 6, userId, at: at + 9, taskId: other, projectId };
    expect(() => repo.applyCommand(remove)).toThrow(NotYetApplied);
    repo.applyCommand({ ...fail, seq: 5, taskId: other });
    repo.applyCommand({ ...createTask, seq: 4, task: { ...(createTask as Extract<Command, { kind: "task.create" }>).task, id: other } });
    repo.applyCommand(remove);
    expect(repo.task(other)).toMatchObject({ status: "DELETED", fail_reason: null, rev: 6, updated_at: at + 9 });
    // Deleted with its project: every command for it is skipped, nothing to wait for.
    repo.markDeleted(projectId, at + 10);
    repo.applyCommand({ kind: "project.delete", seq: 7, userId, at: at + 10, projectId });
    repo.applyCommand({ ...remove, seq: 8 });
    repo.applyCommand({ ...createTask, seq: 9, task: { ...(createTask as Extract<Command, { kind: "task.create" }>).task, id: other } });
    expect(repo.task(other)).toBeNull();
    db.close();
  });
});
