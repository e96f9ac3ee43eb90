// Subscriptions and recurring billing: the cycle, period change, skip, cancel, decline retries
// on day 1/3/5, two workers billing the same day at 20 % injected failure, the scheduler hook,
// and the internal endpoints' guard (IP allowlist and internal token). Both modes. A billing run
// never bills a day after today, so the tests move an injected clock to the days they bill.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createModules } from "../../app";
import { ConfigError, loadConfig, moduleConfig } from "../../config";
import { shopModule } from "./index";
import { createPlatform } from "../../platform";
import { ManualClock } from "../../platform/clock";
import { createLogger } from "../../platform/logger";
import { modes } from "../../testing/modes";
import { waitFor } from "../../testing/wait";
import { shopEvents } from "./events";
import { ipMatcher as allowList } from "../../platform/http/client-ip";
import { GatewayError } from "./payments/port";
import type { BillingSummary, ChargeResult, Item, ItemDetail, Order, Subscription } from "./model";
import { day, expectProblem, faults, ledger, startShop, type ShopTestApp, type User } from "./testing";
import { ShopWorker } from "./worker";

describe("internal allowlist", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "homebase-shop-config-"));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
  test("loopback only by default (the WireGuard subnet is every user's device); IPv4-mapped IPv6 is the IPv4 address", () => {
    const allowed = allowList(moduleConfig(loadConfig({ HOMEBASE_DATA_DIR: dataDir }), shopModule).internalAllow);
    expect(["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"].map(allowed)).toEqual(Array(4).fill(true));
    expect(
      [
        "10.44.0.1",
        "10.44.0.254",
        "::ffff:10.44.0.9",
        "10.44.1.1",
        "10.45.0.1",
        "192.168.0.10",
        "8.8.8.8",
        "::2",
        "fe80::1",
        "not-an-ip",
        "",
      ].map(allowed),
    ).toEqual(Array(11).fill(false));
    // A configured list is taken as it is.
    const wg = allowList(
      moduleConfig(loadConfig({ HOMEBASE_DATA_DIR: dataDir, HOMEBASE_SHOP_INTERNAL_ALLOW: "10.44.0.0/24" }), shopModule).internalAllow,
    );
    expect(["10.44.0.1", "::ffff:10.44.0.9", "127.0.0.1"].map(wg)).toEqual([true, true, false]);
  });

  test("bad shop settings are refused naming the variable", () => {
    const bad: Array<[string, string]> = [
      ["HOMEBASE_SHOP_INTERNAL_ALLOW", "10.44.0.0/33"],
      ["HOMEBASE_SHOP_BILLING_CRON", "every day"],
      ["HOMEBASE_SHOP_PG", "paypal"],
      ["HOMEBASE_SANDBOX_PG_ERROR_PCT", "101"],
    ];
    for (const [name, value] of bad) {
      expect(() => loadConfig({ HOMEBASE_DATA_DIR: dataDir, [name]: value })).toThrow(ConfigError);
    }
    // KakaoPay needs its secret key.
    expect(() => loadConfig({ HOMEBASE_DATA_DIR: dataDir, HOMEBASE_SHOP_PG: "kakaopay" })).toThrow(/HOMEBASE_KAKAOPAY_SECRET_KEY/);
  });
});

const dayMs = 86_400_000;

