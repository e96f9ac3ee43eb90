// The shop keeps to itself: its internal guard (IP allowlist and token) runs for its internal
// routes only (no app-wide hook), refuses strangers before their body is parsed or validated, and the shop runs on the
// KakaoPay adapter in an installation without the sandbox-pg module. Both modes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Elysia, t } from "elysia";
import { modules } from "../index";
import { createTestApp, type TestApp } from "../../testing/app";
import { modes } from "../../testing/modes";
import { freePort } from "../../testing/ports";
import type { BillingService } from "./billing";
import type { ChargeNotices } from "./notices";
import { type InternalGuard, internalCredential } from "../../platform/http/internal";
import { internalRoutes } from "./routes/internal";
import { expectProblem } from "./testing";

const json = { "content-type": "application/json" };

describe("the internal guard's hooks are local to the internal routes", () => {
  test("a request to another route never runs it; one to an internal route does, before its body is read", async () => {
    const checked: string[] = [];
    const guard: InternalGuard = {
      check(request) {
        checked.push(`${request.method} ${new URL(request.url).pathname}`);
        return { outcome: "forbidden", ip: null };
      },
      record() {},
    };
    const billing = {
      runBilling: async () => ({ date: "2026-12-01", due: 0, charged: 0, declined: 0, cancelled: 0, failed: 0, skipped: 0 }),
    } as unknown as BillingService;
    const notices = { run: async () => ({ date: "2026-12-01", noticed: 0 }) } as unknown as ChargeNotices;
    // Routes declared after the internal ones, beside them: a hook that leaked would run for them.
    const app = new Elysia()
      .use(internalRoutes(billing, notices, guard))
      .get("/health/live", () => "ok")
      .post("/challenges", ({ body }) => body, { body: t.Object({ title: t.String() }) });
    const send = (method: string, path: string, body?: string) =>
      app.handle(new Request(`http://localhost.test${path}`, { method, headers: json, body }));

    expect((await send("GET", "/health/live")).status).toBe(200);
    expect((await send("POST", "/challenges", JSON.stringify({ title: "x" }))).status).toBe(200);
    expect(checked).toEqual([]);

    await send("POST", "/internal/billing/run", "{not json");
    expect(checked[0]).toBe("POST /internal/billing/run");
  });
});

describe.each(modes)("shop isolation (%s)", (mode) => {
  let app: TestApp;
  let url: string;

  beforeAll(async () => {
    // Only the WireGuard subnet is internal; loopback is a trusted proxy, so X-Forwarded-For decides.
    const port = await freePort();
    app = await createTestApp(mode, {
      HOMEBASE_PORT: String(port),
      HOMEBASE_SHOP_INTERNAL_ALLOW: "10.44.0.0/24",
      HOMEBASE_TRUSTED_PROXIES: "127.0.0.1",
    });
    app.app.listen({ hostname: "127.0.0.1", port });
    url = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await app.modules.close();
    await app.app.stop(true);
    await app.close();
  });

  test("the shop and the sandbox PG add no hook to the app's own (app-wide) lifecycle", async () => {
    const without = await createTestApp(
      mode,
      {},
      undefined,
      modules.filter((m) => m.name !== "shop" && m.name !== "sandbox-pg"),
    );
    try {
      const counts = (events: Record<string, unknown>) =>
        Object.fromEntries(Object.entries(events).map(([stage, hooks]) => [stage, Array.isArray(hooks) ? hooks.length : 0]));
      expect(counts(app.app.event as Record<string, unknown>)).toEqual(counts(without.app.event as Record<string, unknown>));
    } finally {
      await without.modules.close();
      await without.close();
    }
  });

  test("outside the allowlist, or without the internal token: 403 / 401 whatever the body, before it is parsed or validated", async () => {
    const token = { authorization: `Bearer ${internalCredential(app.platform.config).token}` };
    const post = (body: string, from: string, headers: Record<string, string> = {}) =>
      fetch(`${url}/internal/billing/run`, { method: "POST", headers: { ...json, "x-forwarded-for": from, ...headers }, body });
    for (const body of ["{not json", JSON.stringify({ date: "not a date" }), JSON.stringify({ date: 20261201 }), "[]"]) {
      await expectProblem(await post(body, "192.168.1.5"), 403, "internal_only");
      await expectProblem(await post(body, "192.168.1.5", token), 403, "internal_only");
      await expectProblem(await post(body, "10.44.0.7"), 401, "internal_credential_required");
    }
    // Inside it (the forwarded address, through the trusted proxy) with the token, the same bodies reach parsing and validation.
    await expectProblem(await post("{not json", "10.44.0.7", token), 400, "malformed_body");
    await expectProblem(await post(JSON.stringify({ date: "not a date" }), "10.44.0.7", token), 422, "validation_failed");
    expect((await post("{}", "10.44.0.7", token)).status).toBe(200);
  });
});

describe.each(modes)("an installation without the sandbox PG (%s)", (mode) => {
  let app: TestApp;

  beforeAll(async () => {
    app = await createTestApp(
      mode,
      { HOMEBASE_SHOP_PG: "kakaopay", HOMEBASE_KAKAOPAY_SECRET_KEY: "dummy-kakaopay-key" },
      undefined,
      modules.filter((m) => m.name !== "sandbox-pg"),
    );
  });
  afterAll(async () => {
    await app.modules.close();
    await app.close();
  });

  test("the shop answers on the KakaoPay adapter; /sandbox-pg/* does not exist", async () => {
    expect(app.modules.apis.shop.gateway.name).toBe("kakaopay");
    const items = await app.request("GET", "/items");
    expect(items.status).toBe(200);
    expect(((await items.json()) as { items: unknown[] }).items).toEqual([]);
    for (const [method, path] of [
      ["GET", "/sandbox-pg/control"],
      ["GET", "/sandbox-pg/control/payments"],
      ["POST", "/sandbox-pg/v1/payments"],
      ["GET", "/sandbox-pg/checkout/T123"],
      ["POST", "/sandbox-pg/kakao/online/v1/payment/ready"],
    ] as const) {
      await expectProblem(await app.request(method, path, method === "POST" ? { body: {} } : {}), 404, "route_not_found");
    }
    // Nor are its routes documented.
    const spec = (await (await app.request("GET", "/swagger/json")).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(spec.paths).filter((p) => p.startsWith("/sandbox-pg"))).toEqual([]);
  });
});
