// The resilience policies around the gateway (20 % injected failure: no double charge, no lost
// charge; the breaker opens and recovers), and the KakaoPay adapter against the sandbox PG's
// KakaoPay-shaped facade. Both modes. (The sandbox PG itself: src/modules/sandbox-pg.)
import type { Gauge } from "prom-client";
import { afterAll, beforeAll, describe, expect, setSystemTime, test } from "bun:test";
import { CircuitState } from "cockatiel";
import { modes } from "../../testing/modes";
import { freePort } from "../../testing/ports";
import { waitFor } from "../../testing/wait";
import type { Order } from "./model";
import { KakaoPayGateway } from "./payments/kakaopay-gateway";
import { GatewayError } from "./payments/port";
import { expectProblem, faults, ledger, startShop, type ShopTestApp, type User } from "./testing";

// The KakaoPay adapter's key: the sandbox's own, set on both sides (as for another server's sandbox).
const secret = "kakaopay-facade-test-key";

async function counter(app: ShopTestApp, outcome: string): Promise<number> {
  const metric = app.t.platform.metrics.registry.getSingleMetric("homebase_payment_gateway_calls_total");
  const { values } = await metric!.get();
  return values.filter((v) => v.labels.outcome === outcome).reduce((a, v) => a + v.value, 0);
}

async function breakerGauge(app: ShopTestApp): Promise<number | undefined> {
  const { values } = await (app.t.platform.metrics.registry.getSingleMetric("homebase_circuit_breaker_state") as Gauge).get();
  return values.find((v) => v.labels.breaker === `payment_gateway_${app.shop.gateway.name}`)?.value;
}

