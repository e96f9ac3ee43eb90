// Issue 13, H1: the attacks on the internal billing endpoints and the sandbox PG's control routes,
// replayed against the default configuration (loopback allowlist, generated internal token),
// through a trusted proxy for the WireGuard peer. A billing run never charges a cycle due after
// today (UTC, the injected clock); every internal route wants the internal token besides the
// address; every call is logged with the caller and counted. Both modes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { ConfigError, loadConfig, moduleConfig } from "../../config";
import { ManualClock } from "../../platform/clock";
import { createInternalGuard, internalCredential, secretEquals } from "../../platform/http/internal";
import type { Logger } from "../../platform/logger";
import { modes } from "../../testing/modes";
import { modules } from "../index";
import { shopModule } from "./index";
import type { BillingSummary, ChargeResult, Subscription } from "./model";
import { day, expectProblem, ledger, startShop, type ShopTestApp } from "./testing";

const dayMs = 86_400_000;
const json = { "content-type": "application/json" };

describe.each(modes)("internal routes under attack (%s)", (mode) => {
  let app: ShopTestApp;
  const clock = new ManualClock(Date.now());

  beforeAll(async () => {
    // Loopback is the trusted proxy: the forwarded address is the caller, as through a reverse proxy.
    app = await startShop(mode, { HOMEBASE_TRUSTED_PROXIES: "127.0.0.1" }, { clock });
  });
  afterAll(() => app.close());

  const post = (path: string, body: unknown, headers: Record<string, string> = app.internal) =>
    fetch(`${app.url}${path}`, { method: "POST", headers: { ...json, ...headers }, body: JSON.stringify(body) });
  const paidCycles = (id: string) =>
    app.t.platform.db.query<{ n: number }, [string]>("SELECT paid_cycles AS n FROM shop_subscriptions WHERE id = ?").get(id)!.n;
  const recurringCharges = async (id: string) =>
    (await Promise.all([2, 3, 4, 5, 6, 7].map((cycle) => ledger(app, `${id}-${cycle}`)))).flat().filter((p) => p.status === "APPROVED");
  /** Three subscribers of 30-day subscriptions, due on day 30 of the clock as it is now. */
  const subscribers = async () => {
    const it = await app.item({ price: 9_000, discountRate: 0, stock: 100 });
    const subs: Subscription[] = [];
    for (let i = 0; i < 3; i++) {
      const u = await app.user("victim");
      const order = await app.buy(u, [{ itemId: it.id, quantity: 1 }], "SUBSCRIPTION", 30);
      subs.push(
        (await (
          await app.t.request("GET", `/subscriptions/${order.subscriptionId}`, { token: u.tokens.accessToken })
        ).json()) as Subscription,
      );
    }
    return subs;
  };

  test("two billing runs a second apart with dates a year apart charge nobody twice", async () => {
    const start = clock.now();
    const subs = await subscribers();
    clock.set(start + 30 * dayMs);
    const today = day(0, clock);
    const first = await post("/internal/billing/run", { date: today });
    expect(first.status).toBe(200);
    expect(((await first.json()) as BillingSummary).charged).toBeGreaterThanOrEqual(subs.length);
    clock.advance(1_000);
    await expectProblem(await post("/internal/billing/run", { date: day(365, clock) }), 422, "billing_date_in_future");
    // The service refuses it too, whoever calls it (the worker bills today only).
    await expect(app.shop.billing.runBilling(day(1, clock))).rejects.toMatchObject({ code: "billing_date_in_future" });
    for (const s of subs) {
      expect(paidCycles(s.id)).toBe(2);
      expect((await recurringCharges(s.id)).map((p) => p.amount)).toEqual([9_000]);
    }
  });

  test("five calls from a peer charge no extra cycle", async () => {
    const start = clock.now();
    const [victim] = await subscribers();
    clock.set(start + 30 * dayMs);
    // What the peer sent: the charge endpoint, one cycle further each time, back to back
    // (today's code charged all five, in 84 ms), then the same five at once.
    const answers: Array<{ status: number; body: ChargeResult & { code?: string } }> = [];
    const call = async (ahead: number) => {
      const res = await post(`/internal/subscriptions/${victim!.id}/charge`, { date: day(ahead, clock) });
      answers.push({ status: res.status, body: (await res.json()) as ChargeResult & { code?: string } });
    };
    for (const ahead of [0, 30, 60, 90, 120]) await call(ahead);
    await Promise.all([0, 30, 60, 90, 120].map(call));
    expect(answers.filter((a) => a.status === 200 && a.body.outcome === "charged")).toHaveLength(1);
    expect(answers.filter((a) => a.status === 422).map((a) => a.body.code)).toEqual(Array(8).fill("billing_date_in_future"));
    // And again, the same day: not due any more.
    expect(((await (await post(`/internal/subscriptions/${victim!.id}/charge`, {})).json()) as ChargeResult).outcome).toBe("skipped");
    expect(paidCycles(victim!.id)).toBe(2);
    expect(await recurringCharges(victim!.id)).toHaveLength(1);
  });

  test("a WireGuard peer is not internal by default, and no one gets in without the token", async () => {
    const peer = { "x-forwarded-for": "10.44.0.7" };
    const token = app.internal.authorization!;
    // The WireGuard subnet is every user's device: outside the default allowlist, token or not.
    await expectProblem(await post("/internal/billing/run", {}, { ...peer, authorization: token }), 403, "internal_only");
    // Loopback (the allowlist) without it, or with anything else: 401, before the body is read.
    const wrong: Array<Record<string, string>> = [
      {},
      { authorization: "Bearer " },
      { authorization: `Bearer ${"x".repeat(token.length - 7)}` },
      { authorization: `Bearer ${token.slice(7, -1)}` },
      { authorization: token.slice(7) },
    ];
    for (const headers of wrong) {
      await expectProblem(await post("/internal/billing/run", { date: "not a date" }, headers), 401, "internal_credential_required");
      await expectProblem(
        await post(`/internal/subscriptions/${Bun.randomUUIDv7()}/charge`, {}, headers),
        401,
        "internal_credential_required",
      );
    }
    const refused = await post("/internal/billing/run", {}, {});
    expect(refused.headers.get("www-authenticate")).toBe('Bearer realm="homebase-internal"');
    // With it: served (the scheme is case-insensitive).
    expect((await post("/internal/billing/run", {}, { authorization: `bearer ${token.slice(7)}` })).status).toBe(200);
  });

  test("the sandbox's control routes and ledger need the token: no forced outage, no SIDs read", async () => {
    const before = (await (await fetch(`${app.url}/sandbox-pg/control`, { headers: app.internal })).json()) as { errorPct: number };
    for (const headers of [{}, { authorization: "Bearer nope" }] as Array<Record<string, string>>) {
      const put = await fetch(`${app.url}/sandbox-pg/control`, {
        method: "PUT",
        headers: { ...json, ...headers },
        body: JSON.stringify({ errorPct: 100 }),
      });
      await expectProblem(put, 401, "internal_credential_required");
      await expectProblem(await fetch(`${app.url}/sandbox-pg/control/payments`, { headers }), 401, "internal_credential_required");
      await expectProblem(await fetch(`${app.url}/sandbox-pg/control`, { headers }), 401, "internal_credential_required");
    }
    const peer = { ...app.internal, "x-forwarded-for": "10.44.0.7" };
    await expectProblem(
      await fetch(`${app.url}/sandbox-pg/control`, {
        method: "PUT",
        headers: { ...json, ...peer },
        body: JSON.stringify({ errorPct: 100 }),
      }),
      403,
      "internal_only",
    );
    await expectProblem(await fetch(`${app.url}/sandbox-pg/control/payments`, { headers: peer }), 403, "internal_only");
    const after = (await (await fetch(`${app.url}/sandbox-pg/control`, { headers: app.internal })).json()) as { errorPct: number };
    expect(after.errorPct).toBe(before.errorPct);
    expect(app.t.modules.apis["sandbox-pg"].engine!.faults.errorPct).toBe(0);
  });

  test("every internal call is counted by route and outcome", async () => {
    const count = async (route: string, outcome: string) => {
      const text = await (await app.t.request("GET", "/metrics")).text();
      const line = text.split("\n").find((l) => l.startsWith(`homebase_internal_calls_total{route="${route}",outcome="${outcome}"}`));
      return line ? Number(line.split(" ").pop()) : 0;
    };
    const route = "POST /internal/billing/run";
    const before = {
      allowed: await count(route, "allowed"),
      unauthorized: await count(route, "unauthorized"),
      forbidden: await count(route, "forbidden"),
    };
    await post("/internal/billing/run", {});
    await post("/internal/billing/run", {}, {});
    await post("/internal/billing/run", {}, {});
    await post("/internal/billing/run", {}, { "x-forwarded-for": "10.44.0.7" });
    expect({
      allowed: (await count(route, "allowed")) - before.allowed,
      unauthorized: (await count(route, "unauthorized")) - before.unauthorized,
      forbidden: (await count(route, "forbidden")) - before.forbidden,
    }).toEqual({ allowed: 1, unauthorized: 2, forbidden: 1 });
    expect(await count("PUT /sandbox-pg/control", "unauthorized")).toBeGreaterThan(0);
  });
});

