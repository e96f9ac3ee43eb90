// Schemas for the shop routes: the single source for validation, types and OpenAPI.
// Money is integer KRW everywhere.
import { t, type Static } from "elysia";

export const categories = ["EYE", "BONE", "BRAIN", "INTESTINE", "LIVER", "SKIN", "ANTIOXIDANT", "FATIGUE", "ETC"] as const;
export type Category = (typeof categories)[number];
export const itemSorts = ["SALES", "PRICE_H", "PRICE_L", "DISCOUNT_RATE_H", "DISCOUNT_RATE_L", "REVIEW_COUNT"] as const;
export type ItemSort = (typeof itemSorts)[number];
export const reviewSorts = ["NEWEST", "OLDEST", "STAR_H", "STAR_L"] as const;
export type ReviewSort = (typeof reviewSorts)[number];
export const orderKinds = ["NORMAL", "SUBSCRIPTION"] as const;
export type OrderKind = (typeof orderKinds)[number];
export const orderStatuses = ["REQUEST", "COMPLETE", "REFUND", "SUBSCRIPTION", "SUBSCRIBE_CANCEL", "SUBSCRIBE_PAYMENT_FAIL", "CANCEL"] as const;
export type OrderStatus = (typeof orderStatuses)[number];
export const subscriptionStatuses = ["ACTIVE", "CANCELLED", "PAYMENT_FAILED"] as const;
export type SubscriptionStatus = (typeof subscriptionStatuses)[number];

const id = (description?: string) => t.String({ format: "uuid", ...(description ? { description } : {}) });
const won = (description: string) => t.Integer({ minimum: 0, description: `${description} (KRW)` });
const IsoDate = t.String({ format: "date", description: "Calendar date YYYY-MM-DD (UTC)", examples: ["2026-12-01"] });
// Response-only strings carry no `format`: Elysia checks every response against its schema, and
// its uuid/date-time format checks cost more than the rest of a list response (measured: the
// 20-item main page 0.73 → 0.22 ms). Input schemas keep their formats: input must be checked.
const Timestamp = t.String({ description: "ISO-8601 timestamp (UTC)", examples: ["2026-12-01T10:00:00.000Z"] });
const outId = (description?: string) => t.String({ description: description ? `${description} (UUIDv7)` : "UUIDv7" });
const Page = t.Optional(t.Integer({ minimum: 1, maximum: 100_000, default: 1, description: "1-based page number" }));
const Quantity = t.Integer({ minimum: 1, maximum: 99, examples: [2] });
export const PeriodDays = t.Integer({ minimum: 30, maximum: 180, description: "Days between deliveries (30–180)", examples: [30] });

const exampleItem = {
  id: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2b01",
  name: "Lutein Gold 20 mg, 90 capsules",
  brand: "NutriCore",
  price: 32_000,
  discountRate: 15,
  discountPrice: 4_800,
  salePrice: 27_200,
  stock: 120,
  categories: ["EYE", "ANTIOXIDANT"],
  nutrients: ["Lutein 20 mg", "Zeaxanthin 4 mg"],
  description: "Marigold-extract lutein for eye health.",
  imageUrl: "https://images.example.com/items/lutein-gold.jpg",
  salesCount: 1_204,
  reviewCount: 87,
  averageStars: 4.6,
  createdAt: "2026-11-22T10:00:00.000Z",
  updatedAt: "2026-11-22T10:00:00.000Z",
};

// ---------------------------------------------------------------------------------------------
// Catalog

