// The shop's error vocabulary (lower snake_case, the subject first; see platform/http/errors.ts)
// and the error its use cases throw. A ShopError names what was refused; the controllers give
// it its HTTP status (routes/http.ts), so the use cases know nothing of HTTP.
import type { FieldError } from "../../platform/http/problem";

export const shopErrors = {
  // catalog
  itemNotFound: "item_not_found",
  invalidPriceRange: "invalid_price_range",
  insufficientStock: "insufficient_stock",
  // reviews
  reviewNotFound: "review_not_found",
  orderItemNotFound: "order_item_not_found",
  orderItemMismatch: "order_item_mismatch",
  notBuyer: "not_buyer",
  alreadyReviewed: "already_reviewed",
  // carts
  cartItemNotFound: "cart_item_not_found",
  alreadyInCart: "already_in_cart",
  cartEmpty: "cart_empty",
  mixedPeriods: "mixed_periods",
  // orders
  orderNotFound: "order_not_found",
  periodRequired: "period_required",
  periodNotAllowed: "period_not_allowed",
  duplicateItems: "duplicate_items",
  outOfStock: "out_of_stock",
  unpaidOrderLimit: "unpaid_order_limit",
  unpaidQuantityLimit: "unpaid_quantity_limit",
  orderBusy: "order_busy",
  orderNotPayable: "order_not_payable",
  orderExpired: "order_expired",
  orderNotCancellable: "order_not_cancellable",
  // payments (the gateway's answers, mapped by the controllers)
  paymentNotStarted: "payment_not_started",
  paymentDeclined: "payment_declined",
  paymentRejected: "payment_rejected",
  paymentGatewayUnavailable: "payment_gateway_unavailable",
  paymentCancelled: "payment_cancelled",
  paymentFailed: "payment_failed",
  // refunds
  orderNotRefundable: "order_not_refundable",
  alreadyRefunded: "already_refunded",
  refundExceedsQuantity: "refund_exceeds_quantity",
  nothingToRefund: "nothing_to_refund",
  // subscriptions
  subscriptionNotFound: "subscription_not_found",
  subscriptionNotActive: "subscription_not_active",
  subscriptionBusy: "subscription_busy",
  chargeInProgress: "charge_in_progress",
  cycleNotRefundable: "cycle_not_refundable",
  // internal endpoints (their guard's codes are the platform's: src/platform/http/internal.ts)
  billingDateInFuture: "billing_date_in_future",
} as const;

export type ShopErrorCode = (typeof shopErrors)[keyof typeof shopErrors];

/** A shop use case refused the request: a code of the vocabulary, a sentence, and extra members of the problem. */
export class ShopError extends Error {
  constructor(
    readonly code: ShopErrorCode,
    readonly detail: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(detail);
    this.name = "ShopError";
  }
}

/** A refusal about one request field: the problem lists it in `errors`, like a validation failure. */
export function fieldRefusal(code: ShopErrorCode, detail: string, field: string, message: string): ShopError {
  return new ShopError(code, detail, { errors: [{ field, message }] satisfies FieldError[] });
}
