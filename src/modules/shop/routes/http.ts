// What the shop's controllers share: the HTTP status of each refusal, the mapping of the
// payment gateway's answers, and the error responses a route documents.
import type { TSchema } from "elysia";
import { platformErrors } from "../../../platform/http/errors";
import { HttpProblem, problemResponses } from "../../../platform/http/problem";
import { adminFailures, authFailures } from "../../accounts";
import { ShopError, shopErrors, type ShopErrorCode } from "../errors";
import { GatewayError } from "../payments/port";

export const tags = ["shop"];

const statusOf: Record<ShopErrorCode, number> = {
  item_not_found: 404,
  invalid_price_range: 422,
  insufficient_stock: 409,
  review_not_found: 404,
  order_item_not_found: 404,
  order_item_mismatch: 422,
  not_buyer: 403,
  already_reviewed: 409,
  cart_item_not_found: 404,
  already_in_cart: 409,
  cart_empty: 409,
  mixed_periods: 422,
  order_not_found: 404,
  period_required: 422,
  period_not_allowed: 422,
  duplicate_items: 422,
  out_of_stock: 409,
  unpaid_order_limit: 409,
  unpaid_quantity_limit: 409,
  order_busy: 409,
  order_not_payable: 409,
  order_expired: 409,
  order_not_cancellable: 409,
  payment_not_started: 409,
  payment_declined: 402,
  payment_rejected: 409,
  payment_gateway_unavailable: 503,
  payment_cancelled: 409,
  payment_failed: 409,
  order_not_refundable: 409,
  already_refunded: 409,
  refund_exceeds_quantity: 409,
  nothing_to_refund: 409,
  subscription_not_found: 404,
  subscription_not_active: 409,
  subscription_busy: 409,
  charge_in_progress: 409,
  cycle_not_refundable: 409,
  billing_date_in_future: 422,
};

export function problem(
  code: ShopErrorCode,
  detail: string,
  extensions: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): HttpProblem {
  return new HttpProblem(statusOf[code], code, detail, extensions, headers);
}

/**
 * 503 for a gateway that is failing or unreachable: safe to retry (the idempotency key makes it
 * so). Retry-After: while the circuit is open, the seconds left until it lets a call through
 * (rounded up, at least 1); otherwise 2.
 */
export function gatewayUnavailable(reason: string, retryAfterMs: number | null): HttpProblem {
  const seconds = retryAfterMs === null ? 2 : Math.max(1, Math.ceil(retryAfterMs / 1000));
  return problem(
    shopErrors.paymentGatewayUnavailable,
    `the payment gateway is unavailable (${reason}); retry ${retryAfterMs === null ? "shortly" : `in ${seconds} s`} — nothing is charged twice`,
    retryAfterMs === null ? {} : { retryAfterSeconds: seconds },
    { "retry-after": String(seconds) },
  );
}

/** A use case's refusal or the gateway's answer as the problem the client gets; anything else as it is. */
export function toHttp(err: unknown): unknown {
  if (err instanceof ShopError) return problem(err.code, err.detail, err.extensions);
  if (err instanceof GatewayError) {
    if (err.kind === "declined") return problem(shopErrors.paymentDeclined, `the payment was declined: ${err.message}`);
    if (err.kind === "rejected") return problem(shopErrors.paymentRejected, `the payment gateway refused the request: ${err.message}`);
    return gatewayUnavailable(err.code, err.code === "circuit_open" ? (err.retryAfterMs ?? null) : null);
  }
  return err;
}

/** Runs a use case; its refusals leave as problems with the status chosen here. */
export function handled<T>(run: () => T): T {
  try {
    const out = run();
    return (out instanceof Promise ? out.catch((err: unknown) => Promise.reject(toHttp(err))) : out) as T;
  } catch (err) {
    throw toHttp(err);
  }
}

// The codes other layers answer with: the platform's parsing and validation, the auth macro.
const otherLayers = {
  400: [platformErrors.malformedBody, platformErrors.bodyTooDeep],
  401: authFailures,
  403: adminFailures,
  422: [platformErrors.validationFailed],
} as const satisfies Record<number, readonly string[]>;

/**
 * The error responses of a route, each status with the codes it can answer: a status number
 * for what other layers answer (400 parsing, 401 and 403 of the auth macro, 422 validation),
 * and the shop codes it refuses with, each under its own status.
 */
export function errors(...entries: Array<keyof typeof otherLayers | ShopErrorCode>): Record<number, TSchema> {
  const byStatus: Record<number, string[]> = {};
  for (const e of entries) {
    const [status, codes]: [number, readonly string[]] = typeof e === "number" ? [e, otherLayers[e]] : [statusOf[e], [e]];
    byStatus[status] = [...(byStatus[status] ?? []), ...codes];
  }
  return problemResponses(byStatus);
}
