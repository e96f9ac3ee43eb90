// Issue 13, M1 and L9, the sandbox PG's side: no public default key (one is generated into the
// data dir, 0600, and the shop in the same data dir sends it); the checkout page sends the buyer
// only back to the shop's public URL (never data: or another site); the key is compared in
// constant time; idempotency keys are scoped per partner user, so one caller can neither replay
// nor probe another's. Both modes (over HTTP); configuration once.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { loadConfig, moduleConfig } from "../../config";
import { modes } from "../../testing/modes";
import { modules } from "../index";
import { sandboxPgModule } from "./index";
import { startSandbox, type SandboxTestApp } from "./testing";

describe("the sandbox PG's key", () => {
  const dir = mkdtempSync(join(tmpdir(), "homebase-sandbox-key-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const shopModule = modules.find((m) => m.name === "shop")!;

  test("unset: generated into the data dir (0600), kept across starts, and what the shop sends", () => {
    const dataDir = join(dir, "a");
    const config = loadConfig({ HOMEBASE_DATA_DIR: dataDir });
    const sandbox = moduleConfig(config, sandboxPgModule);
    expect(sandbox.secretKey).not.toBe("DEV-SANDBOX-SECRET");
    expect(sandbox.secretKey.length).toBeGreaterThanOrEqual(32);
    expect(sandbox.secretSource).toEqual({ kind: "file", file: join(dataDir, "sandbox-pg.secret") });
    expect(statSync(join(dataDir, "sandbox-pg.secret")).mode & 0o777).toBe(0o600);
    expect((moduleConfig(config, shopModule) as { sandboxSecretKey: string }).sandboxSecretKey).toBe(sandbox.secretKey);
    expect(moduleConfig(loadConfig({ HOMEBASE_DATA_DIR: dataDir }), sandboxPgModule).secretKey).toBe(sandbox.secretKey);
    // Another install gets another key.
    expect(moduleConfig(loadConfig({ HOMEBASE_DATA_DIR: join(dir, "b") }), sandboxPgModule).secretKey).not.toBe(sandbox.secretKey);
  });

  test("no default a README could print; a given key is used as it is; none is generated when nothing uses it", () => {
    for (const m of [sandboxPgModule, shopModule]) {
      expect((m.config!.schema.properties.HOMEBASE_SANDBOX_PG_SECRET_KEY as { default?: unknown }).default).toBeUndefined();
    }
    const given = moduleConfig(
      loadConfig({ HOMEBASE_DATA_DIR: join(dir, "c"), HOMEBASE_SANDBOX_PG_SECRET_KEY: "operator-key" }),
      sandboxPgModule,
    );
    expect(given).toMatchObject({ secretKey: "operator-key", secretSource: { kind: "env" } });
    const kakaoDir = join(dir, "d");
    loadConfig({ HOMEBASE_DATA_DIR: kakaoDir, HOMEBASE_SHOP_PG: "kakaopay", HOMEBASE_KAKAOPAY_SECRET_KEY: "k" });
    expect(existsSync(join(kakaoDir, "sandbox-pg.secret"))).toBe(false);
  });
});

describe.each(modes)("the sandbox PG exposed (%s)", (mode) => {
  let app: SandboxTestApp;

  beforeAll(async () => {
    app = await startSandbox(mode);
  });
  afterAll(() => app.close());

  const ready = (urls: { approvalUrl: string; cancelUrl?: string; failUrl?: string }, partnerUserId = "u1") =>
    app.post("/sandbox-pg/v1/payments", {
      partnerOrderId: `o-${Bun.randomUUIDv7()}`,
      partnerUserId,
      itemName: "Vitamin C",
      quantity: 1,
      amount: 5_000,
      recurring: false,
      cancelUrl: `${app.url}/cancel`,
      failUrl: `${app.url}/fail`,
      ...urls,
    });

  test("the key the README printed is refused", async () => {
    const res = await fetch(`${app.url}/sandbox-pg/v1/payments/T1/cancel`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "SECRET_KEY DEV-SANDBOX-SECRET" },
      body: JSON.stringify({ amount: 1 }),
    });
    expect(res.status).toBe(401);
  });

  test("the checkout page redirects only to the shop's public URL: data: and other sites are refused at ready", async () => {
    const foreign = [
      "data:text/html,<script>alert(document.cookie)</script>",
      "javascript:alert(1)",
      "https://evil.example/orders/x/payment/approved",
      `${app.url.replace("127.0.0.1", "localhost")}/ok`,
      `${app.url.replace(/:(\d+)$/, (_, p) => `:${Number(p) + 1}`)}/ok`,
      `http://127.0.0.1@evil.example/ok`,
      `${app.url.replace("http://", "http://user:pw@")}/ok`,
    ];
    for (const url of foreign) {
      for (const field of ["approvalUrl", "cancelUrl", "failUrl"] as const) {
        const res = await ready({ approvalUrl: `${app.url}/ok`, [field]: url });
        expect({ url, field, status: res.status, code: res.body.code }).toEqual({ url, field, status: 400, code: "invalid_redirect_url" });
      }
    }
    // The kakao face too.
    const kakao = await fetch(`${app.url}/sandbox-pg/kakao/online/v1/payment/ready`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `SECRET_KEY ${app.secret}` },
      body: JSON.stringify({
        cid: "TC0ONETIME",
        partner_order_id: "k1",
        partner_user_id: "u1",
        item_name: "x",
        quantity: 1,
        total_amount: 1_000,
        tax_free_amount: 0,
        approval_url: foreign[0],
        cancel_url: `${app.url}/c`,
        fail_url: `${app.url}/f`,
      }),
    });
    expect({ status: kakao.status, message: ((await kakao.json()) as { error_message: string }).error_message }).toEqual({
      status: 400,
      message: expect.stringContaining("invalid_redirect_url"),
    });
    // On the shop's own URL it goes through, and the page sends the buyer there.
    const ok = await ready({ approvalUrl: `${app.url}/orders/o1/payment/approved?x=1` });
    expect(ok.status).toBe(200);
    const page = await fetch(ok.body.redirectUrl as string, { redirect: "manual" });
    expect(page.status).toBe(302);
    expect(page.headers.get("location")).toStartWith(`${app.url}/orders/o1/payment/approved?x=1&pg_token=`);
  });

  test("a payment stored with a foreign URL (before the check) is not redirected there", async () => {
    const r = await ready({ approvalUrl: `${app.url}/ok` });
    const tid = r.body.tid as string;
    await app.t.platform.writer.write(() =>
      app.t.platform.db
        .query("UPDATE shop_sandbox_payments SET approval_url = ?, cancel_url = ? WHERE tid = ?")
        .run("data:text/html,x", "https://evil.example/", tid),
    );
    for (const action of ["approve", "cancel"]) {
      const res = await fetch(`${app.url}/sandbox-pg/checkout/${tid}?action=${action}`, { redirect: "manual" });
      expect({
        action,
        status: res.status,
        location: res.headers.get("location"),
        code: ((await res.json()) as { code: string }).code,
      }).toEqual({
        action,
        status: 409,
        location: null,
        code: "invalid_redirect_url",
      });
    }
    expect(app.engine.payment(tid)!.status).toBe("READY");
  });

  /** A payment of `user`, approved at the checkout page: what a cancel refunds. */
  const approved = async (user: string) => {
    const r = await ready({ approvalUrl: `${app.url}/ok` }, user);
    const tid = r.body.tid as string;
    const page = await fetch(r.body.redirectUrl as string, { redirect: "manual" });
    const pgToken = new URL(page.headers.get("location")!).searchParams.get("pg_token")!;
    const partnerOrderId = app.engine.payment(tid)!.partnerOrderId;
    expect((await app.post(`/sandbox-pg/v1/payments/${tid}/approve`, { pgToken, partnerOrderId, partnerUserId: user })).status).toBe(200);
    return tid;
  };

  test("one partner user's Idempotency-Key neither replays nor reveals another's", async () => {
    // The shop's keys have a guessable shape (order:<id>:ready:1): another user tries the same one.
    const key = `order:${Bun.randomUUIDv7()}:ready:1`;
    const body = (partnerUserId: string) => ({
      partnerOrderId: "o-shared",
      partnerUserId,
      itemName: "Vitamin C",
      quantity: 1,
      amount: 5_000,
      recurring: false,
      approvalUrl: `${app.url}/ok`,
      cancelUrl: `${app.url}/cancel`,
      failUrl: `${app.url}/fail`,
    });
    const alice = await app.post("/sandbox-pg/v1/payments", body("alice"), { "idempotency-key": key });
    expect(alice.status).toBe(200);
    // Her own retry is replayed ...
    expect((await app.post("/sandbox-pg/v1/payments", body("alice"), { "idempotency-key": key })).body.tid).toBe(alice.body.tid as string);
    // ... someone else's request under the same key is a request of its own: not her answer, not "reused".
    const mallory = await app.post("/sandbox-pg/v1/payments", body("mallory"), { "idempotency-key": key });
    expect({ status: mallory.status, code: mallory.body.code }).toEqual({ status: 200, code: undefined });
    expect(mallory.body.tid).not.toBe(alice.body.tid as string);

    // The same for refunds, scoped by the payment's user.
    const [paidA, paidM] = [await approved("alice"), await approved("mallory")];
    const cancelKey = `order:${Bun.randomUUIDv7()}:refund:1`;
    const cancel = (tid: string) => app.post(`/sandbox-pg/v1/payments/${tid}/cancel`, { amount: 1_000 }, { "idempotency-key": cancelKey });
    expect((await cancel(paidA)).body).toMatchObject({ tid: paidA, remainingAmount: 4_000 });
    expect((await cancel(paidM)).body).toMatchObject({ tid: paidM, remainingAmount: 4_000 });
    expect((await cancel(paidA)).body).toMatchObject({ tid: paidA, remainingAmount: 4_000 });
    // Keys are not kept in clear.
    const stored = app.t.platform.db
      .query<{ key: string }, []>("SELECT key FROM shop_sandbox_idempotency")
      .all()
      .map((r) => r.key);
    expect(stored.filter((k) => k === key || k === cancelKey)).toEqual([]);
  });

  test("the key is compared in constant time; what the control route and its log hold are the faults only", () => {
    const sources = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") ? [join(dir, e.name)] : [],
      );
    // `===` / `!==` with the key, the expected header or the request's authorization header on
    // either side (an emptiness check against "" aside).
    const secretCompared = /(\b(expected|secretKey)|get\("authorization"\)\S*)\s*[!=]==(?!\s*"")|[!=]==\s*(expected|secretKey)\b/;
    const compared = sources(import.meta.dir).flatMap((file) =>
      readFileSync(file, "utf8")
        .split("\n")
        .flatMap((line, i) => (secretCompared.test(line) ? [`${relative(import.meta.dir, file)}:${i + 1}: ${line.trim()}`] : [])),
    );
    expect(compared).toEqual([]);
    expect(readFileSync(join(import.meta.dir, "routes", "guards.ts"), "utf8")).toContain("secretEquals(");
    expect(Object.keys(app.engine.faults).sort()).toEqual(["declinePct", "declineUsers", "errorPct", "hangMs", "latencyMs", "timeoutPct"]);
  });

  describe("behind a public URL with a path", () => {
    let pathed: SandboxTestApp;
    beforeAll(async () => {
      pathed = await startSandbox(mode, { HOMEBASE_SHOP_PUBLIC_URL: "https://shop.example/base/" });
    });
    afterAll(() => pathed.close());

    test("only URLs under that path on that origin", async () => {
      const body = (approvalUrl: string) => ({
        partnerOrderId: `p-${Bun.randomUUIDv7()}`,
        partnerUserId: "u1",
        itemName: "x",
        quantity: 1,
        amount: 100,
        recurring: false,
        approvalUrl,
        cancelUrl: "https://shop.example/base/c",
        failUrl: "https://shop.example/base",
      });
      expect((await pathed.post("/sandbox-pg/v1/payments", body("https://shop.example/base/orders/1/payment/approved"))).status).toBe(200);
      for (const url of [
        "https://shop.example/other",
        "https://shop.example/basement",
        "http://shop.example/base/x",
        "https://shop.example.evil/base/x",
      ]) {
        expect({ url, code: (await pathed.post("/sandbox-pg/v1/payments", body(url))).body.code }).toEqual({
          url,
          code: "invalid_redirect_url",
        });
      }
    });
  });
});