export const Item = t.Object(
  {
    id: outId(),
    name: t.String(),
    brand: t.String(),
    price: won("List price per unit"),
    discountRate: t.Integer({ minimum: 0, maximum: 90, description: "Percent off the list price" }),
    discountPrice: won("Amount off per unit: price × discountRate / 100, rounded down"),
    salePrice: won("What the buyer pays per unit: price − discountPrice"),
    stock: t.Integer({ minimum: 0 }),
    categories: t.Array(t.UnionEnum(categories)),
    nutrients: t.Array(t.String()),
    description: t.String(),
    imageUrl: t.Union([t.String(), t.Null()]),
    salesCount: t.Integer({ minimum: 0 }),
    reviewCount: t.Integer({ minimum: 0 }),
    averageStars: t.Number({ minimum: 0, maximum: 5, description: "One decimal; 0 without reviews" }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { examples: [exampleItem] },
);
export type Item = Static<typeof Item>;

export const ItemDetail = t.Object(
  {
    ...Item.properties,
    visitorsToday: t.Integer({ minimum: 0, description: "Unique visitors (by client IP) today, UTC; approximate (HyperLogLog) with Redis" }),
  },
  { examples: [{ ...exampleItem, visitorsToday: 42 }] },
);
export type ItemDetail = Static<typeof ItemDetail>;

export const ItemListQuery = t.Object({
  keyword: t.Optional(t.String({ minLength: 1, maxLength: 100, description: "Contained in the name or brand (case-insensitive)" })),
  // default: undefined — without it Elysia fills a missing optional enum with its first value.
  category: t.Optional(t.UnionEnum(categories, { default: undefined })),
  brand: t.Optional(t.String({ minLength: 1, maxLength: 50, description: "Exact brand, case-insensitive" })),
  minPrice: t.Optional(t.Integer({ minimum: 0, description: "Lowest salePrice" })),
  maxPrice: t.Optional(t.Integer({ minimum: 0, description: "Highest salePrice" })),
  onSale: t.Optional(t.Boolean({ description: "Only discounted items" })),
  sort: t.Optional(t.UnionEnum(itemSorts, { default: "SALES", description: "PRICE_H/PRICE_L order by salePrice" })),
  page: Page,
  size: t.Optional(t.Integer({ minimum: 1, maximum: 100, default: 8 })),
});
export type ItemListQuery = Static<typeof ItemListQuery>;

export const ItemPage = t.Object({
  items: t.Array(Item),
  page: t.Integer({ minimum: 1 }),
  size: t.Integer({ minimum: 1 }),
  total: t.Integer({ minimum: 0, description: "Items matching the filters" }),
});
export type ItemPage = Static<typeof ItemPage>;

export const MainPage = t.Object({
  topSellers: t.Array(Item, { description: "Most sold first" }),
  topDiscounts: t.Array(Item, { description: "Highest discount rate first" }),
});
export type MainPage = Static<typeof MainPage>;

const ItemName = t.String({ minLength: 1, maxLength: 100, examples: [exampleItem.name] });
const Brand = t.String({ minLength: 1, maxLength: 50, examples: [exampleItem.brand] });
const Price = t.Integer({ minimum: 1, maximum: 100_000_000, description: "List price per unit (KRW)", examples: [32_000] });
const DiscountRate = t.Integer({ minimum: 0, maximum: 90, description: "Percent", examples: [15] });
const Categories = t.Array(t.UnionEnum(categories), { minItems: 1, maxItems: categories.length, uniqueItems: true, examples: [["EYE", "ANTIOXIDANT"]] });
const Nutrients = t.Array(t.String({ minLength: 1, maxLength: 100 }), { maxItems: 30, examples: [exampleItem.nutrients] });
const ItemDescription = t.String({ maxLength: 5_000 });
const ImageUrl = t.String({ format: "uri", maxLength: 500, examples: [exampleItem.imageUrl] });

export const CreateItemBody = t.Object(
  {
    name: ItemName,
    brand: Brand,
    price: Price,
    discountRate: t.Optional(DiscountRate),
    stock: t.Integer({ minimum: 0, maximum: 1_000_000_000 }),
    categories: Categories,
    nutrients: t.Optional(Nutrients),
    description: t.Optional(ItemDescription),
    imageUrl: t.Optional(ImageUrl),
  },
  {
    examples: [
      {
        name: exampleItem.name,
        brand: exampleItem.brand,
        price: 32_000,
        discountRate: 15,
        stock: 120,
        categories: ["EYE", "ANTIOXIDANT"],
        nutrients: exampleItem.nutrients,
        description: exampleItem.description,
        imageUrl: exampleItem.imageUrl,
      },
    ],
  },
);
export type CreateItemBody = Static<typeof CreateItemBody>;

export const UpdateItemBody = t.Object(
  {
    name: t.Optional(ItemName),
    brand: t.Optional(Brand),
    price: t.Optional(Price),
    discountRate: t.Optional(DiscountRate),
    stockDelta: t.Optional(
      t.Integer({ minimum: -1_000_000_000, maximum: 1_000_000_000, description: "Added to the stock (negative to write off); the stock never goes below 0 (409)" }),
    ),
    categories: t.Optional(Categories),
    nutrients: t.Optional(Nutrients),
    description: t.Optional(ItemDescription),
    imageUrl: t.Optional(t.Union([ImageUrl, t.Null()])),
  },
  { minProperties: 1, examples: [{ discountRate: 20, stockDelta: 50 }] },
);
export type UpdateItemBody = Static<typeof UpdateItemBody>;

export const ItemIdParams = t.Object({ id: id() });

// ---------------------------------------------------------------------------------------------
// Reviews

export const Review = t.Object(
  {
    id: outId(),
    itemId: outId(),
    userId: outId(),
    orderItemId: outId(),
    stars: t.Integer({ minimum: 1, maximum: 5 }),
    content: t.String(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  {
    examples: [
      {
        id: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2b40",
        itemId: exampleItem.id,
        userId: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2a10",
        orderItemId: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2b31",
        stars: 5,
        content: "My eyes feel less tired after a month.",
        createdAt: "2026-12-01T10:00:00.000Z",
        updatedAt: "2026-12-01T10:00:00.000Z",
      },
    ],
  },
);
export type Review = Static<typeof Review>;

const Stars = t.Integer({ minimum: 1, maximum: 5, examples: [5] });
const ReviewContent = t.String({ minLength: 1, maxLength: 2_000, description: "1–2,000 characters", examples: ["My eyes feel less tired after a month."] });

export const CreateReviewBody = t.Object(
  { orderItemId: id("The order item this review is about: yours, paid and not refunded"), stars: Stars, content: ReviewContent },
  { examples: [{ orderItemId: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2b31", stars: 5, content: "My eyes feel less tired after a month." }] },
);
export type CreateReviewBody = Static<typeof CreateReviewBody>;

export const UpdateReviewBody = t.Object(
  { stars: t.Optional(Stars), content: t.Optional(ReviewContent) },
  { minProperties: 1, examples: [{ stars: 4 }] },
);
export type UpdateReviewBody = Static<typeof UpdateReviewBody>;

export const ReviewListQuery = t.Object({
  sort: t.Optional(t.UnionEnum(reviewSorts, { default: "NEWEST" })),
  page: Page,
  size: t.Optional(t.Integer({ minimum: 1, maximum: 100, default: 10 })),
});
export type ReviewListQuery = Static<typeof ReviewListQuery>;

export const ReviewPage = t.Object({
  items: t.Array(Review),
  page: t.Integer({ minimum: 1 }),
  size: t.Integer({ minimum: 1 }),
  total: t.Integer({ minimum: 0 }),
});
export type ReviewPage = Static<typeof ReviewPage>;

export const ReviewIdParams = t.Object({ id: id() });

// ---------------------------------------------------------------------------------------------
// Carts

export const CartItem = t.Object({
  id: outId("The cart line"),
  itemId: outId(),
  name: t.String(),
  brand: t.String(),
  imageUrl: t.Union([t.String(), t.Null()]),
  price: won("List price per unit"),
  discountPrice: won("Amount off per unit"),
  salePrice: won("Price per unit after the discount"),
  stock: t.Integer({ minimum: 0 }),
  quantity: t.Integer({ minimum: 1 }),
  periodDays: t.Union([t.Integer(), t.Null()], { description: "Subscription cart only" }),
  total: won("quantity × price"),
  discount: won("quantity × discountPrice"),
  expected: won("total − discount"),
});
export type CartItem = Static<typeof CartItem>;

export const Cart = t.Object(
  {
    kind: t.UnionEnum(orderKinds),
    items: t.Array(CartItem),
    total: won("Σ quantity × price"),
    discount: won("Σ quantity × discountPrice"),
    expected: won("total − discount: what an order of the whole cart charges"),
  },
  { examples: [{ kind: "NORMAL", items: [], total: 64_000, discount: 9_600, expected: 54_400 }] },
);
export type Cart = Static<typeof Cart>;

export const AddNormalCartItemBody = t.Object(
  { itemId: id(), quantity: Quantity },
  { examples: [{ itemId: exampleItem.id, quantity: 2 }] },
);
export const AddSubscriptionCartItemBody = t.Object(
  { itemId: id(), quantity: Quantity, periodDays: PeriodDays },
  { examples: [{ itemId: exampleItem.id, quantity: 1, periodDays: 30 }] },
);
export const UpdateNormalCartItemBody = t.Object({ quantity: Quantity }, { examples: [{ quantity: 3 }] });
export const UpdateSubscriptionCartItemBody = t.Object(
  { quantity: t.Optional(Quantity), periodDays: t.Optional(PeriodDays) },
  { minProperties: 1, examples: [{ periodDays: 60 }] },
);
export const CartItemParams = t.Object({ id: id("The cart line id") });

export const CheckoutBody = t.Object(
  {
    cartItemIds: t.Optional(
      t.Array(id(), { minItems: 1, maxItems: 50, uniqueItems: true, description: "Cart lines to order; the whole cart when omitted" }),
    ),
  },
  { examples: [{}] },
);
export type CheckoutBody = Static<typeof CheckoutBody>;

// ---------------------------------------------------------------------------------------------
// Orders and payments

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

const exampleOrder = {
  id: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2b30",
  userId: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2a10",
  kind: "NORMAL",
  status: "COMPLETE",
  periodDays: null,
  items: [
    { id: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2b31", itemId: exampleItem.id, name: exampleItem.name, price: 32_000, discountPrice: 4_800, salePrice: 27_200, quantity: 2, refundedQuantity: 0 },
  ],
  total: 64_000,
  discount: 9_600,
  amount: 54_400,
  refundedAmount: 0,
  subscriptionId: null,
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
    subscriptionId: t.Union([outId(), t.Null()]),
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
  { examples: [{ kind: "NORMAL", items: [{ itemId: exampleItem.id, quantity: 2 }] }, { kind: "SUBSCRIPTION", items: [{ itemId: exampleItem.id, quantity: 1 }], periodDays: 30 }] },
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
  },
  { examples: [{ orderId: exampleOrder.id, tid: "T1234567890123456789", redirectUrl: "http://127.0.0.1:3000/sandbox-pg/checkout/T1234567890123456789" }] },
);
export type PaymentReady = Static<typeof PaymentReady>;

export const ApproveBody = t.Object(
  { pgToken: t.String({ minLength: 1, maxLength: 200, description: "pg_token the gateway appended to the approval URL" }) },
  { examples: [{ pgToken: "a3f9c1d2e4b5" }] },
);
export const ApprovedQuery = t.Object({ pg_token: t.String({ minLength: 1, maxLength: 200 }) });

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

// ---------------------------------------------------------------------------------------------
// Subscriptions and billing

export const Subscription = t.Object(
  {
    id: outId(),
    orderId: outId(),
    userId: outId(),
    status: t.UnionEnum(subscriptionStatuses),
    periodDays: t.Integer(),
    amount: won("Charged each cycle"),
    paidCycles: t.Integer({ minimum: 1, description: "Cycles paid; the first payment is cycle 1" }),
    lastPaidOn: IsoDate,
    nextPaymentOn: t.Union([IsoDate, t.Null()], { description: "Due date of the next cycle: last payment + period (null once ended)" }),
    declines: t.Integer({ minimum: 0, description: "Declined attempts of the current cycle (retried on day 1, 3 and 5, then cancelled)" }),
    items: t.Array(OrderItem),
    createdAt: Timestamp,
    cancelledAt: t.Union([Timestamp, t.Null()]),
  },
  {
    examples: [
      {
        id: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2b50",
        orderId: exampleOrder.id,
        userId: exampleOrder.userId,
        status: "ACTIVE",
        periodDays: 30,
        amount: 27_200,
        paidCycles: 1,
        lastPaidOn: "2026-12-01",
        nextPaymentOn: "2026-12-31",
        declines: 0,
        items: exampleOrder.items,
        createdAt: "2026-12-01T10:01:00.000Z",
        cancelledAt: null,
      },
    ],
  },
);
export type Subscription = Static<typeof Subscription>;

export const SubscriptionIdParams = t.Object({ id: id() });
export const UpdateSubscriptionBody = t.Object({ periodDays: PeriodDays }, { examples: [{ periodDays: 60 }] });

export const BillingRunBody = t.Object(
  { date: t.Optional(IsoDate) },
  { examples: [{}, { date: "2026-12-31" }], description: "date: bill as of this UTC day (default today)" },
);

export const BillingSummary = t.Object(
  {
    date: IsoDate,
    due: t.Integer({ description: "Subscriptions due on or before the date when the run started" }),
    charged: t.Integer(),
    declined: t.Integer({ description: "Declined and scheduled for a retry" }),
    cancelled: t.Integer({ description: "Cancelled after the last decline retry" }),
    failed: t.Integer({ description: "Transient failures left for the next run (the charge stays pending)" }),
    skipped: t.Integer({ description: "Handled by another worker, or no longer due" }),
  },
  { examples: [{ date: "2026-12-31", due: 120, charged: 117, declined: 2, cancelled: 0, failed: 1, skipped: 0 }] },
);
export type BillingSummary = Static<typeof BillingSummary>;

export const chargeOutcomes = ["charged", "declined", "cancelled", "failed", "skipped"] as const;
export type ChargeOutcome = (typeof chargeOutcomes)[number];

export const ChargeResult = t.Object(
  {
    subscriptionId: outId(),
    cycle: t.Union([t.Integer(), t.Null()]),
    outcome: t.UnionEnum(chargeOutcomes),
    detail: t.Optional(t.String()),
  },
  { examples: [{ subscriptionId: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2b50", cycle: 2, outcome: "charged" }] },
);
export type ChargeResult = Static<typeof ChargeResult>;