describe.each(modes)("billing (%s)", (mode) => {
  let app: ShopTestApp;
  const clock = new ManualClock(Date.now());

  beforeAll(async () => {
    app = await startShop(mode, {}, { clock });
  });
  afterAll(() => app.close());

  /**
   * The days of one test, counted from its first instant: `day(30)` is day 30 of a subscription
   * started now, and `run(30)` moves the clock there (never back) and bills that day.
   */
  const calendar = () => {
    const start = clock.now();
    const at = (n: number) => day(0, { now: () => start + n * dayMs });
    const moveTo = (n: number) => {
      if (start + n * dayMs > clock.now()) clock.set(start + n * dayMs);
    };
    return {
      day: at,
      moveTo,
      run(n: number): Promise<BillingSummary> {
        moveTo(n);
        return run(at(n));
      },
    };
  };
  // Access tokens expire on the same clock: a user logs in again once it has moved.
  const sessions = new Map<string, { token: string; at: number }>();
  const user = async (prefix?: string) => {
    const u = await app.user(prefix);
    sessions.set(u.email, { token: u.tokens.accessToken, at: clock.now() });
    return u;
  };
  const as = async (u: User): Promise<string> => {
    const known = sessions.get(u.email);
    if (known && known.at === clock.now()) return known.token;
    const res = await app.t.request("POST", "/auth/login", { body: { email: u.email, password: u.password } });
    expect(res.status).toBe(200);
    const token = ((await res.json()) as { accessToken: string }).accessToken;
    sessions.set(u.email, { token, at: clock.now() });
    return token;
  };
  const sub = async (u: User, id: string) =>
    (await (await app.t.request("GET", `/subscriptions/${id}`, { token: await as(u) })).json()) as Subscription;
  const item = async (id: string) => (await (await app.t.request("GET", `/items/${id}`)).json()) as ItemDetail;
  const run = async (date: string): Promise<BillingSummary> => {
    const res = await fetch(`${app.url}/internal/billing/run`, {
      method: "POST",
      headers: { "content-type": "application/json", ...app.internal },
      body: JSON.stringify({ date }),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as BillingSummary;
  };
  const subscribe = async (u: User, it: Item, periodDays = 30, quantity = 1) => {
    const order = await app.buy(u, [{ itemId: it.id, quantity }], "SUBSCRIPTION", periodDays);
    expect(order.status).toBe("SUBSCRIPTION");
    return { order, subscription: await sub(u, order.subscriptionId!) };
  };
  const outbox = (subject: string) =>
    app.t.platform.db
      .query<{ payload: string }, [string]>("SELECT payload FROM outbox WHERE subject = ? ORDER BY created_at")
      .all(subject)
      .map((r) => JSON.parse(r.payload) as Record<string, unknown>);
  /** The PG's view: approved recurring charges of one subscription cycle. */
  const charged = async (subscriptionId: string, cycle: number) =>
    (await ledger(app, `${subscriptionId}-${cycle}`)).filter((p) => p.status === "APPROVED");

  test("the first payment stores the SID; the cycle is charged on its due day, next = last payment + period", async () => {
    const { day, run, moveTo } = calendar();
    const u = await user();
    const it = await app.item({ price: 20_000, discountRate: 10, stock: 50 });
    const { order, subscription } = await subscribe(u, it, 30, 2);
    expect(subscription).toMatchObject({
      status: "ACTIVE",
      periodDays: 30,
      amount: 36_000,
      paidCycles: 1,
      lastPaidOn: day(0),
      nextPaymentOn: day(30),
      declines: 0,
    });
    expect(order.subscriptionId).toBe(subscription.id);
    const sid = app.t.platform.db
      .query<{ sid: string }, [string]>("SELECT sid FROM shop_subscriptions WHERE id = ?")
      .get(subscription.id)!.sid;
    expect((await ledger(app, order.id))[0]).toMatchObject({ kind: "SUBSCRIPTION_FIRST", status: "APPROVED", sid });
    expect(outbox(shopEvents.subscriptionStarted).some((p) => p.subscriptionId === subscription.id)).toBe(true);

    // Not due before its day.
    expect((await run(29)).charged).toBe(0);
    expect((await sub(u, subscription.id)).paidCycles).toBe(1);

    const summary = await run(30);
    expect(summary.charged).toBeGreaterThanOrEqual(1);
    expect(await sub(u, subscription.id)).toMatchObject({ paidCycles: 2, lastPaidOn: day(30), nextPaymentOn: day(60) });
    expect((await charged(subscription.id, 2)).map((p) => [p.amount, p.sid])).toEqual([[36_000, sid]]);
    expect((await item(it.id)).stock).toBe(50 - 2 - 2);
    await waitFor(async () => (await item(it.id)).salesCount === 4, { what: "sales of both cycles" });

    // The same day again: nothing left to charge for it.
    await run(30);
    expect(await charged(subscription.id, 2)).toHaveLength(1);
    expect((await sub(u, subscription.id)).paidCycles).toBe(2);
    // The internal recurring-charge endpoint: not due → skipped.
    const charge = (date: string) =>
      fetch(`${app.url}/internal/subscriptions/${subscription.id}/charge`, {
        method: "POST",
        headers: { "content-type": "application/json", ...app.internal },
        body: JSON.stringify({ date }),
      });
    const one = await charge(day(30));
    expect(((await one.json()) as ChargeResult).outcome).toBe("skipped");
    // Day 60 is not there yet: refused, nothing charged; on day 60 it is charged.
    await expectProblem(await charge(day(60)), 422, "billing_date_in_future");
    moveTo(60);
    const due = await charge(day(60));
    expect((await due.json()) as ChargeResult).toEqual({ subscriptionId: subscription.id, cycle: 3, outcome: "charged" });
  });

  test("change the period, skip a cycle, cancel; others get 404", async () => {
    const { day, run } = calendar();
    const u = await user();
    const it = await app.item();
    const { subscription } = await subscribe(u, it, 30);
    const patch = async (body: unknown, who = u) =>
      app.t.request("PATCH", `/subscriptions/${subscription.id}`, { token: await as(who), body });
    await expectProblem(await patch({ periodDays: 29 }), 422, "validation_failed");
    await expectProblem(await patch({ periodDays: 181 }), 422, "validation_failed");
    const other = await user();
    await expectProblem(await patch({ periodDays: 60 }, other), 404, "subscription_not_found");
    await expectProblem(
      await app.t.request("POST", `/subscriptions/${subscription.id}/cancel`, { token: await as(other) }),
      404,
      "subscription_not_found",
    );

    expect((await (await patch({ periodDays: 60 })).json()) as Subscription).toMatchObject({ periodDays: 60, nextPaymentOn: day(60) });
    const skipped = (await (
      await app.t.request("POST", `/subscriptions/${subscription.id}/skip`, { token: await as(u) })
    ).json()) as Subscription;
    expect(skipped.nextPaymentOn).toBe(day(120));
    // Day 60 (earlier tests' subscriptions may fall due that day): this one is not charged.
    await run(60);
    expect((await sub(u, subscription.id)).paidCycles).toBe(1);
    expect(await charged(subscription.id, 2)).toHaveLength(0);

    const cancelled = (await (
      await app.t.request("POST", `/subscriptions/${subscription.id}/cancel`, { token: await as(u) })
    ).json()) as Subscription;
    expect(cancelled).toMatchObject({ status: "CANCELLED", nextPaymentOn: null });
    expect(cancelled.cancelledAt).not.toBeNull();
    expect(((await (await app.t.request("GET", `/orders/${subscription.orderId}`, { token: await as(u) })).json()) as Order).status).toBe(
      "SUBSCRIBE_CANCEL",
    );
    await expectProblem(
      await app.t.request("POST", `/subscriptions/${subscription.id}/cancel`, { token: await as(u) }),
      409,
      "subscription_not_active",
    );
    await expectProblem(
      await app.t.request("POST", `/subscriptions/${subscription.id}/skip`, { token: await as(u) }),
      409,
      "subscription_not_active",
    );
    // The SID was inactivated at the gateway, and billing never comes back to it.
    const sid = app.t.platform.db
      .query<{ sid: string }, [string]>("SELECT sid FROM shop_subscriptions WHERE id = ?")
      .get(subscription.id)!.sid;
    const afterCancel = await app.shop.gateway
      .charge({
        idempotencyKey: `probe:${sid}`,
        sid,
        orderId: `${subscription.id}-probe`,
        userId: u.user.id,
        itemName: "probe",
        quantity: 1,
        amount: 1,
      })
      .catch((e: unknown) => e);
    expect(afterCancel).toBeInstanceOf(GatewayError);
    expect(afterCancel).toMatchObject({ kind: "rejected", code: "sid_inactive" });
    await run(120);
    expect(await charged(subscription.id, 2)).toHaveLength(0);
    const list = (await (await app.t.request("GET", "/subscriptions", { token: await as(u) })).json()) as { items: Subscription[] };
    expect(list.items.map((s) => [s.id, s.status])).toEqual([[subscription.id, "CANCELLED"]]);
  });

  test("declines are retried on day 1, 3 and 5, then the subscription is cancelled and the user notified", async () => {
    const { day, run } = calendar();
    const u = await user();
    const it = await app.item({ stock: 10 });
    const { subscription } = await subscribe(u, it, 30);
    const due = day(30);
    await faults(app, { declineUsers: [u.user.id] });
    try {
      const steps: Array<[number, string]> = [];
      for (const offset of [30, 30, 31, 32, 33, 34, 35]) {
        const summary = await run(offset);
        const s = await sub(u, subscription.id);
        steps.push([offset, `${summary.declined}/${summary.cancelled} ${s.status} declines=${s.declines}`]);
      }
      expect(steps).toEqual([
        [30, "1/0 ACTIVE declines=1"], // due day: declined, retry on day 1
        [30, "0/0 ACTIVE declines=1"], // not due again the same day
        [31, "1/0 ACTIVE declines=2"], // day 1: retry on day 3
        [32, "0/0 ACTIVE declines=2"],
        [33, "1/0 ACTIVE declines=3"], // day 3: retry on day 5
        [34, "0/0 ACTIVE declines=3"],
        [35, "0/1 PAYMENT_FAILED declines=3"], // day 5: cancelled
      ]);
    } finally {
      await faults(app, { declineUsers: [] });
    }
    expect(due).toBe(day(30));
    expect((await ledger(app, `${subscription.id}-2`)).map((p) => p.status)).toEqual(["DECLINED", "DECLINED", "DECLINED", "DECLINED"]);
    // Each decline gave the reserved stock back.
    expect((await item(it.id)).stock).toBe(9);
    expect(((await (await app.t.request("GET", `/orders/${subscription.orderId}`, { token: await as(u) })).json()) as Order).status).toBe(
      "SUBSCRIBE_PAYMENT_FAIL",
    );
    expect(
      outbox(shopEvents.subscriptionChargeDeclined)
        .filter((p) => p.subscriptionId === subscription.id)
        .map((p) => p.retryOn),
    ).toEqual([day(31), day(33), day(35)]);
    expect(outbox(shopEvents.subscriptionPaymentFailed).filter((p) => p.subscriptionId === subscription.id)).toEqual([
      expect.objectContaining({ userId: u.user.id, cycle: 2, declines: 4 }),
    ]);
    await run(40);
    expect(await charged(subscription.id, 2)).toHaveLength(0);
  });

  test("a decline then a successful retry: paid on the retry day, next = that day + period", async () => {
    const { day, run } = calendar();
    const u = await user();
    const it = await app.item();
    const { subscription } = await subscribe(u, it, 45);
    await faults(app, { declineUsers: [u.user.id] });
    try {
      expect((await run(45)).declined).toBeGreaterThanOrEqual(1);
    } finally {
      await faults(app, { declineUsers: [] });
    }
    await run(46);
    expect(await sub(u, subscription.id)).toMatchObject({
      status: "ACTIVE",
      paidCycles: 2,
      declines: 0,
      lastPaidOn: day(46),
      nextPaymentOn: day(91),
    });
    expect(await charged(subscription.id, 2)).toHaveLength(1);
  });

  test("two workers billing the same day at 20 % injected failure charge each due subscription exactly once", async () => {
    const { day, moveTo } = calendar();
    const it = await app.item({ price: 4_000, discountRate: 0, stock: 1_000 });
    const users = await Promise.all(Array.from({ length: 4 }, () => user("subscriber")));
    const subs: Subscription[] = [];
    for (let i = 0; i < 12; i++) subs.push((await subscribe(users[i % users.length]!, it, 90)).subscription);
    const billingDay = day(90);
    moveTo(90);

    // A second worker: another process's view of the same data — same SQLite file, same Redis, same time.
    const platform2 = await createPlatform(app.t.platform.config, { logger: createLogger("silent"), clock });
    const modules2 = createModules(platform2);
    const workers = [app.shop.billing, modules2.apis.shop.billing];
    const totals = { charged: 0, failed: 0 };
    // Earlier tests' subscriptions may fall due on the same day: the runs' counts are checked against every charge recorded.
    const recurringPayments = () =>
      app.t.platform.db
        .query<{ n: number }, []>("SELECT COUNT(*) AS n FROM shop_payments WHERE subscription_id IS NOT NULL AND type = 'PAYMENT'")
        .get()!.n;
    const paymentsBefore = recurringPayments();
    await faults(app, { errorPct: 10, timeoutPct: 10 });
    try {
      // Both run the day at once; whatever failed transiently is run again, like the worker's re-runs.
      for (let round = 0; round < 30; round++) {
        const summaries = await Promise.all(workers.map((w) => w.runBilling(billingDay)));
        for (const s of summaries) totals.charged += s.charged;
        const left = subs.filter(
          (s) =>
            app.t.platform.db.query<{ n: number }, [string]>("SELECT paid_cycles AS n FROM shop_subscriptions WHERE id = ?").get(s.id)!.n <
            2,
        );
        if (left.length === 0) break;
      }
    } finally {
      await faults(app, { errorPct: 0, timeoutPct: 0 });
      await platform2.close();
    }
    for (const s of subs) {
      // The PG charged each cycle once, we recorded each once, and the subscription moved on once.
      expect((await charged(s.id, 2)).map((p) => p.amount)).toEqual([4_000]);
      const ours = app.t.platform.db
        .query<{ n: number }, [string]>("SELECT COUNT(*) AS n FROM shop_payments WHERE subscription_id = ? AND cycle = 2")
        .get(s.id)!.n;
      expect(ours).toBe(1);
      const row = app.t.platform.db
        .query<{ paid_cycles: number; next_payment_on: string }, [string]>(
          "SELECT paid_cycles, next_payment_on FROM shop_subscriptions WHERE id = ?",
        )
        .get(s.id)!;
      expect(row).toEqual({ paid_cycles: 2, next_payment_on: day(180) });
    }
    expect(totals.charged).toBe(recurringPayments() - paymentsBefore);
    expect(totals.charged).toBeGreaterThanOrEqual(subs.length);
  }, 40_000);

  test("the worker hook runs billing on its cron schedule", async () => {
    const { day } = calendar();
    const u = await user();
    const it = await app.item();
    const { subscription } = await subscribe(u, it, 30);
    // Make it due today, as if 30 days had passed.
    await app.t.platform.writer.write(() =>
      app.t.platform.db
        .query("UPDATE shop_subscriptions SET next_payment_on = ?, charge_on = ? WHERE id = ?")
        .run(day(0), day(0), subscription.id),
    );
    const worker = new ShopWorker(
      app.shop.billing,
      () => app.shop.orders.expireUnpaid(),
      { cron: "* * * * * *", retryBaseMs: 1_000 },
      app.t.platform.clock,
      app.t.platform.logger,
    );
    worker.start();
    try {
      await waitFor(async () => (await sub(u, subscription.id)).paidCycles === 2, { timeoutMs: 5_000, what: "the scheduled billing run" });
    } finally {
      await worker.stop();
    }
    expect((await sub(u, subscription.id)).nextPaymentOn).toBe(day(30));
  });

  describe("internal endpoints", () => {
    let walled: ShopTestApp;

    beforeAll(async () => {
      // Only the WireGuard subnet; loopback is a trusted proxy, so X-Forwarded-For decides.
      walled = await startShop(mode, { HOMEBASE_SHOP_INTERNAL_ALLOW: "10.44.0.0/24", HOMEBASE_TRUSTED_PROXIES: "127.0.0.1" });
    });
    afterAll(() => walled.close());

    // With the internal token unless told otherwise: the address decides first.
    const call = (path: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${walled.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...walled.internal, ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });

    test("a caller outside the allowlist gets 403 (token or not) — before its body is even looked at", async () => {
      const id = Bun.randomUUIDv7();
      await expectProblem(await call("/internal/billing/run", {}), 403, "internal_only");
      await expectProblem(await call(`/internal/subscriptions/${id}/charge`, {}), 403, "internal_only");
      await expectProblem(await call("/internal/billing/run", { date: "not a date" }), 403, "internal_only");
      await expectProblem(await call("/internal/billing/run", {}, { "x-forwarded-for": "192.168.1.5" }), 403, "internal_only");
      // A forged hop to the left of an untrusted one does not help.
      await expectProblem(await call("/internal/billing/run", {}, { "x-forwarded-for": "10.44.0.7, 192.168.1.5" }), 403, "internal_only");
      // No socket peer at all (in-process request): refused too.
      await expectProblem(await walled.t.request("POST", "/internal/billing/run", { body: {} }), 403, "internal_only");
      const control = await fetch(`${walled.url}/sandbox-pg/control`, { headers: walled.internal });
      expect(control.status).toBe(403);
    });

    test("a caller in the allowlist without the internal token gets 401 — before its body is looked at", async () => {
      const from = { "x-forwarded-for": "10.44.0.7" };
      for (const authorization of [
        null,
        "Bearer wrong",
        `Basic ${walled.internal.authorization!.slice(7)}`,
        walled.internal.authorization!.slice(7),
      ]) {
        const headers = { ...from, authorization: authorization ?? "" };
        await expectProblem(await call("/internal/billing/run", { date: "not a date" }, headers), 401, "internal_credential_required");
        await expectProblem(
          await call(`/internal/subscriptions/${Bun.randomUUIDv7()}/charge`, "{not json", headers),
          401,
          "internal_credential_required",
        );
      }
    });

    test("a caller in the allowlist is served", async () => {
      const res = await call("/internal/billing/run", { date: day(0) }, { "x-forwarded-for": "10.44.0.7" });
      expect(res.status).toBe(200);
      expect(((await res.json()) as BillingSummary).date).toBe(day(0));
      await expectProblem(
        await call(`/internal/subscriptions/${Bun.randomUUIDv7()}/charge`, {}, { "x-forwarded-for": "10.44.0.7" }),
        404,
        "subscription_not_found",
      );
      await expectProblem(
        await call("/internal/billing/run", { date: "2026-02-30" }, { "x-forwarded-for": "10.44.0.7" }),
        422,
        "validation_failed",
      );
    });
  });
});
