// The write-behind consumer takes only batches that match the command schema (commands.ts):
// the bus checks each todos.write.requested payload before apply, so a malformed one (a bug in
// a producer) is dead-lettered on its first delivery, naming the command, and none of its
// commands is applied, not even the valid ones beside it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { metric } from "../../platform/events/testing";
import { createTestApp, signupAndLogin, type TestApp } from "../../testing/app";
import { modes } from "../../testing/modes";
import { waitFor } from "../../testing/wait";
import { todoEvents } from "./events";

describe.each(modes)("todos.write.requested payloads are validated before apply (%s)", (mode) => {
  let t: TestApp;

  beforeAll(async () => {
    // Retries allowed and fast: a dead letter after one attempt is the validation, not the retry budget.
    t = await createTestApp(mode, { HOMEBASE_TODOS_WRITE_MODE: "async", HOMEBASE_EVENT_RETRY_MS: "20", HOMEBASE_EVENT_MAX_DELIVER: "5" });
  });
  afterAll(() => t.close());

  const count = (sql: string, ...params: string[]) => t.platform.db.query<{ n: number }, string[]>(sql).get(...params)!.n;
  /** A producer on the raw string API, which nothing checks until the consumer. */
  const emitRaw = (payload: unknown) => t.platform.writer.write(() => t.platform.events.emit(`${todoEvents.writeRequested}`, payload));
  const writerMetric = (name: "consumerDeliveries" | "consumerRedeliveries", outcome?: string) =>
    metric(t.platform.metrics, name, outcome ? { consumer: "todos-writer", outcome } : { consumer: "todos-writer" });

  test("an invalid batch is dead-lettered on the first attempt, naming the command, and applies nothing", async () => {
    const u = await signupAndLogin(t, "badbatch");
    const projectId = Bun.randomUUIDv7();
    const req = (method: string, path: string, body?: unknown) => t.request(method, path, { token: u.tokens.accessToken, body });
    expect((await req("POST", "/projects", { id: projectId, title: "P" })).status).toBe(202);
    await waitFor(() => count("SELECT count(*) AS n FROM todo_projects WHERE id = ?", projectId) === 1, { what: "the project applied" });
    const [failedBefore, redeliveredBefore] = [
      await writerMetric("consumerDeliveries", "failed"),
      await writerMetric("consumerRedeliveries"),
    ];

    const base = { seq: 1_000_000_000, userId: u.user.id, at: t.platform.clock.now() };
    // The first command of each batch is valid: it would be applied if the batch got through.
    const validTask = (id: string) => ({
      ...base,
      kind: "task.create",
      task: {
        id,
        projectId,
        parentId: null,
        title: "valid",
        description: null,
        category: null,
        estimateMinutes: null,
        dueAt: null,
        replanOf: null,
      },
    });
    const [taskA, taskB] = [Bun.randomUUIDv7(), Bun.randomUUIDv7()];
    const numberTitled = validTask(Bun.randomUUIDv7());
    const titleIsANumber = await emitRaw({ commands: [validTask(taskA), { ...numberTitled, task: { ...numberTitled.task, title: 42 } }] });
    const { kind: _kind, ...withoutKind } = validTask(Bun.randomUUIDv7());
    const missingKind = await emitRaw({ commands: [validTask(taskB), withoutKind] });

    await waitFor(() => count("SELECT count(*) AS n FROM dead_letters WHERE consumer = ?", "todos-writer") === 2, {
      what: "both batches dead-lettered",
    });
    const letter = (eventId: string) =>
      t.platform.db
        .query<{ subject: string; error: string; attempts: number }, [string]>(
          "SELECT subject, error, attempts FROM dead_letters WHERE consumer = 'todos-writer' AND event_id = ?",
        )
        .get(eventId);
    for (const [eventId, field] of [
      [titleIsANumber, "/commands/1/task/title: expected a string"],
      [missingKind, "/commands/1/kind: missing"],
    ] as const) {
      const { subject, error, attempts } = letter(eventId)!;
      expect({ subject, attempts }).toEqual({ subject: todoEvents.writeRequested, attempts: 1 });
      // The reason names the payload's contract and the offending field of the second command:
      // the bus looks inside the variant its `kind` names.
      expect(error).toStartWith(`invalid payload for homebase.todos.write.requested: ${field}`);
    }

    expect(await writerMetric("consumerDeliveries", "invalid")).toBe(2);
    expect(await writerMetric("consumerDeliveries", "failed")).toBe(failedBefore);
    expect(await writerMetric("consumerRedeliveries")).toBe(redeliveredBefore);

    // The consumer is not stuck: a real write after them is applied; the bad batches' valid commands never were.
    const later = Bun.randomUUIDv7();
    expect((await req("POST", `/projects/${projectId}/tasks`, { id: later, title: "after" })).status).toBe(202);
    await waitFor(() => count("SELECT count(*) AS n FROM todo_tasks WHERE id = ?", later) === 1, { what: "the later write applied" });
    expect(count("SELECT count(*) AS n FROM todo_tasks WHERE project_id = ?", projectId)).toBe(1);
    expect(count("SELECT count(*) AS n FROM todo_tasks WHERE id IN (?, ?)", taskA, taskB)).toBe(0);
  });
});
