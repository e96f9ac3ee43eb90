// Subscriptions as the buyer sees them: each recurring charge creates an order (GET /orders),
// the charge history (GET /subscriptions/{id}/charges, paged), GET /subscriptions paged, and
// cancel with the refund of the current cycle through the gateway, and the notice before each
// recurring charge (the worker's job, the event bus, the notifier). Both modes; the billing days
// come from an injected clock (a run never bills a day after today).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ManualClock } from "../../platform/clock";
import { modes } from "../../testing/modes";
import { waitFor } from "../../testing/wait";
import type { BillingSummary, ChargePage, Item, ItemDetail, Order, OrderPage, Subscription, SubscriptionPage } from "./model";
import { day, expectProblem, faults, ledger, startShop, type ShopTestApp, type User } from "./testing";
import { ShopWorker } from "./worker";

const dayMs = 86_400_000;

describe.each(modes)("subscriptions as the buyer sees them (%s)", (mode) => {
  let app: ShopTestApp;
  const clock = new ManualClock(Date.now());

  beforeAll(async () => {
    app = await startShop(mode, { HOMEBASE_SHOP_UNPAID_ORDERS_MAX: "0" }, { clock });
  });
  afterAll(() => app.close());

  const sessions = new Map<string, { token: string; at: number }>();
  const as = async (u: User): Promise<string> => {
    const known = sessions.get(u.email);
    if (known && known.at === clock.now()) return known.token;
    const res = await app.t.request("POST", "/auth/login", { body: { email: u.email, password: u.password } });
    expect(res.status).toBe(200);
    const token = ((await res.json()) as { accessToken: string }).accessToken;
    sessions.set(u.email, { token, at: clock.now() });
    return token;
  };
  const get = async <T>(u: User, path: string): Promise<T> => {
    const res = await app.t.request("GET", path, { token: await as(u) });
    expect(res.status).toBe(200);
    return (await res.json()) as T;
  };
  /** Moves the clock to day n of the test (never back) and bills that day. */
  const calendar = () => {
    const start = clock.now();
    return {
      day: (n: number) => day(0, { now: () => start + n * dayMs }),
      async run(n: number): Promise<BillingSummary> {
        if (start + n * dayMs > clock.now()) clock.set(start + n * dayMs);
        const res = await fetch(`${app.url}/internal/billing/run`, {
          method: "POST",
          headers: { "content-type": "application/json", ...app.internal },
          body: JSON.stringify({ date: day(0, { now: () => start + n * dayMs }) }),
        });
        expect(res.status).toBe(200);
        return (await res.json()) as BillingSummary;
      },
    };
  };
  const subscribe = async (u: User, it: Item, periodDays = 30) => {
    const order = await app.buy(u, [{ itemId: it.id, quantity: 2 }], "SUBSCRIPTION", periodDays);
    return { order, subscription: await get<Subscription>(u, `/subscriptions/${order.subscriptionId}`) };
  };
  const cancel = async (u: User, id: string, body?: unknown) =>
    app.t.request("POST", `/subscriptions/${id}/cancel`, { token: await as(u), ...(body === undefined ? {} : { body }) });

  test("each recurring charge creates an order the buyer sees; the charge history pages through every cycle", async () => {
    const { day, run } = calendar();
    const u = await app.user();
    const it = await app.item({ price: 10_000, discountRate: 10, stock: 50 });
    const { order: first, subscription } = await subscribe(u, it, 30);
    expect(first).toMatchObject({ kind: "SUBSCRIPTION", status: "SUBSCRIPTION", subscriptionId: subscription.id, cycle: 1 });
    await run(30);
    await run(60);

    const orders = await get<OrderPage>(u, "/orders");
    const cycles = orders.items.filter((o) => o.subscriptionId === subscription.id);
    expect(cycles.map((o) => [o.cycle, o.kind, o.status, o.amount])).toEqual([
      [3, "SUBSCRIPTION", "COMPLETE", 18_000],
      [2, "SUBSCRIPTION", "COMPLETE", 18_000],
      [1, "SUBSCRIPTION", "SUBSCRIPTION", 18_000],
    ]);
    expect(cycles[0]!.items.map((i) => [i.itemId, i.quantity])).toEqual([[it.id, 2]]);
    expect(cycles[0]!.paidAt).not.toBeNull();
    // The cycle's order is the buyer's own, by id too; and the gateway's charge of that cycle is its tid.
    expect((await get<Order>(u, `/orders/${cycles[1]!.id}`)).cycle).toBe(2);
    const approved = (await ledger(app, `${subscription.id}-2`)).filter((p) => p.status === "APPROVED");
    expect(approved).toHaveLength(1);
    expect(app.t.platform.db.query<{ tid: string }, [string]>("SELECT tid FROM shop_orders WHERE id = ?").get(cycles[1]!.id)!.tid).toBe(
      approved[0]!.tid,
    );

    const all = await get<ChargePage>(u, `/subscriptions/${subscription.id}/charges`);
    expect(all.nextCursor).toBeNull();
    expect(all.items.map((c) => [c.cycle, c.status, c.dueOn, c.paidOn, c.amount, c.orderId, c.refundedAmount])).toEqual([
      [3, "PAID", day(60), day(60), 18_000, cycles[0]!.id, 0],
      [2, "PAID", day(30), day(30), 18_000, cycles[1]!.id, 0],
      [1, "PAID", day(0), day(0), 18_000, first.id, 0],
    ]);
    // Pages of one.
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const page: ChargePage = await get<ChargePage>(
        u,
        `/subscriptions/${subscription.id}/charges?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      );
      expect(page.items.length).toBe(1);
      seen.push(...page.items.map((c) => c.cycle));
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(seen).toEqual([3, 2, 1]);
    // Stock: three cycles of two.
    expect(((await (await app.t.request("GET", `/items/${it.id}`)).json()) as ItemDetail).stock).toBe(50 - 6);

    await expectProblem(
      await app.t.request("GET", `/subscriptions/${subscription.id}/charges?cursor=bm9wZQ`, { token: await as(u) }),
      400,
      "invalid_cursor",
    );
    const other = await app.user();
    await expectProblem(
      await app.t.request("GET", `/subscriptions/${subscription.id}/charges`, { token: await as(other) }),
      404,
      "subscription_not_found",
    );
    expect((await get<OrderPage>(other, "/orders")).items).toEqual([]);
  });

  test("a declined cycle shows in the history, with its tries and why; it creates no order", async () => {
    const { run } = calendar();
    const u = await app.user();
    const it = await app.item({ stock: 50 });
    const { subscription } = await subscribe(u, it, 30);
    await faults(app, { declineUsers: [u.user.id] });
    try {
      expect((await run(30)).declined).toBeGreaterThanOrEqual(1);
      await run(31);
    } finally {
      await faults(app, { declineUsers: [] });
    }
    const history = await get<ChargePage>(u, `/subscriptions/${subscription.id}/charges`);
    expect(history.items[0]).toMatchObject({ cycle: 2, status: "DECLINED", tries: 2, paidOn: null, orderId: null });
    expect(history.items[0]!.lastError).toContain("card_declined");
    expect((await get<OrderPage>(u, "/orders")).items.map((o) => o.cycle)).toEqual([1]);
  });

  test("GET /subscriptions pages like the other lists: newest first, nextCursor until the last page", async () => {
    const u = await app.user();
    const it = await app.item({ stock: 50 });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await subscribe(u, it, 30)).subscription.id);
    const first = await get<SubscriptionPage>(u, "/subscriptions?limit=2");
    expect(first.items.map((s) => s.id)).toEqual([ids[2]!, ids[1]!]);
    expect(first.nextCursor).not.toBeNull();
    const second = await get<SubscriptionPage>(u, `/subscriptions?limit=2&cursor=${encodeURIComponent(first.nextCursor!)}`);
    expect([second.items.map((s) => s.id), second.nextCursor]).toEqual([[ids[0]!], null]);
    expect((await get<SubscriptionPage>(u, "/subscriptions")).items).toHaveLength(3);
    await expectProblem(await app.t.request("GET", "/subscriptions?cursor=%5B1%5D", { token: await as(u) }), 400, "invalid_cursor");
    await expectProblem(await app.t.request("GET", "/subscriptions?limit=0", { token: await as(u) }), 422, "validation_failed");
  });

  test("cancel with refund: the current cycle is refunded through the gateway, its order becomes REFUND, stock and sales follow", async () => {
    const { run } = calendar();
    const u = await app.user();
    const it = await app.item({ price: 10_000, discountRate: 0, stock: 50 });
    const { subscription } = await subscribe(u, it, 30);
    await run(30);
    const cycle2 = (await get<ChargePage>(u, `/subscriptions/${subscription.id}/charges`)).items[0]!;
    expect(cycle2).toMatchObject({ cycle: 2, status: "PAID" });
    await waitFor(async () => ((await (await app.t.request("GET", `/items/${it.id}`)).json()) as ItemDetail).salesCount === 4, {
      what: "sales of both cycles",
    });

    const res = await cancel(u, subscription.id, { refund: true });
    expect(res.status).toBe(200);
    expect((await res.json()) as Subscription).toMatchObject({ status: "CANCELLED", nextPaymentOn: null });
    expect(await get<Order>(u, `/orders/${cycle2.orderId}`)).toMatchObject({ status: "REFUND", refundedAmount: 20_000 });
    expect((await get<Order>(u, `/orders/${subscription.orderId}`)).status).toBe("SUBSCRIBE_CANCEL");
    // The gateway refunded that cycle's charge, in full, once.
    expect((await ledger(app, `${subscription.id}-2`)).filter((p) => p.kind === "RECURRING")).toEqual([
      expect.objectContaining({ status: "CANCELLED", amount: 20_000, cancelledAmount: 20_000 }),
    ]);
    expect((await get<ChargePage>(u, `/subscriptions/${subscription.id}/charges`)).items[0]).toMatchObject({
      cycle: 2,
      refundedAmount: 20_000,
    });
    const item = async () => (await (await app.t.request("GET", `/items/${it.id}`)).json()) as ItemDetail;
    expect((await item()).stock).toBe(50 - 2);
    await waitFor(async () => (await item()).salesCount === 2, { what: "the refunded cycle's sales taken back" });
    // Done: asking again is refused, billing never comes back to it.
    await expectProblem(await cancel(u, subscription.id, { refund: true }), 409, "subscription_not_active");
    await run(60);
    expect(await ledger(app, `${subscription.id}-3`)).toEqual([]);
  });

  test("cancel with refund in the first cycle refunds the order that started it", async () => {
    const u = await app.user();
    const it = await app.item({ price: 10_000, discountRate: 0, stock: 50 });
    const { subscription } = await subscribe(u, it, 30);
    expect((await cancel(u, subscription.id, { refund: true })).status).toBe(200);
    expect(await get<Order>(u, `/orders/${subscription.orderId}`)).toMatchObject({ status: "REFUND", refundedAmount: 20_000, cycle: 1 });
    expect((await ledger(app, subscription.orderId)).map((p) => [p.kind, p.status])).toEqual([["SUBSCRIPTION_FIRST", "CANCELLED"]]);
  });

  test("a notice before each recurring charge: once per cycle, 3 days ahead, through the event bus to the notifier", async () => {
    const { day, run } = calendar();
    const u = await app.user();
    const it = await app.item({ name: "Omega 3 Plus", price: 10_000, discountRate: 0, stock: 50 });
    const { subscription } = await subscribe(u, it, 30);
    const notices = async (n: number) => {
      await run(n); // the clock to day n (its billing charges nothing of this subscription before day 30, 60)
      const res = await fetch(`${app.url}/internal/notices/run`, {
        method: "POST",
        headers: { "content-type": "application/json", ...app.internal },
        body: JSON.stringify({ date: day(n) }),
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as { noticed: number }).noticed;
    };
    const events = () =>
      app.t.platform.db
        .query<{ payload: string }, [string]>("SELECT payload FROM outbox WHERE subject = ? ORDER BY created_at")
        .all("homebase.shop.subscription.charge_upcoming")
        .map((r) => JSON.parse(r.payload) as { subscriptionId: string; cycle: number; dueOn: string; amount: number })
        .filter((e) => e.subscriptionId === subscription.id);
    const sent = async () =>
      app.t.platform.db
        .query<{ userId: string; kind: string; channel: string; message: string }, [string]>(
          "SELECT user_id AS userId, kind, channel, message FROM shop_notifications WHERE subscription_id = ? ORDER BY sent_at, event_id",
        )
        .all(subscription.id);

    await notices(26);
    expect(events()).toEqual([]);
    await notices(27);
    expect(events()).toEqual([expect.objectContaining({ cycle: 2, dueOn: day(30), amount: 20_000 })]);
    // Again the same day, and the days after: the cycle was noticed already.
    await notices(27);
    await notices(29);
    expect(events()).toHaveLength(1);
    // The notifier consumer sent it once, and recorded it.
    await waitFor(async () => (await sent()).length === 1, { what: "the notice sent" });
    const [notice] = await sent();
    expect(notice).toMatchObject({ userId: u.user.id, kind: "charge_upcoming", channel: "log" });
    expect(notice!.message).toBe(`Your subscription (Omega 3 Plus) will be charged 20,000 KRW on ${day(30)} (cycle 2).`);

    // Charged on day 30: the next cycle gets its own notice, 3 days before day 60.
    await run(30);
    await notices(56);
    expect(events()).toHaveLength(1);
    await notices(57);
    expect(events().map((e) => [e.cycle, e.dueOn])).toEqual([
      [2, day(30)],
      [3, day(60)],
    ]);
    await waitFor(async () => (await sent()).length === 2, { what: "the second notice sent" });
    // A date after today is refused.
    const future = await fetch(`${app.url}/internal/notices/run`, {
      method: "POST",
      headers: { "content-type": "application/json", ...app.internal },
      body: JSON.stringify({ date: day(400) }),
    });
    await expectProblem(future, 422, "billing_date_in_future");
  });

  test("the worker's daily job sends the notice before it bills: a cycle due today is noticed, then charged", async () => {
    const u = await app.user();
    const it = await app.item({ stock: 50 });
    const { subscription } = await subscribe(u, it, 30);
    const today = day(0, clock);
    // Due today, as if 30 days had passed (and no notice went out before).
    await app.t.platform.writer.write(() =>
      app.t.platform.db
        .query("UPDATE shop_subscriptions SET next_payment_on = ?, charge_on = ? WHERE id = ?")
        .run(today, today, subscription.id),
    );
    const worker = new ShopWorker(
      app.shop.billing,
      async () => 0,
      { cron: "* * * * * *", retryBaseMs: 1_000 },
      clock,
      app.t.platform.logger,
      (d) => app.shop.notices.run(d),
    );
    worker.start();
    try {
      await waitFor(async () => (await get<Subscription>(u, `/subscriptions/${subscription.id}`)).paidCycles === 2, {
        timeoutMs: 5_000,
        what: "the scheduled run",
      });
    } finally {
      await worker.stop();
    }
    const order = app.t.platform.db
      .query<{ subject: string }, [string]>(
        "SELECT subject FROM outbox WHERE payload LIKE ? AND subject IN ('homebase.shop.subscription.charge_upcoming', 'homebase.shop.subscription.charged') ORDER BY rowid",
      )
      .all(`%${subscription.id}%`)
      .map((r) => r.subject);
    expect(order).toEqual(["homebase.shop.subscription.charge_upcoming", "homebase.shop.subscription.charged"]);
  });

  test("the gateway down during the refund: cancelled anyway, the refund stays pending, and asking again finishes it once", async () => {
    const u = await app.user();
    const it = await app.item({ price: 10_000, discountRate: 0, stock: 50 });
    const { subscription } = await subscribe(u, it, 30);
    await faults(app, { errorPct: 100 });
    try {
      await expectProblem(await cancel(u, subscription.id, { refund: true }), 503, "payment_gateway_unavailable");
    } finally {
      await faults(app, { errorPct: 0 });
    }
    expect((await get<Subscription>(u, `/subscriptions/${subscription.id}`)).status).toBe("CANCELLED");
    expect((await get<Order>(u, `/orders/${subscription.orderId}`)).refundedAmount).toBe(0);
    // Without refund, a cancelled subscription is just not active; with it, the pending refund is finished.
    await expectProblem(await cancel(u, subscription.id), 409, "subscription_not_active");
    expect((await cancel(u, subscription.id, { refund: true })).status).toBe(200);
    expect(await get<Order>(u, `/orders/${subscription.orderId}`)).toMatchObject({ status: "REFUND", refundedAmount: 20_000 });
    expect((await ledger(app, subscription.orderId))[0]).toMatchObject({ status: "CANCELLED", cancelledAmount: 20_000 });
    expect(
      app.t.platform.db
        .query<{ n: number }, [string]>("SELECT COUNT(*) AS n FROM shop_payments WHERE order_id = ? AND type = 'REFUND'")
        .get(subscription.orderId)!.n,
    ).toBe(1);
    await expectProblem(await cancel(u, subscription.id, { refund: true }), 409, "subscription_not_active");
  });
});
