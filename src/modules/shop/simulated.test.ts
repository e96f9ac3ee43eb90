// Issue 13, M1, from the shop's side: with the sandbox PG on by default, its key is no longer one
// the README prints, so a buyer cannot refund their own paid order at the gateway behind the
// shop's back (refunds go through the shop); and the start-up log and `homebase doctor` say
// plainly that payments are simulated. Both modes (the refund); the rest is configuration.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createModules } from "../../app";
import { loadConfig } from "../../config";
import { createPlatform } from "../../platform";
import { runDoctor } from "../../platform/doctor";
import type { Logger } from "../../platform/logger";
import { modes } from "../../testing/modes";
import { modules } from "../index";
import type { Order } from "./model";
import { ledger, startShop, type ShopTestApp } from "./testing";

describe.each(modes)("refunds happen only through the shop (%s)", (mode) => {
  let app: ShopTestApp;

  beforeAll(async () => {
    app = await startShop(mode);
  });
  afterAll(() => app.close());

  test("a buyer holding their payment's tid cannot cancel it at the gateway: the order and the ledger stay paid", async () => {
    const buyer = await app.user();
    const it = await app.item({ price: 12_000, discountRate: 0, stock: 5 });
    const order = await app.buy(buyer, [{ itemId: it.id, quantity: 1 }]);
    const [payment] = await ledger(app, order.id);
    expect(payment).toMatchObject({ status: "APPROVED", amount: 12_000 });
    // What the review did: the key the README printed, on both of the gateway's faces.
    for (const key of ["DEV-SANDBOX-SECRET", "", "x".repeat(64)]) {
      const native = await fetch(`${app.url}/sandbox-pg/v1/payments/${payment!.tid}/cancel`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `SECRET_KEY ${key}` },
        body: JSON.stringify({ amount: 12_000 }),
      });
      expect({ key, status: native.status }).toEqual({ key, status: 401 });
      const kakao = await fetch(`${app.url}/sandbox-pg/kakao/online/v1/payment/cancel`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `SECRET_KEY ${key}` },
        body: JSON.stringify({ cid: "TC0ONETIME", tid: payment!.tid, cancel_amount: 12_000, cancel_tax_free_amount: 0 }),
      });
      expect({ key, status: kakao.status }).toEqual({ key, status: 401 });
    }
    expect((await ledger(app, order.id)).map((p) => [p.status, p.cancelledAmount])).toEqual([["APPROVED", 0]]);
    const seen = (await (await app.t.request("GET", `/orders/${order.id}`, { token: buyer.tokens.accessToken })).json()) as Order;
    expect(seen).toMatchObject({ status: "COMPLETE", refundedAmount: 0 });

    // Through the shop it is refunded, at the gateway and in the shop alike.
    const refunded = await app.t.request("POST", `/orders/${order.id}/refunds`, { token: buyer.tokens.accessToken, body: {} });
    expect(((await refunded.json()) as Order).status).toBe("REFUND");
    expect((await ledger(app, order.id)).map((p) => [p.status, p.cancelledAmount])).toEqual([["CANCELLED", 12_000]]);
  });
});

describe("payments are said to be simulated", () => {
  const dir = mkdtempSync(join(tmpdir(), "homebase-simulated-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("at start: a warning from the shop and from the sandbox PG; none with KakaoPay", async () => {
    const started = async (env: Record<string, string>) => {
      const lines: Array<{ level: string; msg: string; fields: Record<string, unknown> }> = [];
      const capture = (base: Record<string, unknown>): Logger => {
        const log =
          (level: string) =>
          (msg: string, fields: Record<string, unknown> = {}) =>
            void lines.push({ level, msg, fields: { ...base, ...fields } });
        return {
          debug: log("debug"),
          info: log("info"),
          warn: log("warn"),
          error: log("error"),
          child: (more) => capture({ ...base, ...more }),
        };
      };
      const platform = await createPlatform(loadConfig({ HOMEBASE_DATA_DIR: mkdtempSync(join(dir, "d-")), ...env }), {
        logger: capture({}),
      });
      try {
        const installed = createModules(platform);
        await installed.close();
      } finally {
        await platform.close();
      }
      return lines.filter((l) => l.level === "warn").map((l) => `${l.fields.module}: ${l.msg}`);
    };
    expect(await started({})).toEqual(
      expect.arrayContaining([
        "shop: payments are simulated: no money moves",
        "sandbox-pg: the sandbox payment gateway is mounted at /sandbox-pg: payments through it are simulated, no money moves",
      ]),
    );
    const real = await started({ HOMEBASE_SHOP_PG: "kakaopay", HOMEBASE_KAKAOPAY_SECRET_KEY: "k" });
    expect(real.filter((l) => l.includes("simulated"))).toEqual([]);
  });

  test("homebase doctor: WARN payments SIMULATED (and the sandbox mounted) by default, PASS on KakaoPay", async () => {
    const lines = async (env: Record<string, string>) =>
      (await runDoctor({ HOMEBASE_DATA_DIR: mkdtempSync(join(dir, "doc-")), ...env }, modules))
        .filter((c) => c.name === "payments" || c.name.startsWith("sandbox pg"))
        .map((c) => ({ line: `${c.status} ${c.name}`, detail: c.detail }));
    expect(await lines({})).toEqual([
      { line: "warn payments", detail: expect.stringMatching(/^SIMULATED: the shop pays through the sandbox PG .*no money moves/) },
      { line: "warn sandbox pg", detail: expect.stringMatching(/^mounted at \/sandbox-pg: payments through it are SIMULATED/) },
      { line: "pass sandbox pg key", detail: expect.stringMatching(/^generated, .*sandbox-pg\.secret mode 600$/) },
    ]);
    expect(await lines({ HOMEBASE_SHOP_PG: "kakaopay", HOMEBASE_KAKAOPAY_SECRET_KEY: "k" })).toEqual([
      { line: "pass payments", detail: "real: KakaoPay at https://open-api.kakaopay.com" },
      { line: "pass sandbox pg", detail: "not mounted" },
    ]);
  });
});
