// The sandbox PG's HTTP faces, mounted in the binary under /sandbox-pg when it is enabled:
//   /sandbox-pg/v1/…                    its native API (the SandboxGateway adapter)
//   /sandbox-pg/kakao/online/v1/payment/… the same engine in KakaoPay's request/response shapes
//                                       (the KakaoPay adapter's tests point at it; not in our
//                                       OpenAPI: KakaoPay documents those shapes)
//   /sandbox-pg/checkout/:tid           the buyer's approval page (redirects with pg_token)
//   /sandbox-pg/control                 fault injection and the ledger (internal IPs only)
// Both APIs require `Authorization: SECRET_KEY <key>` like KakaoPay, and answer in the PG's
// own error format, not problem+json: they stand in for a third party.
import { Elysia, t } from "elysia";
import { problemResponses } from "../../../platform/http/problem";
import type { InternalGuard } from "../internal";
import type { Failure, Reply, SandboxPayment, SandboxPg } from "./engine";

const tags = ["shop"];
const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

// ---------------------------------------------------------------------------------------------
// Native API: {code, message} errors; 402 declined, 400 rejected, 404 unknown, 503 outage.

function native<T>(reply: Reply<T>, render: (value: T) => unknown): Response {
  if (reply.ok) return json(200, render(reply.value));
  const status = { declined: 402, rejected: 400, not_found: 404, unavailable: 503 }[reply.kind];
  return json(status, { code: reply.code, message: reply.message });
}

const nativeApproval = (p: SandboxPayment) => ({
  tid: p.tid,
  aid: p.aid,
  amount: p.amount,
  sid: p.sid,
  partnerOrderId: p.partnerOrderId,
  partnerUserId: p.partnerUserId,
  approvedAt: p.approvedAt,
});

const NativeError = t.Object({ code: t.String(), message: t.String() });
const NativeApproval = t.Object({
  tid: t.String(),
  aid: t.String(),
  amount: t.Integer(),
  sid: t.Union([t.String(), t.Null()]),
  partnerOrderId: t.String(),
  partnerUserId: t.String(),
  approvedAt: t.String(),
});
const nativeErrors = { 400: NativeError, 401: NativeError, 402: NativeError, 404: NativeError, 503: NativeError };
const IdempotencyHeader = t.Object({
  "idempotency-key": t.Optional(t.String({ minLength: 1, maxLength: 255, description: "A repeated key gets the first answer (kept 12 h)" })),
});

// ---------------------------------------------------------------------------------------------
// KakaoPay facade: {error_code, error_message, extras?} errors; declines as KakaoPay's -780.

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

const FaultsSchema = t.Object({
  errorPct: t.Integer({ minimum: 0, maximum: 100, description: "% of calls answered 503 before processing" }),
  timeoutPct: t.Integer({ minimum: 0, maximum: 100, description: "% of calls processed, then held back hangMs" }),
  declinePct: t.Integer({ minimum: 0, maximum: 100, description: "% of approvals and charges declined" }),
  latencyMs: t.Integer({ minimum: 0, maximum: 60_000 }),
  hangMs: t.Integer({ minimum: 0, maximum: 600_000 }),
  declineUsers: t.Array(t.String({ maxLength: 100 }), { maxItems: 10_000, description: "partner_user_ids always declined" }),
});

const isSubscriptionCid = (cid: string) => /SUBSCRIP/i.test(cid);
const KakaoBody = t.Record(t.String(), t.Unknown(), { description: "KakaoPay's request body (snake_case)" });
const KakaoError = t.Object({ error_code: t.Integer(), error_message: t.String(), extras: t.Optional(t.Record(t.String(), t.Unknown())) });
const kakaoResponses = {
  200: t.Record(t.String(), t.Unknown(), { description: "KakaoPay's response body (snake_case)" }),
  400: KakaoError,
  401: KakaoError,
  503: KakaoError,
};

