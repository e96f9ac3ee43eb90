// The KakaoPay adapter: KakaoPay's online payment API (open-api.kakaopay.com, "SECRET_KEY"
// authorization, snake_case JSON). One-time payments use the one-time CID; the first payment
// of a subscription and every recurring charge, cancel and SID inactivation of it use the
// subscription CID.
//
// Idempotency: KakaoPay has no idempotency-key header. The adapter still sends one (the
// sandbox's KakaoPay facade honours it, so the tests exercise retries); against the real
// KakaoPay an approve is naturally idempotent (a tid is approved once) but a recurring charge
// retried after a timeout could be charged twice — set HOMEBASE_SHOP_PG_RETRIES=0 there if
// that risk is not acceptable, and reconcile with the order-status API.
import { num, obj, postJson, str, type JsonReply } from "./http";
import {
  GatewayError,
  type Approval,
  type ApproveRequest,
  type CancelRequest,
  type CancelResult,
  type ChargeRequest,
  type PaymentGateway,
  type ReadyRequest,
  type ReadyResult,
} from "./port";

export interface KakaoPaySettings {
  baseUrl: string;
  secretKey: string;
  cid: string;
  subscriptionCid: string;
}

/** KakaoPay error codes that mean the buyer's payment method refused (a decline, not an outage). */
const declineCodes = new Set([-780, -781, -782, -783, -797, -798]);

export class KakaoPayGateway implements PaymentGateway {
  readonly name = "kakaopay";

  constructor(private readonly settings: KakaoPaySettings) {}

  private async call(
    path: string,
    body: Record<string, unknown>,
    idempotencyKey: string | null,
    signal?: AbortSignal,
  ): Promise<Record<string, unknown>> {
    const headers: Record<string, string> = { authorization: `SECRET_KEY ${this.settings.secretKey}` };
    if (idempotencyKey) headers["idempotency-key"] = idempotencyKey;
    return check(await postJson(`${this.settings.baseUrl}/online/v1/payment${path}`, body, headers, signal));
  }

  private cid(subscription: boolean): string {
    return subscription ? this.settings.subscriptionCid : this.settings.cid;
  }

  async ready(req: ReadyRequest, signal?: AbortSignal): Promise<ReadyResult> {
    const body = await this.call(
      "/ready",
      {
        cid: this.cid(req.subscription),
        partner_order_id: req.orderId,
        partner_user_id: req.userId,
        item_name: req.itemName,
        quantity: req.quantity,
        total_amount: req.amount,
        tax_free_amount: 0,
        approval_url: req.approvalUrl,
        cancel_url: req.cancelUrl,
        fail_url: req.failUrl,
      },
      req.idempotencyKey,
      signal,
    );
    return { tid: str(body, "tid"), redirectUrl: str(body, "next_redirect_pc_url") };
  }

  async approve(req: ApproveRequest, signal?: AbortSignal): Promise<Approval> {
    const body = await this.call(
      "/approve",
      { cid: this.cid(req.subscription), tid: req.tid, partner_order_id: req.orderId, partner_user_id: req.userId, pg_token: req.pgToken },
      req.idempotencyKey,
      signal,
    );
    return approval(body);
  }

  async charge(req: ChargeRequest, signal?: AbortSignal): Promise<Approval> {
    const body = await this.call(
      "/subscription",
      {
        cid: this.settings.subscriptionCid,
        sid: req.sid,
        partner_order_id: req.orderId,
        partner_user_id: req.userId,
        item_name: req.itemName,
        quantity: req.quantity,
        total_amount: req.amount,
        tax_free_amount: 0,
      },
      req.idempotencyKey,
      signal,
    );
    return approval(body);
  }

  async cancel(req: CancelRequest, signal?: AbortSignal): Promise<CancelResult> {
    const body = await this.call(
      "/cancel",
      { cid: this.cid(req.subscription), tid: req.tid, cancel_amount: req.amount, cancel_tax_free_amount: 0 },
      req.idempotencyKey,
      signal,
    );
    return {
      tid: str(body, "tid"),
      cancelledAmount: num(obj(body, "approved_cancel_amount"), "total"),
      remainingAmount: num(obj(body, "cancel_available_amount"), "total"),
    };
  }

  async inactivate(sid: string, signal?: AbortSignal): Promise<void> {
    await this.call("/manage/subscription/inactive", { cid: this.settings.subscriptionCid, sid }, null, signal);
  }
}

function approval(body: Record<string, unknown>): Approval {
  const sid = body.sid;
  return {
    tid: str(body, "tid"),
    aid: str(body, "aid"),
    amount: num(obj(body, "amount"), "total"),
    sid: typeof sid === "string" && sid !== "" ? sid : null,
    approvedAt: str(body, "approved_at"),
  };
}

/**
 * KakaoPay errors: HTTP 4xx/5xx with {error_code, error_message, extras?}. 429 and 5xx are
 * transient; a payment-method refusal (declineCodes, or extras naming the method's result) is
 * a decline; any other 4xx is a rejection of the request.
 */
function check({ status, body }: JsonReply): Record<string, unknown> {
  if (status >= 200 && status < 300) return body;
  const errorCode = typeof body.error_code === "number" ? body.error_code : null;
  const message = typeof body.error_message === "string" ? body.error_message : `KakaoPay answered ${status}`;
  const extras = body.extras !== null && typeof body.extras === "object" ? (body.extras as Record<string, unknown>) : null;
  const detail = typeof extras?.method_result_message === "string" ? `${message}: ${extras.method_result_message}` : message;
  const code = `kakaopay_${errorCode ?? status}`;
  if (status >= 500 || status === 429) throw new GatewayError("transient", code, detail);
  if ((errorCode !== null && declineCodes.has(errorCode)) || typeof extras?.method_result_code === "string") {
    throw new GatewayError("declined", code, detail);
  }
  throw new GatewayError("rejected", code, detail);
}
