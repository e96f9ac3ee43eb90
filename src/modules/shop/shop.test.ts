// Catalog, reviews, carts, orders, stock and refunds, in both modes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { modes } from "../../testing/modes";
import { waitFor } from "../../testing/wait";
import { mainCacheName } from "./catalog";
import { shopEvents } from "./events";
import type { Cart, Item, ItemDetail, ItemPage, MainPage, Order, Review, ReviewPage } from "./model";
import { shopCatalog } from "./seed";
import { expectProblem, ledger as pgLedger, startShop, type ShopTestApp, type User } from "./testing";

describe.each(modes)("shop (%s)", (mode) => {
  let app: ShopTestApp;
  let buyer: User;

  beforeAll(async () => {
    // Loopback is a trusted proxy here, so tests can act as several visitors through X-Forwarded-For.
    app = await startShop(mode, { HOMEBASE_TRUSTED_PROXIES: "127.0.0.1", HOMEBASE_SHOP_ORDER_TTL_MIN: "1" });
    buyer = await app.user();
  });
  afterAll(() => app.close());

  const as = (u: User) => u.tokens.accessToken;
  const get = async <T>(path: string, u?: User): Promise<T> => {
    const res = await app.t.request("GET", path, { token: u ? as(u) : undefined });
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  const item = (id: string) => get<ItemDetail>(`/items/${id}`);
  const outbox = (subject: string) =>
    app.t.platform.db
      .query<{ payload: string }, [string]>("SELECT payload FROM outbox WHERE subject = ? ORDER BY created_at")
      .all(subject)
      .map((r) => JSON.parse(r.payload) as Record<string, unknown>);

  describe("catalog", () => {
    let brand: string;
    let items: Item[];

    beforeAll(async () => {
      // Digits only after "Brand": the keywords below (om, omega b, 50%, _) must not match the brand too.
      brand = `Brand${Date.now()}${Math.floor(Math.random() * 1000)}`;
      // Three items of one brand: prices after discount 9,000 / 18,000 / 27,000 (rates 10, 0, 10 %).
      items = [
        await app.item({ brand, name: "Omega Alpha", price: 10_000, discountRate: 10, categories: ["BRAIN"] }),
        await app.item({ brand, name: "Omega Beta", price: 18_000, discountRate: 0, categories: ["BRAIN", "EYE"] }),
        await app.item({ brand, name: "Zinc 50% Gamma", price: 30_000, discountRate: 10, categories: ["SKIN"] }),
      ];
    });

    test("an item shows price, discountRate, discountPrice and salePrice", () => {
      expect(items.map((i) => [i.price, i.discountRate, i.discountPrice, i.salePrice])).toEqual([
        [10_000, 10, 1_000, 9_000],
        [18_000, 0, 0, 18_000],
        [30_000, 10, 3_000, 27_000],
      ]);
    });

    test("filters combine: brand, category, keyword, price range on salePrice, on-sale", async () => {
      const search = async (q: string) => (await get<ItemPage>(`/items?brand=${brand.toUpperCase()}&${q}`)).items.map((i) => i.name).sort();
      expect(await search("")).toEqual(["Omega Alpha", "Omega Beta", "Zinc 50% Gamma"]);
      expect(await search("category=BRAIN")).toEqual(["Omega Alpha", "Omega Beta"]);
      expect(await search("category=EYE")).toEqual(["Omega Beta"]);
      expect(await search("keyword=omega")).toEqual(["Omega Alpha", "Omega Beta"]);
      // LIKE wildcards in the keyword are literal.
      expect(await search("keyword=50%25")).toEqual(["Zinc 50% Gamma"]);
      expect(await search("keyword=_")).toEqual([]);
      // 3+ characters go through the trigram index: case-insensitive, name or brand, quotes are literal.
      expect(await search("keyword=OMEGA%20b")).toEqual(["Omega Beta"]);
      expect(await search(`keyword=${brand.slice(0, 7).toLowerCase()}`)).toEqual(["Omega Alpha", "Omega Beta", "Zinc 50% Gamma"]);
      expect(await search(`keyword=${encodeURIComponent('a"b')}`)).toEqual([]);
      expect(await search("keyword=om")).toEqual(["Omega Alpha", "Omega Beta"]);
      expect(await search("minPrice=9000&maxPrice=18000")).toEqual(["Omega Alpha", "Omega Beta"]);
      expect(await search("minPrice=9001")).toEqual(["Omega Beta", "Zinc 50% Gamma"]);
      expect(await search("onSale=true")).toEqual(["Omega Alpha", "Zinc 50% Gamma"]);
    });

    test("sorts: PRICE_H/PRICE_L by salePrice, DISCOUNT_RATE, SALES, REVIEW_COUNT; pages with total", async () => {
      const order = async (sort: string) => (await get<ItemPage>(`/items?brand=${brand}&sort=${sort}`)).items.map((i) => i.name);
      expect(await order("PRICE_L")).toEqual(["Omega Alpha", "Omega Beta", "Zinc 50% Gamma"]);
      expect(await order("PRICE_H")).toEqual(["Zinc 50% Gamma", "Omega Beta", "Omega Alpha"]);
      expect((await order("DISCOUNT_RATE_L"))[0]).toBe("Omega Beta");
      expect((await order("DISCOUNT_RATE_H"))[2]).toBe("Omega Beta");

      // Two sales of Beta make it the top seller of the brand.
      await app.buy(buyer, [{ itemId: items[1]!.id, quantity: 2 }]);
      await waitFor(async () => (await item(items[1]!.id)).salesCount === 2, { what: "sales count" });
      expect((await order("SALES"))[0]).toBe("Omega Beta");

      const page1 = await get<ItemPage>(`/items?brand=${brand}&sort=PRICE_L&size=2`);
      const page2 = await get<ItemPage>(`/items?brand=${brand}&sort=PRICE_L&size=2&page=2`);
      expect([page1.total, page1.page, page1.size, page1.items.length, page2.items.length]).toEqual([3, 1, 2, 2, 1]);
      expect(page2.items[0]!.name).toBe("Zinc 50% Gamma");
    });

    test("without keyword or brand (read along the sort's index): every sort pages through the same matches, in order", async () => {
      for (let i = 0; i < 12; i++) {
        await app.item({
          name: `Scan ${i}`,
          categories: i % 3 === 0 ? ["FATIGUE", "SKIN"] : ["FATIGUE"],
          price: 5_000 + ((i * 7919) % 13) * 1_000,
          discountRate: (i * 5) % 30,
        });
      }
      const keyOf: Record<string, (i: Item) => number> = {
        SALES: (i) => -i.salesCount,
        PRICE_H: (i) => -i.salePrice,
        PRICE_L: (i) => i.salePrice,
        DISCOUNT_RATE_H: (i) => -i.discountRate,
        DISCOUNT_RATE_L: (i) => i.discountRate,
        REVIEW_COUNT: (i) => -i.reviewCount,
      };
      let first: string[] | null = null;
      for (const [sort, key] of Object.entries(keyOf)) {
        const seenItems: Item[] = [];
        let total = -1;
        for (let page = 1; page < 50; page++) {
          const res = await get<ItemPage>(`/items?category=FATIGUE&onSale=true&minPrice=4000&sort=${sort}&size=5&page=${page}`);
          total = res.total;
          seenItems.push(...res.items);
          if (res.items.length < 5) break;
        }
        expect(seenItems.length).toBe(total);
        expect(new Set(seenItems.map((i) => i.id)).size).toBe(total);
        for (const i of seenItems) {
          expect(i.categories).toContain("FATIGUE");
          expect(i.discountRate).toBeGreaterThan(0);
          expect(i.salePrice).toBeGreaterThanOrEqual(4_000);
        }
        const keys = seenItems.map(key);
        expect(keys).toEqual([...keys].sort((a, b) => a - b));
        const ids = seenItems.map((i) => i.id).sort();
        first ??= ids;
        expect(ids).toEqual(first);
      }
      expect(first!.length).toBeGreaterThanOrEqual(8);
    });

    test("bad queries are 422 problems", async () => {
      await expectProblem(await app.t.request("GET", "/items?sort=CHEAPEST"), 422, "validation_failed");
      await expectProblem(await app.t.request("GET", "/items?category=HEART"), 422, "validation_failed");
      await expectProblem(await app.t.request("GET", "/items?size=500"), 422, "validation_failed");
      await expectProblem(await app.t.request("GET", "/items?minPrice=10&maxPrice=5"), 422, "invalid_price_range");
      await expectProblem(await app.t.request("GET", "/items/not-a-uuid"), 422, "validation_failed");
      await expectProblem(await app.t.request("GET", `/items/${Bun.randomUUIDv7()}`), 404, "item_not_found");
    });

    test("GET /items/main is cached; an item change shows at once", async () => {
      const count = async (result: string) =>
        (await app.t.platform.metrics.cacheRequests.get()).values.find(
          (v) => v.labels.cache === mainCacheName && v.labels.result === result,
        )?.value ?? 0;
      const first = await get<MainPage>("/items/main");
      const hits = await count("hit");
      const again = await get<MainPage>("/items/main");
      expect(await count("hit")).toBe(hits + 1);
      expect(again).toEqual(first);

      const star = await app.item({ name: "Mega Discount", discountRate: 90 });
      const after = await get<MainPage>("/items/main");
      expect(after.topDiscounts[0]!.id).toBe(star.id);
      expect(after.topDiscounts.every((i, n) => n === 0 || i.discountRate <= after.topDiscounts[n - 1]!.discountRate)).toBe(true);
      expect(after.topSellers.every((i, n) => n === 0 || i.salesCount <= after.topSellers[n - 1]!.salesCount)).toBe(true);
    });

    test("unique visitors per item per day, by client IP", async () => {
      const target = await app.item();
      const view = async (ip: string) => {
        const res = await fetch(`${app.url}/items/${target.id}`, { headers: { "x-forwarded-for": ip } });
        expect(res.status).toBe(200);
        return ((await res.json()) as ItemDetail).visitorsToday;
      };
      expect(await view("10.1.0.1")).toBe(1);
      expect(await view("10.1.0.1")).toBe(1);
      expect(await view("10.1.0.2")).toBe(2);
      for (let i = 3; i <= 20; i++) await view(`10.1.0.${i}`);
      // Exact in SQLite; a HyperLogLog with Redis is exact at this size too.
      expect(await view("10.1.0.2")).toBe(20);
    });

    test("admin CRUD: 401 without a token, 403 for users; update recomputes prices; stockDelta; soft delete", async () => {
      const body = { name: "X", brand: "Y", price: 1000, stock: 1, categories: ["ETC"] };
      await expectProblem(await app.t.request("POST", "/items", { body }), 401, "missing_token");
      await expectProblem(await app.t.request("POST", "/items", { token: as(buyer), body }), 403, "admin_only");
      const token = as(app.admin);
      const fields = async (b: unknown) =>
        ((await expectProblem(await app.t.request("POST", "/items", { token, body: b }), 422, "validation_failed")).errors ?? []).map(
          (e) => e.field,
        );
      expect(await fields({ ...body, price: 0 })).toContain("/price");
      expect(await fields({ ...body, discountRate: 95 })).toContain("/discountRate");
      expect(await fields({ ...body, categories: [] })).toContain("/categories");
      expect(await fields({ ...body, categories: ["EYE", "EYE"] })).toContain("/categories");
      // Blank names and brands are refused by the schema, naming the field.
      expect(await fields({ ...body, name: "   " })).toEqual(["/name"]);
      expect(await fields({ ...body, brand: " \t" })).toEqual(["/brand"]);

      const created = await app.item({ price: 20_000, discountRate: 0, stock: 5 });
      const patch = (b: unknown) => app.t.request("PATCH", `/items/${created.id}`, { token, body: b });
      const updated = (await (await patch({ discountRate: 25, stockDelta: 3, categories: ["LIVER"] })).json()) as Item;
      expect(updated).toMatchObject({ discountRate: 25, discountPrice: 5_000, salePrice: 15_000, stock: 8, categories: ["LIVER"] });
      expect((await get<ItemPage>(`/items?category=LIVER&keyword=${encodeURIComponent(created.name)}`)).total).toBe(1);
      await expectProblem(await patch({ stockDelta: -9 }), 409, "insufficient_stock");
      // A rename moves the item in keyword search.
      const renamed = `Renamed ${created.id.slice(-8)}`;
      await patch({ name: renamed });
      expect((await get<ItemPage>(`/items?keyword=${encodeURIComponent(renamed)}`)).items.map((i) => i.id)).toEqual([created.id]);
      expect((await get<ItemPage>(`/items?keyword=${encodeURIComponent(created.name)}`)).total).toBe(0);
      await expectProblem(await patch({}), 422, "validation_failed");

      await app.t.request("POST", "/carts/normal/items", { token: as(buyer), body: { itemId: created.id, quantity: 1 } });
      expect((await app.t.request("DELETE", `/items/${created.id}`, { token })).status).toBe(204);
      await expectProblem(await app.t.request("GET", `/items/${created.id}`), 404, "item_not_found");
      expect((await get<Cart>("/carts/normal", buyer)).items.some((i) => i.itemId === created.id)).toBe(false);
      await expectProblem(await app.t.request("DELETE", `/items/${created.id}`, { token }), 404, "item_not_found");
    });

    test("the seed catalog is realistic and valid", async () => {
      const seeded = shopCatalog({ items: 50, stock: 10, seed: 3 });
      expect(seeded).toEqual(shopCatalog({ items: 50, stock: 10, seed: 3 }));
      const created = await app.shop.catalog.importItems(seeded);
      expect(created).toHaveLength(50);
      for (const i of created) {
        expect(i.salePrice).toBe(i.price - i.discountPrice);
        expect(i.averageStars === 0 || (i.averageStars >= 1 && i.averageStars <= 5)).toBe(true);
        expect(i.categories.length).toBeGreaterThan(0);
      }
    });
  });

  describe("carts", () => {
    test("add (409 when already there), totals in KRW, change quantity and period, remove", async () => {
      const u = await app.user();
      const a = await app.item({ price: 12_000, discountRate: 25 }); // 3,000 off
      const b = await app.item({ price: 7_000, discountRate: 0 });
      const add = (body: unknown) => app.t.request("POST", "/carts/normal/items", { token: as(u), body });
      expect((await add({ itemId: a.id, quantity: 2 })).status).toBe(201);
      const cart = (await (await add({ itemId: b.id, quantity: 3 })).json()) as Cart;
      expect(cart).toMatchObject({ kind: "NORMAL", total: 2 * 12_000 + 3 * 7_000, discount: 2 * 3_000, expected: 45_000 - 6_000 });
      expect(cart.items.map((i) => [i.itemId, i.quantity, i.total, i.discount, i.expected, i.periodDays])).toEqual([
        [a.id, 2, 24_000, 6_000, 18_000, null],
        [b.id, 3, 21_000, 0, 21_000, null],
      ]);
      await expectProblem(await add({ itemId: a.id, quantity: 1 }), 409, "already_in_cart");
      await expectProblem(await add({ itemId: Bun.randomUUIDv7(), quantity: 1 }), 404, "item_not_found");
      await expectProblem(await add({ itemId: a.id, quantity: 0 }), 422, "validation_failed");

      const lineA = cart.items[0]!.id;
      const changed = (await (
        await app.t.request("PATCH", `/carts/normal/items/${lineA}`, { token: as(u), body: { quantity: 5 } })
      ).json()) as Cart;
      expect(changed.expected).toBe(5 * 9_000 + 21_000);
      // A line of the one-time cart is not a line of the subscription cart.
      await expectProblem(
        await app.t.request("PATCH", `/carts/subscription/items/${lineA}`, { token: as(u), body: { quantity: 1 } }),
        404,
        "cart_item_not_found",
      );
      // Another user's line is not found either.
      const other = await app.user();
      await expectProblem(await app.t.request("DELETE", `/carts/normal/items/${lineA}`, { token: as(other) }), 404, "cart_item_not_found");

      const sub = app.t.request("POST", "/carts/subscription/items", { token: as(u), body: { itemId: a.id, quantity: 1, periodDays: 30 } });
      const subCart = (await (await sub).json()) as Cart;
      expect(subCart).toMatchObject({ kind: "SUBSCRIPTION", total: 12_000, discount: 3_000, expected: 9_000 });
      const subLine = subCart.items[0]!.id;
      const fields = async (body: unknown) =>
        (
          (
            await expectProblem(
              await app.t.request("PATCH", `/carts/subscription/items/${subLine}`, { token: as(u), body }),
              422,
              "validation_failed",
            )
          ).errors ?? []
        ).map((e) => e.field);
      expect(await fields({ periodDays: 29 })).toContain("/periodDays");
      expect(await fields({ periodDays: 181 })).toContain("/periodDays");
      const repriod = (await (
        await app.t.request("PATCH", `/carts/subscription/items/${subLine}`, { token: as(u), body: { periodDays: 180 } })
      ).json()) as Cart;
      expect(repriod.items[0]!.periodDays).toBe(180);
      await expectProblem(
        await app.t.request("POST", "/carts/subscription/items", { token: as(u), body: { itemId: b.id, quantity: 1 } }),
        422,
        "validation_failed",
      );

      expect((await app.t.request("DELETE", `/carts/normal/items/${lineA}`, { token: as(u) })).status).toBe(204);
      expect((await get<Cart>("/carts/normal", u)).items.map((i) => i.itemId)).toEqual([b.id]);
      await expectProblem(await app.t.request("GET", "/carts/normal"), 401, "missing_token");
    });

    test("checkout orders the cart; once paid the ordered lines leave it and sales rise (events)", async () => {
      const u = await app.user();
      const a = await app.item({ stock: 10 });
      const b = await app.item({ stock: 10 });
      const c = await app.item({ stock: 10 });
      for (const [it, q] of [
        [a, 2],
        [b, 1],
        [c, 4],
      ] as const) {
        await app.t.request("POST", "/carts/normal/items", { token: as(u), body: { itemId: it.id, quantity: q } });
      }
      const lines = (await get<Cart>("/carts/normal", u)).items;
      const res = await app.t.request("POST", "/carts/normal/checkout", {
        token: as(u),
        body: { cartItemIds: [lines[0]!.id, lines[2]!.id] },
      });
      expect(res.status).toBe(201);
      const order = (await res.json()) as Order;
      expect(order).toMatchObject({ status: "REQUEST", kind: "NORMAL", total: 2 * 10_000 + 4 * 10_000, discount: 6_000, amount: 54_000 });
      // Reserved at order time.
      expect((await item(a.id)).stock).toBe(8);
      // Not paid yet: still in the cart.
      expect((await get<Cart>("/carts/normal", u)).items).toHaveLength(3);

      const paid = await app.pay(u, order.id);
      expect(paid.status).toBe(200);
      expect(((await paid.json()) as Order).status).toBe("COMPLETE");
      await waitFor(async () => (await get<Cart>("/carts/normal", u)).items.length === 1, { what: "paid lines to leave the cart" });
      expect((await get<Cart>("/carts/normal", u)).items[0]!.itemId).toBe(b.id);
      await waitFor(async () => (await item(c.id)).salesCount === 4, { what: "sales count" });
      expect([(await item(a.id)).salesCount, (await item(b.id)).salesCount]).toEqual([2, 0]);
      expect(outbox(shopEvents.orderPaid).some((p) => p.orderId === order.id && p.fromCart === true)).toBe(true);

      await expectProblem(
        await app.t.request("POST", "/carts/normal/checkout", { token: as(u), body: { cartItemIds: [Bun.randomUUIDv7()] } }),
        404,
        "cart_item_not_found",
      );
      const empty = await app.user();
      await expectProblem(await app.t.request("POST", "/carts/normal/checkout", { token: as(empty), body: {} }), 409, "cart_empty");
    });

    test("a subscription checkout needs one period across its lines", async () => {
      const u = await app.user();
      const a = await app.item();
      const b = await app.item();
      await app.t.request("POST", "/carts/subscription/items", { token: as(u), body: { itemId: a.id, quantity: 1, periodDays: 30 } });
      await app.t.request("POST", "/carts/subscription/items", { token: as(u), body: { itemId: b.id, quantity: 1, periodDays: 60 } });
      await expectProblem(await app.t.request("POST", "/carts/subscription/checkout", { token: as(u), body: {} }), 422, "mixed_periods");
      const lines = (await get<Cart>("/carts/subscription", u)).items;
      const res = await app.t.request("POST", "/carts/subscription/checkout", { token: as(u), body: { cartItemIds: [lines[1]!.id] } });
      expect(res.status).toBe(201);
      expect((await res.json()) as Order).toMatchObject({ kind: "SUBSCRIPTION", periodDays: 60, status: "REQUEST" });
    });
  });

  describe("orders", () => {
    test("validation: period rules, duplicate items, unknown item; others' orders are not found", async () => {
      const a = await app.item();
      const post = (body: unknown) => app.t.request("POST", "/orders", { token: as(buyer), body });
      await expectProblem(await post({ kind: "SUBSCRIPTION", items: [{ itemId: a.id, quantity: 1 }] }), 422, "period_required");
      await expectProblem(
        await post({ kind: "NORMAL", items: [{ itemId: a.id, quantity: 1 }], periodDays: 30 }),
        422,
        "period_not_allowed",
      );
      await expectProblem(
        await post({
          kind: "NORMAL",
          items: [
            { itemId: a.id, quantity: 1 },
            { itemId: a.id, quantity: 2 },
          ],
        }),
        422,
        "duplicate_items",
      );
      await expectProblem(await post({ kind: "NORMAL", items: [{ itemId: Bun.randomUUIDv7(), quantity: 1 }] }), 404, "item_not_found");
      await expectProblem(await post({ kind: "NORMAL", items: [] }), 422, "validation_failed");
      const order = (await (await post({ kind: "NORMAL", items: [{ itemId: a.id, quantity: 1 }] })).json()) as Order;
      const other = await app.user();
      await expectProblem(await app.t.request("GET", `/orders/${order.id}`, { token: as(other) }), 404, "order_not_found");
      await expectProblem(await app.t.request("POST", `/orders/${order.id}/payment`, { token: as(other) }), 404, "order_not_found");
      expect((await get<{ items: Order[]; total: number }>("/orders?status=REQUEST", buyer)).items.some((o) => o.id === order.id)).toBe(
        true,
      );
    });

    test("100 concurrent orders on stock 10 sell exactly 10", async () => {
      const scarce = await app.item({ stock: 10 });
      const users = await Promise.all(Array.from({ length: 5 }, () => app.user("rush")));
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          app.t.request("POST", "/orders", {
            token: as(users[i % users.length]!),
            body: { kind: "NORMAL", items: [{ itemId: scarce.id, quantity: 1 }] },
          }),
        ),
      );
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 201)).toHaveLength(10);
      expect(statuses.filter((s) => s === 409)).toHaveLength(90);
      const refused = results.find((r) => r.status === 409)!;
      expect(((await refused.json()) as { code: string }).code).toBe("out_of_stock");
      expect((await item(scarce.id)).stock).toBe(0);

      // All ten get paid, concurrently: ten sales, nothing more.
      const orders = await Promise.all(results.filter((r) => r.status === 201).map(async (r) => (await r.json()) as Order));
      const paid = await Promise.all(orders.map((o) => app.pay(users.find((u) => u.user.id === o.userId)!, o.id)));
      expect(paid.map((p) => p.status)).toEqual(Array(10).fill(200));
      await waitFor(async () => (await item(scarce.id)).salesCount === 10, { what: "ten sales" });
      expect((await item(scarce.id)).stock).toBe(0);
    }, 30_000);

    test("approve is idempotent: repeated and concurrent approves charge once", async () => {
      const a = await app.item({ price: 5_000, discountRate: 0 });
      const res = await app.t.request("POST", "/orders", {
        token: as(buyer),
        body: { kind: "NORMAL", items: [{ itemId: a.id, quantity: 1 }] },
      });
      const order = (await res.json()) as Order;
      const ready = (await (await app.t.request("POST", `/orders/${order.id}/payment`, { token: as(buyer) })).json()) as {
        redirectUrl: string;
        tid: string;
      };
      // Approving before the buyer authorized at the gateway is refused by the gateway.
      await expectProblem(
        await app.t.request("POST", `/orders/${order.id}/payment/approve`, { token: as(buyer), body: { pgToken: "nope" } }),
        409,
        "payment_rejected",
      );
      const checkout = await fetch(ready.redirectUrl, { redirect: "manual" });
      const pgToken = new URL(checkout.headers.get("location")!).searchParams.get("pg_token")!;
      const approves = await Promise.all(
        Array.from({ length: 5 }, () =>
          app.t.request("POST", `/orders/${order.id}/payment/approve`, { token: as(buyer), body: { pgToken } }),
        ),
      );
      const statuses = approves.map((r) => r.status);
      // Concurrent ones either answer the paid order or were told to retry while the first held the order.
      expect(statuses.every((s) => s === 200 || s === 409)).toBe(true);
      expect(statuses).toContain(200);
      const again = await app.t.request("POST", `/orders/${order.id}/payment/approve`, { token: as(buyer), body: { pgToken } });
      expect(((await again.json()) as Order).status).toBe("COMPLETE");
      // The gateway's redirect back answers the same, without a token (to an API client asking for JSON).
      const back = await fetch(`${app.url}/orders/${order.id}/payment/approved?pg_token=${pgToken}`, {
        headers: { accept: "application/json" },
      });
      expect(((await back.json()) as { status: string }).status).toBe("COMPLETE");
      expect((await pgLedger(app, order.id)).filter((p) => p.status === "APPROVED")).toHaveLength(1);
      const ledger = app.t.platform.db
        .query<{ n: number; total: number }, [string]>("SELECT COUNT(*) AS n, SUM(amount) AS total FROM shop_payments WHERE order_id = ?")
        .get(order.id)!;
      expect(ledger).toEqual({ n: 1, total: 5_000 });
      await expectProblem(await app.t.request("POST", `/orders/${order.id}/cancel`, { token: as(buyer) }), 409, "order_not_cancellable");
    });

    test("cancel and expiry release the reserved stock", async () => {
      const a = await app.item({ stock: 3 });
      const place = async () =>
        (await (
          await app.t.request("POST", "/orders", { token: as(buyer), body: { kind: "NORMAL", items: [{ itemId: a.id, quantity: 1 }] } })
        ).json()) as Order;
      const first = await place();
      const second = await place();
      expect((await item(a.id)).stock).toBe(1);
      const cancelled = (await (await app.t.request("POST", `/orders/${first.id}/cancel`, { token: as(buyer) })).json()) as Order;
      expect(cancelled.status).toBe("CANCEL");
      expect((await item(a.id)).stock).toBe(2);
      await expectProblem(await app.t.request("POST", `/orders/${first.id}/payment`, { token: as(buyer) }), 409, "order_not_payable");

      // The TTL is one minute here: sweep as if two minutes had passed.
      expect(await app.shop.orders.expireUnpaid(Date.now() + 120_000)).toBeGreaterThanOrEqual(1);
      expect((await get<Order>(`/orders/${second.id}`, buyer)).status).toBe("CANCEL");
      expect((await item(a.id)).stock).toBe(3);
      expect(
        outbox(shopEvents.orderCancelled)
          .filter((p) => p.orderId === first.id || p.orderId === second.id)
          .map((p) => p.reason)
          .sort(),
      ).toEqual(["cancelled", "expired"]);
    });

    test("partial then full refund: gateway cancels, stock and sales follow, status REFUND", async () => {
      const a = await app.item({ price: 10_000, discountRate: 10, stock: 10 });
      const b = await app.item({ price: 20_000, discountRate: 0, stock: 10 });
      const order = await app.buy(buyer, [
        { itemId: a.id, quantity: 3 },
        { itemId: b.id, quantity: 1 },
      ]);
      expect(order.amount).toBe(3 * 9_000 + 20_000);
      await waitFor(async () => (await item(a.id)).salesCount === 3, { what: "sales" });
      const lineA = order.items.find((i) => i.itemId === a.id)!;
      const refund = (body: unknown) => app.t.request("POST", `/orders/${order.id}/refunds`, { token: as(buyer), body });

      await expectProblem(await refund({ items: [{ orderItemId: lineA.id, quantity: 4 }] }), 409, "refund_exceeds_quantity");
      await expectProblem(await refund({ items: [{ orderItemId: Bun.randomUUIDv7(), quantity: 1 }] }), 404, "order_item_not_found");
      const partial = (await (await refund({ items: [{ orderItemId: lineA.id, quantity: 2 }] })).json()) as Order;
      expect(partial).toMatchObject({ status: "COMPLETE", refundedAmount: 18_000 });
      expect((await item(a.id)).stock).toBe(9);
      await waitFor(async () => (await item(a.id)).salesCount === 1, { what: "sales after the partial refund" });

      const full = (await (await refund({})).json()) as Order;
      expect(full).toMatchObject({ status: "REFUND", refundedAmount: order.amount });
      expect(full.items.map((i) => i.refundedQuantity).sort()).toEqual([1, 3]);
      expect([(await item(a.id)).stock, (await item(b.id)).stock]).toEqual([10, 10]);
      await waitFor(async () => (await item(a.id)).salesCount === 0 && (await item(b.id)).salesCount === 0, {
        what: "sales after the full refund",
      });
      await expectProblem(await refund({}), 409, "already_refunded");

      const pg = await pgLedger(app, order.id);
      expect(pg.map((p) => [p.status, p.amount, p.cancelledAmount])).toEqual([["CANCELLED", order.amount, order.amount]]);
      const ledger = app.t.platform.db
        .query<{ total: number }, [string]>("SELECT SUM(amount) AS total FROM shop_payments WHERE order_id = ?")
        .get(order.id)!;
      expect(ledger.total).toBe(0);
    });
  });

  describe("reviews", () => {
    test("only buyers of a paid, non-refunded order item; one per order item; edit/delete own; sorts and stats", async () => {
      const a = await app.item();
      const b = await app.item();
      const u = await app.user();
      const order = await app.buy(u, [
        { itemId: a.id, quantity: 1 },
        { itemId: b.id, quantity: 1 },
      ]);
      const lineA = order.items.find((i) => i.itemId === a.id)!.id;
      const lineB = order.items.find((i) => i.itemId === b.id)!.id;
      const post = (who: User, itemId: string, body: unknown) =>
        app.t.request("POST", `/items/${itemId}/reviews`, { token: as(who), body });

      // Not a buyer: someone else's order item is not found.
      const stranger = await app.user();
      await expectProblem(await post(stranger, a.id, { orderItemId: lineA, stars: 5, content: "great" }), 404, "order_item_not_found");
      await expectProblem(await post(u, a.id, { orderItemId: lineB, stars: 5, content: "great" }), 422, "order_item_mismatch");
      await expectProblem(await post(u, a.id, { orderItemId: lineA, stars: 6, content: "great" }), 422, "validation_failed");
      await expectProblem(await post(u, a.id, { orderItemId: lineA, stars: 5, content: "x".repeat(2_001) }), 422, "validation_failed");
      // An unpaid order does not make a buyer.
      const unpaid = (await (
        await app.t.request("POST", "/orders", { token: as(stranger), body: { kind: "NORMAL", items: [{ itemId: a.id, quantity: 1 }] } })
      ).json()) as Order;
      await expectProblem(await post(stranger, a.id, { orderItemId: unpaid.items[0]!.id, stars: 5, content: "x" }), 403, "not_buyer");

      const created = await post(u, a.id, { orderItemId: lineA, stars: 4, content: "  works for me  " });
      expect(created.status).toBe(201);
      const review = (await created.json()) as Review;
      expect(review).toMatchObject({ itemId: a.id, userId: u.user.id, stars: 4, content: "works for me" });
      await expectProblem(await post(u, a.id, { orderItemId: lineA, stars: 5, content: "again" }), 409, "already_reviewed");

      // A second buyer, for sorting and the average.
      const v = await app.user();
      const order2 = await app.buy(v, [{ itemId: a.id, quantity: 1 }]);
      await post(v, a.id, { orderItemId: order2.items[0]!.id, stars: 1, content: "no effect" });
      const sorted = async (sort: string) => (await get<ReviewPage>(`/items/${a.id}/reviews?sort=${sort}`)).items.map((r) => r.stars);
      expect(await sorted("STAR_H")).toEqual([4, 1]);
      expect(await sorted("STAR_L")).toEqual([1, 4]);
      expect(await sorted("NEWEST")).toEqual([1, 4]);
      expect(await sorted("OLDEST")).toEqual([4, 1]);
      expect(await item(a.id)).toMatchObject({ reviewCount: 2, averageStars: 2.5 });

      await expectProblem(
        await app.t.request("PATCH", `/reviews/${review.id}`, { token: as(v), body: { stars: 1 } }),
        404,
        "review_not_found",
      );
      const edited = (await (await app.t.request("PATCH", `/reviews/${review.id}`, { token: as(u), body: { stars: 5 } })).json()) as Review;
      expect(edited).toMatchObject({ stars: 5, content: "works for me" });
      expect((await item(a.id)).averageStars).toBe(3);
      expect((await app.t.request("DELETE", `/reviews/${review.id}`, { token: as(u) })).status).toBe(204);
      expect(await item(a.id)).toMatchObject({ reviewCount: 1, averageStars: 1 });
      await expectProblem(await app.t.request("DELETE", `/reviews/${review.id}`, { token: as(u) }), 404, "review_not_found");

      // Refunded order items cannot be reviewed.
      await app.t.request("POST", `/orders/${order.id}/refunds`, { token: as(u), body: { items: [{ orderItemId: lineB, quantity: 1 }] } });
      await expectProblem(await post(u, b.id, { orderItemId: lineB, stars: 5, content: "x" }), 403, "not_buyer");
    });
  });

  test("a deleted account's carts go and its subscriptions stop", async () => {
    const u = await app.user();
    const a = await app.item();
    await app.t.request("POST", "/carts/normal/items", { token: as(u), body: { itemId: a.id, quantity: 1 } });
    const order = await app.buy(u, [{ itemId: a.id, quantity: 1 }], "SUBSCRIPTION", 30);
    expect(order.status).toBe("SUBSCRIPTION");
    expect((await app.t.request("DELETE", "/me", { token: as(u), body: { password: u.password } })).status).toBe(204);
    const count = (sql: string) => app.t.platform.db.query<{ n: number }, [string]>(sql).get(u.user.id)!.n;
    await waitFor(() => count("SELECT COUNT(*) AS n FROM shop_subscriptions WHERE user_id = ? AND status = 'ACTIVE'") === 0, {
      what: "subscription to stop",
    });
    expect(count("SELECT COUNT(*) AS n FROM shop_cart_items WHERE user_id = ?")).toBe(0);
    expect(app.t.platform.db.query<{ status: string }, [string]>("SELECT status FROM shop_orders WHERE id = ?").get(order.id)!.status).toBe(
      "SUBSCRIBE_CANCEL",
    );
  });
});
