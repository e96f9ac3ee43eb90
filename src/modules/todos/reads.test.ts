// A read in async write mode replays the user's pending commands on what is applied; a pending
// create of an id the registry marks gone for good (its project deleted) must not come back.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createLogger } from "../../platform/logger";
import { createTestApp, type TestApp } from "../../testing/app";
import type { Command } from "./commands";
import { createPendingStore, type PendingStore } from "./pending";
import { Reads } from "./reads";
import { SqliteTodosStore } from "./store.sqlite";
import { WritePipeline } from "./writes";

const userId = "01936f3e-0000-7000-8000-0000000000aa";
const goneProject = "01936f3e-0000-7000-8000-000000000001";
const liveProject = "01936f3e-0000-7000-8000-000000000002";
const goneTask = "01936f3e-0000-7000-8000-000000000011";
const liveTask = "01936f3e-0000-7000-8000-000000000012";

describe("reads in async mode: pending creates against the registry", () => {
  let t: TestApp;
  let pending: PendingStore;
  let reads: Reads;

  beforeAll(async () => {
    t = await createTestApp("embedded");
    const { db, writer, events, cache, clock } = t.platform;
    const store = new SqliteTodosStore(db, writer, events);
    pending = createPendingStore(null, createLogger("silent"), clock);
    reads = new Reads(store, pending, cache, new WritePipeline(store, cache, pending, clock, "async"), 30_000);
    const register = db.query(
      "INSERT INTO todo_ids (id, kind, user_id, project_id, parent_id, body_hash, seq, created_at, deleted_at) VALUES (?, ?, ?, ?, NULL, 'h', ?, 1, ?)",
    );
    // Accepted, then deleted with its project before the worker applied any of it.
    register.run(goneProject, "project", userId, null, 1, 5);
    register.run(goneTask, "task", userId, goneProject, 2, 5);
    register.run(liveProject, "project", userId, null, 3, null);
    register.run(liveTask, "task", userId, liveProject, 4, null);
    const create = (id: string, projectId: string, seq: number): Command => ({
      kind: "task.create",
      seq,
      userId,
      at: 1,
      task: { id, projectId, parentId: null, replanOf: null, title: `t${seq}`, description: null, category: null, estimateMinutes: null, dueAt: null },
    });
    // Many pending commands, as while the worker is behind: only the read one's id is looked up.
    const others = Array.from({ length: 200 }, (_, i) => create(`01936f3e-0000-7000-8000-${String(1000 + i).padStart(12, "0")}`, liveProject, 10 + i));
    await pending.add([create(goneTask, goneProject, 2), create(liveTask, liveProject, 4), ...others]);
  });
  afterAll(async () => {
    pending.close();
    await t.close();
  });

  test("a pending create gone for good is not read back; a live one is", async () => {
    expect(await reads.taskRows(userId, goneTask)).toBeNull();
    const live = await reads.taskRows(userId, liveTask);
    expect(live?.task).toMatchObject({ id: liveTask, project_id: liveProject, status: "PENDING" });
    expect(live?.children).toEqual([]);
  });
});