describe("the internal guard", () => {
  const lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = [];
  const logger: Logger = {
    debug: (msg, fields) => lines.push({ level: "debug", msg, fields }),
    info: (msg, fields) => lines.push({ level: "info", msg, fields }),
    warn: (msg, fields) => lines.push({ level: "warn", msg, fields }),
    error: (msg, fields) => lines.push({ level: "error", msg, fields }),
    child: () => logger,
  };
  const token = "t".repeat(48);
  const guard = createInternalGuard({
    allow: ["127.0.0.0/8"],
    token,
    clientIp: (request) => request.headers.get("x-test-ip"),
    logger,
    registry: new Registry(),
  });
  const ask = (ip: string | null, authorization?: string) =>
    guard.check(
      new Request("http://localhost.test/internal/x", {
        headers: { ...(ip ? { "x-test-ip": ip } : {}), ...(authorization ? { authorization } : {}) },
      }),
    );

  test("the address first (403), then the token (401); both needed", () => {
    expect(ask("127.0.0.1", `Bearer ${token}`)).toEqual({ outcome: "allowed", ip: "127.0.0.1" });
    expect(ask("10.44.0.7", `Bearer ${token}`)).toEqual({ outcome: "forbidden", ip: "10.44.0.7" });
    expect(ask(null, `Bearer ${token}`)).toEqual({ outcome: "forbidden", ip: null });
    for (const wrong of [undefined, `Bearer ${token}x`, `Bearer ${token.slice(1)}`, `Basic ${token}`, token, `Bearer ${token} extra`])
      expect({ wrong, verdict: ask("127.0.0.1", wrong) }).toEqual({ wrong, verdict: { outcome: "unauthorized", ip: "127.0.0.1" } });
  });

  test("every call is logged with the caller's IP and the outcome", () => {
    lines.length = 0;
    guard.record("POST /internal/billing/run", { outcome: "allowed", ip: "127.0.0.1" });
    guard.record("POST /internal/billing/run", { outcome: "unauthorized", ip: "127.0.0.1" });
    expect(lines).toEqual([
      { level: "info", msg: "internal call", fields: { route: "POST /internal/billing/run", ip: "127.0.0.1", outcome: "allowed" } },
      {
        level: "warn",
        msg: "internal call refused",
        fields: { route: "POST /internal/billing/run", ip: "127.0.0.1", outcome: "unauthorized" },
      },
    ]);
  });

  test("secrets compare equal only when equal, whatever their lengths", () => {
    expect(secretEquals(token, token)).toBe(true);
    for (const other of ["", token.slice(1), `${token}t`, "u".repeat(48)]) expect(secretEquals(other, token)).toBe(false);
  });
});

