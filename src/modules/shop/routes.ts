// Shop controller: catalog, carts, orders, payments, subscriptions, reviews, internal routes.
import { Elysia, t } from "elysia";
import type { PeerSource } from "../../platform/http/client-ip";
import { problems, problemResponses } from "../../platform/http/problem";
import { authPlugin, type AccountsService } from "../accounts";
import type { ShopWorker, SubscriptionsService } from "./billing";
import type { CatalogService } from "./catalog";
import type { InternalGuard } from "./internal";
import {
  AddNormalCartItemBody,
  AddSubscriptionCartItemBody,
  ApproveBody,
  ApprovedQuery,
  BillingRunBody,
  BillingSummary,
  Cart,
  CartItemParams,
  ChargeResult,
  CheckoutBody,
  CreateItemBody,
  CreateOrderBody,
  CreateReviewBody,
  Item,
  ItemDetail,
  ItemIdParams,
  ItemListQuery,
  ItemPage,
  MainPage,
  Order,
  OrderIdParams,
  OrderListQuery,
  OrderPage,
  PaymentReady,
  RefundBody,
  Review,
  ReviewIdParams,
  ReviewListQuery,
  ReviewPage,
  Subscription,
  SubscriptionIdParams,
  UpdateItemBody,
  UpdateNormalCartItemBody,
  UpdateReviewBody,
  UpdateSubscriptionBody,
  UpdateSubscriptionCartItemBody,
  orderStatuses,
} from "./model";
import type { OrdersService } from "./orders";
import type { ResilientGateway } from "./payments/resilience";
import type { SandboxPg } from "./sandbox/engine";
import { sandboxRoutes } from "./sandbox/routes";

const tags = ["shop"];

export interface ShopModule {
  catalog: CatalogService;
  orders: OrdersService;
  subscriptions: SubscriptionsService;
  /** The configured adapter wrapped in timeout, retry and the circuit breaker. */
  gateway: ResilientGateway;
  /** The built-in sandbox PG, when mounted (HOMEBASE_SANDBOX_PG). */
  sandbox: SandboxPg | null;
  /** Daily recurring billing and the unpaid-order sweep: the module's job, run in worker roles. */
  worker: ShopWorker;
  internalOnly: InternalGuard;
  sandboxSecretKey: string;
  clientIp: (request: Request, server: PeerSource | null | undefined) => string | null;
}

const PaymentResult = t.Object({
  orderId: t.String({ format: "uuid" }),
  status: t.UnionEnum(orderStatuses),
  paidAt: t.Union([t.String({ format: "date-time" }), t.Null()]),
});

