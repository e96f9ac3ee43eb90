// The sandbox engine in KakaoPay's request/response shapes (/sandbox-pg/kakao/online/v1/payment/…):
// the KakaoPay adapter's tests point at it. Not in our OpenAPI (KakaoPay documents those shapes).
// Errors are KakaoPay's {error_code, error_message, extras?}; declines as KakaoPay's -780.
import { t } from "elysia";
import type { Failure, SandboxPayment, SandboxPg } from "../engine";
import { keyedInstance } from "./guards";
import { json, tags } from "./json";

function kakaoError(reply: Failure | { kind: "unavailable"; code: string; message: string }): Response {
  switch (reply.kind) {
    case "declined":
      return json(400, {
        error_code: -780,
        error_message: "approval failure!",
        extras: { method_result_code: "8003", method_result_message: reply.message },
      });
    case "unavailable":
      return json(503, { error_code: -9798, error_message: reply.message });
    case "not_found":
      return json(400, { error_code: -702, error_message: reply.message });
    default:
      return json(400, { error_code: -2, error_message: `${reply.code}: ${reply.message}` });
  }
}

function kakaoAmount(total: number) {
  const vat = Math.floor(total / 11);
  return { total, tax_free: 0, vat, point: 0, discount: 0, green_deposit: 0 };
}

function kakaoApproval(cid: string, p: SandboxPayment) {
  return {
    aid: p.aid,
    tid: p.tid,
    cid,
    ...(p.sid ? { sid: p.sid } : {}),
    partner_order_id: p.partnerOrderId,
    partner_user_id: p.partnerUserId,
    payment_method_type: "MONEY",
    amount: kakaoAmount(p.amount),
    item_name: p.itemName,
    quantity: p.quantity,
    created_at: p.createdAt,
    approved_at: p.approvedAt,
  };
}

const isSubscriptionCid = (cid: string) => /SUBSCRIP/i.test(cid);
const KakaoBody = t.Record(t.String(), t.Unknown(), { description: "KakaoPay's request body (snake_case)" });
const KakaoError = t.Object({ error_code: t.Integer(), error_message: t.String(), extras: t.Optional(t.Record(t.String(), t.Unknown())) });
const kakaoResponses = {
  200: t.Record(t.String(), t.Unknown(), { description: "KakaoPay's response body (snake_case)" }),
  400: KakaoError,
  401: KakaoError,
  503: KakaoError,
};

