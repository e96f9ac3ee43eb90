// The PaymentGateway port: what the shop needs from a PG (KakaoPay-style flow). Adapters map it
// to HTTP; ResilientGateway (resilience.ts) wraps one in timeout, retry and a circuit breaker.
//
// Every money-moving call carries an idempotency key (order, payment attempt, subscription
// cycle and try, refund number): a gateway that honours it answers a repeated call with the
// first answer instead of charging again, which is what makes retrying a timeout safe.

export interface ReadyRequest {
  idempotencyKey: string;
  /** The gateway's partner_order_id: our order id. */
  orderId: string;
  userId: string;
  itemName: string;
  quantity: number;
  amount: number;
  /** The first payment of a subscription: approving it yields a SID for recurring charges. */
  subscription: boolean;
  approvalUrl: string;
  cancelUrl: string;
  failUrl: string;
}

export interface ReadyResult {
  tid: string;
  /** Where the buyer approves the payment. */
  redirectUrl: string;
}

export interface ApproveRequest {
  idempotencyKey: string;
  tid: string;
  orderId: string;
  userId: string;
  pgToken: string;
  subscription: boolean;
}

export interface Approval {
  tid: string;
  aid: string;
  amount: number;
  /** The recurring-payment key (first payment of a subscription only). */
  sid: string | null;
  approvedAt: string;
}

export interface ChargeRequest {
  idempotencyKey: string;
  sid: string;
  /** partner_order_id of this charge: one per subscription cycle. */
  orderId: string;
  userId: string;
  itemName: string;
  quantity: number;
  amount: number;
}

export interface CancelRequest {
  idempotencyKey: string;
  tid: string;
  amount: number;
  subscription: boolean;
}

export interface CancelResult {
  tid: string;
  cancelledAmount: number;
  remainingAmount: number;
}

export interface PaymentGateway {
  /** Short name, the breaker label: "sandbox", "kakaopay". */
  readonly name: string;
  ready(req: ReadyRequest, signal?: AbortSignal): Promise<ReadyResult>;
  approve(req: ApproveRequest, signal?: AbortSignal): Promise<Approval>;
  /** A recurring charge with a stored SID. */
  charge(req: ChargeRequest, signal?: AbortSignal): Promise<Approval>;
  /** Full or partial refund. */
  cancel(req: CancelRequest, signal?: AbortSignal): Promise<CancelResult>;
  /** Stops a SID from being charged again. */
  inactivate(sid: string, signal?: AbortSignal): Promise<void>;
}

/**
 * - transient: the gateway is unhealthy or unreachable (5xx, 429, network, timeout): retried
 *   with backoff, counted by the circuit breaker. The outcome may be unknown (a timeout after
 *   the gateway processed the call): only the idempotency key makes the retry safe.
 * - declined: the buyer's payment method said no. A business outcome: never retried here,
 *   healthy as far as the breaker is concerned.
 * - rejected: the gateway refused the request itself (unknown tid, wrong pg_token, amount over
 *   what is left to refund). Not retried, not a gateway failure.
 */
export type GatewayErrorKind = "transient" | "declined" | "rejected";

export class GatewayError extends Error {
  constructor(
    readonly kind: GatewayErrorKind,
    readonly code: string,
    message: string,
    /** circuit_open: how long until the breaker lets a trial call through (ms). */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = "GatewayError";
  }
}