describe.each(modes)("payments (%s)", (mode) => {
  let app: ShopTestApp;
  let buyer: User;

  beforeAll(async () => {
    // A 1 s open period: long enough that "fails fast while open" is not a race on a busy machine.
    // One buyer places 30 orders at once: no unpaid-order cap (that is src/modules/shop/unpaid.test.ts).
    app = await startShop(mode, { HOMEBASE_SHOP_BREAKER_OPEN_MS: "1000", HOMEBASE_SHOP_UNPAID_ORDERS_MAX: "0" });
    buyer = await app.user();
  });
  afterAll(() => app.close());

  describe("resilience", () => {
    test("at 20 % injected failure (errors and timeouts) every order is charged exactly once", async () => {
      const item = await app.item({ price: 3_000, discountRate: 0, stock: 1_000 });
      const transientBefore = (await counter(app, "transient")) + (await counter(app, "timeout"));
      await faults(app, { errorPct: 10, timeoutPct: 10 });
      let orders: Order[];
      try {
        orders = await Promise.all(Array.from({ length: 30 }, (_, i) => app.buy(buyer, [{ itemId: item.id, quantity: 1 + (i % 3) }])));
      } finally {
        await faults(app, { errorPct: 0, timeoutPct: 0 });
      }
      expect(orders.every((o) => o.status === "COMPLETE")).toBe(true);
      // The faults happened and were absorbed by retries.
      expect((await counter(app, "transient")) + (await counter(app, "timeout"))).toBeGreaterThan(transientBefore);
      for (const order of orders) {
        // The PG's ledger: one approved payment of the order's amount — no double charge.
        const approved = (await ledger(app, order.id)).filter((p) => p.status === "APPROVED");
        expect(approved.map((p) => p.amount)).toEqual([order.amount]);
        // Ours: exactly that payment — no lost charge.
        const ours = app.t.platform.db
          .query<{ tid: string; amount: number }, [string]>("SELECT tid, amount FROM shop_payments WHERE order_id = ?")
          .all(order.id);
        expect(ours).toEqual([{ tid: approved[0]!.tid, amount: order.amount }]);
      }
    }, 30_000);

    test("the breaker opens when the gateway fails, fails fast while open, and recovers (half-open trials) at 20 % failure", async () => {
      const item = await app.item({ stock: 1_000 });
      const transitions: CircuitState[] = [];
      const listener = app.shop.gateway.breaker.onStateChange((s) => transitions.push(s));
      const order = (await (
        await app.t.request("POST", "/orders", {
          token: buyer.tokens.accessToken,
          body: { kind: "NORMAL", items: [{ itemId: item.id, quantity: 1 }] },
        })
      ).json()) as Order;
      const tryReady = () => app.t.request("POST", `/orders/${order.id}/payment`, { token: buyer.tokens.accessToken });
      try {
        expect(await breakerGauge(app)).toBe(0);
        await faults(app, { errorPct: 100 });
        for (let i = 0; i < 20 && app.shop.gateway.state !== "open"; i++)
          await expectProblem(await tryReady(), 503, "payment_gateway_unavailable");
        expect(app.shop.gateway.state).toBe("open");
        expect(await breakerGauge(app)).toBe(1);
        const shortBefore = await counter(app, "short_circuited");
        const fast = await tryReady();
        // What is left of the 1 s open period, rounded up.
        expect(fast.headers.get("retry-after")).toBe("1");
        expect(((await fast.json()) as { detail: string }).detail).toContain("circuit_open");
        expect(await counter(app, "short_circuited")).toBe(shortBefore + 1);

        // The gateway comes back (with its usual 20 % failures); after the open period, trial calls close it.
        await faults(app, { errorPct: 20 });
        // A fresh order each time: a second start of one order answers its open checkout without calling the gateway.
        await waitFor(
          async () => {
            const next = (await (
              await app.t.request("POST", "/orders", {
                token: buyer.tokens.accessToken,
                body: { kind: "NORMAL", items: [{ itemId: item.id, quantity: 1 }] },
              })
            ).json()) as Order;
            await app.t.request("POST", `/orders/${next.id}/payment`, { token: buyer.tokens.accessToken });
            return app.shop.gateway.state === "closed";
          },
          { timeoutMs: 15_000, intervalMs: 20, what: "the breaker to close again" },
        );
        expect(await breakerGauge(app)).toBe(0);
        expect(transitions).toContain(CircuitState.Open);
        expect(transitions).toContain(CircuitState.HalfOpen);
        expect(transitions.at(-1)).toBe(CircuitState.Closed);
      } finally {
        listener.dispose();
        await faults(app, { errorPct: 0 });
      }
    }, 30_000);
  });

  describe("Retry-After while the circuit is open", () => {
    let slow: ShopTestApp;
    beforeAll(async () => {
      slow = await startShop(mode, { HOMEBASE_SHOP_BREAKER_OPEN_MS: "30000", HOMEBASE_SHOP_UNPAID_ORDERS_MAX: "0" });
    });
    afterAll(async () => {
      setSystemTime();
      await slow.close();
    });

    test("a gateway failure while the circuit is closed says 2 s", async () => {
      const u = await slow.user();
      const item = await slow.item({ stock: 100 });
      const order = (await (
        await slow.t.request("POST", "/orders", {
          token: u.tokens.accessToken,
          body: { kind: "NORMAL", items: [{ itemId: item.id, quantity: 1 }] },
        })
      ).json()) as Order;
      await faults(slow, { errorPct: 100 });
      try {
        const res = await slow.t.request("POST", `/orders/${order.id}/payment`, { token: u.tokens.accessToken });
        await expectProblem(res, 503, "payment_gateway_unavailable");
        expect(slow.shop.gateway.state).toBe("closed");
        expect(res.headers.get("retry-after")).toBe("2");
      } finally {
        await faults(slow, { errorPct: 0 });
      }
    });

    test("says the time left until the breaker half-opens (cockatiel's own timing), not a fixed figure", async () => {
      const u = await slow.user();
      const item = await slow.item({ stock: 100 });
      const order = (await (
        await slow.t.request("POST", "/orders", {
          token: u.tokens.accessToken,
          body: { kind: "NORMAL", items: [{ itemId: item.id, quantity: 1 }] },
        })
      ).json()) as Order;
      const tryReady = () => slow.t.request("POST", `/orders/${order.id}/payment`, { token: u.tokens.accessToken });
      await faults(slow, { errorPct: 100 });
      try {
        for (let i = 0; i < 20 && slow.shop.gateway.state !== "open"; i++) await tryReady();
        expect(slow.shop.gateway.state).toBe("open");
        const openedAt = (slow.shop.gateway.breaker.toJSON() as { ownState: { openedAt: number } }).ownState.openedAt;
        // 12.4 s into the 30 s open period: 17.6 s left, said as 18.
        setSystemTime(new Date(openedAt + 12_400));
        const during = await tryReady();
        const body = await expectProblem(during, 503, "payment_gateway_unavailable");
        expect(during.headers.get("retry-after")).toBe("18");
        expect(body).toMatchObject({ retryAfterSeconds: 18, detail: expect.stringContaining("retry in 18 s") });
        // 29.5 s in: 1 s (never 0).
        setSystemTime(new Date(openedAt + 29_500));
        expect((await tryReady()).headers.get("retry-after")).toBe("1");
        // Past the period: trial calls reach the gateway (which still errs): its own failure, not the circuit's.
        setSystemTime(new Date(openedAt + 30_001));
        const trial = await tryReady();
        expect(slow.shop.gateway.state).toBe("half-open");
        expect(((await expectProblem(trial, 503, "payment_gateway_unavailable")) as unknown as { detail: string }).detail).not.toContain(
          "circuit_open",
        );
        expect(trial.headers.get("retry-after")).toBe("2");
        // The trials fail: it opens again, for a full 30 s from then.
        for (let i = 0; i < 10 && slow.shop.gateway.state !== "open"; i++) await tryReady();
        expect(slow.shop.gateway.state).toBe("open");
        expect((await tryReady()).headers.get("retry-after")).toBe("30");
      } finally {
        setSystemTime();
        await faults(slow, { errorPct: 0 });
      }
    }, 30_000);
  });

  describe("the KakaoPay adapter, against the sandbox's KakaoPay-shaped facade", () => {
    let kakao: ShopTestApp;

    beforeAll(async () => {
      kakao = await startShopOnOwnFacade(mode);
    });
    afterAll(() => kakao.close());

    test("ready/approve/cancel/subscription/inactivate map to and from KakaoPay's shapes", async () => {
      const gw = new KakaoPayGateway({
        baseUrl: `${kakao.url}/sandbox-pg/kakao`,
        secretKey: secret,
        cid: "TC0ONETIME",
        subscriptionCid: "TCSUBSCRIP",
      });
      const orderId = `k-${Bun.randomUUIDv7()}`;
      const urls = { approvalUrl: `${kakao.url}/ok`, cancelUrl: `${kakao.url}/c`, failUrl: `${kakao.url}/f` };
      const ready = await gw.ready({
        idempotencyKey: `${orderId}:r`,
        orderId,
        userId: "ku",
        itemName: "Omega-3",
        quantity: 2,
        amount: 24_000,
        subscription: true,
        ...urls,
      });
      expect(ready.redirectUrl).toBe(`${kakao.url}/sandbox-pg/checkout/${ready.tid}`);
      const pgToken = new URL((await fetch(ready.redirectUrl, { redirect: "manual" })).headers.get("location")!).searchParams.get(
        "pg_token",
      )!;
      const approval = await gw.approve({
        idempotencyKey: `${orderId}:a`,
        tid: ready.tid,
        orderId,
        userId: "ku",
        pgToken,
        subscription: true,
      });
      expect(approval).toMatchObject({ tid: ready.tid, amount: 24_000 });
      expect(approval.sid).toStartWith("S");
      expect(approval.aid).toStartWith("A");

      const charge = await gw.charge({
        idempotencyKey: `${orderId}:2`,
        sid: approval.sid!,
        orderId: `${orderId}-2`,
        userId: "ku",
        itemName: "Omega-3",
        quantity: 2,
        amount: 24_000,
      });
      expect(charge.amount).toBe(24_000);
      expect(await gw.cancel({ idempotencyKey: `${orderId}:c`, tid: charge.tid, amount: 4_000, subscription: true })).toEqual({
        tid: charge.tid,
        cancelledAmount: 4_000,
        remainingAmount: 20_000,
      });

      await faults(kakao, { declineUsers: ["ku"] });
      const declined = await gw
        .charge({
          idempotencyKey: `${orderId}:3`,
          sid: approval.sid!,
          orderId: `${orderId}-3`,
          userId: "ku",
          itemName: "Omega-3",
          quantity: 2,
          amount: 24_000,
        })
        .catch((e: unknown) => e);
      await faults(kakao, { declineUsers: [] });
      expect(declined).toBeInstanceOf(GatewayError);
      expect(declined).toMatchObject({ kind: "declined", code: "kakaopay_-780" });

      await faults(kakao, { errorPct: 100 });
      const outage = await gw
        .ready({
          idempotencyKey: `${orderId}:r2`,
          orderId,
          userId: "ku",
          itemName: "x",
          quantity: 1,
          amount: 1,
          subscription: false,
          ...urls,
        })
        .catch((e: unknown) => e);
      await faults(kakao, { errorPct: 0 });
      expect(outage).toMatchObject({ kind: "transient" });

      const rejected = await gw
        .cancel({ idempotencyKey: `${orderId}:c9`, tid: charge.tid, amount: 999_999, subscription: true })
        .catch((e: unknown) => e);
      expect(rejected).toMatchObject({ kind: "rejected" });

      await gw.inactivate(approval.sid!);
      const afterInactive = await gw
        .charge({
          idempotencyKey: `${orderId}:4`,
          sid: approval.sid!,
          orderId: `${orderId}-4`,
          userId: "ku",
          itemName: "x",
          quantity: 1,
          amount: 1,
        })
        .catch((e: unknown) => e);
      expect(afterInactive).toMatchObject({ kind: "rejected" });

      const wrongKey = await new KakaoPayGateway({
        baseUrl: `${kakao.url}/sandbox-pg/kakao`,
        secretKey: "nope",
        cid: "TC0ONETIME",
        subscriptionCid: "TCSUBSCRIP",
      })
        .inactivate("S1")
        .catch((e: unknown) => e);
      expect(wrongKey).toMatchObject({ kind: "rejected", code: "kakaopay_-401" });
    });

    test("the shop runs end to end on the KakaoPay adapter: pay, refund, decline", async () => {
      const u = await kakao.user();
      const item = await kakao.item({ price: 8_000, discountRate: 0, stock: 10 });
      const order = await kakao.buy(u, [{ itemId: item.id, quantity: 2 }]);
      expect(order).toMatchObject({ status: "COMPLETE", amount: 16_000 });
      const refunded = (await (
        await kakao.t.request("POST", `/orders/${order.id}/refunds`, { token: u.tokens.accessToken, body: {} })
      ).json()) as Order;
      expect(refunded).toMatchObject({ status: "REFUND", refundedAmount: 16_000 });
      expect((await ledger(kakao, order.id)).map((p) => p.status)).toEqual(["CANCELLED"]);

      await faults(kakao, { declineUsers: [u.user.id] });
      try {
        const next = (await (
          await kakao.t.request("POST", "/orders", {
            token: u.tokens.accessToken,
            body: { kind: "NORMAL", items: [{ itemId: item.id, quantity: 1 }] },
          })
        ).json()) as Order;
        await expectProblem(await kakao.pay(u, next.id), 402, "payment_declined");
        expect(
          ((await kakao.t.request("GET", `/orders/${next.id}`, { token: u.tokens.accessToken }).then((r) => r.json())) as Order).status,
        ).toBe("REQUEST");
      } finally {
        await faults(kakao, { declineUsers: [] });
      }
    });
  });
});

/** A shop on the KakaoPay adapter whose base URL is its own sandbox facade (port picked first). */
async function startShopOnOwnFacade(mode: (typeof modes)[number]): Promise<ShopTestApp> {
  const port = await freePort();
  return startShop(mode, {
    HOMEBASE_PORT: String(port),
    HOMEBASE_SHOP_PG: "kakaopay",
    HOMEBASE_KAKAOPAY_SECRET_KEY: secret,
    HOMEBASE_SANDBOX_PG_SECRET_KEY: secret,
    HOMEBASE_SANDBOX_PG: "on",
    HOMEBASE_SHOP_PG_URL: `http://127.0.0.1:${port}/sandbox-pg/kakao`,
  });
}