export function kakaoRoutes(engine: SandboxPg, secretKey: string) {
  const keyOf = (request: Request) => request.headers.get("idempotency-key");
  const need = (body: Record<string, unknown>, fields: Record<string, "string" | "number">): string | null => {
    for (const [field, type] of Object.entries(fields)) {
      if (typeof body[field] !== type) return field;
    }
    return null;
  };
  return keyedInstance("homebase.sandbox-pg.kakao", "/sandbox-pg/kakao/online/v1/payment", secretKey, {
    error_code: -401,
    error_message: "invalid SECRET_KEY",
  })
    .post(
      "/ready",
      async ({ body, request }) => {
        const missing = need(body, {
          cid: "string",
          partner_order_id: "string",
          partner_user_id: "string",
          item_name: "string",
          quantity: "number",
          total_amount: "number",
          approval_url: "string",
          cancel_url: "string",
          fail_url: "string",
        });
        if (missing) return json(400, { error_code: -2, error_message: `${missing} is required` });
        const reply = await engine.ready(
          {
            partnerOrderId: body.partner_order_id as string,
            partnerUserId: body.partner_user_id as string,
            itemName: body.item_name as string,
            quantity: body.quantity as number,
            amount: body.total_amount as number,
            recurring: isSubscriptionCid(body.cid as string),
            approvalUrl: body.approval_url as string,
            cancelUrl: body.cancel_url as string,
            failUrl: body.fail_url as string,
          },
          keyOf(request),
        );
        if (!reply.ok) return kakaoError(reply);
        const p = reply.value;
        return json(200, {
          tid: p.tid,
          tms_result: false,
          created_at: p.createdAt,
          next_redirect_pc_url: p.redirectUrl,
          next_redirect_mobile_url: p.redirectUrl,
          next_redirect_app_url: p.redirectUrl,
          android_app_scheme: `kakaotalk://kakaopay/pg?url=${encodeURIComponent(p.redirectUrl)}`,
          ios_app_scheme: `kakaotalk://kakaopay/pg?url=${encodeURIComponent(p.redirectUrl)}`,
        });
      },
      { body: KakaoBody, response: kakaoResponses, detail: { hide: true, tags, summary: "Sandbox PG (KakaoPay shape): ready" } },
    )
    .post(
      "/approve",
      async ({ body, request }) => {
        const missing = need(body, {
          cid: "string",
          tid: "string",
          partner_order_id: "string",
          partner_user_id: "string",
          pg_token: "string",
        });
        if (missing) return json(400, { error_code: -2, error_message: `${missing} is required` });
        const reply = await engine.approve(
          body.tid as string,
          {
            pgToken: body.pg_token as string,
            partnerOrderId: body.partner_order_id as string,
            partnerUserId: body.partner_user_id as string,
          },
          keyOf(request),
        );
        return reply.ok ? json(200, kakaoApproval(body.cid as string, reply.value)) : kakaoError(reply);
      },
      { body: KakaoBody, response: kakaoResponses, detail: { hide: true, tags, summary: "Sandbox PG (KakaoPay shape): approve" } },
    )
    .post(
      "/subscription",
      async ({ body, request }) => {
        const missing = need(body, {
          cid: "string",
          sid: "string",
          partner_order_id: "string",
          partner_user_id: "string",
          item_name: "string",
          quantity: "number",
          total_amount: "number",
        });
        if (missing) return json(400, { error_code: -2, error_message: `${missing} is required` });
        const reply = await engine.charge(
          {
            sid: body.sid as string,
            partnerOrderId: body.partner_order_id as string,
            partnerUserId: body.partner_user_id as string,
            itemName: body.item_name as string,
            quantity: body.quantity as number,
            amount: body.total_amount as number,
          },
          keyOf(request),
        );
        return reply.ok ? json(200, kakaoApproval(body.cid as string, reply.value)) : kakaoError(reply);
      },
      { body: KakaoBody, response: kakaoResponses, detail: { hide: true, tags, summary: "Sandbox PG (KakaoPay shape): recurring charge" } },
    )
    .post(
      "/cancel",
      async ({ body, request }) => {
        const missing = need(body, { cid: "string", tid: "string", cancel_amount: "number" });
        if (missing) return json(400, { error_code: -2, error_message: `${missing} is required` });
        const reply = await engine.cancel(body.tid as string, body.cancel_amount as number, keyOf(request));
        if (!reply.ok) return kakaoError(reply);
        const p = reply.value;
        return json(200, {
          aid: p.aid,
          tid: p.tid,
          cid: body.cid,
          status: p.status === "CANCELLED" ? "CANCEL_PAYMENT" : "PART_CANCEL_PAYMENT",
          partner_order_id: p.partnerOrderId,
          partner_user_id: p.partnerUserId,
          payment_method_type: "MONEY",
          amount: kakaoAmount(p.amount),
          approved_cancel_amount: kakaoAmount(p.cancelledNow),
          canceled_amount: kakaoAmount(p.cancelledAmount),
          cancel_available_amount: kakaoAmount(p.amount - p.cancelledAmount),
          item_name: p.itemName,
          quantity: p.quantity,
          created_at: p.createdAt,
          approved_at: p.approvedAt,
          canceled_at: new Date().toISOString(),
        });
      },
      { body: KakaoBody, response: kakaoResponses, detail: { hide: true, tags, summary: "Sandbox PG (KakaoPay shape): cancel" } },
    )
    .post(
      "/manage/subscription/inactive",
      async ({ body, request }) => {
        const missing = need(body, { cid: "string", sid: "string" });
        if (missing) return json(400, { error_code: -2, error_message: `${missing} is required` });
        const reply = await engine.inactivate(body.sid as string, keyOf(request));
        if (!reply.ok) return kakaoError(reply);
        return json(200, {
          cid: body.cid,
          sid: reply.value.sid,
          status: "INACTIVE",
          created_at: reply.value.inactivatedAt,
          inactivated_at: reply.value.inactivatedAt,
        });
      },
      { body: KakaoBody, response: kakaoResponses, detail: { hide: true, tags, summary: "Sandbox PG (KakaoPay shape): inactivate a SID" } },
    );
}
