// Todos over HTTP, in both platform modes (embedded, real backends) × both write modes
// (direct, async write-behind).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp, createModules } from "../../app";
import { ConfigError, loadConfig, moduleConfig } from "../../config";
import { todosModule } from "./index";
import { taskListBodyCacheName } from "./reads";
import { createPlatform, type Platform } from "../../platform";
import { createLogger } from "../../platform/logger";
import { createTestApp, signupAndLogin, type TestApp } from "../../testing/app";
import { backendEnv, modes, type Mode } from "../../testing/modes";
import { waitFor } from "../../testing/wait";

type User = Awaited<ReturnType<typeof signupAndLogin>>;
interface TaskBody {
  id: string;
  projectId: string;
  parentId: string | null;
  title: string;
  status: string;
  completedAt: string | null;
  failure: { reason: string; note: string | null; failedAt: string } | null;
  actualMinutes: number | null;
  position: number;
  replanOf: string | null;
  category: string | null;
  estimateMinutes: number | null;
  dueAt: string | null;
  updatedAt: string;
  subtasks?: TaskBody[];
}

async function problem(res: Response) {
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  const body = (await res.json()) as { status: number; code: string; errors?: Array<{ field: string }> };
  expect(body.status).toBe(res.status);
  return body;
}

test("HOMEBASE_TODOS_WRITE_MODE: direct by default, async on request, anything else refused", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "homebase-todos-config-"));
  try {
    expect(moduleConfig(loadConfig({ HOMEBASE_DATA_DIR: dataDir }), todosModule).writeMode).toBe("direct");
    expect(moduleConfig(loadConfig({ HOMEBASE_DATA_DIR: dataDir, HOMEBASE_TODOS_WRITE_MODE: "async" }), todosModule).writeMode).toBe("async");
    expect(() => loadConfig({ HOMEBASE_DATA_DIR: dataDir, HOMEBASE_TODOS_WRITE_MODE: "later" })).toThrow(ConfigError);
    expect(() => loadConfig({ HOMEBASE_DATA_DIR: dataDir, HOMEBASE_TODOS_WRITE_MODE: "later" })).toThrow(/HOMEBASE_TODOS_WRITE_MODE: expected one of direct, async/);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

const writeModes = ["direct", "async"] as const;
const cases = modes.flatMap((mode) => writeModes.map((w) => [mode, w] as const));

describe.each(cases)("todos (%s, %s writes)", (mode, writeMode) => {
  let t: TestApp;
  let a: User;
  let b: User;
  const async = writeMode === "async";
  const created = async ? 202 : 201;
  const changed = async ? 202 : 200;
  const removed = async ? 202 : 204;

  beforeAll(async () => {
    t = await createTestApp(mode, { HOMEBASE_TODOS_WRITE_MODE: writeMode });
    [a, b] = await Promise.all([signupAndLogin(t, "todo"), signupAndLogin(t, "todo")]);
  });
  afterAll(() => t.close());

  const req = (u: User | null, method: string, path: string, body?: unknown) =>
    t.request(method, path, { token: u?.tokens.accessToken, body });
  const json = async <T = TaskBody>(res: Response, status: number): Promise<T> => {
    if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${await res.text()}`);
    return (await res.json()) as T;
  };
  async function newProject(u: User, title = "Project"): Promise<string> {
    const id = Bun.randomUUIDv7();
    await json(await req(u, "POST", "/projects", { id, title }), created);
    return id;
  }
  async function newTask(u: User, projectId: string, extra: Record<string, unknown> = {}): Promise<TaskBody> {
    return json(await req(u, "POST", `/projects/${projectId}/tasks`, { id: Bun.randomUUIDv7(), title: "Task", ...extra }), created);
  }
  const listTasks = async (u: User, projectId: string) =>
    (await json<{ items: TaskBody[] }>(await req(u, "GET", `/projects/${projectId}/tasks`), 200)).items;
  const dbCount = (sql: string, ...args: string[]) =>
    t.platform.db.query<{ n: number }, string[]>(sql).get(...args)!.n;
  /** The worker has applied every accepted write to the tables (immediate in direct mode). */
  const applied = (what: string, cond: () => boolean) => waitFor(cond, { what, timeoutMs: 10_000 });

  test("create and read back at once: projects, tasks, subtasks", async () => {
    const projectId = Bun.randomUUIDv7();
    const p = await json<{ id: string; title: string }>(
      await req(a, "POST", "/projects", { id: projectId, title: "  Q4 report ", description: "all of it" }),
      created,
    );
    expect(p).toMatchObject({ id: projectId, title: "Q4 report", description: "all of it" });
    expect(await json<{ id: string; title: string }>(await req(a, "GET", `/projects/${projectId}`), 200)).toEqual(p);
    const mine = await json<{ items: Array<{ id: string }> }>(await req(a, "GET", "/projects"), 200);
    expect(mine.items.map((x) => x.id)).toContain(projectId);

    const task = await newTask(a, projectId, { title: "Write it", category: "work", estimateMinutes: 60, dueAt: "2026-11-24T17:00:00.000Z" });
    expect(task).toMatchObject({ projectId, parentId: null, title: "Write it", status: "PENDING", completedAt: null, failure: null, dueAt: "2026-11-24T17:00:00.000Z" });
    expect((await listTasks(a, projectId)).map((x) => x.id)).toEqual([task.id]);

    const sub = await json(await req(a, "POST", `/tasks/${task.id}/subtasks`, { id: Bun.randomUUIDv7(), title: "Outline" }), created);
    expect(sub).toMatchObject({ parentId: task.id, projectId });
    const detail = await json(await req(a, "GET", `/tasks/${task.id}`), 200);
    expect(detail.subtasks!.map((s) => s.id)).toEqual([sub.id]);
    const subs = await json<{ items: TaskBody[] }>(await req(a, "GET", `/tasks/${task.id}/subtasks`), 200);
    expect(subs.items.map((s) => s.id)).toEqual([sub.id]);
    // Subtasks are not in the project's task list, and have no subtasks of their own.
    expect((await listTasks(a, projectId)).map((x) => x.id)).toEqual([task.id]);
    const deeper = await req(a, "POST", `/tasks/${sub.id}/subtasks`, { id: Bun.randomUUIDv7(), title: "Too deep" });
    expect(deeper.status).toBe(409);
    expect((await problem(deeper)).code).toBe("subtask_depth");

    const edited = await json(await req(a, "PATCH", `/tasks/${task.id}`, { title: "Write it all", dueAt: null, category: null }), changed);
    expect(edited).toMatchObject({ title: "Write it all", dueAt: null, category: null, estimateMinutes: 60 });
    expect(await json(await req(a, "GET", `/tasks/${task.id}`), 200)).toMatchObject({ title: "Write it all", dueAt: null });
    const renamed = await json<{ title: string; description: string | null }>(
      await req(a, "PATCH", `/projects/${projectId}`, { description: null }),
      changed,
    );
    expect(renamed).toMatchObject({ title: "Q4 report", description: null });

    await applied("the rows", () => dbCount("SELECT count(*) AS n FROM todo_tasks WHERE project_id = ?", projectId) === 2);
    const row = t.platform.db.query<{ title: string; due_at: number | null }, [string]>("SELECT title, due_at FROM todo_tasks WHERE id = ?").get(task.id);
    await applied("the edit", () => t.platform.db.query<{ title: string }, [string]>("SELECT title FROM todo_tasks WHERE id = ?").get(task.id)?.title === "Write it all");
    expect(row).not.toBeNull();
  });

  test("task list as stored bytes: ETag and 304, another user's read of a cached list still 404, a write retires it, includeDeleted apart", async () => {
    const projectId = await newProject(a);
    const first = await newTask(a, projectId);
    const path = `/projects/${projectId}/tasks`;
    await applied("the first task", () => dbCount("SELECT count(*) AS n FROM todo_tasks WHERE id = ?", first.id) === 1);
    const v1 = await req(a, "GET", path);
    expect(v1.status).toBe(200);
    const etag = v1.headers.get("etag");
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
    expect(v1.headers.get("cache-control")).toBe("private, no-cache");
    expect(((await v1.json()) as { items: TaskBody[] }).items.map((x) => x.id)).toEqual([first.id]);
    const again = await t.request("GET", path, { token: a.tokens.accessToken, headers: { "if-none-match": etag! } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");
    // The owner's body is cached: another reader still gets 404, never those bytes.
    const stranger = await req(b, "GET", path);
    expect(stranger.status).toBe(404);
    expect((await problem(stranger)).code).toBe("project_not_found");
    const second = await newTask(a, projectId);
    const v2 = await t.request("GET", path, { token: a.tokens.accessToken, headers: { "if-none-match": etag! } });
    expect(v2.status).toBe(200);
    expect(v2.headers.get("etag")).not.toBe(etag);
    expect(((await v2.json()) as { items: TaskBody[] }).items.map((x) => x.id)).toEqual([first.id, second.id]);
    expect((await req(a, "DELETE", `/tasks/${first.id}`)).status).toBe(removed);
    expect((await listTasks(a, projectId)).map((x) => x.id)).toEqual([second.id]);
    const all = await json<{ items: TaskBody[] }>(await req(a, "GET", `${path}?includeDeleted=true`), 200);
    expect(all.items.map((x) => [x.id, x.status])).toEqual([
      [first.id, "DELETED"],
      [second.id, "PENDING"],
    ]);
  });

  test("owner only: another user gets 404 for every project and task route", async () => {
    const projectId = await newProject(a);
    const task = await newTask(a, projectId);
    await json(await req(a, "PUT", `/tasks/${task.id}/status`, { status: "FAIL", reason: "blocked" }), changed);
    const attempts: Array<[string, string, unknown?]> = [
      ["GET", `/projects/${projectId}`],
      ["PATCH", `/projects/${projectId}`, { title: "mine now" }],
      ["DELETE", `/projects/${projectId}`],
      ["GET", `/projects/${projectId}/tasks`],
      ["POST", `/projects/${projectId}/tasks`, { id: Bun.randomUUIDv7(), title: "sneaky" }],
      ["PUT", `/projects/${projectId}/tasks/order`, { taskIds: [task.id] }],
      ["GET", `/tasks/${task.id}`],
      ["PATCH", `/tasks/${task.id}`, { title: "mine" }],
      ["PUT", `/tasks/${task.id}/status`, { status: "DONE" }],
      ["DELETE", `/tasks/${task.id}`],
      ["GET", `/tasks/${task.id}/subtasks`],
      ["POST", `/tasks/${task.id}/subtasks`, { id: Bun.randomUUIDv7(), title: "sneaky" }],
      ["POST", `/tasks/${task.id}/replan`],
      ["POST", `/tasks/${task.id}/replan/accept`, { subtasks: [{ id: Bun.randomUUIDv7(), title: "x" }] }],
    ];
    for (const [method, path, body] of attempts) {
      const res = await req(b, method, path, body);
      expect({ method, path, status: res.status }).toEqual({ method, path, status: 404 });
      expect((await problem(res)).code).toMatch(/^(project|task)_not_found$/);
    }
    expect((await json<{ items: Array<{ id: string }> }>(await req(b, "GET", "/projects"), 200)).items.map((x) => x.id)).not.toContain(projectId);
    // Nothing changed for the owner.
    expect(await json(await req(a, "GET", `/tasks/${task.id}`), 200)).toMatchObject({ title: "Task", status: "FAIL" });
  });

  test("idempotent create: same id and body → the same resource; another body, kind or user → 409", async () => {
    const id = Bun.randomUUIDv7();
    const body = { id, title: "Once", description: "only once" };
    const first = await json<{ id: string; createdAt: string }>(await req(a, "POST", "/projects", body), created);
    const again = await json<{ id: string; createdAt: string }>(await req(a, "POST", "/projects", body), 200);
    expect(again).toEqual(first);
    for (const [u, path, other] of [
      [a, "/projects", { ...body, title: "Twice" }],
      [b, "/projects", body],
      [a, `/projects/${id}/tasks`, { id, title: "Once" }],
    ] as const) {
      const res = await req(u, "POST", path, other);
      expect(res.status).toBe(409);
      expect((await problem(res)).code).toBe("id_conflict");
    }

    const task = await newTask(a, id, { title: "T", estimateMinutes: 30 });
    const replay = await json(await req(a, "POST", `/projects/${id}/tasks`, { id: task.id, title: "T", estimateMinutes: 30 }), 200);
    expect(replay).toEqual(task);
    const changedBody = await req(a, "POST", `/projects/${id}/tasks`, { id: task.id, title: "T", estimateMinutes: 45 });
    expect(changedBody.status).toBe(409);
    // A replay after the task changed answers with the task as it is now.
    await json(await req(a, "PUT", `/tasks/${task.id}/status`, { status: "DONE" }), changed);
    const later = await json(await req(a, "POST", `/projects/${id}/tasks`, { id: task.id, title: "T", estimateMinutes: 30 }), 200);
    expect(later.status).toBe("DONE");
  });

  test("50 concurrent retries of one create make one task", async () => {
    const projectId = await newProject(a);
    const body = { id: Bun.randomUUIDv7(), title: "Exactly once", estimateMinutes: 10 };
    const responses = await Promise.all(Array.from({ length: 50 }, () => req(a, "POST", `/projects/${projectId}/tasks`, body)));
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === created)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(49);
    const bodies = await Promise.all(responses.map((r) => r.json() as Promise<TaskBody>));
    expect(new Set(bodies.map((x) => `${x.id}:${x.position}:${x.title}`)).size).toBe(1);
    expect((await listTasks(a, projectId)).map((x) => x.id)).toEqual([body.id]);
    await applied("the task row", () => dbCount("SELECT count(*) AS n FROM todo_tasks WHERE project_id = ?", projectId) === 1);
    expect(dbCount("SELECT count(*) AS n FROM todo_ids WHERE project_id = ?", projectId)).toBe(1);
  });

  test("reorder: atomic, all or nothing, positions stay unique under concurrent reorders", async () => {
    const projectId = await newProject(a);
    const tasks: TaskBody[] = [];
    for (let i = 0; i < 5; i++) tasks.push(await newTask(a, projectId, { title: `T${i}` }));
    const ids = tasks.map((x) => x.id);
    expect((await listTasks(a, projectId)).map((x) => x.id)).toEqual(ids);

    const reversed = [...ids].reverse();
    const out = await json<{ items: TaskBody[] }>(await req(a, "PUT", `/projects/${projectId}/tasks/order`, { taskIds: reversed }), changed);
    expect(out.items.map((x) => x.id)).toEqual(reversed);
    expect(out.items.map((x) => x.position)).toEqual([0, 1, 2, 3, 4]);
    expect((await listTasks(a, projectId)).map((x) => x.id)).toEqual(reversed);

    // Refused as a whole: a missing task, an unknown one, a repeated one.
    const missing = await req(a, "PUT", `/projects/${projectId}/tasks/order`, { taskIds: ids.slice(1) });
    expect(missing.status).toBe(409);
    expect((await problem(missing)).code).toBe("order_mismatch");
    const unknown = await req(a, "PUT", `/projects/${projectId}/tasks/order`, { taskIds: [...ids.slice(1), Bun.randomUUIDv7()] });
    expect(unknown.status).toBe(409);
    const repeated = await req(a, "PUT", `/projects/${projectId}/tasks/order`, { taskIds: [...ids, ids[0]] });
    expect(repeated.status).toBe(422);
    expect((await listTasks(a, projectId)).map((x) => x.id)).toEqual(reversed);

    // A task added after a reorder goes last; then 10 concurrent reorders: one of them wins whole.
    const extra = await newTask(a, projectId, { title: "late" });
    expect((await listTasks(a, projectId)).map((x) => x.id)).toEqual([...reversed, extra.id]);
    const all = [...ids, extra.id];
    const orders = Array.from({ length: 10 }, (_, k) => all.map((_, i) => all[(i + k) % all.length]!));
    const results = await Promise.all(orders.map((taskIds) => req(a, "PUT", `/projects/${projectId}/tasks/order`, { taskIds })));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(changed));
    const final = await listTasks(a, projectId);
    expect(orders.map((o) => o.join())).toContain(final.map((x) => x.id).join());
    expect(new Set(final.map((x) => x.position)).size).toBe(final.length);
    await applied("the last reorder", () => {
      const rows = t.platform.db.query<{ id: string }, [string]>("SELECT id FROM todo_tasks WHERE project_id = ? AND parent_id IS NULL ORDER BY position").all(projectId);
      return rows.map((r) => r.id).join() === final.map((x) => x.id).join();
    });
  });

  test("deleting a project removes its tasks and subtasks; their ids are not reused", async () => {
    const projectId = await newProject(a);
    const t1 = await newTask(a, projectId);
    const t2 = await newTask(a, projectId);
    const sub = await json(await req(a, "POST", `/tasks/${t1.id}/subtasks`, { id: Bun.randomUUIDv7(), title: "S" }), created);
    await applied("the tasks", () => dbCount("SELECT count(*) AS n FROM todo_tasks WHERE project_id = ?", projectId) === 3);
    expect((await req(a, "DELETE", `/projects/${projectId}`)).status).toBe(removed);
    for (const path of [`/projects/${projectId}`, `/projects/${projectId}/tasks`, `/tasks/${t1.id}`, `/tasks/${t2.id}`, `/tasks/${sub.id}`]) {
      expect({ path, status: (await req(a, "GET", path)).status }).toEqual({ path, status: 404 });
    }
    expect((await json<{ items: Array<{ id: string }> }>(await req(a, "GET", "/projects"), 200)).items.map((x) => x.id)).not.toContain(projectId);
    // Deleting it again is done already: 204 in both write modes.
    expect((await req(a, "DELETE", `/projects/${projectId}`)).status).toBe(204);
    const reuse = await req(a, "POST", "/projects", { id: projectId, title: "Project" });
    expect(reuse.status).toBe(409);
    expect((await problem(reuse)).code).toBe("id_deleted");
    await applied("the cascade", () => dbCount("SELECT count(*) AS n FROM todo_projects WHERE id = ?", projectId) === 0);
    expect(dbCount("SELECT count(*) AS n FROM todo_tasks WHERE project_id = ?", projectId)).toBe(0);

    // Deleting a task takes its subtasks along: both read as DELETED (statuses.test.ts).
    const p2 = await newProject(a);
    const parent = await newTask(a, p2);
    const child = await json(await req(a, "POST", `/tasks/${parent.id}/subtasks`, { id: Bun.randomUUIDv7(), title: "S" }), created);
    expect((await req(a, "DELETE", `/tasks/${parent.id}`)).status).toBe(removed);
    expect((await json(await req(a, "GET", `/tasks/${child.id}`), 200)).status).toBe("DELETED");
    expect(await listTasks(a, p2)).toEqual([]);
  });

  test("status rules: completedAt follows DONE; FAIL needs a reason and records the failure", async () => {
    const projectId = await newProject(a);
    const task = await newTask(a, projectId, { estimateMinutes: 30 });
    const path = `/tasks/${task.id}/status`;

    const done = await json(await req(a, "PUT", path, { status: "DONE", actualMinutes: 25 }), changed);
    expect(done.completedAt).toBeString();
    expect(done.actualMinutes).toBe(25);
    const doneAgain = await json(await req(a, "PUT", path, { status: "DONE" }), changed);
    expect(doneAgain.completedAt).toBe(done.completedAt);
    for (const status of ["IN_PROGRESS", "CANCELED", "DEFERRED", "SKIPPED", "PENDING"]) {
      const r = await json(await req(a, "PUT", path, { status }), changed);
      expect({ status: r.status, completedAt: r.completedAt, failure: r.failure }).toEqual({ status, completedAt: null, failure: null });
    }

    const noReason = await req(a, "PUT", path, { status: "FAIL" });
    expect(noReason.status).toBe(422);
    const p = await problem(noReason);
    expect(p.code).toBe("reason_required");
    expect(p.errors?.map((e) => e.field)).toEqual(["/reason"]);
    const badReason = await req(a, "PUT", path, { status: "FAIL", reason: "lazy" });
    expect(badReason.status).toBe(422);
    const reasonWithDone = await req(a, "PUT", path, { status: "DONE", reason: "too_big" });
    expect(reasonWithDone.status).toBe(422);
    expect((await problem(reasonWithDone)).code).toBe("reason_only_for_fail");
    expect((await json(await req(a, "GET", `/tasks/${task.id}`), 200)).status).toBe("PENDING");

    const failed = await json(await req(a, "PUT", path, { status: "FAIL", reason: "no_time", note: "meetings", actualMinutes: 50 }), changed);
    expect(failed).toMatchObject({ status: "FAIL", completedAt: null, actualMinutes: 50, failure: { reason: "no_time", note: "meetings" } });
    expect(await json(await req(a, "GET", `/tasks/${task.id}`), 200)).toMatchObject({ status: "FAIL", failure: { reason: "no_time" } });
    const redone = await json(await req(a, "PUT", path, { status: "DONE" }), changed);
    expect(redone).toMatchObject({ status: "DONE", failure: null, actualMinutes: 50 });
    expect(redone.completedAt).toBeString();
  });

  test("the coach: insights from closed tasks; replan a failed task and accept it atomically", async () => {
    const u = await signupAndLogin(t, "coach");
    const projectId = await newProject(u);
    const close = async (status: "DONE" | "FAIL", category: string, est: number, actual: number) => {
      const task = await newTask(u, projectId, { category, estimateMinutes: est });
      await json(await req(u, "PUT", `/tasks/${task.id}/status`, { status, actualMinutes: actual, ...(status === "FAIL" ? { reason: "too_big" } : {}) }), changed);
      return task;
    };
    await close("DONE", "work", 30, 30);
    await close("DONE", "work", 30, 60);
    await close("DONE", "work", 60, 40);
    const failed = await close("FAIL", "work", 120, 90);
    const open = await newTask(u, projectId);

    const ins = await json<{
      totals: { n: number; done: number; failed: number; failureRate: number };
      byReason: Array<{ reason: string; count: number; n: number; share: number }>;
      byCategory: Array<{ category: string; n: number; failed: number; failureRate: number }>;
      estimateOverrun: { n: number; medianRatio: number };
      byHour: Array<{ n: number }>;
    }>(await req(u, "GET", "/todos/insights?tz=Europe/Berlin"), 200);
    expect(ins.totals).toEqual({ n: 4, done: 3, failed: 1, failureRate: 0.25 });
    expect(ins.byReason).toEqual([{ reason: "too_big", count: 1, n: 1, share: 1 }]);
    expect(ins.byCategory).toEqual([{ category: "work", n: 4, failed: 1, failureRate: 0.25 }]);
    // ratios 1, 2, 0.667, 0.75 → median (0.75 + 1) / 2
    expect(ins.estimateOverrun).toMatchObject({ n: 4, medianRatio: 0.88 });
    expect(ins.byHour.reduce((s, h) => s + h.n, 0)).toBe(4);
    const badTz = await req(u, "GET", "/todos/insights?tz=Mars/Olympus");
    expect(badTz.status).toBe(422);
    expect((await problem(badTz)).code).toBe("invalid_time_zone");

    const notFailed = await req(u, "POST", `/tasks/${open.id}/replan`);
    expect(notFailed.status).toBe(409);
    expect((await problem(notFailed)).code).toBe("task_not_failed");

    const plan = await json<{
      explainedBy: string;
      basis: { chunkMinutes: number; chunkSource: string; totalMinutes: number };
      subtasks: Array<{ id: string; title: string; estimateMinutes: number; dueAt: string; reason: string }>;
    }>(await req(u, "POST", `/tasks/${failed.id}/replan`), 200);
    expect(plan.explainedBy).toBe("rules");
    // work tasks finished in 30, 60, 40 → 40-minute parts; 120 min (median overrun < 1 → 1) → 3 parts
    expect(plan.basis).toMatchObject({ chunkMinutes: 40, chunkSource: "category", totalMinutes: 120 });
    expect(plan.subtasks).toHaveLength(3);
    for (const s of plan.subtasks) expect(s.reason).toMatch(/^40 minutes, .+\.$/);

    const accept = { subtasks: plan.subtasks.map(({ id, title, estimateMinutes, dueAt }) => ({ id, title, estimateMinutes, dueAt })) };
    const accepted = await json<{ taskId: string; subtasks: TaskBody[] }>(await req(u, "POST", `/tasks/${failed.id}/replan/accept`, accept), created);
    expect(accepted.subtasks.map((s) => [s.id, s.parentId, s.replanOf, s.category, s.status])).toEqual(
      plan.subtasks.map((s) => [s.id, failed.id, failed.id, "work", "PENDING"]),
    );
    const detail = await json(await req(u, "GET", `/tasks/${failed.id}`), 200);
    expect(detail.status).toBe("FAIL");
    expect(detail.subtasks!.map((s) => s.id)).toEqual(plan.subtasks.map((s) => s.id));
    // The same accept again is a replay; a changed one conflicts and creates nothing.
    const replay = await json<{ subtasks: TaskBody[] }>(await req(u, "POST", `/tasks/${failed.id}/replan/accept`, accept), 200);
    expect(replay.subtasks.map((s) => s.id)).toEqual(plan.subtasks.map((s) => s.id));
    const conflicting = await req(u, "POST", `/tasks/${failed.id}/replan/accept`, {
      subtasks: [accept.subtasks[0], { id: Bun.randomUUIDv7(), title: "new" }],
    });
    expect(conflicting.status).toBe(409);
    expect((await json(await req(u, "GET", `/tasks/${failed.id}`), 200)).subtasks).toHaveLength(3);
    await applied("the accepted subtasks", () => dbCount("SELECT count(*) AS n FROM todo_tasks WHERE replan_of = ?", failed.id) === 3);
  });

  test("task lists are cache-aside and a write shows on the next read", async () => {
    const projectId = await newProject(a);
    await newTask(a, projectId);
    const hits = async () => {
      const text = await (await t.request("GET", "/metrics")).text();
      const line = text.split("\n").find((l) => l.startsWith(`homebase_cache_requests_total{cache="${taskListBodyCacheName}",result="hit"}`));
      return Number(line?.split(" ").pop() ?? 0);
    };
    // Async mode: the worker's invalidation may land between two reads; then the next pair hits.
    await waitFor(
      async () => {
        await listTasks(a, projectId);
        const before = await hits();
        const items = await listTasks(a, projectId);
        return items.length === 1 && (await hits()) === before + 1;
      },
      { what: "the second of two reads to be a cache hit" },
    );
    const second = await newTask(a, projectId, { title: "second" });
    expect((await listTasks(a, projectId)).map((x) => x.title)).toEqual(["Task", "second"]);
    await json(await req(a, "PATCH", `/tasks/${second.id}`, { title: "renamed" }), changed);
    expect((await listTasks(a, projectId)).map((x) => x.title)).toEqual(["Task", "renamed"]);
    await applied("the rename", () => t.platform.db.query<{ title: string }, [string]>("SELECT title FROM todo_tasks WHERE id = ?").get(second.id)?.title === "renamed");
    // Once applied (and the cache invalidated by the worker), still exactly the same answer.
    await waitFor(async () => (await listTasks(a, projectId)).map((x) => x.title).join() === "Task,renamed");
  });

  test("deleting the account removes its todos (accounts' user.deleted event)", async () => {
    const u = await signupAndLogin(t, "gone");
    const projectId = await newProject(u);
    await newTask(u, projectId);
    await applied("the task row", () => dbCount("SELECT count(*) AS n FROM todo_tasks WHERE project_id = ?", projectId) === 1);
    expect((await req(u, "DELETE", "/me", { password: u.password })).status).toBe(204);
    await applied("the account's todos to go", () => dbCount("SELECT count(*) AS n FROM todo_projects WHERE user_id = ?", u.user.id) === 0);
    expect(dbCount("SELECT count(*) AS n FROM todo_tasks WHERE project_id = ?", projectId)).toBe(0);
  });

  test("blank titles and categories are refused by validation: 422 validation_failed naming the field", async () => {
    const projectId = await newProject(a);
    const task = await newTask(a, projectId);
    const cases: Array<[string, string, unknown, string]> = [
      ["POST", "/projects", { id: Bun.randomUUIDv7(), title: "   " }, "/title"],
      ["PATCH", `/projects/${projectId}`, { title: "\t" }, "/title"],
      ["POST", `/projects/${projectId}/tasks`, { id: Bun.randomUUIDv7(), title: " \n " }, "/title"],
      ["POST", `/projects/${projectId}/tasks`, { id: Bun.randomUUIDv7(), title: "ok", category: "  " }, "/category"],
      ["PATCH", `/tasks/${task.id}`, { title: "  " }, "/title"],
      ["POST", `/tasks/${task.id}/subtasks`, { id: Bun.randomUUIDv7(), title: "" }, "/title"],
      ["POST", `/tasks/${task.id}/replan/accept`, { subtasks: [{ id: Bun.randomUUIDv7(), title: "   " }] }, "/subtasks/0/title"],
    ];
    for (const [method, path, body, field] of cases) {
      const res = await req(a, method, path, body);
      expect({ path, status: res.status }).toEqual({ path, status: 422 });
      const p = await problem(res);
      expect({ path, code: p.code, fields: p.errors?.map((e) => e.field) }).toEqual({ path, code: "validation_failed", fields: [field] });
    }
    expect((await listTasks(a, projectId)).map((x) => x.title)).toEqual(["Task"]);
  });

  test("every route answers 401, 404, 409 and 422 as problem+json", async () => {
    const projectId = await newProject(a);
    const task = await newTask(a, projectId);
    const sub = await json(await req(a, "POST", `/tasks/${task.id}/subtasks`, { id: Bun.randomUUIDv7(), title: "S" }), created);
    const unknown = Bun.randomUUIDv7();
    const good = () => ({ id: Bun.randomUUIDv7(), title: "ok" });
    type Route = { method: string; path: (p: string, t: string) => string; body?: () => unknown; bad?: unknown };
    const routes: Route[] = [
      { method: "POST", path: () => "/projects", body: good, bad: { id: "not-a-uuid-v7", title: "" } },
      { method: "GET", path: () => "/projects" },
      { method: "GET", path: (p) => `/projects/${p}` },
      { method: "PATCH", path: (p) => `/projects/${p}`, body: () => ({ title: "x" }), bad: {} },
      { method: "DELETE", path: (p) => `/projects/${p}` },
      { method: "GET", path: (p) => `/projects/${p}/tasks` },
      { method: "POST", path: (p) => `/projects/${p}/tasks`, body: good, bad: { id: Bun.randomUUIDv7(), title: "x".repeat(256) } },
      { method: "PUT", path: (p) => `/projects/${p}/tasks/order`, body: () => ({ taskIds: [] }), bad: { taskIds: "nope" } },
      { method: "GET", path: (_, t) => `/tasks/${t}` },
      { method: "PATCH", path: (_, t) => `/tasks/${t}`, body: () => ({ title: "x" }), bad: { estimateMinutes: 0 } },
      { method: "PUT", path: (_, t) => `/tasks/${t}/status`, body: () => ({ status: "DONE" }), bad: { status: "DELETED" } },
      { method: "DELETE", path: (_, t) => `/tasks/${t}` },
      { method: "GET", path: (_, t) => `/tasks/${t}/subtasks` },
      { method: "POST", path: (_, t) => `/tasks/${t}/subtasks`, body: good, bad: { id: Bun.randomUUIDv7(), title: "x", description: "d".repeat(1001) } },
      { method: "GET", path: () => "/todos/insights?tz=Nowhere/Land" },
      { method: "POST", path: (_, t) => `/tasks/${t}/replan` },
      { method: "POST", path: (_, t) => `/tasks/${t}/replan/accept`, body: () => ({ subtasks: [good()] }), bad: { subtasks: [] } },
    ];
    for (const r of routes) {
      const path = r.path(projectId, task.id);
      const label = `${r.method} ${path}`;
      // 401 without a token
      const anon = await t.request(r.method, path, { body: r.body?.() });
      expect({ label, status: anon.status }).toEqual({ label, status: 401 });
      expect((await problem(anon)).code).toBe("missing_token");
      // 404 for an unknown id (routes with an id)
      if (path.includes(projectId) || path.includes(task.id)) {
        const missing = await req(a, r.method, r.path(unknown, unknown), r.body?.());
        expect({ label, status: missing.status }).toEqual({ label, status: 404 });
        await problem(missing);
      }
      // 422 for a malformed id, body or query (routes that take any)
      if (r.bad === undefined && !path.includes(projectId) && !path.includes(task.id) && !path.includes("?")) continue;
      const malformed = path.includes(projectId) || path.includes(task.id) ? r.path("not-a-uuid", "not-a-uuid") : path;
      const invalid = await req(a, r.method, malformed, r.bad ?? r.body?.());
      expect({ label, status: invalid.status }).toEqual({ label, status: 422 });
      await problem(invalid);
      if (r.bad !== undefined) {
        const badBody = await req(a, r.method, path, r.bad);
        expect({ label, status: badBody.status }).toEqual({ label, status: 422 });
        expect((await problem(badBody)).code).toBe("validation_failed");
      }
    }
    // 409 on every route that can conflict
    const p2 = await newProject(a, "taken");
    const conflicts: Array<[string, string, unknown, string]> = [
      ["POST", "/projects", { id: p2, title: "other" }, "id_conflict"],
      ["POST", `/projects/${projectId}/tasks`, { id: task.id, title: "other" }, "id_conflict"],
      ["PUT", `/projects/${projectId}/tasks/order`, { taskIds: [] }, "order_mismatch"],
      ["POST", `/tasks/${sub.id}/subtasks`, good(), "subtask_depth"],
      ["POST", `/tasks/${task.id}/replan`, undefined, "task_not_failed"],
      ["POST", `/tasks/${task.id}/replan/accept`, { subtasks: [good()] }, "task_not_failed"],
    ];
    for (const [method, path, body, code] of conflicts) {
      const res = await req(a, method, path, body);
      expect({ path, status: res.status }).toEqual({ path, status: 409 });
      expect((await problem(res)).code).toBe(code);
    }
  });
});

/**
 * Async mode with the API running alone (HOMEBASE_ROLE=serve): nothing applies the writes,
 * so every read below can only see them through the pending store. Then a worker starts on
 * the same data and applies them; the reads stay the same.
 */
describe.each(modes)("async writes before and after the worker (%s)", (mode: Mode) => {
  let platform: Platform;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "homebase-todos-"));
    const config = loadConfig({
      HOMEBASE_DATA_DIR: dataDir,
      HOMEBASE_LOG_LEVEL: "silent",
      HOMEBASE_EVENT_NAMESPACE: `t${Bun.randomUUIDv7().replaceAll("-", "").slice(-12)}`,
      HOMEBASE_TODOS_WRITE_MODE: "async",
      ...(await backendEnv(mode)),
    });
    platform = await createPlatform(config, { logger: createLogger("silent") });
  });
  afterAll(async () => {
    await platform.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("a client reads its own 202'd writes at once; the worker later applies exactly them", async () => {
    const modules = createModules(platform);
    const app = createApp(platform, modules);
    const request = (method: string, path: string, token?: string, body?: unknown) =>
      app.handle(
        new Request(`http://localhost.test${path}`, {
          method,
          headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { "content-type": "application/json" } : {}) },
          body: body ? JSON.stringify(body) : undefined,
        }),
      );
    // Accounts writes directly; its signup event just waits in the outbox like ours.
    const email = `rw.${Bun.randomUUIDv7()}@example.com`;
    expect((await request("POST", "/auth/signup", undefined, { email, password: "Sup3r-secret!", nickname: `rw_${Date.now().toString(36)}` })).status).toBe(201);
    const { accessToken: token } = (await (await request("POST", "/auth/login", undefined, { email, password: "Sup3r-secret!" })).json()) as { accessToken: string };

    const projectId = Bun.randomUUIDv7();
    expect((await request("POST", "/projects", token, { id: projectId, title: "P" })).status).toBe(202);
    const ids = [Bun.randomUUIDv7(), Bun.randomUUIDv7(), Bun.randomUUIDv7()] as [string, string, string];
    for (const id of ids) expect((await request("POST", `/projects/${projectId}/tasks`, token, { id, title: id.slice(-4) })).status).toBe(202);
    expect((await request("PUT", `/tasks/${ids[0]}/status`, token, { status: "FAIL", reason: "forgot" })).status).toBe(202);
    expect((await request("PUT", `/projects/${projectId}/tasks/order`, token, { taskIds: [ids[2], ids[0], ids[1]] })).status).toBe(202);
    expect((await request("DELETE", `/tasks/${ids[1]}`, token)).status).toBe(202);

    const read = async () => {
      const list = (await (await request("GET", `/projects/${projectId}/tasks`, token)).json()) as { items: TaskBody[] };
      const failed = (await (await request("GET", `/tasks/${ids[0]}`, token)).json()) as TaskBody;
      const insights = (await (await request("GET", "/todos/insights", token)).json()) as { totals: { failed: number } };
      return { order: list.items.map((x) => x.id), positions: list.items.map((x) => x.position), status: failed.status, failedInInsights: insights.totals.failed };
    };
    const expected = { order: [ids[2], ids[0]], positions: [0, 1], status: "FAIL", failedInInsights: 1 };
    expect(await read()).toEqual(expected);
    // Truly not applied yet: the tables are empty and the commands wait in the outbox.
    expect(platform.db.query<{ n: number }, []>("SELECT count(*) AS n FROM todo_tasks").get()!.n).toBe(0);
    expect(platform.events.backlog()).toBeGreaterThan(0);

    await platform.events.start();
    const rows = () =>
      platform.db.query<{ id: string; position: number; status: string }, [string]>(
        "SELECT id, position, status FROM todo_tasks WHERE project_id = ? ORDER BY position",
      ).all(projectId);
    const final = [
      { id: ids[2], position: 0, status: "PENDING" },
      { id: ids[0], position: 1, status: "FAIL" },
      // Deleted after the reorder: kept, as DELETED, out of the list.
      { id: ids[1], position: 2, status: "DELETED" },
    ];
    // The commands are applied one event after another; wait for the end state, not a count
    // that an intermediate state also has.
    await waitFor(() => Bun.deepEquals(rows(), final), { what: "the worker" }).catch(() => undefined);
    expect(rows()).toEqual(final);
    expect(await read()).toEqual(expected);
  });
});
