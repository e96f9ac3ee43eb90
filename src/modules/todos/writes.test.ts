// The write-behind consumer's clean-up (cache invalidation, then removal of the pending entries)
// belongs to its own transaction: it runs once that transaction committed, and never for one
// that rolled back, whatever else commits in the meantime. Here the consumer's COMMIT fails
// (a deferred foreign key, which SQLite checks only at COMMIT) until the test lets it through.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestApp, signupAndLogin, type TestApp } from "../../testing/app";
import { modes } from "../../testing/modes";
import { waitFor } from "../../testing/wait";
import { projectCacheKey } from "./writes";

describe.each(modes)("write-behind clean-up follows the consumer's own commit (%s)", (mode) => {
  let t: TestApp;

  beforeAll(async () => {
    // Fast retries, and enough of them that the event is not dead-lettered while COMMIT fails.
    t = await createTestApp(mode, { HOMEBASE_TODOS_WRITE_MODE: "async", HOMEBASE_EVENT_RETRY_MS: "20", HOMEBASE_EVENT_MAX_DELIVER: "100" });
  });
  afterAll(() => t.close());

  /** Every transaction that records a todos-writer delivery fails at COMMIT, until stopped. */
  function failTodosWriterCommits(): () => void {
    t.platform.db.exec(`
      CREATE TEMP TABLE commit_guard_parent (id INTEGER PRIMARY KEY);
      CREATE TEMP TABLE commit_guard (parent INTEGER REFERENCES commit_guard_parent (id) DEFERRABLE INITIALLY DEFERRED);
      CREATE TEMP TRIGGER fail_todos_writer_commit AFTER INSERT ON main.processed_events WHEN NEW.consumer = 'todos-writer'
      BEGIN INSERT INTO commit_guard (parent) VALUES (1); END;
    `);
    return () => t.platform.db.exec("DROP TRIGGER temp.fail_todos_writer_commit");
  }

  async function failedDeliveries(): Promise<number> {
    const { values } = await t.platform.metrics.consumerDeliveries.get();
    return values.find((v) => v.labels.consumer === "todos-writer" && v.labels.outcome === "failed")?.value ?? 0;
  }

  /** A commit that has nothing to do with todos (retried if it shared a failing batch). */
  async function unrelatedCommit(): Promise<void> {
    await waitFor(() =>
      t.platform.writer.write(() => t.platform.db.run("UPDATE module_migrations SET applied_at = applied_at WHERE module = 'todos'")).then(
        () => true,
        () => false,
      ),
    );
  }

  test("a consumer transaction that fails at COMMIT bumps no cache generation and removes no pending entry, not even on later commits", async () => {
    const u = await signupAndLogin(t, "commit");
    const projectId = Bun.randomUUIDv7();
    const req = (method: string, path: string, body?: unknown) => t.request(method, path, { token: u.tokens.accessToken, body });
    const rows = (sql: string, id: string) => t.platform.db.query<{ n: number }, [string]>(sql).get(id)!.n;
    const generation = () => t.platform.cache.generation(projectCacheKey(projectId));
    const listed = async () => ((await (await req("GET", `/projects/${projectId}/tasks`)).json()) as { items: Array<{ id: string }> }).items.map((x) => x.id);

    expect((await req("POST", "/projects", { id: projectId, title: "P" })).status).toBe(202);
    await waitFor(async () => rows("SELECT count(*) AS n FROM todo_projects WHERE id = ?", projectId) === 1 && (await generation()) > 0, {
      what: "the project applied and its list invalidated",
    });
    const before = await generation();
    const failedBefore = await failedDeliveries();

    const stopFailing = failTodosWriterCommits();
    const taskId = Bun.randomUUIDv7();
    try {
      expect((await req("POST", `/projects/${projectId}/tasks`, { id: taskId, title: "never applied yet" })).status).toBe(202);
      await waitFor(async () => (await failedDeliveries()) >= failedBefore + 3, { what: "three failed commits of the consumer" });
      await unrelatedCommit();
      await unrelatedCommit();

      expect(rows("SELECT count(*) AS n FROM todo_tasks WHERE id = ?", taskId)).toBe(0);
      expect(await generation()).toBe(before);
      // Its pending entry is still there: the client still reads the write it got a 202 for.
      expect(await listed()).toEqual([taskId]);
    } finally {
      stopFailing();
    }

    // Let the retry commit: now its clean-up runs, and the list shows the applied task.
    await waitFor(() => rows("SELECT count(*) AS n FROM todo_tasks WHERE id = ?", taskId) === 1, { what: "the retried batch applied" });
    await waitFor(async () => (await generation()) > before, { what: "the invalidation after the commit" });
    expect(await listed()).toEqual([taskId]);
  });
});

describe.each(modes)("cache invalidation of a group commit (%s)", (mode) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(mode, { HOMEBASE_TODOS_WRITE_MODE: "direct" });
  });
  afterAll(() => t.close());

  test("concurrent creates in one project share bumps of its list's generation, and each answer is followed by a fresh list", async () => {
    const { tokens } = await signupAndLogin(t, "bumps");
    const token = tokens.accessToken;
    const projectId = Bun.randomUUIDv7();
    expect((await t.request("POST", "/projects", { token, body: { id: projectId, title: "bumps" } })).status).toBe(201);
    // Cached before the writes: each create must invalidate it before it is answered.
    expect(((await (await t.request("GET", `/projects/${projectId}/tasks`, { token })).json()) as { items: unknown[] }).items).toEqual([]);
    const before = await t.platform.cache.generation(projectCacheKey(projectId));
    const ids = Array.from({ length: 40 }, () => Bun.randomUUIDv7());
    const seen = await Promise.all(
      ids.map(async (id) => {
        const created = await t.request("POST", `/projects/${projectId}/tasks`, { token, body: { id, title: `t ${id.slice(-4)}` } });
        expect(created.status).toBe(201);
        const list = (await (await t.request("GET", `/projects/${projectId}/tasks`, { token })).json()) as { items: Array<{ id: string }> };
        return list.items.some((task) => task.id === id);
      }),
    );
    expect(seen.every(Boolean)).toBe(true);
    const bumps = (await t.platform.cache.generation(projectCacheKey(projectId))) - before;
    expect(bumps).toBeGreaterThanOrEqual(1);
    expect(bumps).toBeLessThan(ids.length);
  });
});
