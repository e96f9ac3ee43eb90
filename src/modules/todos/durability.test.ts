// Nothing acknowledged is lost when the process is killed: the real process, SIGKILL in the
// middle of concurrent writes, restart on the same data, every acknowledged write is there.
// Async mode is the interesting one (202 before the tables are written): once with the worker
// in the same process (`all`, it is applying while killed), once with the API alone (`serve`,
// so everything acknowledged is still in the outbox at the kill); direct mode for contrast.
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { newUser } from "../../testing/app";
import { startServer } from "../../testing/process";
import { waitFor } from "../../testing/wait";

const json = { "content-type": "application/json" };

const cases = [
  ["async", "all"],
  ["async", "serve"],
  ["direct", "all"],
] as const;

// Concurrently: each test is a separate process pair on its own data dir and port.
describe.concurrent.each(cases)("SIGKILL during concurrent todo writes (%s mode, role %s)", (writeMode, role) => {
  test("every acknowledged create and status change is there after restart", { timeout: 30_000 }, async () => {
    const env = { HOMEBASE_TODOS_WRITE_MODE: writeMode, HOMEBASE_LOG_LEVEL: "warn" };
    const server = await startServer(env, { args: [role] });
    const user = newUser("kill");
    await fetch(`${server.url}/auth/signup`, { method: "POST", headers: json, body: JSON.stringify(user) });
    const { accessToken } = (await (
      await fetch(`${server.url}/auth/login`, { method: "POST", headers: json, body: JSON.stringify({ email: user.email, password: user.password }) })
    ).json()) as { accessToken: string };
    const headers = { ...json, authorization: `Bearer ${accessToken}` };
    const projectId = Bun.randomUUIDv7();
    const project = await fetch(`${server.url}/projects`, { method: "POST", headers, body: JSON.stringify({ id: projectId, title: "under load" }) });
    expect(project.status).toBe(writeMode === "async" ? 202 : 201);

    const ok = writeMode === "async" ? [202] : [200, 201];
    const created: string[] = [];
    const done: string[] = [];
    let stop = false;
    const worker = async () => {
      while (!stop) {
        try {
          const id = Bun.randomUUIDv7();
          const res = await fetch(`${server.url}/projects/${projectId}/tasks`, { method: "POST", headers, body: JSON.stringify({ id, title: `t ${id.slice(-6)}` }) });
          if (!ok.includes(res.status)) continue;
          created.push(id);
          const status = await fetch(`${server.url}/tasks/${id}/status`, { method: "PUT", headers, body: JSON.stringify({ status: "DONE", actualMinutes: 5 }) });
          if (ok.includes(status.status)) done.push(id);
        } catch {
          // The connection died with the process: not acknowledged, so nothing is owed.
        }
      }
    };
    const workers = Array.from({ length: 16 }, worker);
    while (done.length < 100) await Bun.sleep(5);
    server.proc.kill("SIGKILL");
    await server.proc.exited;
    stop = true;
    await Promise.all(workers);

    if (role === "serve") {
      // No worker ran: every acknowledged write was still only in the outbox when killed.
      const db = new Database(join(server.dataDir, "homebase.sqlite"), { readonly: true });
      expect(db.query<{ n: number }, []>("SELECT count(*) AS n FROM todo_tasks").get()!.n).toBe(0);
      expect(db.query<{ n: number }, []>("SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL").get()!.n).toBeGreaterThan(0);
      db.close();
    }
    const restarted = await startServer(env, { dataDir: server.dataDir, args: ["all"] });
    try {
      // Async: the worker applies what was still in the outbox; the tables end up complete.
      const db = new Database(join(server.dataDir, "homebase.sqlite"), { readonly: true });
      const rows = () => new Map(db.query<{ id: string; status: string }, [string]>("SELECT id, status FROM todo_tasks WHERE project_id = ?").all(projectId).map((r) => [r.id, r.status]));
      await waitFor(() => created.every((id) => rows().has(id)) && done.every((id) => rows().get(id) === "DONE"), {
        what: "every acknowledged write in the tables",
        timeoutMs: 10_000,
      }).catch(() => undefined);
      const present = rows();
      db.close();
      expect(created.length).toBeGreaterThanOrEqual(100);
      expect(created.filter((id) => !present.has(id))).toEqual([]);
      expect(done.filter((id) => present.get(id) !== "DONE")).toEqual([]);
      // And the restarted server serves them.
      const list = (await (await fetch(`${restarted.url}/projects/${projectId}/tasks`, { headers })).json()) as { items: Array<{ id: string; status: string }> };
      const served = new Map(list.items.map((t) => [t.id, t.status]));
      expect(created.filter((id) => !served.has(id))).toEqual([]);
      expect(done.filter((id) => served.get(id) !== "DONE")).toEqual([]);
    } finally {
      await restarted.stop();
      rmSync(server.dataDir, { recursive: true, force: true });
    }
  });
});
