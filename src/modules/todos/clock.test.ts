// Todos take "now" from the platform's clock: a test sets and advances a ManualClock and every
// timestamp, status time and re-plan slot follows it exactly, in both write modes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ManualClock } from "../../platform/clock";
import { createTestApp, signupAndLogin, type TestApp } from "../../testing/app";
import { modes } from "../../testing/modes";
import { MemoryPendingStore } from "./pending";

const start = Date.parse("2026-11-23T08:00:00.000Z"); // a Monday
const iso = (ms: number) => new Date(ms).toISOString();
const cases = modes.flatMap((mode) => (["direct", "async"] as const).map((w) => [mode, w] as const));

describe.each(cases)("todos on a manual clock (%s, %s writes)", (mode, writeMode) => {
  const clock = new ManualClock(start);
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp(mode, { HOMEBASE_TODOS_WRITE_MODE: writeMode }, undefined, undefined, { clock });
  });
  afterAll(() => t.close());

  test("timestamps, completedAt, the failure time and the re-plan's slots are the clock's", async () => {
    const u = await signupAndLogin(t, "clock");
    let token = u.tokens.accessToken;
    /** Moves the clock, and logs in again: access tokens expire by the same clock. */
    const advance = async (ms: number) => {
      clock.advance(ms);
      const login = await t.request("POST", "/auth/login", { body: { email: u.email, password: u.password } });
      token = ((await login.json()) as { accessToken: string }).accessToken;
    };
    const req = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
      const res = await t.request(method, path, { token, body });
      if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    };
    type Task = { id: string; createdAt: string; updatedAt: string; completedAt: string | null; failure: { failedAt: string } | null };

    const projectId = Bun.randomUUIDv7();
    expect(await req("POST", "/projects", { id: projectId, title: "P" })).toMatchObject({ createdAt: iso(start), updatedAt: iso(start) });
    await advance(60_000);
    const done = await req<Task>("POST", `/projects/${projectId}/tasks`, { id: Bun.randomUUIDv7(), title: "done" });
    expect(done.createdAt).toBe(iso(start + 60_000));
    await advance(30 * 60_000);
    expect(await req<Task>("PUT", `/tasks/${done.id}/status`, { status: "DONE" })).toMatchObject({
      createdAt: iso(start + 60_000),
      updatedAt: iso(start + 31 * 60_000),
      completedAt: iso(start + 31 * 60_000),
    });

    const failing = await req<Task>("POST", `/projects/${projectId}/tasks`, { id: Bun.randomUUIDv7(), title: "too much" });
    await advance(59 * 60_000); // 09:30
    const failed = await req<Task>("PUT", `/tasks/${failing.id}/status`, { status: "FAIL", reason: "too_big" });
    expect(failed.failure?.failedAt).toBe(iso(start + 90 * 60_000));

    // No usable history: the default hours 09:00, 11:00, 14:00 UTC, from now on (09:30). Too big
    // is a scope failure: three parts at least, so 11:00 and 14:00 today, then 09:00 tomorrow.
    const plan = await req<{ subtasks: Array<{ startAt: string }> }>("POST", `/tasks/${failing.id}/replan`);
    expect(plan.subtasks.map((s) => s.startAt)).toEqual(["2026-11-23T11:00:00.000Z", "2026-11-23T14:00:00.000Z", "2026-11-24T09:00:00.000Z"]);
    await advance(24 * 3_600_000); // the next day, 09:30: the slots move with the clock
    const later = await req<{ subtasks: Array<{ startAt: string }> }>("POST", `/tasks/${failing.id}/replan`);
    expect(later.subtasks.map((s) => s.startAt)).toEqual(["2026-11-24T11:00:00.000Z", "2026-11-24T14:00:00.000Z", "2026-11-25T09:00:00.000Z"]);
  });
});

test("pending entries (memory) expire a day after their write, by the clock they were written with", async () => {
  const clock = new ManualClock(start);
  const pending = new MemoryPendingStore(clock);
  try {
    const userId = Bun.randomUUIDv7();
    const write = (seq: number) => ({ kind: "project.delete" as const, seq, userId, at: clock.now(), projectId: Bun.randomUUIDv7() });
    await pending.add([write(1)]);
    clock.advance(12 * 3_600_000);
    await pending.add([write(2)]);
    clock.advance(12 * 3_600_000);
    pending.sweep();
    expect((await pending.list(userId)).map((c) => c.seq)).toEqual([1, 2]);
    clock.advance(1);
    pending.sweep();
    expect((await pending.list(userId)).map((c) => c.seq)).toEqual([2]);
  } finally {
    pending.close();
  }
});
