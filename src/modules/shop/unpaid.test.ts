// Issue 13, L8: unpaid orders reserve stock until they expire (HOMEBASE_SHOP_ORDER_TTL_MIN), so
// one user may hold only so much of it: HOMEBASE_SHOP_UNPAID_ORDERS_MAX orders (default 5) and
// HOMEBASE_SHOP_UNPAID_UNITS_MAX units in all (default 100); beyond, 409 with a code that says
// which. The review's five orders of 99 took 495 of 500 for half an hour. Both modes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { modes } from "../../testing/modes";
import type { Item, Order } from "./model";
import { expectProblem, startShop, type ShopTestApp, type User } from "./testing";

describe.each(modes)("unpaid orders per user (%s)", (mode) => {
  let app: ShopTestApp;

  beforeAll(async () => {
    app = await startShop(mode);
  });
  afterAll(() => app.close());

  const order = (u: User, itemId: string, quantity: number) =>
    app.t.request("POST", "/orders", { token: u.tokens.accessToken, body: { kind: "NORMAL", items: [{ itemId, quantity }] } });
  const stock = async (id: string) => ((await (await app.t.request("GET", `/items/${id}`)).json()) as Item).stock;

  test("five orders of 99 on a stock of 500: the second is refused, the stock stays for everyone else", async () => {
    const it = await app.item({ stock: 500 });
    const hoarder = await app.user("hoarder");
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await order(hoarder, it.id, 99)).status);
    expect(statuses).toEqual([201, 409, 409, 409, 409]);
    const refused = await expectProblem(await order(hoarder, it.id, 99), 409, "unpaid_quantity_limit");
    expect(refused).toMatchObject({ max: 100, held: 99 });
    expect(await stock(it.id)).toBe(401);
    // Up to the cap still goes through; someone else is not affected.
    expect((await order(hoarder, it.id, 1)).status).toBe(201);
    expect((await order(await app.user(), it.id, 99)).status).toBe(201);
    expect(await stock(it.id)).toBe(301);
  });

  test("at most five unpaid orders; cancelling or paying one makes room", async () => {
    const it = await app.item({ stock: 100 });
    const u = await app.user();
    const placed: Order[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await order(u, it.id, 1);
      expect(res.status).toBe(201);
      placed.push((await res.json()) as Order);
    }
    const refused = await expectProblem(await order(u, it.id, 1), 409, "unpaid_order_limit");
    expect(refused).toMatchObject({ max: 5, held: 5 });
    // The cart's checkout is capped the same way.
    await app.t.request("POST", "/carts/normal/items", { token: u.tokens.accessToken, body: { itemId: it.id, quantity: 1 } });
    await expectProblem(
      await app.t.request("POST", "/carts/normal/checkout", { token: u.tokens.accessToken, body: {} }),
      409,
      "unpaid_order_limit",
    );

    expect((await app.t.request("POST", `/orders/${placed[0]!.id}/cancel`, { token: u.tokens.accessToken })).status).toBe(200);
    expect((await order(u, it.id, 1)).status).toBe(201);
    await expectProblem(await order(u, it.id, 1), 409, "unpaid_order_limit");
    expect((await app.pay(u, placed[1]!.id)).status).toBe(200);
    expect((await order(u, it.id, 1)).status).toBe(201);
  });

  test("expired orders do not count, swept or not", async () => {
    const it = await app.item({ stock: 100 });
    const u = await app.user();
    for (let i = 0; i < 5; i++) expect((await order(u, it.id, 1)).status).toBe(201);
    // As if they had been placed before the TTL (30 minutes by default) and the sweep had not run yet.
    await app.t.platform.writer.write(() =>
      app.t.platform.db
        .query("UPDATE shop_orders SET created_at = created_at - 31 * 60000 WHERE user_id = ? AND status = 'REQUEST'")
        .run(u.user.id),
    );
    expect((await order(u, it.id, 1)).status).toBe(201);
  });
});

describe.each(modes)("unpaid caps off (%s)", (mode) => {
  let app: ShopTestApp;

  beforeAll(async () => {
    app = await startShop(mode, { HOMEBASE_SHOP_UNPAID_ORDERS_MAX: "0", HOMEBASE_SHOP_UNPAID_UNITS_MAX: "0" });
  });
  afterAll(() => app.close());

  test("0 turns each cap off", async () => {
    const it = await app.item({ stock: 1_000 });
    const u = await app.user();
    for (let i = 0; i < 7; i++) {
      const res = await app.t.request("POST", "/orders", {
        token: u.tokens.accessToken,
        body: { kind: "NORMAL", items: [{ itemId: it.id, quantity: 99 }] },
      });
      expect(res.status).toBe(201);
    }
  });
});
