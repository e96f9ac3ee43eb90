// Stored rows → API shapes, and the small date helpers the shop's use cases share.
import type { CartItem, Category, Item, Order, Review, Subscription, SubscriptionCharge } from "./model";
import type { CartLineRow, CycleRow, ItemRow, OrderDetail, OrderItemRow, ReviewRow, SubscriptionDetail } from "./store";

const dayMs = 86_400_000;

/** The UTC calendar day of an instant, YYYY-MM-DD. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function addDays(day: string, days: number): string {
  return utcDay(Date.parse(`${day}T00:00:00.000Z`) + days * dayMs);
}

const iso = (ms: number) => new Date(ms).toISOString();

export function toItem(row: ItemRow): Item {
  return {
    id: row.id,
    name: row.name,
    brand: row.brand,
    price: row.price,
    discountRate: row.discount_rate,
    discountPrice: row.discount_price,
    salePrice: row.sale_price,
    stock: row.stock,
    categories: row.categories === "" ? [] : (row.categories.split(",") as Category[]),
    nutrients: JSON.parse(row.nutrients) as string[],
    description: row.description,
    imageUrl: row.image_url,
    salesCount: row.sales_count,
    reviewCount: row.review_count,
    averageStars: row.review_count === 0 ? 0 : Math.round((row.star_sum / row.review_count) * 10) / 10,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

export function toCartItem(row: CartLineRow): CartItem {
  const total = row.quantity * row.price;
  const discount = row.quantity * row.discount_price;
  return {
    id: row.id,
    itemId: row.item_id,
    name: row.name,
    brand: row.brand,
    imageUrl: row.image_url,
    price: row.price,
    discountPrice: row.discount_price,
    salePrice: row.sale_price,
    stock: row.stock,
    quantity: row.quantity,
    periodDays: row.period_days,
    total,
    discount,
    expected: total - discount,
  };
}

export function toOrderItem(row: OrderItemRow): Order["items"][number] {
  return {
    id: row.id,
    itemId: row.item_id,
    name: row.name,
    price: row.price,
    discountPrice: row.discount_price,
    salePrice: row.price - row.discount_price,
    quantity: row.quantity,
    refundedQuantity: row.refunded_quantity,
  };
}

export function toOrder({ order: row, items, subscriptionId }: OrderDetail): Order {
  return {
    id: row.id,
    userId: row.user_id,
    kind: row.kind,
    status: row.status,
    periodDays: row.period_days,
    items: items.map(toOrderItem),
    total: row.total,
    discount: row.discount,
    amount: row.amount,
    refundedAmount: row.refunded_amount,
    subscriptionId,
    cycle: row.cycle ?? (subscriptionId !== null ? 1 : null),
    paidAt: row.paid_at === null ? null : iso(row.paid_at),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

export function toReview(row: ReviewRow): Review {
  return {
    id: row.id,
    itemId: row.item_id,
    userId: row.user_id,
    orderItemId: row.order_item_id,
    stars: row.stars,
    content: row.content,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

export function toSubscription({ subscription: row, items }: SubscriptionDetail): Subscription {
  return {
    id: row.id,
    orderId: row.order_id,
    userId: row.user_id,
    status: row.status,
    periodDays: row.period_days,
    amount: row.amount,
    paidCycles: row.paid_cycles,
    lastPaidOn: row.last_paid_on,
    nextPaymentOn: row.status === "ACTIVE" ? row.next_payment_on : null,
    declines: row.declines,
    items: items.map(toOrderItem),
    createdAt: iso(row.created_at),
    cancelledAt: row.cancelled_at === null ? null : iso(row.cancelled_at),
  };
}

export function toCharge(row: CycleRow): SubscriptionCharge {
  return {
    cycle: row.cycle,
    status: row.status,
    dueOn: row.due_on,
    amount: row.amount,
    paidOn: row.paid_on,
    tries: row.try + 1,
    lastError: row.status === "PAID" ? null : row.last_error,
    orderId: row.order_id,
    refundedAmount: row.refunded_amount,
  };
}
