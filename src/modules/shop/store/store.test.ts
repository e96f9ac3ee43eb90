// The shop's store ports, as a contract: each use-case unit is one transaction — a refusal writes
// neither its change nor its events, and a repeated settlement (payment, refund, cycle charge)
// is recorded once. Run on the SQLite stores, in both modes (the outbox relays differently).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestApp, type TestApp } from "../../../testing/app";
import { modes } from "../../../testing/modes";
import { shopEvent } from "../events";
import { type ItemRow, type ShopStores, sqliteStores } from ".";
import { unpaidOfSql } from "./order.sqlite";

const now = Date.parse("2026-12-01T10:00:00.000Z");

function itemRow(patch: Partial<ItemRow> = {}): ItemRow {
  const id = Bun.randomUUIDv7();
  return {
    id,
    name: `Item ${id.slice(-6)}`,
    brand: "StoreTest",
    brand_key: "storetest",
    price: 10_000,
    discount_rate: 10,
    discount_price: 1_000,
    sale_price: 9_000,
    stock: 5,
    categories: "EYE",
    nutrients: "[]",
    description: "",
    image_url: null,
    sales_count: 0,
    review_count: 0,
    star_sum: 0,
    created_at: now,
    updated_at: now,
    deleted_at: null,
    ...patch,
  };
}

