// Order routes: direct orders, the caller's orders, payment (ready, approve), cancel and
// refunds. The gateway's redirects back to the shop: payment-pages.ts.
import { Elysia } from "elysia";
import { authPlugin, type AccountsService } from "../../accounts";
import { shopErrors } from "../errors";
import { ApproveBody, CreateOrderBody, Order, OrderIdParams, OrderListQuery, OrderPage, PaymentReady, RefundBody } from "../model";
import type { OrdersService } from "../orders";
import type { RefundsService } from "../refunds";
import { errors, handled, tags } from "./http";

const gateway = [shopErrors.paymentDeclined, shopErrors.paymentRejected, shopErrors.paymentGatewayUnavailable] as const;

export function orderRoutes(orders: OrdersService, refunds: RefundsService, accounts: AccountsService) {
  return new Elysia({ name: "homebase.shop.orders" })
    .use(authPlugin(accounts))
    .post("/orders", async ({ principal, body, status }) => status(201, await handled(() => orders.create(principal, body))), {
      auth: true,
      body: CreateOrderBody,
      response: {
        201: Order,
        ...errors(
          400,
          401,
          422,
          shopErrors.periodRequired,
          shopErrors.periodNotAllowed,
          shopErrors.duplicateItems,
          shopErrors.itemNotFound,
          shopErrors.outOfStock,
          shopErrors.unpaidOrderLimit,
          shopErrors.unpaidQuantityLimit,
        ),
      },
      detail: {
        tags,
        summary: "Order directly",
        description:
          "Stock is reserved atomically (409 out_of_stock); unpaid orders expire after HOMEBASE_SHOP_ORDER_TTL_MIN, and a user holds at most HOMEBASE_SHOP_UNPAID_ORDERS_MAX of them reserving HOMEBASE_SHOP_UNPAID_UNITS_MAX units in all (409 unpaid_order_limit, unpaid_quantity_limit). Emits homebase.shop.order.created.",
      },
    })
    .get("/orders", ({ principal, query }) => orders.list(principal, query), {
      auth: true,
      query: OrderListQuery,
      response: { 200: OrderPage, ...errors(401, 422) },
      detail: { tags, summary: "Your orders", description: "Newest first." },
    })
    .get("/orders/:id", ({ principal, params }) => handled(() => orders.get(principal, params.id)), {
      auth: true,
      params: OrderIdParams,
      response: { 200: Order, ...errors(401, 422, shopErrors.orderNotFound) },
      detail: { tags, summary: "One of your orders" },
    })
    .post(
      "/orders/:id/payment",
      async ({ principal, params, status }) => status(201, await handled(() => orders.ready(principal, params.id))),
      {
        auth: true,
        params: OrderIdParams,
        response: {
          201: PaymentReady,
          ...errors(
            401,
            422,
            shopErrors.orderNotFound,
            shopErrors.orderBusy,
            shopErrors.orderNotPayable,
            shopErrors.orderExpired,
            ...gateway,
          ),
        },
        detail: {
          tags,
          summary: "Start paying an order",
          description:
            "Asks the gateway for a payment (ready) and answers where to send the buyer. Starting again while that checkout is open (not ended, under 15 minutes old) answers the same checkout (resumed: true) instead of replacing it, so the buyer's approval of it is never lost; a new one starts once it was declined, cancelled or failed at the gateway, or is older. 503 payment_gateway_unavailable when the gateway fails (retry; Retry-After says when).",
        },
      },
    )
    .post(
      "/orders/:id/payment/approve",
      ({ principal, params, body }) => handled(() => orders.approve(principal, params.id, body.pgToken)),
      {
        auth: true,
        params: OrderIdParams,
        body: ApproveBody,
        response: {
          200: Order,
          ...errors(
            400,
            401,
            422,
            shopErrors.orderNotFound,
            shopErrors.orderBusy,
            shopErrors.orderNotPayable,
            shopErrors.paymentNotStarted,
            ...gateway,
          ),
        },
        detail: {
          tags,
          summary: "Approve the payment with the gateway's pg_token",
          description:
            "Charges once: repeating it (or racing it) answers the paid order. Status becomes COMPLETE, or SUBSCRIPTION with a subscription whose next payment is today + period. 402 payment_declined; 503 when the gateway fails (retry: nothing is charged twice). Emits homebase.shop.order.paid.",
        },
      },
    )
    .post("/orders/:id/cancel", ({ principal, params }) => handled(() => orders.cancel(principal, params.id)), {
      auth: true,
      params: OrderIdParams,
      response: { 200: Order, ...errors(401, 422, shopErrors.orderNotFound, shopErrors.orderBusy, shopErrors.orderNotCancellable) },
      detail: {
        tags,
        summary: "Cancel an unpaid order",
        description: "Status CANCEL; the reserved stock is released. Paid orders are refunded instead.",
      },
    })
    .post("/orders/:id/refunds", ({ principal, params, body }) => handled(() => refunds.refund(principal, params.id, body)), {
      auth: true,
      params: OrderIdParams,
      body: RefundBody,
      response: {
        200: Order,
        ...errors(
          400,
          401,
          422,
          shopErrors.orderNotFound,
          shopErrors.orderBusy,
          shopErrors.orderNotRefundable,
          shopErrors.alreadyRefunded,
          shopErrors.orderItemNotFound,
          shopErrors.refundExceedsQuantity,
          shopErrors.nothingToRefund,
          shopErrors.duplicateItems,
          shopErrors.paymentRejected,
          shopErrors.paymentGatewayUnavailable,
        ),
      },
      detail: {
        tags,
        summary: "Refund all or part of a paid order",
        description:
          "Refunds the given quantities (or everything left) through the gateway; stock and sales counts follow. Fully refunded → REFUND. A refund left pending by a gateway failure is finished first. Emits homebase.shop.order.refunded.",
      },
    });
}
