// Scenario 2, todos (the reference: k6, 500 virtual users; read 3,680 RPS p95 141 ms, write
// 916 RPS p95 126 ms): GET /projects/:id/tasks (20 tasks, cache-aside), and POST
// /projects/:id/tasks in direct mode (201 after the group commit) and async mode (202 after the
// outbox commit; the worker applies behind it) — 500 connections each, beside the ceiling.
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { newUser } from "../../src/testing/app";
import type { RunningServer } from "../../src/testing/process";
import { waitFor } from "../../src/testing/wait";
import { runLoad, startCeiling, startHomebase, type LoadResult, type Scenario } from "../lib";

const json = { "content-type": "application/json" };

async function setup(server: RunningServer, tasks: number) {
  const user = newUser("bench");
  await fetch(`${server.url}/auth/signup`, { method: "POST", headers: json, body: JSON.stringify(user) });
  const login = (await (await fetch(`${server.url}/auth/login`, { method: "POST", headers: json, body: JSON.stringify({ email: user.email, password: user.password }) })).json()) as { accessToken: string };
  const headers = { ...json, authorization: `Bearer ${login.accessToken}` };
  const projectId = Bun.randomUUIDv7();
  await fetch(`${server.url}/projects`, { method: "POST", headers, body: JSON.stringify({ id: projectId, title: "bench" }) });
  for (let i = 0; i < tasks; i++) {
    await fetch(`${server.url}/projects/${projectId}/tasks`, {
      method: "POST",
      headers,
      body: JSON.stringify({ id: Bun.randomUUIDv7(), title: `Task ${i}`, category: "work", estimateMinutes: 30 }),
    });
  }
  return { headers, projectId };
}

/** One distinct create body per line, more than a run can send, so ids rarely repeat (a repeat is a 200 replay). */
function bodies(file: string, count: number): string {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) lines.push(JSON.stringify({ id: Bun.randomUUIDv7(), title: `Load ${i}`, category: "work", estimateMinutes: 25 }));
  writeFileSync(file, lines.join("\n") + "\n");
  return file;
}

function countTasks(server: RunningServer, projectId: string): number {
  const db = new Database(join(server.dataDir, "homebase.sqlite"), { readonly: true });
  try {
    return db.query<{ n: number }, [string]>("SELECT count(*) AS n FROM todo_tasks WHERE project_id = ?").get(projectId)!.n;
  } finally {
    db.close();
  }
}

export const todos: Scenario = {
  name: "todos",
  title: "todos: task list read; create direct vs async at 500 connections",
  async run(ctx) {
    const work = mkdtempSync(join(tmpdir(), "homebase-bench-todos-"));
    ctx.cleanup.push(() => rmSync(work, { recursive: true, force: true }));
    const connections = ctx.quick ? 100 : 500;
    const lines = Math.min(600_000, 60_000 * ctx.seconds);
    const results: LoadResult[] = [];

    const direct = await startHomebase(ctx, { HOMEBASE_TODOS_WRITE_MODE: "direct" });
    const read = await setup(direct, 20);
    const listUrl = `${direct.url}/projects/${read.projectId}/tasks`;
    const listBytes = (await (await fetch(listUrl, { headers: read.headers })).text()).length;
    const ceiling = await startCeiling(ctx, listBytes);
    results.push({ ...(await runLoad(ctx, `ceiling: Bun.serve, ${listBytes} B JSON`, { url: ceiling, connections, seconds: ctx.seconds })), isCeiling: true });
    results.push(await runLoad(ctx, "GET /projects/:id/tasks (20 tasks)", { url: listUrl, headers: read.headers, connections, seconds: ctx.seconds }));
    const write = await setup(direct, 0);
    const d = await runLoad(ctx, "POST task, direct (201)", {
      url: `${direct.url}/projects/${write.projectId}/tasks`,
      method: "POST",
      headers: write.headers,
      bodyLinesFile: bodies(join(work, "direct.jsonl"), lines),
      connections,
      seconds: ctx.seconds,
    });
    results.push({ ...d, extra: { "rows after": countTasks(direct, write.projectId) } });
    await direct.stop();

    const async = await startHomebase(ctx, { HOMEBASE_TODOS_WRITE_MODE: "async" });
    const target = await setup(async, 0);
    const a = await runLoad(ctx, "POST task, async (202)", {
      url: `${async.url}/projects/${target.projectId}/tasks`,
      method: "POST",
      headers: target.headers,
      bodyLinesFile: bodies(join(work, "async.jsonl"), lines),
      connections,
      seconds: ctx.seconds,
    });
    const ended = performance.now();
    const db = new Database(join(async.dataDir, "homebase.sqlite"), { readonly: true });
    const unsent = db.query<{ n: number }, []>("SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL");
    await waitFor(() => unsent.get()!.n === 0, { what: "the write-behind worker to drain", timeoutMs: 120_000, intervalMs: 20 });
    db.close();
    results.push({ ...a, extra: { "rows after": countTasks(async, target.projectId), "drain ms": Math.round(performance.now() - ended) } });
    return results;
  },
};