describe.each(modes)("shop stores (%s)", (mode) => {
  let t: TestApp;
  let stores: ShopStores;
  const outbox = (subject: string, key: string, value: string) =>
    t.platform.db
      .query<{ n: number }, [string, string]>(
        `SELECT COUNT(*) AS n FROM outbox WHERE subject = ? AND json_extract(payload, '$.${key}') = ?`,
      )
      .get(subject, value)!.n;
  const stock = (id: string) =>
    t.platform.db.query<{ stock: number }, [string]>("SELECT stock FROM shop_items WHERE id = ?").get(id)!.stock;

  beforeAll(async () => {
    t = await createTestApp(mode);
    stores = sqliteStores(t.platform.db, t.platform.writer, t.platform.events);
  });
  afterAll(async () => {
    await t.modules.close();
    await t.close();
  });

  const uncapped = { maxOrders: 0, maxUnits: 0, since: 0 };
  const placeOne = async (lines: Array<{ itemId: string; quantity: number }>, userId = "u-store", unpaid = uncapped, at = now) => {
    const id = Bun.randomUUIDv7();
    const placed = await stores.orders.place(
      { id, userId, kind: "NORMAL", periodDays: null, fromCart: false, lines, now: at, unpaid },
      (order, items) =>
        shopEvent.orderCreated({
          orderId: id,
          userId,
          kind: "NORMAL",
          amount: order.amount,
          items: items.map((i) => ({ itemId: i.item_id, quantity: i.quantity })),
        }),
    );
    return { id, placed };
  };

  test("placing an order: a short line undoes the reservations before it, and records no order and no event", async () => {
    const plenty = itemRow({ stock: 10 });
    const scarce = itemRow({ stock: 1 });
    await stores.catalog.insertItems([plenty, scarce].map((row) => ({ row, categories: ["EYE"] })));
    const { id, placed } = await placeOne([
      { itemId: plenty.id, quantity: 3 },
      { itemId: scarce.id, quantity: 2 },
    ]);
    expect(placed).toEqual({ ok: false, reason: "out_of_stock", itemId: scarce.id, name: scarce.name, available: 1 });
    expect([stock(plenty.id), stock(scarce.id)]).toEqual([10, 1]);
    expect(await stores.orders.order(id)).toBeNull();
    expect(outbox("homebase.shop.order.created", "orderId", id)).toBe(0);

    const ok = await placeOne([{ itemId: plenty.id, quantity: 3 }]);
    expect(ok.placed).toEqual({ ok: true });
    expect(stock(plenty.id)).toBe(7);
    expect((await stores.orders.order(ok.id))!).toMatchObject({ status: "REQUEST", total: 30_000, discount: 3_000, amount: 27_000 });
    expect(outbox("homebase.shop.order.created", "orderId", ok.id)).toBe(1);
  });

  test("past a user's unpaid caps (orders, units), placing writes nothing; expired, settled and others' orders do not count", async () => {
    const row = itemRow({ stock: 100 });
    await stores.catalog.insertItems([{ row, categories: ["EYE"] }]);
    const userId = `u-cap-${Bun.randomUUIDv7()}`;
    const caps = { maxOrders: 2, maxUnits: 10, since: now - 60_000 };
    // An old unpaid order (before `since`: expired, not swept yet) and another user's do not count.
    expect((await placeOne([{ itemId: row.id, quantity: 9 }], userId, uncapped, now - 120_000)).placed).toEqual({ ok: true });
    expect((await placeOne([{ itemId: row.id, quantity: 9 }], "someone-else", uncapped)).placed).toEqual({ ok: true });
    expect((await placeOne([{ itemId: row.id, quantity: 6 }], userId, caps)).placed).toEqual({ ok: true });
    const units = await placeOne([{ itemId: row.id, quantity: 5 }], userId, caps);
    expect(units.placed).toEqual({ ok: false, reason: "unpaid_limit", limit: "units", max: 10, held: 6 });
    const second = await placeOne([{ itemId: row.id, quantity: 4 }], userId, caps);
    expect(second.placed).toEqual({ ok: true });
    const third = await placeOne([{ itemId: row.id, quantity: 1 }], userId, caps);
    expect(third.placed).toEqual({ ok: false, reason: "unpaid_limit", limit: "orders", max: 2, held: 2 });
    // Refused: no order, no event, no stock taken.
    expect(stock(row.id)).toBe(100 - 9 - 9 - 6 - 4);
    for (const refused of [units.id, third.id]) {
      expect(await stores.orders.order(refused)).toBeNull();
      expect(outbox("homebase.shop.order.created", "orderId", refused)).toBe(0);
    }
    // Cancelling one frees its place (as paying does: either way it is no longer REQUEST).
    await stores.orders.cancelUnpaid(second.id, now, shopEvent.orderCancelled({ orderId: second.id, userId, reason: "cancelled" }));
    expect((await placeOne([{ itemId: row.id, quantity: 4 }], userId, caps)).placed).toEqual({ ok: true });
  });

  test("the unpaid count reads the user's unpaid orders only, not the history a placement would scan", () => {
    const plan = t.platform.db
      .query<{ detail: string }, [string, number]>(`EXPLAIN QUERY PLAN ${unpaidOfSql}`)
      .all("u-plan", now)
      .map((r) => r.detail)
      .join("; ");
    expect(plan).toContain("shop_orders_unpaid_user");
  });

  test("an item update whose stock would go below 0 writes nothing (not the other fields either)", async () => {
    const row = itemRow({ stock: 2 });
    await stores.catalog.insertItems([{ row, categories: ["EYE"] }]);
    const version = await stores.catalog.version();
    const out = await stores.catalog.updateItem(row.id, (current) => ({ ...current, name: "Renamed" }), ["BONE"], -3);
    expect(out).toEqual({ ok: false, reason: "insufficient_stock", stock: 2 });
    expect(await stores.catalog.item(row.id)).toMatchObject({ name: row.name, categories: "EYE", stock: 2 });
    expect(await stores.catalog.version()).toBe(version);
    expect(await stores.catalog.updateItem(Bun.randomUUIDv7(), (c) => c, null, 0)).toEqual({ ok: false, reason: "not_found" });
  });

  test("a payment is recorded once: the second recordPaid of the attempt changes nothing", async () => {
    const row = itemRow();
    await stores.catalog.insertItems([{ row, categories: ["EYE"] }]);
    const { id } = await placeOne([{ itemId: row.id, quantity: 1 }]);
    expect(await stores.orders.startPayment(id, "T1", "http://127.0.0.1/checkout/T1", now)).toBe(true);
    const paid = (key: string) =>
      stores.orders.recordPaid(
        {
          orderId: id,
          tid: "T1",
          status: "COMPLETE",
          payment: {
            id: Bun.randomUUIDv7(),
            order_id: id,
            subscription_id: null,
            cycle: null,
            type: "PAYMENT",
            amount: 9_000,
            tid: "T1",
            aid: "A1",
            idempotency_key: key,
            created_at: now,
          },
          subscription: null,
          now,
        },
        [
          shopEvent.orderPaid({
            orderId: id,
            userId: "u-store",
            kind: "NORMAL",
            amount: 9_000,
            items: [{ itemId: row.id, quantity: 1 }],
            fromCart: false,
            paidAt: new Date(now).toISOString(),
          }),
        ],
      );
    expect(await paid(`k:${id}`)).toBe(true);
    expect(await paid(`k2:${id}`)).toBe(false);
    expect(t.platform.db.query<{ n: number }, [string]>("SELECT COUNT(*) AS n FROM shop_payments WHERE order_id = ?").get(id)!.n).toBe(1);
    expect(outbox("homebase.shop.order.paid", "orderId", id)).toBe(1);
    // A paid order is no longer cancellable as unpaid.
    expect(
      await stores.orders.cancelUnpaid(id, now, shopEvent.orderCancelled({ orderId: id, userId: "u-store", reason: "cancelled" })),
    ).toBe(false);

    // A refund completes once, releasing the stock once.
    const items = await stores.orders.items(id);
    const refund = await stores.orders.openRefund({
      id: Bun.randomUUIDv7(),
      order_id: id,
      amount: 9_000,
      lines: [{ orderItemId: items[0]!.id, itemId: row.id, quantity: 1 }],
      created_at: now,
    });
    expect(refund.seq).toBe(1);
    const complete = () =>
      stores.orders.completeRefund(
        refund,
        {
          id: Bun.randomUUIDv7(),
          order_id: id,
          subscription_id: null,
          cycle: null,
          type: "REFUND",
          amount: -9_000,
          tid: "T1",
          aid: null,
          idempotency_key: `r:${id}:${Math.random()}`,
          created_at: now,
        },
        now,
        (full) =>
          shopEvent.orderRefunded({
            orderId: id,
            userId: "u-store",
            refundId: refund.id,
            amount: 9_000,
            items: [{ itemId: row.id, quantity: 1 }],
            full,
          }),
      );
    expect(await complete()).toBe(true);
    expect(await complete()).toBe(false);
    expect(stock(row.id)).toBe(5);
    expect((await stores.orders.order(id))!.status).toBe("REFUND");
    expect(outbox("homebase.shop.order.refunded", "orderId", id)).toBe(1);
  });

  test("a subscription cycle is charged once; a decline another worker settled is skipped", async () => {
    const row = itemRow({ stock: 3 });
    await stores.catalog.insertItems([{ row, categories: ["EYE"] }]);
    const { id: orderId } = await placeOne([{ itemId: row.id, quantity: 1 }]);
    await stores.orders.startPayment(orderId, "TS", "http://127.0.0.1/checkout/TS", now);
    const subscriptionId = Bun.randomUUIDv7();
    await stores.orders.recordPaid(
      {
        orderId,
        tid: "TS",
        status: "SUBSCRIPTION",
        payment: {
          id: Bun.randomUUIDv7(),
          order_id: orderId,
          subscription_id: null,
          cycle: null,
          type: "PAYMENT",
          amount: 9_000,
          tid: "TS",
          aid: "A",
          idempotency_key: `s:${orderId}`,
          created_at: now,
        },
        subscription: {
          id: subscriptionId,
          user_id: "u-store",
          order_id: orderId,
          sid: "S1",
          period_days: 30,
          amount: 9_000,
          last_paid_on: "2026-12-01",
          next_payment_on: "2026-12-31",
          created_at: now,
        },
        now,
      },
      [],
    );
    expect(await stores.subscriptions.prepareCharge(subscriptionId, "2026-12-30", now)).toEqual({
      kind: "skip",
      detail: "not due until 2026-12-31",
    });
    const prepared = await stores.subscriptions.prepareCharge(subscriptionId, "2026-12-31", now);
    expect(prepared).toMatchObject({ kind: "charge", cycle: 2, tryNo: 0 });
    // Preparing again (a retry after a timeout) keeps the same try and reserves nothing more.
    expect(await stores.subscriptions.prepareCharge(subscriptionId, "2026-12-31", now)).toMatchObject({
      kind: "charge",
      cycle: 2,
      tryNo: 0,
    });
    expect(stock(row.id)).toBe(1);

    const cycleOrderId = Bun.randomUUIDv7();
    const charge = (key: string) =>
      stores.subscriptions.recordCharge(
        {
          subscriptionId,
          orderId: cycleOrderId,
          cycle: 2,
          tid: "TC",
          paidOn: "2026-12-31",
          nextOn: "2027-01-30",
          payment: {
            id: Bun.randomUUIDv7(),
            order_id: cycleOrderId,
            subscription_id: subscriptionId,
            cycle: 2,
            type: "PAYMENT",
            amount: 9_000,
            tid: "TC",
            aid: "A2",
            idempotency_key: key,
            created_at: now,
          },
          now,
        },
        shopEvent.subscriptionCharged({
          subscriptionId,
          userId: "u-store",
          cycle: 2,
          amount: 9_000,
          items: [{ itemId: row.id, quantity: 1 }],
          paidOn: "2026-12-31",
          nextPaymentOn: "2027-01-30",
        }),
      );
    expect(await charge(`c:${subscriptionId}:2:0`)).toBe(true);
    expect(await charge(`c:${subscriptionId}:2:0:again`)).toBe(false);
    expect(await stores.subscriptions.subscription(subscriptionId)).toMatchObject({
      paid_cycles: 2,
      last_paid_on: "2026-12-31",
      next_payment_on: "2027-01-30",
    });
    expect(outbox("homebase.shop.subscription.charged", "subscriptionId", subscriptionId)).toBe(1);
    // The cycle's order, once: paid, a subscription order of cycle 2.
    expect(await stores.orders.order(cycleOrderId)).toMatchObject({
      kind: "SUBSCRIPTION",
      status: "COMPLETE",
      subscription_id: subscriptionId,
      cycle: 2,
      tid: "TC",
    });
    expect(await stores.orders.items(cycleOrderId)).toHaveLength(1);

    // Cycle 3 declined by one worker; the same decline reported by another records nothing.
    const sub = (await stores.subscriptions.subscription(subscriptionId))!;
    expect(await stores.subscriptions.prepareCharge(subscriptionId, "2027-01-30", now)).toMatchObject({ kind: "charge", cycle: 3 });
    const decline = () =>
      stores.subscriptions.recordDecline({
        subscription: sub,
        cycle: 3,
        reason: "card_declined",
        reserved: true,
        now,
        next: {
          kind: "retry",
          retryOn: "2027-01-31",
          events: [
            shopEvent.subscriptionChargeDeclined({
              subscriptionId,
              userId: "u-store",
              cycle: 3,
              declines: 1,
              retryOn: "2027-01-31",
              reason: "card_declined",
            }),
          ],
        },
      });
    expect(await decline()).toBe("declined");
    expect(await decline()).toBe("skipped");
    expect(stock(row.id)).toBe(1);
    expect(outbox("homebase.shop.subscription.charge_declined", "subscriptionId", subscriptionId)).toBe(1);
  });
});
