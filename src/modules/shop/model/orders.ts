// Order, payment and refund schemas.
import { t, type Static } from "elysia";
import { orderKinds, orderStatuses, id, won, Timestamp, outId, Page, Quantity, PeriodDays } from "./common";
import { exampleItem } from "./catalog";

export const OrderItem = t.Object({
  id: outId("The order item: what a review refers to"),
  itemId: outId(),
  name: t.String(),
  price: won("List price per unit at order time"),
  discountPrice: won("Amount off per unit at order time"),
  salePrice: won("Paid per unit"),
  quantity: t.Integer({ minimum: 1 }),
  refundedQuantity: t.Integer({ minimum: 0 }),
});

export const exampleOrder = {
  id: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2b30",
  userId: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2a10",
  kind: "NORMAL",
  status: "COMPLETE",
  periodDays: null,
  items: [
    {
      id: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2b31",
      itemId: exampleItem.id,
      name: exampleItem.name,
      price: 32_000,
      discountPrice: 4_800,
      salePrice: 27_200,
      quantity: 2,
      refundedQuantity: 0,
    },
  ],
  total: 64_000,
  discount: 9_600,
  amount: 54_400,
  refundedAmount: 0,
  subscriptionId: null,
  cycle: null,
  paidAt: "2026-12-01T10:01:00.000Z",
  createdAt: "2026-12-01T10:00:00.000Z",
  updatedAt: "2026-12-01T10:01:00.000Z",
};

export const Order = t.Object(
  {
    id: outId(),
    userId: outId(),
    kind: t.UnionEnum(orderKinds),
    status: t.UnionEnum(orderStatuses, {
      description:
        "REQUEST (awaiting payment, stock reserved), COMPLETE (paid), REFUND (fully refunded), SUBSCRIPTION (paid, subscription active), SUBSCRIBE_CANCEL, SUBSCRIBE_PAYMENT_FAIL, CANCEL (never paid: cancelled or expired, stock released)",
    }),
    periodDays: t.Union([t.Integer(), t.Null()]),
    items: t.Array(OrderItem),
    total: won("Σ quantity × price"),
    discount: won("Σ quantity × discountPrice"),
    amount: won("Charged: total − discount"),
    refundedAmount: won("Refunded so far"),
    subscriptionId: t.Union([outId(), t.Null()], {
      description: "The subscription this order started (its first payment) or whose recurring charge created it",
    }),
    cycle: t.Union([t.Integer({ minimum: 1 }), t.Null()], {
      description:
        "A subscription order: the cycle it paid — 1 for the order that started the subscription, 2, 3, … for the orders its recurring charges created (kind SUBSCRIPTION, status COMPLETE, or REFUND once refunded)",
    }),
    paidAt: t.Union([Timestamp, t.Null()]),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { examples: [exampleOrder] },
);
export type Order = Static<typeof Order>;

export const CreateOrderBody = t.Object(
  {
    kind: t.UnionEnum(orderKinds),
    items: t.Array(t.Object({ itemId: id(), quantity: Quantity }), { minItems: 1, maxItems: 50 }),
    periodDays: t.Optional(PeriodDays),
  },
  {
    examples: [
      { kind: "NORMAL", items: [{ itemId: exampleItem.id, quantity: 2 }] },
      { kind: "SUBSCRIPTION", items: [{ itemId: exampleItem.id, quantity: 1 }], periodDays: 30 },
    ],
  },
);
export type CreateOrderBody = Static<typeof CreateOrderBody>;

export const OrderListQuery = t.Object({
  status: t.Optional(t.UnionEnum(orderStatuses, { default: undefined })),
  page: Page,
  size: t.Optional(t.Integer({ minimum: 1, maximum: 100, default: 20 })),
});
export type OrderListQuery = Static<typeof OrderListQuery>;

export const OrderPage = t.Object({
  items: t.Array(Order),
  page: t.Integer({ minimum: 1 }),
  size: t.Integer({ minimum: 1 }),
  total: t.Integer({ minimum: 0 }),
});
export type OrderPage = Static<typeof OrderPage>;

export const OrderIdParams = t.Object({ id: id() });

export const PaymentReady = t.Object(
  {
    orderId: outId(),
    tid: t.String({ description: "The gateway's transaction id" }),
    redirectUrl: t.String({ description: "Send the buyer here; the gateway returns them to /orders/{id}/payment/approved?pg_token=…" }),
    resumed: t.Boolean({
      description: "true: the order's checkout was already open (started less than 15 minutes ago, not ended) — this is that same checkout",
    }),
  },
  {
    examples: [
      {
        orderId: exampleOrder.id,
        tid: "T1234567890123456789",
        redirectUrl: "http://127.0.0.1:3000/sandbox-pg/checkout/T1234567890123456789",
        resumed: false,
      },
    ],
  },
);
export type PaymentReady = Static<typeof PaymentReady>;

export const ApproveBody = t.Object(
  { pgToken: t.String({ minLength: 1, maxLength: 200, description: "pg_token the gateway appended to the approval URL" }) },
  { examples: [{ pgToken: "a3f9c1d2e4b5" }] },
);
export const ApprovedQuery = t.Object({ pg_token: t.String({ minLength: 1, maxLength: 200 }) });
/** The cancel and fail URLs carry the payment attempt's reference. */
export const CheckoutEndQuery = t.Object({ checkout: t.Optional(t.String({ maxLength: 64 })) });

/** What the buyer's browser is told after the gateway sent it back (the result page). */
export const paymentOutcomes = [
  "paid",
  "cancelled",
  "failed",
  "declined",
  "unavailable",
  "processing",
  "not_payable",
  "not_found",
] as const;
export type PaymentOutcome = (typeof paymentOutcomes)[number];
export const PaymentResultQuery = t.Object({ outcome: t.UnionEnum(paymentOutcomes) });

/** What the gateway's approval redirect answers. */
export const PaymentResult = t.Object({
  orderId: outId(),
  status: t.UnionEnum(orderStatuses),
  paidAt: t.Union([Timestamp, t.Null()]),
});
export type PaymentResult = Static<typeof PaymentResult>;

export const RefundBody = t.Object(
  {
    items: t.Optional(
      t.Array(t.Object({ orderItemId: id(), quantity: Quantity }), {
        minItems: 1,
        maxItems: 50,
        description: "What to refund; everything not yet refunded when omitted",
      }),
    ),
  },
  { examples: [{}, { items: [{ orderItemId: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2b31", quantity: 1 }] }] },
);
export type RefundBody = Static<typeof RefundBody>;