export function shopController(shop: ShopModule, accounts: AccountsService) {
  const { catalog, orders, subscriptions } = shop;
  const internal = ({ request, server }: { request: Request; server: PeerSource | null }) => shop.internalOnly(request, server);
  const app = new Elysia({ name: "homebase.shop" })
    // The IP check comes before body validation: a stranger learns nothing about these routes.
    // (Request hooks see every request of the app: the cheap substring test comes first.)
    .onRequest(({ request, server }) => {
      if (request.url.includes("/internal/") && new URL(request.url).pathname.startsWith("/internal/")) shop.internalOnly(request, server);
    })
    .use(authPlugin(accounts))
    // ---- catalog -------------------------------------------------------------------------------
    .get("/items", ({ query }) => catalog.search(query), {
      query: ItemListQuery,
      response: { 200: ItemPage, ...problemResponses(422) },
      detail: {
        tags,
        summary: "Search the catalog",
        description:
          "Filters combine: keyword (name or brand), category, brand, minPrice/maxPrice (salePrice), onSale. Sorts: SALES (default), PRICE_H/PRICE_L (salePrice), DISCOUNT_RATE_H/L, REVIEW_COUNT. Pages of `size` (default 8).",
      },
    })
    // Declared before /items/:id so the static segment is never read as an id.
    .get("/items/main", async () => new Response(await catalog.mainJson(), { headers: { "content-type": "application/json" } }), {
      response: { 200: MainPage },
      detail: { tags, summary: "Main page: top sellers and top discounts", description: "Cached (HOMEBASE_SHOP_MAIN_TTL_MS, default 60 s); item changes show at once." },
    })
    .get("/items/:id", ({ params, request, server }) => catalog.detail(params.id, shop.clientIp(request, server)), {
      params: ItemIdParams,
      response: { 200: ItemDetail, ...problemResponses(404, 422) },
      detail: { tags, summary: "One item", description: "Counts the caller (by IP) as one of today's unique visitors of the item." },
    })
    .post("/items", async ({ body, status }) => status(201, await catalog.create(body)), {
      admin: true,
      body: CreateItemBody,
      response: { 201: Item, ...problemResponses(400, 401, 403, 422) },
      detail: { tags, summary: "Create an item (admin)", description: "discountPrice = price × discountRate / 100 (rounded down); salePrice = price − discountPrice." },
    })
    .patch("/items/:id", ({ params, body }) => catalog.update(params.id, body), {
      admin: true,
      params: ItemIdParams,
      body: UpdateItemBody,
      response: { 200: Item, ...problemResponses(400, 401, 403, 404, 409, 422) },
      detail: { tags, summary: "Update an item (admin)", description: "stockDelta adds to the stock atomically (409 if it would go below 0)." },
    })
    .delete(
      "/items/:id",
      async ({ params, status }) => {
        await catalog.remove(params.id);
        return status(204, undefined);
      },
      {
        admin: true,
        params: ItemIdParams,
        response: { 204: t.Void(), ...problemResponses(401, 403, 404, 422) },
        detail: { tags, summary: "Delete an item (admin)", description: "Soft delete: it leaves the catalog and every cart; orders and reviews keep it." },
      },
    )
    // ---- reviews -------------------------------------------------------------------------------
    .get("/items/:id/reviews", ({ params, query }) => catalog.reviews(params.id, query), {
      params: ItemIdParams,
      query: ReviewListQuery,
      response: { 200: ReviewPage, ...problemResponses(404, 422) },
      detail: { tags, summary: "An item's reviews", description: "Sorts: NEWEST (default), OLDEST, STAR_H, STAR_L." },
    })
    .post("/items/:id/reviews", async ({ principal, params, body, status }) => status(201, await catalog.createReview(principal, params.id, body)), {
      auth: true,
      params: ItemIdParams,
      body: CreateReviewBody,
      response: { 201: Review, ...problemResponses(400, 401, 403, 404, 409, 422) },
      detail: {
        tags,
        summary: "Review an item you bought",
        description: "Only for your own order item of this item in a paid order that is not fully refunded (403 not_a_buyer); one review per order item (409).",
      },
    })
    .patch("/reviews/:id", ({ principal, params, body }) => catalog.updateReview(principal, params.id, body), {
      auth: true,
      params: ReviewIdParams,
      body: UpdateReviewBody,
      response: { 200: Review, ...problemResponses(400, 401, 404, 422) },
      detail: { tags, summary: "Edit your review" },
    })
    .delete(
      "/reviews/:id",
      async ({ principal, params, status }) => {
        await catalog.deleteReview(principal, params.id);
        return status(204, undefined);
      },
      {
        auth: true,
        params: ReviewIdParams,
        response: { 204: t.Void(), ...problemResponses(401, 404, 422) },
        detail: { tags, summary: "Delete your review" },
      },
    )
    // ---- carts ---------------------------------------------------------------------------------
    .get("/carts/normal", ({ principal }) => orders.cart(principal, "NORMAL"), {
      auth: true,
      response: { 200: Cart, ...problemResponses(401) },
      detail: { tags, summary: "Your one-time cart", description: "Totals in KRW: total = Σ qty × price, discount = Σ qty × discountPrice, expected = total − discount." },
    })
    .get("/carts/subscription", ({ principal }) => orders.cart(principal, "SUBSCRIPTION"), {
      auth: true,
      response: { 200: Cart, ...problemResponses(401) },
      detail: { tags, summary: "Your subscription cart" },
    })
    .post("/carts/normal/items", async ({ principal, body, status }) => status(201, await orders.addToCart(principal, "NORMAL", body)), {
      auth: true,
      body: AddNormalCartItemBody,
      response: { 201: Cart, ...problemResponses(400, 401, 404, 409, 422) },
      detail: { tags, summary: "Add an item to your one-time cart", description: "409 already_in_cart when it is there already." },
    })
    .post("/carts/subscription/items", async ({ principal, body, status }) => status(201, await orders.addToCart(principal, "SUBSCRIPTION", body)), {
      auth: true,
      body: AddSubscriptionCartItemBody,
      response: { 201: Cart, ...problemResponses(400, 401, 404, 409, 422) },
      detail: { tags, summary: "Add an item to your subscription cart", description: "periodDays 30–180. 409 already_in_cart when it is there already." },
    })
    .patch("/carts/normal/items/:id", ({ principal, params, body }) => orders.updateCartLine(principal, "NORMAL", params.id, body), {
      auth: true,
      params: CartItemParams,
      body: UpdateNormalCartItemBody,
      response: { 200: Cart, ...problemResponses(400, 401, 404, 422) },
      detail: { tags, summary: "Change a line's quantity (one-time cart)" },
    })
    .patch("/carts/subscription/items/:id", ({ principal, params, body }) => orders.updateCartLine(principal, "SUBSCRIPTION", params.id, body), {
      auth: true,
      params: CartItemParams,
      body: UpdateSubscriptionCartItemBody,
      response: { 200: Cart, ...problemResponses(400, 401, 404, 422) },
      detail: { tags, summary: "Change a line's quantity or period (subscription cart)" },
    })
    .delete(
      "/carts/normal/items/:id",
      async ({ principal, params, status }) => {
        await orders.removeCartLine(principal, "NORMAL", params.id);
        return status(204, undefined);
      },
      { auth: true, params: CartItemParams, response: { 204: t.Void(), ...problemResponses(401, 404, 422) }, detail: { tags, summary: "Remove a line (one-time cart)" } },
    )
    .delete(
      "/carts/subscription/items/:id",
      async ({ principal, params, status }) => {
        await orders.removeCartLine(principal, "SUBSCRIPTION", params.id);
        return status(204, undefined);
      },
      { auth: true, params: CartItemParams, response: { 204: t.Void(), ...problemResponses(401, 404, 422) }, detail: { tags, summary: "Remove a line (subscription cart)" } },
    )
    .post("/carts/normal/checkout", async ({ principal, body, status }) => status(201, await orders.checkout(principal, "NORMAL", body)), {
      auth: true,
      body: CheckoutBody,
      response: { 201: Order, ...problemResponses(400, 401, 404, 409, 422) },
      detail: {
        tags,
        summary: "Order your one-time cart",
        description: "The whole cart, or the lines in cartItemIds. Stock is reserved now (409 out_of_stock); the lines leave the cart when the order is paid.",
      },
    })
    .post("/carts/subscription/checkout", async ({ principal, body, status }) => status(201, await orders.checkout(principal, "SUBSCRIPTION", body)), {
      auth: true,
      body: CheckoutBody,
      response: { 201: Order, ...problemResponses(400, 401, 404, 409, 422) },
      detail: { tags, summary: "Order your subscription cart", description: "All ordered lines must share one period (422 mixed_periods)." },
    })
    // ---- orders and payment --------------------------------------------------------------------
    .post("/orders", async ({ principal, body, status }) => status(201, await orders.create(principal, body)), {
      auth: true,
      body: CreateOrderBody,
      response: { 201: Order, ...problemResponses(400, 401, 404, 409, 422) },
      detail: { tags, summary: "Order directly", description: "Stock is reserved atomically (409 out_of_stock); unpaid orders expire after HOMEBASE_SHOP_ORDER_TTL_MIN. Emits homebase.shop.order.created." },
    })
    .get("/orders", ({ principal, query }) => orders.list(principal, query), {
      auth: true,
      query: OrderListQuery,
      response: { 200: OrderPage, ...problemResponses(401, 422) },
      detail: { tags, summary: "Your orders", description: "Newest first." },
    })
    .get("/orders/:id", ({ principal, params }) => orders.get(principal, params.id), {
      auth: true,
      params: OrderIdParams,
      response: { 200: Order, ...problemResponses(401, 404, 422) },
      detail: { tags, summary: "One of your orders" },
    })
    .post("/orders/:id/payment", async ({ principal, params, status }) => status(201, await orders.ready(principal, params.id)), {
      auth: true,
      params: OrderIdParams,
      response: { 201: PaymentReady, ...problemResponses(401, 404, 409, 422, 503) },
      detail: {
        tags,
        summary: "Start paying an order",
        description: "Asks the gateway for a payment (ready) and answers where to send the buyer. 503 payment_gateway_unavailable when the gateway fails (retry).",
      },
    })
    .post("/orders/:id/payment/approve", ({ principal, params, body }) => orders.approve(principal, params.id, body.pgToken), {
      auth: true,
      params: OrderIdParams,
      body: ApproveBody,
      response: { 200: Order, ...problemResponses(401, 402, 404, 409, 422, 503) },
      detail: {
        tags,
        summary: "Approve the payment with the gateway's pg_token",
        description:
          "Charges once: repeating it (or racing it) answers the paid order. Status becomes COMPLETE, or SUBSCRIPTION with a subscription whose next payment is today + period. 402 payment_declined; 503 when the gateway fails (retry: nothing is charged twice). Emits homebase.shop.order.paid.",
      },
    })
    .get(
      "/orders/:id/payment/approved",
      async ({ params, query }) => {
        const order = await orders.approve(null, params.id, query.pg_token);
        return { orderId: order.id, status: order.status, paidAt: order.paidAt };
      },
      {
        params: OrderIdParams,
        query: ApprovedQuery,
        response: { 200: PaymentResult, ...problemResponses(402, 404, 409, 422, 503) },
        detail: { tags, summary: "The gateway's approval redirect", description: "Where the gateway sends the buyer back; approves like POST …/approve (the pg_token is the credential)." },
      },
    )
    .get(
      "/orders/:id/payment/cancelled",
      () => {
        throw problems.conflict("payment_cancelled", "the buyer cancelled the payment at the gateway; the order awaits payment");
      },
      { params: OrderIdParams, response: { 409: problemResponses(409)[409], ...problemResponses(422) }, detail: { tags, summary: "The gateway's cancel redirect" } },
    )
    .get(
      "/orders/:id/payment/failed",
      () => {
        throw problems.conflict("payment_failed", "the payment failed at the gateway; the order awaits payment");
      },
      { params: OrderIdParams, response: { 409: problemResponses(409)[409], ...problemResponses(422) }, detail: { tags, summary: "The gateway's failure redirect" } },
    )
    .post("/orders/:id/cancel", ({ principal, params }) => orders.cancel(principal, params.id), {
      auth: true,
      params: OrderIdParams,
      response: { 200: Order, ...problemResponses(401, 404, 409, 422) },
      detail: { tags, summary: "Cancel an unpaid order", description: "Status CANCEL; the reserved stock is released. Paid orders are refunded instead." },
    })
    .post("/orders/:id/refunds", ({ principal, params, body }) => orders.refund(principal, params.id, body), {
      auth: true,
      params: OrderIdParams,
      body: RefundBody,
      response: { 200: Order, ...problemResponses(400, 401, 404, 409, 422, 503) },
      detail: {
        tags,
        summary: "Refund all or part of a paid order",
        description:
          "Refunds the given quantities (or everything left) through the gateway; stock and sales counts follow. Fully refunded → REFUND. A refund left pending by a gateway failure is finished first. Emits homebase.shop.order.refunded.",
      },
    })
    // ---- subscriptions -------------------------------------------------------------------------
    .get("/subscriptions", ({ principal }) => subscriptions.list(principal), {
      auth: true,
      response: { 200: t.Array(Subscription), ...problemResponses(401) },
      detail: { tags, summary: "Your subscriptions", description: "Newest first." },
    })
    .get("/subscriptions/:id", ({ principal, params }) => subscriptions.get(principal, params.id), {
      auth: true,
      params: SubscriptionIdParams,
      response: { 200: Subscription, ...problemResponses(401, 404, 422) },
      detail: { tags, summary: "One of your subscriptions" },
    })
    .patch("/subscriptions/:id", ({ principal, params, body }) => subscriptions.changePeriod(principal, params.id, body.periodDays), {
      auth: true,
      params: SubscriptionIdParams,
      body: UpdateSubscriptionBody,
      response: { 200: Subscription, ...problemResponses(400, 401, 404, 409, 422) },
      detail: { tags, summary: "Change the period", description: "Next payment = last payment + new period (tomorrow at the earliest)." },
    })
    .post("/subscriptions/:id/skip", ({ principal, params }) => subscriptions.skip(principal, params.id), {
      auth: true,
      params: SubscriptionIdParams,
      response: { 200: Subscription, ...problemResponses(401, 404, 409, 422) },
      detail: { tags, summary: "Skip the coming cycle", description: "The next payment moves one period later." },
    })
    .post("/subscriptions/:id/cancel", ({ principal, params }) => subscriptions.cancel(principal, params.id), {
      auth: true,
      params: SubscriptionIdParams,
      response: { 200: Subscription, ...problemResponses(401, 404, 409, 422) },
      detail: { tags, summary: "Cancel a subscription", description: "No further charges; the order becomes SUBSCRIBE_CANCEL. Emits homebase.shop.subscription.cancelled." },
    })
    // ---- internal ------------------------------------------------------------------------------
    .post("/internal/billing/run", ({ body }) => subscriptions.runBilling(body.date), {
      beforeHandle: internal,
      body: BillingRunBody,
      response: { 200: BillingSummary, ...problemResponses(400, 403, 422) },
      detail: {
        tags,
        summary: "Run recurring billing now (internal)",
        description: "Only from HOMEBASE_SHOP_INTERNAL_ALLOW (loopback and the WireGuard subnet by default), else 403. Safe to run from several workers at once: each due subscription is charged once.",
      },
    })
    .post("/internal/subscriptions/:id/charge", ({ params, body }) => subscriptions.chargeNow(params.id, body.date), {
      beforeHandle: internal,
      params: SubscriptionIdParams,
      body: BillingRunBody,
      response: { 200: ChargeResult, ...problemResponses(400, 403, 404, 422, 503) },
      detail: { tags, summary: "Charge one subscription's due cycle (internal)", description: "The recurring-charge endpoint: internal IPs only (403). outcome skipped when not due." },
    });
  return shop.sandbox ? app.use(sandboxRoutes(shop.sandbox, shop.sandboxSecretKey, shop.internalOnly)) : app;
}