describe("the internal token", () => {
  const dir = mkdtempSync(join(tmpdir(), "homebase-internal-token-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("unset: generated once into the data dir (0600), the same for the shop and the sandbox, kept across starts", () => {
    const dataDir = join(dir, "data");
    const config = loadConfig({ HOMEBASE_DATA_DIR: dataDir });
    const shop = moduleConfig(config, shopModule).internal;
    expect(shop).toMatchObject({ source: "file", file: join(dataDir, "internal.token") });
    expect(shop.token.length).toBeGreaterThanOrEqual(32);
    expect(statSync(shop.file).mode & 0o777).toBe(0o600);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    // The sandbox PG's control routes ask for the same token (a module of its own: read through the list).
    const sandbox = modules.find((m) => m.name === "sandbox-pg")!;
    expect((moduleConfig(config, sandbox) as { internal: { token: string } }).internal.token).toBe(shop.token);
    expect(internalCredential(loadConfig({ HOMEBASE_DATA_DIR: dataDir })).token).toBe(shop.token);
    expect(readFileSync(shop.file, "utf8").trim()).toBe(shop.token);
  });

  test("HOMEBASE_INTERNAL_TOKEN_FILE (systemd LoadCredential=): read from there; unreadable or short is refused", () => {
    const file = join(dir, "credential");
    writeFileSync(file, `${"c".repeat(40)}\n`, { mode: 0o600 });
    const dataDir = join(dir, "other");
    const config = loadConfig({ HOMEBASE_DATA_DIR: dataDir, HOMEBASE_INTERNAL_TOKEN_FILE: file });
    expect(moduleConfig(config, shopModule).internal).toEqual({ token: "c".repeat(40), source: "secret-file", file });
    writeFileSync(join(dir, "short"), "short\n");
    for (const bad of [join(dir, "missing"), join(dir, "short")]) {
      expect(() => loadConfig({ HOMEBASE_DATA_DIR: dataDir, HOMEBASE_INTERNAL_TOKEN_FILE: bad })).toThrow(ConfigError);
      expect(() => loadConfig({ HOMEBASE_DATA_DIR: dataDir, HOMEBASE_INTERNAL_TOKEN_FILE: bad })).toThrow("HOMEBASE_INTERNAL_TOKEN_FILE");
    }
  });
});
