// OVERDUE, DELETED and the failure analysis over HTTP, in both platform modes (embedded, real
// backends) × both write modes (direct, async write-behind). Time is a ManualClock: the overdue
// job sweeps at the clock's now, the test moves it past the due times.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ManualClock } from "../../platform/clock";
import { createTestApp, signupAndLogin, type TestApp } from "../../testing/app";
import { modes } from "../../testing/modes";
import { waitFor } from "../../testing/wait";
import type { TaskOverdue } from "./events";
import type { Todos } from "./index";

type User = Awaited<ReturnType<typeof signupAndLogin>>;
interface TaskBody {
  id: string;
  status: string;
  title: string;
  dueAt: string | null;
  completedAt: string | null;
  updatedAt: string;
  subtasks?: TaskBody[];
}

const writeModes = ["direct", "async"] as const;
const cases = modes.flatMap((mode) => writeModes.map((w) => [mode, w] as const));
/** Now: tokens and sessions are checked against real time too, as in billing.test.ts. */
const start = Date.now();
const minute = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

describe.each(cases)("task statuses OVERDUE and DELETED, and the failure analysis (%s, %s writes)", (mode, writeMode) => {
  let t: TestApp;
  let u: User;
  let todos: Todos;
  const clock = new ManualClock(start);
  const async = writeMode === "async";
  const created = async ? 202 : 201;
  const changed = async ? 202 : 200;

  beforeAll(async () => {
    t = await createTestApp(mode, { HOMEBASE_TODOS_WRITE_MODE: writeMode }, undefined, undefined, { clock });
    u = await signupAndLogin(t, "status");
    todos = t.modules.apis.todos as Todos;
  });
  afterAll(() => t.close());

  // Access tokens (15 min) expire on the same clock: log in again once it has moved on.
  let token = { value: "", at: 0 };
  async function fresh(): Promise<string> {
    if (token.value && clock.now() - token.at < 10 * minute) return token.value;
    const login = await t.request("POST", "/auth/login", { body: { email: u.email, password: u.password } });
    token = { value: ((await login.json()) as { accessToken: string }).accessToken, at: clock.now() };
    return token.value;
  }
  const req = async (method: string, path: string, body?: unknown) => t.request(method, path, { token: await fresh(), body });
  const json = async <T = TaskBody>(res: Response, status: number): Promise<T> => {
    if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${await res.text()}`);
    return (await res.json()) as T;
  };
  const problem = async (res: Response, status: number) => {
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    return (await json<{ code: string; status: number }>(res, status)).code;
  };
  const get = (id: string, query = "") => req("GET", `/tasks/${id}${query}`).then((r) => json(r, 200));
  async function project(): Promise<string> {
    const id = Bun.randomUUIDv7();
    await json(await req("POST", "/projects", { id, title: "P" }), created);
    return id;
  }
  async function task(projectId: string, body: Record<string, unknown> = {}): Promise<TaskBody> {
    return json(await req("POST", `/projects/${projectId}/tasks`, { id: Bun.randomUUIDv7(), title: "T", ...body }), created);
  }
  const table = (sql: string, ...params: string[]) => t.platform.db.query<{ n: number }, string[]>(sql).get(...params)!.n;
  /** In async mode the worker applies later: wait for the tables. */
  const applied = (what: string, check: () => boolean) => waitFor(check, { what });
  const overdueEvents = (taskId: string) =>
    t.platform.db
      .query<{ payload: string }, [string]>("SELECT payload FROM outbox WHERE subject = 'homebase.todos.task.overdue' AND json_extract(payload, '$.taskId') = ?")
      .all(taskId)
      .map((r) => JSON.parse(r.payload) as TaskOverdue);

  test("the overdue job turns open tasks past their due time OVERDUE, once, with its event; others are left alone", async () => {
    const p = await project();
    const at = clock.now();
    const due = await task(p, { dueAt: iso(at + 30 * minute) });
    const working = await task(p, { dueAt: iso(at + 30 * minute) });
    const later = await task(p, { dueAt: iso(at + 3 * 60 * minute) });
    const finished = await task(p, { dueAt: iso(at + 30 * minute) });
    const noDue = await task(p);
    const sub = await json(await req("POST", `/tasks/${due.id}/subtasks`, { id: Bun.randomUUIDv7(), title: "S", dueAt: iso(at + 10 * minute) }), created);
    await json(await req("PUT", `/tasks/${working.id}/status`, { status: "IN_PROGRESS" }), changed);
    await json(await req("PUT", `/tasks/${finished.id}/status`, { status: "DONE" }), changed);
    await applied("the tasks", () => table("SELECT count(*) AS n FROM todo_tasks WHERE project_id = ? AND status IN ('IN_PROGRESS', 'DONE')", p) === 2);

    // 29 minutes in: only the subtask (due at 10) is past its due time; its task is not.
    clock.advance(29 * minute);
    const subSweptAt = clock.now();
    expect(await todos.overdue.sweep()).toBe(1);
    expect((await get(sub.id)).status).toBe("OVERDUE");
    expect((await get(due.id)).status).toBe("PENDING");

    clock.advance(2 * minute); // 31 minutes in: due and working have passed their due time too
    const sweptAt = clock.now();
    expect(await todos.overdue.sweep()).toBe(2);
    // The caller reads it at once (async: pending entries), and the worker applies it.
    for (const id of [due.id, working.id, sub.id]) expect((await get(id)).status).toBe("OVERDUE");
    expect((await get(due.id)).updatedAt).toBe(iso(sweptAt));
    for (const id of [later.id, noDue.id]) expect((await get(id)).status).toBe("PENDING");
    expect((await get(finished.id)).status).toBe("DONE");
    await applied("the overdue statuses", () => table("SELECT count(*) AS n FROM todo_tasks WHERE project_id = ? AND status = 'OVERDUE'", p) === 3);
    // The list (cache-aside) shows it: the write invalidated it like any user write.
    const list = await json<{ items: TaskBody[] }>(await req("GET", `/projects/${p}/tasks`), 200);
    expect(list.items.filter((x) => x.status === "OVERDUE").map((x) => x.id).sort()).toEqual([due.id, working.id].sort());

    // The event, written with the change: one per task, with the due time and the sweep's time.
    await applied("the events", () => overdueEvents(due.id).length === 1 && overdueEvents(sub.id).length === 1);
    expect(overdueEvents(due.id)).toEqual([
      { taskId: due.id, projectId: p, parentId: null, userId: u.user.id, title: "T", dueAt: due.dueAt!, overdueAt: iso(sweptAt) },
    ]);
    expect(overdueEvents(sub.id)[0]).toMatchObject({ parentId: due.id, dueAt: sub.dueAt, overdueAt: iso(subSweptAt) });

    // Sweeping again changes nothing and emits nothing more.
    clock.advance(minute);
    expect(await todos.overdue.sweep()).toBe(0);
    for (const id of [due.id, working.id, sub.id]) expect(overdueEvents(id)).toHaveLength(1);
    expect(overdueEvents(later.id)).toHaveLength(0);
  });

  test("an OVERDUE task can be completed, failed, or rescheduled back to PENDING by a new due time", async () => {
    const p = await project();
    const dueAt = iso(clock.now() + 10 * minute);
    const [a, b, c, d] = [await task(p, { dueAt }), await task(p, { dueAt }), await task(p, { dueAt }), await task(p, { dueAt })];
    await applied("the tasks", () => table("SELECT count(*) AS n FROM todo_tasks WHERE project_id = ?", p) === 4);
    clock.advance(11 * minute);
    expect(await todos.overdue.sweep()).toBe(4);
    await applied("overdue", () => table("SELECT count(*) AS n FROM todo_tasks WHERE project_id = ? AND status = 'OVERDUE'", p) === 4);

    const done = await json(await req("PUT", `/tasks/${a.id}/status`, { status: "DONE" }), changed);
    expect(done).toMatchObject({ status: "DONE", completedAt: iso(clock.now()) });
    expect((await json(await req("PUT", `/tasks/${b.id}/status`, { status: "FAIL", reason: "no_time" }), changed)).status).toBe("FAIL");
    // A due time still in the past keeps it OVERDUE; one after now (or none) reopens it.
    expect((await json(await req("PATCH", `/tasks/${c.id}`, { dueAt: iso(clock.now() - minute) }), changed)).status).toBe("OVERDUE");
    const moved = await json(await req("PATCH", `/tasks/${c.id}`, { dueAt: iso(clock.now() + 60 * minute) }), changed);
    expect(moved).toMatchObject({ status: "PENDING", dueAt: iso(clock.now() + 60 * minute) });
    expect((await json(await req("PATCH", `/tasks/${d.id}`, { dueAt: null }), changed)).status).toBe("PENDING");
    // The client cannot set OVERDUE (or DELETED) itself.
    for (const status of ["OVERDUE", "DELETED"]) expect(await problem(await req("PUT", `/tasks/${d.id}/status`, { status }), 422)).toBe("validation_failed");

    // The rescheduled one is overdue again once its new due time passes.
    await applied("the reschedule", () => table("SELECT count(*) AS n FROM todo_tasks WHERE id = ? AND status = 'PENDING'", c.id) === 1);
    clock.advance(61 * minute);
    await todos.overdue.sweep();
    expect((await get(c.id)).status).toBe("OVERDUE");
    await applied("the second event", () => overdueEvents(c.id).length === 2);
  });

  test("a user's change between the sweep's scan and its write wins: the conditional command leaves the task alone", async () => {
    const p = await project();
    const x = await task(p, { dueAt: iso(clock.now() + minute) });
    await applied("the task", () => table("SELECT count(*) AS n FROM todo_tasks WHERE id = ?", x.id) === 1);
    clock.advance(2 * minute);
    // The user completes it; the job writes the overdue command the scan would have produced.
    await json(await req("PUT", `/tasks/${x.id}/status`, { status: "DONE" }), changed);
    expect(await todos.tasks.markOverdue(clock.now(), [{ taskId: x.id, userId: u.user.id }])).toBe(1);
    expect((await get(x.id)).status).toBe("DONE");
    // A later write applied means the overdue command before it was applied too (one sequence).
    await json(await req("PATCH", `/tasks/${x.id}`, { title: "after" }), changed);
    await applied("the worker", () => table("SELECT count(*) AS n FROM todo_tasks WHERE id = ? AND status = 'DONE' AND title = 'after'", x.id) === 1);
    expect((await get(x.id)).status).toBe("DONE");
    expect(overdueEvents(x.id)).toHaveLength(0);
  });

  test("a deleted task reads as DELETED, never changes again (409 task_deleted), and deleting again answers 204", async () => {
    const p = await project();
    const parent = await task(p, { dueAt: iso(clock.now() + minute) });
    const keep = await task(p);
    const child = await json(await req("POST", `/tasks/${parent.id}/subtasks`, { id: Bun.randomUUIDv7(), title: "S" }), created);
    const removed = await req("DELETE", `/tasks/${parent.id}`);
    expect(removed.status).toBe(async ? 202 : 204);
    const deletedAt = iso(clock.now());

    // It reads, with its content, as DELETED; its subtask too.
    expect(await get(parent.id)).toMatchObject({ id: parent.id, title: "T", status: "DELETED", updatedAt: deletedAt, subtasks: [] });
    expect((await get(parent.id, "?includeDeleted=true")).subtasks!.map((s) => [s.id, s.status])).toEqual([[child.id, "DELETED"]]);
    expect((await get(child.id)).status).toBe("DELETED");

    // Lists leave it out unless asked.
    const list = (q = "") => req("GET", `/projects/${p}/tasks${q}`).then((r) => json<{ items: TaskBody[] }>(r, 200));
    expect((await list()).items.map((x) => x.id)).toEqual([keep.id]);
    expect((await list("?includeDeleted=true")).items.map((x) => [x.id, x.status])).toEqual([
      [parent.id, "DELETED"],
      [keep.id, "PENDING"],
    ]);
    expect((await json<{ items: TaskBody[] }>(await req("GET", `/tasks/${parent.id}/subtasks`), 200)).items).toEqual([]);

    // Every write is refused with 409 task_deleted, the task unchanged.
    for (const [method, path, body] of [
      ["PATCH", `/tasks/${parent.id}`, { title: "again" }],
      ["PUT", `/tasks/${parent.id}/status`, { status: "DONE" }],
      ["PUT", `/tasks/${child.id}/status`, { status: "FAIL", reason: "other" }],
      ["POST", `/tasks/${parent.id}/subtasks`, { id: Bun.randomUUIDv7(), title: "more" }],
    ] as const) {
      expect({ method, path, code: await problem(await req(method, path, body), 409) }).toEqual({ method, path, code: "task_deleted" });
    }
    // Deleting it again, or its subtask, is done already: 204 in both write modes.
    for (const id of [parent.id, child.id, parent.id]) expect((await req("DELETE", `/tasks/${id}`)).status).toBe(204);
    // The reorder takes the live tasks only.
    expect((await json<{ items: TaskBody[] }>(await req("PUT", `/projects/${p}/tasks/order`, { taskIds: [keep.id] }), changed)).items.map((x) => x.id)).toEqual([keep.id]);

    // Applied: the rows stay, DELETED; the overdue job passes them by.
    await applied("the deletion", () => table("SELECT count(*) AS n FROM todo_tasks WHERE project_id = ? AND status = 'DELETED'", p) === 2);
    clock.advance(2 * minute);
    await todos.overdue.sweep();
    expect(await get(parent.id)).toMatchObject({ status: "DELETED", updatedAt: deletedAt, title: "T" });
    expect(overdueEvents(parent.id)).toHaveLength(0);

    // Another user still gets 404, also for the repeated DELETE.
    const other = await signupAndLogin(t, "status");
    expect((await t.request("DELETE", `/tasks/${parent.id}`, { token: other.tokens.accessToken })).status).toBe(404);
    expect((await t.request("GET", `/tasks/${parent.id}`, { token: other.tokens.accessToken })).status).toBe(404);
    // With its project deleted, the task is gone: 404, and DELETE stays 204.
    expect((await req("DELETE", `/projects/${p}`)).status).toBe(async ? 202 : 204);
    expect((await req("GET", `/tasks/${keep.id}`)).status).toBe(404);
    expect(await problem(await req("PATCH", `/tasks/${keep.id}`, { title: "x" }), 404)).toBe("task_not_found");
    expect((await req("DELETE", `/tasks/${keep.id}`)).status).toBe(204);
    expect((await req("DELETE", `/projects/${p}`)).status).toBe(204);
  });

  test("started like a worker role, the job sweeps at once; one sweep at a time; stopped, it sweeps no more", async () => {
    const p = await project();
    const x = await task(p, { dueAt: iso(clock.now() + minute) });
    await applied("the task", () => table("SELECT count(*) AS n FROM todo_tasks WHERE id = ?", x.id) === 1);
    clock.advance(2 * minute);
    // Two sweeps at once: the lock lets one through, the other skips its turn.
    const both = await Promise.all([todos.overdue.sweep(), todos.overdue.sweep()]);
    expect(both.sort()).toEqual([0, 1]);
    expect((await get(x.id)).status).toBe("OVERDUE");

    const y = await task(p, { dueAt: iso(clock.now() + minute) });
    await applied("the second task", () => table("SELECT count(*) AS n FROM todo_tasks WHERE id = ?", y.id) === 1);
    clock.advance(2 * minute);
    todos.overdue.start();
    await applied("the sweep at start", () => table("SELECT count(*) AS n FROM todo_tasks WHERE id = ? AND status = 'OVERDUE'", y.id) === 1);
    await todos.overdue.stop();
    const z = await task(p, { dueAt: iso(clock.now() + minute) });
    clock.advance(2 * minute);
    todos.overdue.start(); // stopped for good: no more sweeps
    expect(await todos.overdue.sweep()).toBe(0);
    expect((await get(z.id)).status).toBe("PENDING");
  });

  test("POST /tasks/:id/analysis: category and recommendations from the task, its reason and the history; the re-plan follows it", async () => {
    const p = await project();
    // Three finished tasks that took longer than estimated: the user's estimates run short.
    for (const [est, act] of [
      [30, 40],
      [30, 45],
      [20, 30],
    ] as const) {
      const x = await task(p, { estimateMinutes: est, category: "home" });
      await json(await req("PUT", `/tasks/${x.id}/status`, { status: "DONE", actualMinutes: act }), changed);
    }
    const late = await task(p, { estimateMinutes: 60, category: "home" });
    await json(await req("PUT", `/tasks/${late.id}/status`, { status: "FAIL", reason: "no_time", actualMinutes: 60 }), changed);
    const unclear = await task(p, { estimateMinutes: 60, category: "home" });
    await json(await req("PUT", `/tasks/${unclear.id}/status`, { status: "FAIL", reason: "unclear" }), changed);

    type Analysis = { taskId: string; category: string; recommendations: string[]; basis: { overrunRatio: number | null; overrunSampleSize: number } };
    const analysis = (id: string) => req("POST", `/tasks/${id}/analysis`).then((r) => json<Analysis>(r, 200));
    const a = await analysis(late.id);
    // ratios 40/30 = 1.333, 45/30 = 1.5, 30/20 = 1.5, 60/60 = 1 → median (1.333 + 1.5) / 2 → 1.42 ≥ 1.25
    expect(a).toMatchObject({ taskId: late.id, category: "estimation", basis: { overrunRatio: 1.42, overrunSampleSize: 4 } });
    expect(a.recommendations[0]).toBe("Plan 1.42× your first estimate: your tasks usually take 1.42× the time you estimated.");
    expect(await analysis(late.id)).toEqual(a); // deterministic
    expect((await analysis(unclear.id)).category).toBe("clarity");

    // The re-plan carries the analysis and is shaped by it: a first step only for clarity.
    type Plan = { analysis: { category: string }; subtasks: Array<{ title: string }> };
    const plan = (id: string) => req("POST", `/tasks/${id}/replan`).then((r) => json<Plan>(r, 200));
    const [forLate, forUnclear] = [await plan(late.id), await plan(unclear.id)];
    expect(forLate.analysis.category).toBe("estimation");
    expect(forUnclear.analysis.category).toBe("clarity");
    expect(forUnclear.subtasks[0]!.title).toBe('Decide what "done" means for: T');
    expect(forLate.subtasks.every((s) => s.title.startsWith("T (part "))).toBe(true);

    // Only a failed task is analyzed; unknown and other users' tasks are 404.
    const open = await task(p);
    expect(await problem(await req("POST", `/tasks/${open.id}/analysis`), 409)).toBe("task_not_failed");
    expect(await problem(await req("POST", `/tasks/${Bun.randomUUIDv7()}/analysis`), 404)).toBe("task_not_found");
    expect(await problem(await req("POST", `/tasks/${late.id}/analysis?tz=Mars/Olympus`), 422)).toBe("invalid_time_zone");
    const other = await signupAndLogin(t, "status");
    expect((await t.request("POST", `/tasks/${late.id}/analysis`, { token: other.tokens.accessToken })).status).toBe(404);
    expect((await t.request("POST", `/tasks/${late.id}/analysis`)).status).toBe(401);
  });
});
