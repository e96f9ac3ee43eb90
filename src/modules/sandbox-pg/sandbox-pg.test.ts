// The sandbox PG on its own: both faces over HTTP (secret key, idempotency, SIDs, injected
// faults), its guards (local hooks that refuse before the body is parsed or validated), its
// configuration, and its tables in a data dir from when it was part of the shop. Both modes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { migrationSets } from "../../app";
import { loadConfig, moduleConfig } from "../../config";
import { migrate, openDatabase } from "../../platform/db/sqlite";
import { errorCodePattern } from "../../platform/http/errors";
import { createTestApp } from "../../testing/app";
import { modes } from "../../testing/modes";
import { waitFor } from "../../testing/wait";
import { modules } from "../index";
import { sandboxPgErrors } from "./errors";
import { sandboxPgModule } from "./index";
import { startSandbox, type SandboxTestApp } from "./testing";

describe.each(modes)("sandbox PG (%s)", (mode) => {
  let app: SandboxTestApp;

  beforeAll(async () => {
    app = await startSandbox(mode);
  });
  afterAll(() => app.close());

  describe("over HTTP", () => {
    const ready = (orderId: string, extra: Record<string, unknown> = {}, key?: string) =>
      app.post(
        "/sandbox-pg/v1/payments",
        {
          partnerOrderId: orderId,
          partnerUserId: "u1",
          itemName: "Vitamin C",
          quantity: 1,
          amount: 5_000,
          recurring: false,
          approvalUrl: `${app.url}/ok`,
          cancelUrl: `${app.url}/cancel`,
          failUrl: `${app.url}/fail`,
          ...extra,
        },
        key ? { "idempotency-key": key } : {},
      );
    const authorize = async (redirectUrl: string) => {
      const res = await fetch(redirectUrl, { redirect: "manual" });
      expect(res.status).toBe(302);
      return new URL(res.headers.get("location")!).searchParams.get("pg_token")!;
    };

    test("SECRET_KEY is required on both faces", async () => {
      const res = await fetch(`${app.url}/sandbox-pg/v1/payments`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "SECRET_KEY wrong" },
        body: "{}",
      });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { code: string }).code).toBe("unauthorized");
      const kakao = await fetch(`${app.url}/sandbox-pg/kakao/online/v1/payment/ready`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
      expect(kakao.status).toBe(401);
      expect(((await kakao.json()) as { error_code: number }).error_code).toBe(-401);
    });

    test("ready → buyer approves → approve; a repeated key replays the answer; a reused key for another request is refused", async () => {
      const orderId = `o-${Bun.randomUUIDv7()}`;
      const r = await ready(orderId, {}, `${orderId}:ready`);
      expect(r.status).toBe(200);
      expect((await ready(orderId, {}, `${orderId}:ready`)).body.tid).toBe(r.body.tid as string);
      expect((await ready(orderId, { amount: 6_000 }, `${orderId}:ready`)).body.code).toBe("idempotency_key_reused");

      const tid = r.body.tid as string;
      const approve = (pgToken: string, key?: string) =>
        app.post(
          `/sandbox-pg/v1/payments/${tid}/approve`,
          { pgToken, partnerOrderId: orderId, partnerUserId: "u1" },
          key ? { "idempotency-key": key } : {},
        );
      expect((await approve("x")).body.code).toBe("not_authorized");
      const pgToken = await authorize(r.body.redirectUrl as string);
      expect((await approve("wrong")).body.code).toBe("invalid_pg_token");
      const first = await approve(pgToken, `${orderId}:approve`);
      expect(first).toMatchObject({ status: 200, body: { tid, amount: 5_000, sid: null } });
      expect(await approve(pgToken, `${orderId}:approve`)).toEqual(first);
      // Without the key a second approve is a new request, and the payment is already approved.
      expect((await approve(pgToken)).body.code).toBe("invalid_status");
      expect(app.engine.payments(orderId).map((p) => p.status)).toEqual(["APPROVED"]);

      const cancel = (amount: number, key: string) =>
        app.post(`/sandbox-pg/v1/payments/${tid}/cancel`, { amount }, { "idempotency-key": key });
      expect((await cancel(2_000, `${orderId}:c1`)).body).toMatchObject({
        status: "PART_CANCELLED",
        cancelledAmount: 2_000,
        remainingAmount: 3_000,
      });
      expect((await cancel(2_000, `${orderId}:c1`)).body).toMatchObject({ remainingAmount: 3_000 });
      expect((await cancel(3_001, `${orderId}:c2`)).body.code).toBe("invalid_cancel_amount");
      expect((await cancel(3_000, `${orderId}:c3`)).body).toMatchObject({ status: "CANCELLED", remainingAmount: 0 });
    });

    test("recurring: the first payment yields a SID; charges with it; declines are stored under their key; inactive SIDs are refused", async () => {
      const orderId = `s-${Bun.randomUUIDv7()}`;
      const r = await ready(orderId, { recurring: true, partnerUserId: "u2" });
      const pgToken = await authorize(r.body.redirectUrl as string);
      const approved = await app.post(`/sandbox-pg/v1/payments/${r.body.tid}/approve`, {
        pgToken,
        partnerOrderId: orderId,
        partnerUserId: "u2",
      });
      const sid = approved.body.sid as string;
      expect(sid).toStartWith("S");
      const charge = (key: string, user = "u2") =>
        app.post(
          `/sandbox-pg/v1/recurring/${sid}/charges`,
          { partnerOrderId: `${orderId}-2`, partnerUserId: user, itemName: "Vitamin C", quantity: 1, amount: 5_000 },
          { "idempotency-key": key },
        );
      expect((await charge(`${orderId}:2:0`)).status).toBe(200);
      expect((await charge(`${orderId}:x`, "someone-else")).body.code).toBe("partner_mismatch");

      await app.faults({ declineUsers: ["u2"] });
      try {
        const declined = await charge(`${orderId}:3:0`);
        expect(declined).toMatchObject({ status: 402, body: { code: "card_declined" } });
        await app.faults({ declineUsers: [] });
        // Same key: the same decline (a retry must not turn into a charge); a new key is a new try.
        expect((await charge(`${orderId}:3:0`)).status).toBe(402);
        expect((await charge(`${orderId}:3:1`)).status).toBe(200);
      } finally {
        await app.faults({ declineUsers: [] });
      }
      expect((await app.post(`/sandbox-pg/v1/recurring/${sid}/inactivate`, {})).status).toBe(200);
      expect((await charge(`${orderId}:4:0`)).body.code).toBe("sid_inactive");
      expect(app.engine.payments(`${orderId}-2`).map((p) => p.status)).toEqual(["APPROVED", "DECLINED", "APPROVED"]);
    });

    test("injected faults: an error processes nothing; a timeout processes, then holds the answer back", async () => {
      const errOrder = `e-${Bun.randomUUIDv7()}`;
      await app.faults({ errorPct: 100 });
      try {
        expect(await ready(errOrder)).toMatchObject({ status: 503, body: { code: "unavailable" } });
      } finally {
        await app.faults({ errorPct: 0 });
      }
      expect(app.engine.payments(errOrder)).toHaveLength(0);

      const slowOrder = `t-${Bun.randomUUIDv7()}`;
      await app.faults({ timeoutPct: 100 });
      try {
        const aborted = await fetch(`${app.url}/sandbox-pg/v1/payments`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            authorization: `SECRET_KEY ${app.secret}`,
            "idempotency-key": `${slowOrder}:ready`,
          },
          body: JSON.stringify({
            partnerOrderId: slowOrder,
            partnerUserId: "u1",
            itemName: "x",
            quantity: 1,
            amount: 100,
            recurring: false,
            approvalUrl: `${app.url}/`,
            cancelUrl: `${app.url}/`,
            failUrl: `${app.url}/`,
          }),
          signal: AbortSignal.timeout(50),
        }).then(
          () => "answered",
          () => "gave up",
        );
        expect(aborted).toBe("gave up");
      } finally {
        await app.faults({ timeoutPct: 0 });
      }
      // The caller gave up, but the PG did it: the retry with the same key gets that payment.
      await waitFor(() => app.engine.payments(slowOrder).length === 1, { what: "the held-back payment" });
      const again = await ready(
        slowOrder,
        { itemName: "x", amount: 100, approvalUrl: `${app.url}/`, cancelUrl: `${app.url}/`, failUrl: `${app.url}/` },
        `${slowOrder}:ready`,
      );
      expect(again.body.tid).toBe(app.engine.payments(slowOrder)[0]!.tid);
    });
  });

  describe("guards", () => {
    const send = (path: string, body: string, headers: Record<string, string>) =>
      fetch(`${app.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });

    test("without the key: 401 in the face's own shape, whatever the body (before it is parsed or validated)", async () => {
      for (const body of ["{not json", "{}", JSON.stringify({ amount: "lots" })]) {
        const native = await send("/sandbox-pg/v1/payments", body, { authorization: "SECRET_KEY wrong" });
        expect({ body, status: native.status, json: await native.json() }).toEqual({
          body,
          status: 401,
          json: { code: "unauthorized", message: expect.any(String) },
        });
        const kakao = await send("/sandbox-pg/kakao/online/v1/payment/ready", body, {});
        expect({ body, status: kakao.status, json: await kakao.json() }).toEqual({
          body,
          status: 401,
          json: { error_code: -401, error_message: "invalid SECRET_KEY" },
        });
      }
      // With it, the same bodies reach parsing and validation.
      expect((await send("/sandbox-pg/v1/payments", "{not json", { authorization: `SECRET_KEY ${app.secret}` })).status).toBe(400);
      expect((await send("/sandbox-pg/v1/payments", "{}", { authorization: `SECRET_KEY ${app.secret}` })).status).toBe(422);
    });

    test("the checkout page needs no key (it is the buyer's browser)", async () => {
      const res = await fetch(`${app.url}/sandbox-pg/checkout/TUNKNOWN`, { redirect: "manual" });
      expect({ status: res.status, body: await res.json() }).toEqual({
        status: 404,
        body: { code: "payment_not_found", message: "no such payment" },
      });
    });

    test("no hook of the sandbox PG is app-wide", async () => {
      const without = await createTestApp(mode, {}, undefined, []);
      try {
        const counts = (events: Record<string, unknown>) =>
          Object.fromEntries(Object.entries(events).map(([stage, hooks]) => [stage, Array.isArray(hooks) ? hooks.length : 0]));
        expect(counts(app.t.app.event as Record<string, unknown>)).toEqual(counts(without.app.event as Record<string, unknown>));
      } finally {
        await without.close();
      }
    });
  });

  describe("the control routes, from outside the internal network", () => {
    let walled: SandboxTestApp;

    beforeAll(async () => {
      // Only the WireGuard subnet; loopback is a trusted proxy, so X-Forwarded-For decides.
      walled = await startSandbox(mode, { HOMEBASE_SHOP_INTERNAL_ALLOW: "10.44.0.0/24", HOMEBASE_TRUSTED_PROXIES: "127.0.0.1" });
    });
    afterAll(() => walled.close());

    test("403 problem+json, before the body is parsed or validated; the internal network is served", async () => {
      const put = (body: string, from: string, headers: Record<string, string> = walled.internal) =>
        fetch(`${walled.url}/sandbox-pg/control`, {
          method: "PUT",
          headers: { "content-type": "application/json", "x-forwarded-for": from, ...headers },
          body,
        });
      for (const body of ["{not json", JSON.stringify({ errorPct: 500 }), JSON.stringify({ errorPct: 0 })]) {
        const res = await put(body, "192.168.1.5");
        expect({
          body,
          status: res.status,
          type: res.headers.get("content-type"),
          code: ((await res.json()) as { code: string }).code,
        }).toEqual({
          body,
          status: 403,
          type: "application/problem+json",
          code: "internal_only",
        });
      }
      expect((await fetch(`${walled.url}/sandbox-pg/control/payments`)).status).toBe(403);
      expect((await put(JSON.stringify({ errorPct: 500 }), "10.44.0.7")).status).toBe(422);
      expect((await put(JSON.stringify({ errorPct: 0 }), "10.44.0.7")).status).toBe(200);
    });
  });

  test("a data dir from when the sandbox was part of the shop keeps its ledger", async () => {
    const dir = mkdtempSync(join(tmpdir(), "homebase-sandbox-upgrade-"));
    // What such a data dir has: every migration of the list without this module (the shop's
    // migration 1 created the sandbox's tables), and a payment, a SID and an idempotent answer in them.
    const old = openDatabase(join(dir, "homebase.sqlite"), { synchronous: "NORMAL" });
    expect(migrate(old, migrationSets(modules.filter((m) => m.name !== "sandbox-pg")))).toContain("shop@1");
    old.exec(`INSERT INTO shop_sandbox_payments (tid, kind, status, partner_order_id, partner_user_id, item_name, quantity, amount, sid, aid, created_at, approved_at, updated_at)
      VALUES ('TOLD', 'SUBSCRIPTION_FIRST', 'APPROVED', 'old-order', 'old-user', 'Lutein', 1, 9000, 'SOLD', 'AOLD', 1700000000000, 1700000000000, 1700000000000)`);
    old.exec(
      "INSERT INTO shop_sandbox_sids (sid, partner_user_id, status, created_at) VALUES ('SOLD', 'old-user', 'ACTIVE', 1700000000000)",
    );
    old.close();

    const upgraded = await startSandbox(mode, { HOMEBASE_DATA_DIR: dir });
    try {
      expect(
        upgraded.t.platform.db
          .query<{ version: number }, [string]>("SELECT version FROM module_migrations WHERE module = ?")
          .all("sandbox-pg"),
      ).toEqual([{ version: 1 }, { version: 2 }]);
      expect(upgraded.engine.payments("old-order")).toEqual([
        expect.objectContaining({ tid: "TOLD", status: "APPROVED", amount: 9_000, sid: "SOLD" }),
      ]);
      // The old SID still charges.
      const charged = await upgraded.post("/sandbox-pg/v1/recurring/SOLD/charges", {
        partnerOrderId: "old-order-2",
        partnerUserId: "old-user",
        itemName: "Lutein",
        quantity: 1,
        amount: 9_000,
      });
      expect(charged).toMatchObject({ status: 200, body: { sid: "SOLD", amount: 9_000 } });
    } finally {
      await upgraded.close();
    }
  });
});

describe("configuration", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "homebase-sandbox-config-"));
  const enabled = (env: Record<string, string>) =>
    moduleConfig(loadConfig({ HOMEBASE_DATA_DIR: dataDir, ...env }), sandboxPgModule).enabled;

  test("mounted by default when the shop pays through it; HOMEBASE_SANDBOX_PG decides when set", () => {
    expect(enabled({})).toBe(true);
    expect(enabled({ HOMEBASE_SHOP_PG: "kakaopay", HOMEBASE_KAKAOPAY_SECRET_KEY: "k" })).toBe(false);
    expect(enabled({ HOMEBASE_SHOP_PG: "kakaopay", HOMEBASE_KAKAOPAY_SECRET_KEY: "k", HOMEBASE_SANDBOX_PG: "on" })).toBe(true);
    expect(enabled({ HOMEBASE_SANDBOX_PG: "off" })).toBe(false);
  });

  test("the variables it shares with the shop are declared the same way in both", () => {
    const shop = modules.find((m) => m.name === "shop")!.config!.schema.properties;
    const own = sandboxPgModule.config!.schema.properties;
    const shared = Object.keys(own).filter((name) => name in shop);
    expect(shared.sort()).toEqual([
      "HOMEBASE_SANDBOX_PG_SECRET_KEY",
      "HOMEBASE_SHOP_INTERNAL_ALLOW",
      "HOMEBASE_SHOP_PG",
      "HOMEBASE_SHOP_PUBLIC_URL",
    ]);
    // Same type, default, description and secrecy (the JSON of the schema), and the same checks.
    const check = (schema: unknown) => (schema as { "x-check"?: (raw: string) => string | undefined })["x-check"];
    for (const name of shared) {
      expect({ name, schema: JSON.stringify(own[name]) }).toEqual({ name, schema: JSON.stringify(shop[name]) });
      for (const raw of ["10.0.0.0/8", "10.0.0.0/33", "http://x.test", "nope"])
        expect({ name, raw, check: check(own[name])?.(raw) }).toEqual({ name, raw, check: check(shop[name])?.(raw) });
    }
  });
});

describe("error vocabulary", () => {
  test("lower snake_case, one name per code, and no code spelled out in the sources", () => {
    const values = Object.values(sandboxPgErrors);
    for (const [key, code] of Object.entries(sandboxPgErrors))
      expect({ key, code, ok: errorCodePattern.test(code) }).toEqual({ key, code, ok: true });
    expect(new Set(values).size).toBe(values.length);
    const walk = (at: string): string[] =>
      readdirSync(at, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(at, e.name)) : [join(at, e.name)]));
    const literal = [/\bfail\(\s*"\w+",\s*["'`]/, /\bcode:\s*["'`][a-z_]+["'`]/, /new HttpProblem\(\s*\d+\s*,\s*["'`]/];
    const found = walk(import.meta.dir)
      .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && !f.endsWith("testing.ts"))
      .flatMap((f) =>
        readFileSync(f, "utf8")
          .split("\n")
          .flatMap((line, i) => (literal.some((re) => re.test(line)) ? [`${relative(import.meta.dir, f)}:${i + 1}: ${line.trim()}`] : [])),
      );
    expect(found).toEqual([]);
  });
});