export function sandboxRoutes(engine: SandboxPg, secretKey: string, internalOnly: InternalGuard) {
  const authorized = (request: Request) => request.headers.get("authorization")?.trim() === `SECRET_KEY ${secretKey}`;
  const keyOf = (request: Request) => request.headers.get("idempotency-key");
  // Also checked in the handlers, in case the request hook is ever scoped differently.
  const nativeAuth = (request: Request, handle: () => Promise<Response>): Promise<Response> =>
    authorized(request) ? handle() : Promise.resolve(json(401, { code: "unauthorized", message: "send Authorization: SECRET_KEY <key>" }));
  const kakaoAuth = (request: Request, handle: () => Promise<Response>): Promise<Response> =>
    authorized(request) ? handle() : Promise.resolve(json(401, { error_code: -401, error_message: "invalid SECRET_KEY" }));
  const need = (body: Record<string, unknown>, fields: Record<string, "string" | "number">): string | null => {
    for (const [field, type] of Object.entries(fields)) {
      if (typeof body[field] !== type) return field;
    }
    return null;
  };

  return (
    new Elysia({ name: "homebase.shop.sandbox-pg", prefix: "/sandbox-pg" })
      // Authorization first, before body validation, in each face's own error format.
      // (Request hooks see every request of the app: the cheap substring test comes first.)
      .onRequest(({ request }) => {
        if (!request.url.includes("/sandbox-pg/") || authorized(request)) return;
        const path = new URL(request.url).pathname;
        if (path.startsWith("/sandbox-pg/v1/")) return json(401, { code: "unauthorized", message: "send Authorization: SECRET_KEY <key>" });
        if (path.startsWith("/sandbox-pg/kakao/")) return json(401, { error_code: -401, error_message: "invalid SECRET_KEY" });
      })
      // --- native API -------------------------------------------------------------------------
      .post(
        "/v1/payments",
        ({ body, request }) =>
          nativeAuth(request, async () =>
            native(await engine.ready(body, keyOf(request)), (p) => ({ tid: p.tid, redirectUrl: p.redirectUrl, createdAt: p.createdAt })),
          ),
        {
          headers: IdempotencyHeader,
          body: t.Object({
            partnerOrderId: t.String({ minLength: 1, maxLength: 100 }),
            partnerUserId: t.String({ minLength: 1, maxLength: 100 }),
            itemName: t.String({ minLength: 1, maxLength: 100 }),
            quantity: t.Integer({ minimum: 1 }),
            amount: t.Integer({ minimum: 1 }),
            recurring: t.Boolean({ description: "First payment of a subscription: approval yields a SID" }),
            approvalUrl: t.String({ format: "uri" }),
            cancelUrl: t.String({ format: "uri" }),
            failUrl: t.String({ format: "uri" }),
          }),
          response: { 200: t.Object({ tid: t.String(), redirectUrl: t.String(), createdAt: t.String() }), ...nativeErrors },
          detail: { tags, summary: "Sandbox PG: start a payment", description: "Built-in sandbox payment gateway (native API)." },
        },
      )
      .post(
        "/v1/payments/:tid/approve",
        ({ params, body, request }) => nativeAuth(request, async () => native(await engine.approve(params.tid, body, keyOf(request)), nativeApproval)),
        {
          headers: IdempotencyHeader,
          params: t.Object({ tid: t.String({ maxLength: 64 }) }),
          body: t.Object({ pgToken: t.String({ minLength: 1, maxLength: 200 }), partnerOrderId: t.String(), partnerUserId: t.String() }),
          response: { 200: NativeApproval, ...nativeErrors },
          detail: { tags, summary: "Sandbox PG: approve a payment the buyer authorized" },
        },
      )
      .post(
        "/v1/payments/:tid/cancel",
        ({ params, body, request }) =>
          nativeAuth(request, async () =>
            native(await engine.cancel(params.tid, body.amount, keyOf(request)), (p) => ({
              tid: p.tid,
              status: p.status,
              cancelledAmount: p.cancelledNow,
              remainingAmount: p.amount - p.cancelledAmount,
            })),
          ),
        {
          headers: IdempotencyHeader,
          params: t.Object({ tid: t.String({ maxLength: 64 }) }),
          body: t.Object({ amount: t.Integer({ minimum: 1 }) }),
          response: {
            200: t.Object({ tid: t.String(), status: t.String(), cancelledAmount: t.Integer(), remainingAmount: t.Integer() }),
            ...nativeErrors,
          },
          detail: { tags, summary: "Sandbox PG: refund all or part of a payment" },
        },
      )
      .post(
        "/v1/recurring/:sid/charges",
        ({ params, body, request }) => nativeAuth(request, async () => native(await engine.charge({ sid: params.sid, ...body }, keyOf(request)), nativeApproval)),
        {
          headers: IdempotencyHeader,
          params: t.Object({ sid: t.String({ maxLength: 64 }) }),
          body: t.Object({
            partnerOrderId: t.String({ minLength: 1, maxLength: 100 }),
            partnerUserId: t.String({ minLength: 1, maxLength: 100 }),
            itemName: t.String({ minLength: 1, maxLength: 100 }),
            quantity: t.Integer({ minimum: 1 }),
            amount: t.Integer({ minimum: 1 }),
          }),
          response: { 200: NativeApproval, ...nativeErrors },
          detail: { tags, summary: "Sandbox PG: recurring charge with a SID" },
        },
      )
      .post(
        "/v1/recurring/:sid/inactivate",
        ({ params, request }) => nativeAuth(request, async () => native(await engine.inactivate(params.sid, keyOf(request)), (v) => v)),
        {
          params: t.Object({ sid: t.String({ maxLength: 64 }) }),
          response: { 200: t.Object({ sid: t.String(), status: t.String(), inactivatedAt: t.String() }), ...nativeErrors },
          detail: { tags, summary: "Sandbox PG: inactivate a SID" },
        },
      )
      // --- the buyer's side --------------------------------------------------------------------
      .get(
        "/checkout/:tid",
        async ({ params, query }) => {
          const out = await engine.checkout(params.tid, query.action ?? "approve");
          if ("location" in out) return new Response(null, { status: 302, headers: { location: out.location } });
          return json(out.kind === "not_found" ? 404 : 409, { code: out.code, message: out.message });
        },
        {
          params: t.Object({ tid: t.String({ maxLength: 64 }) }),
          query: t.Object({ action: t.Optional(t.UnionEnum(["approve", "cancel", "fail"], { default: "approve" })) }),
          response: { 302: t.Void(), 404: NativeError, 409: NativeError, ...problemResponses(422) },
          detail: {
            tags,
            summary: "Sandbox PG: the buyer's checkout page",
            description: "Stands in for the buyer approving in the PG's app: redirects to the approval URL with pg_token (or to the cancel/fail URL).",
          },
        },
      )
      // --- control (internal only) ---------------------------------------------------------------
      .get("/control", () => engine.faults, {
        beforeHandle: ({ request, server }) => internalOnly(request, server),
        response: { 200: FaultsSchema, ...problemResponses(403) },
        detail: { tags, summary: "Sandbox PG: current fault injection (internal)" },
      })
      .put("/control", ({ body }) => engine.configure(body), {
        beforeHandle: ({ request, server }) => internalOnly(request, server),
        body: t.Partial(FaultsSchema, { minProperties: 1 }),
        response: { 200: FaultsSchema, ...problemResponses(403, 422) },
        detail: {
          tags,
          summary: "Sandbox PG: change fault injection (internal)",
          description: "Percentages of calls that fail with 503, hang past the caller's timeout after processing, or are declined; latency per call.",
        },
      })
      .get("/control/payments", ({ query }) => engine.payments(query.partnerOrderId), {
        beforeHandle: ({ request, server }) => internalOnly(request, server),
        query: t.Object({ partnerOrderId: t.Optional(t.String({ maxLength: 100 })) }),
        response: { 200: t.Array(t.Unknown()), ...problemResponses(403, 422) },
        detail: { tags, summary: "Sandbox PG: the ledger (internal)" },
      })
      // --- KakaoPay facade ---------------------------------------------------------------------
      .group("/kakao/online/v1/payment", (kakao) =>
        kakao
          .post(
            "/ready",
            ({ body, request }) => kakaoAuth(request, async () => {
              const missing = need(body, { cid: "string", partner_order_id: "string", partner_user_id: "string", item_name: "string", quantity: "number", total_amount: "number", approval_url: "string", cancel_url: "string", fail_url: "string" });
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
            }),
            { body: KakaoBody, response: kakaoResponses, detail: { hide: true, tags, summary: "Sandbox PG (KakaoPay shape): ready" } },
          )
          .post(
            "/approve",
            ({ body, request }) => kakaoAuth(request, async () => {
              const missing = need(body, { cid: "string", tid: "string", partner_order_id: "string", partner_user_id: "string", pg_token: "string" });
              if (missing) return json(400, { error_code: -2, error_message: `${missing} is required` });
              const reply = await engine.approve(
                body.tid as string,
                { pgToken: body.pg_token as string, partnerOrderId: body.partner_order_id as string, partnerUserId: body.partner_user_id as string },
                keyOf(request),
              );
              return reply.ok ? json(200, kakaoApproval(body.cid as string, reply.value)) : kakaoError(reply);
            }),
            { body: KakaoBody, response: kakaoResponses, detail: { hide: true, tags, summary: "Sandbox PG (KakaoPay shape): approve" } },
          )
          .post(
            "/subscription",
            ({ body, request }) => kakaoAuth(request, async () => {
              const missing = need(body, { cid: "string", sid: "string", partner_order_id: "string", partner_user_id: "string", item_name: "string", quantity: "number", total_amount: "number" });
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
            }),
            { body: KakaoBody, response: kakaoResponses, detail: { hide: true, tags, summary: "Sandbox PG (KakaoPay shape): recurring charge" } },
          )
          .post(
            "/cancel",
            ({ body, request }) => kakaoAuth(request, async () => {
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
            }),
            { body: KakaoBody, response: kakaoResponses, detail: { hide: true, tags, summary: "Sandbox PG (KakaoPay shape): cancel" } },
          )
          .post(
            "/manage/subscription/inactive",
            ({ body, request }) => kakaoAuth(request, async () => {
              const missing = need(body, { cid: "string", sid: "string" });
              if (missing) return json(400, { error_code: -2, error_message: `${missing} is required` });
              const reply = await engine.inactivate(body.sid as string, keyOf(request));
              if (!reply.ok) return kakaoError(reply);
              return json(200, { cid: body.cid, sid: reply.value.sid, status: "INACTIVE", created_at: reply.value.inactivatedAt, inactivated_at: reply.value.inactivatedAt });
            }),
            { body: KakaoBody, response: kakaoResponses, detail: { hide: true, tags, summary: "Sandbox PG (KakaoPay shape): inactivate a SID" } },
          ),
      )
  );
}
