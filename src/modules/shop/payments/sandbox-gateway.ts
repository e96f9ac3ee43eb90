// The sandbox adapter: the shop's PaymentGateway over HTTP to the sandbox PG's native API
// (/sandbox-pg/v1/…, served by the sandbox-pg module, which the shop knows only by this API).
// Sends Idempotency-Key on every call; the sandbox answers a repeated key with its first answer.
import { num, postJson, str, type JsonReply } from "./http";
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

export class SandboxGateway implements PaymentGateway {
  readonly name = "sandbox";

  constructor(
    private readonly baseUrl: string,
    private readonly secretKey: string,
  ) {}

  private async call(path: string, body: unknown, idempotencyKey: string | null, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const headers: Record<string, string> = { authorization: `SECRET_KEY ${this.secretKey}` };
    if (idempotencyKey) headers["idempotency-key"] = idempotencyKey;
    return check(await postJson(`${this.baseUrl}${path}`, body, headers, signal));
  }

  async ready(req: ReadyRequest, signal?: AbortSignal): Promise<ReadyResult> {
    const body = await this.call(
      "/v1/payments",
      {
        partnerOrderId: req.orderId,
        partnerUserId: req.userId,
        itemName: req.itemName,
        quantity: req.quantity,
        amount: req.amount,
        recurring: req.subscription,
        approvalUrl: req.approvalUrl,
        cancelUrl: req.cancelUrl,
        failUrl: req.failUrl,
      },
      req.idempotencyKey,
      signal,
    );
    return { tid: str(body, "tid"), redirectUrl: str(body, "redirectUrl") };
  }

  async approve(req: ApproveRequest, signal?: AbortSignal): Promise<Approval> {
    const body = await this.call(
      `/v1/payments/${encodeURIComponent(req.tid)}/approve`,
      { pgToken: req.pgToken, partnerOrderId: req.orderId, partnerUserId: req.userId },
      req.idempotencyKey,
      signal,
    );
    return approval(body);
  }

  async charge(req: ChargeRequest, signal?: AbortSignal): Promise<Approval> {
    const body = await this.call(
      `/v1/recurring/${encodeURIComponent(req.sid)}/charges`,
      { partnerOrderId: req.orderId, partnerUserId: req.userId, itemName: req.itemName, quantity: req.quantity, amount: req.amount },
      req.idempotencyKey,
      signal,
    );
    return approval(body);
  }

  async cancel(req: CancelRequest, signal?: AbortSignal): Promise<CancelResult> {
    const body = await this.call(`/v1/payments/${encodeURIComponent(req.tid)}/cancel`, { amount: req.amount }, req.idempotencyKey, signal);
    return { tid: str(body, "tid"), cancelledAmount: num(body, "cancelledAmount"), remainingAmount: num(body, "remainingAmount") };
  }

  async inactivate(sid: string, signal?: AbortSignal): Promise<void> {
    await this.call(`/v1/recurring/${encodeURIComponent(sid)}/inactivate`, {}, null, signal);
  }
}

function approval(body: Record<string, unknown>): Approval {
  const sid = body.sid;
  return {
    tid: str(body, "tid"),
    aid: str(body, "aid"),
    amount: num(body, "amount"),
    sid: typeof sid === "string" && sid !== "" ? sid : null,
    approvedAt: str(body, "approvedAt"),
  };
}

/** 2xx → body; 402 → declined; 429 and 5xx → transient; other 4xx → rejected. */
function check({ status, body }: JsonReply): Record<string, unknown> {
  if (status >= 200 && status < 300) return body;
  const code = typeof body.code === "string" ? body.code : `http_${status}`;
  const message = typeof body.message === "string" ? body.message : `sandbox PG answered ${status}`;
  if (status === 402) throw new GatewayError("declined", code, message);
  if (status >= 500 || status === 429) throw new GatewayError("transient", code, message);
  throw new GatewayError("rejected", code, message);
}
