// The ops API through app.handle, in both modes: nothing of its data for anonymous or non-admin
// callers, live figures that change under load, the one-time stream ticket, dead letters
// retried (handled exactly once) and discarded with an audit trail, and the instances list.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ManualClock } from "../../platform/clock";
import { recordBackupRun } from "../../platform/db/backup-runs";
import type { ConsumerSpec } from "../../platform/events";
import { createLogger } from "../../platform/logger";
import { createTestApp, signupAndLogin, type TestApp } from "../../testing/app";
import { modes } from "../../testing/modes";
import { waitFor } from "../../testing/wait";
import type { OpsApi } from ".";
import { Instances } from "./instances";
import type { Summary } from "./summary";
import { SqliteOpsStore } from "./store.sqlite";

/** A consumer of homebase.opstest.* that throws while `broken`, and records what it applied. */
const probe = { broken: true, applied: [] as string[] };
const flaky: ConsumerSpec = {
  name: "ops-test-flaky",
  subjects: ["homebase.opstest.>"],
  apply(event) {
    if (probe.broken) throw new Error(`flaky consumer refused ${event.id}`);
    probe.applied.push(event.id);
  },
};

describe.each(modes)("ops API (%s)", (mode) => {
  let t: TestApp;
  let ops: OpsApi;
  let admin: string;
  let user: string;
  let adminId: string;
  const clock = new ManualClock(Date.now());

  beforeAll(async () => {
    t = await createTestApp(mode, { HOMEBASE_EVENT_MAX_DELIVER: "2", HOMEBASE_EVENT_RETRY_MS: "5" }, (p) => p.events.register(flaky), undefined, { clock });
    ops = (t.modules.apis as unknown as { ops: OpsApi }).ops;
    const a = await signupAndLogin(t, "opsadmin");
    await t.modules.apis.accounts.promoteByEmail(a.email);
    // Logged in again: the role is in the new token.
    const login = await t.request("POST", "/auth/login", { body: { email: a.email, password: a.password } });
    admin = ((await login.json()) as { accessToken: string }).accessToken;
    adminId = a.user.id;
    user = (await signupAndLogin(t, "opsuser")).tokens.accessToken;
  });
  afterAll(() => t.close());

  const emit = (payload: unknown) => t.platform.writer.write(() => t.platform.events.emit("homebase.opstest.thing" as never, payload as never));
  const summary = async () => {
    const res = await t.request("GET", "/ops/api/summary", { token: admin });
    expect(res.status).toBe(200);
    return (await res.json()) as Summary;
  };

  test("anonymous and non-admin callers get problem+json and nothing of the data; the page is a shell", async () => {
    const routes: Array<[string, string]> = [
      ["GET", "/ops/api/summary"],
      ["GET", "/ops/api/history"],
      ["POST", "/ops/api/stream-ticket"],
      ["GET", "/ops/api/dead-letters"],
      ["POST", `/ops/api/dead-letters/ops-test-flaky/${Bun.randomUUIDv7()}/retry`],
      ["DELETE", `/ops/api/dead-letters/ops-test-flaky/${Bun.randomUUIDv7()}`],
      ["GET", "/ops/api/audit"],
    ];
    for (const [method, path] of routes) {
      for (const [token, status, code] of [
        [undefined, 401, "missing_token"],
        ["not-a-token", 401, "invalid_token"],
        [user, 403, "admin_only"],
      ] as const) {
        const res = await t.request(method, path, { token });
        expect([method, path, res.status]).toEqual([method, path, status]);
        expect(res.headers.get("content-type")).toContain("application/problem+json");
        const body = (await res.json()) as Record<string, unknown>;
        expect(body.code).toBe(code);
        expect(Object.keys(body).sort()).toEqual(expect.arrayContaining(["code", "status", "title", "type"]));
        expect(JSON.stringify(body)).not.toContain("instance\":{");
      }
    }
    // The stream without a ticket, or with a made-up one.
    for (const path of ["/ops/api/stream", "/ops/api/stream?ticket=made-up"]) {
      const res = await t.request("GET", path);
      expect(res.status).toBe(401);
      expect(((await res.json()) as { code: string }).code).toBe("invalid_ticket");
    }
    const page = await t.request("GET", "/ops");
    expect(page.status).toBe(200);
    const csp = page.headers.get("content-security-policy")!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    const html = await page.text();
    expect(html).toContain('<script type="module" src="/ops/app.js"></script>');
    expect(html).not.toContain(ops.instances.self.id);
    expect(html).not.toMatch(/<script>/);
    expect((await t.request("GET", "/ops/app.js")).headers.get("content-type")).toContain("text/javascript");
  });

  test("the summary has every figure, and they change under load", async () => {
    await ops.sampler.sample();
    const before = await summary();
    expect(before.instance).toMatchObject({ id: ops.instances.self.id, self: true, alive: true, pid: process.pid });
    expect(before.backends.configured).toEqual({ redis: mode === "real", nats: mode === "real", mongo: mode === "real" });
    expect(before.backends.readiness.sqlite).toBe(true);
    expect(before.backends.checks.map((c) => c.name)).toContain("data dir");
    if (mode === "real") expect(before.backends.checks.filter((c) => ["redis", "nats", "mongo"].includes(c.name)).map((c) => c.status)).toEqual(["pass", "pass", "pass"]);
    expect(before.events.transport).toBe(mode === "real" ? "nats" : "in-process");
    expect(before.events.consumers.map((c) => c.consumer)).toContain("ops-test-flaky");
    expect(before.sqlite.bytes).toBeGreaterThan(0);
    expect(before.process.rssBytes).toBeGreaterThan(0);
    expect(before.backup).toEqual({ last: null, lastOk: null });

    // Load: 40 answered requests, 5 refused ones (404), two reads of the cached movie list.
    for (let i = 0; i < 40; i++) expect((await t.request("GET", "/health/live")).status).toBe(200);
    for (let i = 0; i < 5; i++) await t.request("GET", "/todos/projects/nope", { token: user });
    await t.request("GET", "/movies");
    await t.request("GET", "/movies");
    // Requests are counted once their response went out (onAfterResponse): sample until they are in.
    let after = before;
    await waitFor(
      async () => {
        await ops.sampler.sample();
        after = await summary();
        return (after.http.routes.find((r) => r.route === "/health/live")?.requests ?? 0) >= 40;
      },
      { what: "the 40 requests in the figures" },
    );
    expect(after.http.requests).toBeGreaterThanOrEqual(45);
    expect(after.http.rps).toBeGreaterThan(0);
    expect(after.http.p50Ms).not.toBeNull();
    const live = after.http.routes.find((r) => r.route === "/health/live" && r.method === "GET")!;
    expect(live.requests).toBeGreaterThanOrEqual(40);
    expect(live.rps).toBeGreaterThan(0);
    expect(live.p99Ms).toBeGreaterThan(0);
    expect(live.errorRate).toBe(0);
    expect(after.caches.some((c) => c.hits >= 1 && c.hitRatio !== null && c.hitRatio > 0)).toBe(true);
    expect(after.point.rps).toBeGreaterThan(0);
    expect(after.windowSeconds).toBeGreaterThan(0);
    expect(Date.parse(after.at)).toBeGreaterThanOrEqual(Date.parse(before.at));

    const history = (await (await t.request("GET", "/ops/api/history", { token: admin })).json()) as { points: Array<{ rps: number }> };
    expect(history.points.length).toBeGreaterThanOrEqual(2);
    expect(history.points.at(-1)!.rps).toBeGreaterThan(0);
  });

  test("the stream takes a one-time ticket and pushes the summary", async () => {
    const issued = await t.request("POST", "/ops/api/stream-ticket", { token: admin });
    expect(issued.status).toBe(201);
    const { ticket } = (await issued.json()) as { ticket: string };
    const res = await t.request("GET", `/ops/api/stream?ticket=${encodeURIComponent(ticket)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const reader = res.body!.getReader();
    let text = "";
    while (!text.includes("event: summary\ndata: ")) text += new TextDecoder().decode((await reader.read()).value);
    await ops.sampler.sample();
    const frames = () => text.split("\n\n").filter((f) => f.startsWith("event: summary"));
    while (frames().length < 2 || !text.endsWith("\n\n")) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    const first = JSON.parse(frames()[0]!.split("data: ")[1]!) as Summary;
    expect(first.instance.id).toBe(ops.instances.self.id);
    // Used once: the same ticket again is refused.
    const again = await t.request("GET", `/ops/api/stream?ticket=${encodeURIComponent(ticket)}`);
    expect(again.status).toBe(401);
    expect(((await again.json()) as { code: string }).code).toBe("invalid_ticket");
    // A draining instance ends its streams (shutdown waits for open requests).
    const drained = (await (await t.request("POST", "/ops/api/stream-ticket", { token: admin })).json()) as { ticket: string };
    const draining = await t.request("GET", `/ops/api/stream?ticket=${encodeURIComponent(drained.ticket)}`);
    t.modules.state.draining = true;
    try {
      const tail = await new Response(draining.body).text();
      expect(tail).toContain("event: end");
    } finally {
      t.modules.state.draining = false;
    }
    // Expired after 30 s.
    const late = (await (await t.request("POST", "/ops/api/stream-ticket", { token: admin })).json()) as { ticket: string };
    clock.advance(31_000);
    expect((await t.request("GET", `/ops/api/stream?ticket=${encodeURIComponent(late.ticket)}`)).status).toBe(401);
  });

  test("a dead letter is listed with its reason and payload, retried (handled once) and discarded, audited", async () => {
    probe.broken = true;
    probe.applied.length = 0;
    const first = await emit({ n: 1 });
    const second = await emit({ n: 2 });
    await waitFor(() => (t.platform.db.query("SELECT COUNT(*) AS n FROM dead_letters WHERE consumer = 'ops-test-flaky'").get() as { n: number }).n === 2, { what: "two dead letters" });
    const page = await t.request("GET", "/ops/api/dead-letters?limit=1", { token: admin });
    expect(page.status).toBe(200);
    const one = (await page.json()) as { items: Array<Record<string, unknown>>; nextCursor: string | null; total: number };
    expect(one.total).toBe(2);
    expect(one.items).toHaveLength(1);
    expect(one.nextCursor).not.toBeNull();
    const rest = (await (await t.request("GET", `/ops/api/dead-letters?limit=1&cursor=${one.nextCursor}`, { token: admin })).json()) as typeof one;
    const all = [...one.items, ...rest.items];
    expect(all.map((l) => l.eventId).sort()).toEqual([first, second].sort());
    const letter = all.find((l) => l.eventId === first)!;
    expect(letter).toMatchObject({ consumer: "ops-test-flaky", subject: "homebase.opstest.thing", payload: { n: 1 }, attempts: 2 });
    expect(letter.error).toContain("flaky consumer refused");
    expect((await t.request("GET", "/ops/api/dead-letters?cursor=garbage", { token: admin })).status).toBe(400);

    // A non-admin cannot act on it; nothing changes.
    expect((await t.request("POST", `/ops/api/dead-letters/ops-test-flaky/${first}/retry`, { token: user })).status).toBe(403);
    expect((await t.request("DELETE", `/ops/api/dead-letters/ops-test-flaky/${first}`, { token: user })).status).toBe(403);

    // Still broken: failed again, still listed, one attempt more.
    const failed = await t.request("POST", `/ops/api/dead-letters/ops-test-flaky/${first}/retry`, { token: admin });
    expect(failed.status).toBe(200);
    expect(await failed.json()).toMatchObject({ outcome: "dead", attempts: 3, error: expect.stringContaining("flaky consumer refused") });
    // Fixed: handled exactly once, gone from the list.
    probe.broken = false;
    const retried = await t.request("POST", `/ops/api/dead-letters/ops-test-flaky/${first}/retry`, { token: admin });
    expect(await retried.json()).toEqual({ outcome: "processed", error: null, attempts: null });
    expect(probe.applied).toEqual([first]);
    expect((await t.request("POST", `/ops/api/dead-letters/ops-test-flaky/${first}/retry`, { token: admin })).status).toBe(404);

    // Discarded: gone, never handled.
    expect((await t.request("DELETE", `/ops/api/dead-letters/ops-test-flaky/${second}`, { token: admin })).status).toBe(204);
    const missing = await t.request("DELETE", `/ops/api/dead-letters/ops-test-flaky/${second}`, { token: admin });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { code: string }).code).toBe("dead_letter_not_found");
    expect(probe.applied).toEqual([first]);
    expect(((await (await t.request("GET", "/ops/api/dead-letters", { token: admin })).json()) as { total: number }).total).toBe(0);
    expect((await summary()).events.deadLetters).toBe(0);

    // A dead letter of a consumer this process does not run.
    await t.platform.writer.write(() =>
      t.platform.db
        .query("INSERT INTO dead_letters (consumer, event_id, subject, payload, error, attempts, failed_at) VALUES ('retired-consumer', ?, 'homebase.opstest.thing', '{}', 'x', 1, ?)")
        .run(second, clock.now()),
    );
    const orphan = await t.request("POST", `/ops/api/dead-letters/retired-consumer/${second}/retry`, { token: admin });
    expect(orphan.status).toBe(409);
    expect(((await orphan.json()) as { code: string }).code).toBe("consumer_not_registered");

    const audit = (await (await t.request("GET", "/ops/api/audit", { token: admin })).json()) as { items: Array<Record<string, unknown>> };
    expect(audit.items.map((e) => [e.action, e.eventId, e.outcome, e.actorUserId])).toEqual([
      ["dead_letter.discard", second, "discarded", adminId],
      ["dead_letter.retry", first, "processed", adminId],
      ["dead_letter.retry", first, "dead", adminId],
    ]);
    expect(audit.items[0]!.instanceId).toBe(ops.instances.self.id);
  });

  test("the last backup and the last good one come from the backup runs", async () => {
    const at = clock.now();
    const run = { file: "/backups/a.sqlite", bytes: 4096, sha256: "ab".repeat(32), checksum: "cd".repeat(16), uploaded: null, trigger: "schedule" as const };
    recordBackupRun(t.platform.db, { ...run, id: Bun.randomUUIDv7(), startedAt: at - 2000, finishedAt: at - 1000, ok: true, error: null });
    recordBackupRun(t.platform.db, { ...run, id: Bun.randomUUIDv7(), startedAt: at, finishedAt: at + 10, ok: false, error: "disk full", sha256: null });
    const { backup } = await summary();
    expect(backup.last).toMatchObject({ ok: false, error: "disk full", sha256: null });
    expect(backup.lastOk).toMatchObject({ ok: true, sha256: "ab".repeat(32), checksum: "cd".repeat(16), bytes: 4096, file: "/backups/a.sqlite" });
  });

  test("instances on the same data dir are listed; one that stops beating is shown as gone", async () => {
    const other = new Instances(new SqliteOpsStore(t.platform.db, t.platform.writer), clock, createLogger("silent"), { role: "serve", port: 3001 });
    await other.beat();
    await ops.instances.beat();
    let s = await summary();
    expect(s.instances[0]!.id).toBe(ops.instances.self.id);
    expect(s.instances.find((i) => i.id === other.self.id)).toMatchObject({ role: "serve", port: 3001, self: false, alive: true });
    clock.advance(31_000);
    s = await summary();
    expect(s.instances.find((i) => i.id === other.self.id)).toMatchObject({ alive: false });
    expect(s.instance.alive).toBe(true);
    await other.stop();
    expect((await summary()).instances.find((i) => i.id === other.self.id)).toBeUndefined();
  });
});
