// The sandbox PG's native API (/sandbox-pg/v1/…, what the shop's SandboxGateway adapter calls)
// and the buyer's checkout page. The API wants `Authorization: SECRET_KEY <key>` like KakaoPay,
// and answers in the PG's own error format ({code, message}), not problem+json: it stands in
// for a third party. 402 declined, 400 rejected, 404 unknown, 503 outage.
import { Elysia, t } from "elysia";
import { problemResponses } from "../../../platform/http/problem";
import type { Reply, SandboxPayment, SandboxPg } from "../engine";
import { sandboxPgErrors } from "../errors";
import { keyedInstance } from "./guards";
import { json, tags } from "./json";

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

// The codes of the PG's own error shape, listed so the OpenAPI document names every one.
const NativeError = t.Object({ code: t.UnionEnum(Object.values(sandboxPgErrors) as [string, ...string[]]), message: t.String() });
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
  "idempotency-key": t.Optional(
    t.String({ minLength: 1, maxLength: 255, description: "A repeated key gets the first answer (kept 12 h)" }),
  ),
});

export function nativeRoutes(engine: SandboxPg, secretKey: string) {
  const keyOf = (request: Request) => request.headers.get("idempotency-key");
  return keyedInstance("homebase.sandbox-pg.v1", "/sandbox-pg/v1", secretKey, {
    code: sandboxPgErrors.unauthorized,
    message: "send Authorization: SECRET_KEY <key>",
  })
    .post(
      "/payments",
      async ({ body, request }) =>
        native(await engine.ready(body, keyOf(request)), (p) => ({ tid: p.tid, redirectUrl: p.redirectUrl, createdAt: p.createdAt })),
      {
        headers: IdempotencyHeader,
        body: t.Object({
          partnerOrderId: t.String({ minLength: 1, maxLength: 100 }),
          partnerUserId: t.String({ minLength: 1, maxLength: 100 }),
          itemName: t.String({ minLength: 1, maxLength: 100 }),
          quantity: t.Integer({ minimum: 1 }),
          amount: t.Integer({ minimum: 1 }),
          recurring: t.Boolean({ description: "First payment of a subscription: approval yields a SID" }),
          approvalUrl: t.String({
            format: "uri",
            description: "On the shop's public URL (HOMEBASE_SHOP_PUBLIC_URL), else 400 invalid_redirect_url",
          }),
          cancelUrl: t.String({ format: "uri", description: "On the shop's public URL, like approvalUrl" }),
          failUrl: t.String({ format: "uri", description: "On the shop's public URL, like approvalUrl" }),
        }),
        response: { 200: t.Object({ tid: t.String(), redirectUrl: t.String(), createdAt: t.String() }), ...nativeErrors },
        detail: { tags, summary: "Sandbox PG: start a payment", description: "Built-in sandbox payment gateway (native API)." },
      },
    )
    .post(
      "/payments/:tid/approve",
      async ({ params, body, request }) => native(await engine.approve(params.tid, body, keyOf(request)), nativeApproval),
      {
        headers: IdempotencyHeader,
        params: t.Object({ tid: t.String({ maxLength: 64 }) }),
        body: t.Object({ pgToken: t.String({ minLength: 1, maxLength: 200 }), partnerOrderId: t.String(), partnerUserId: t.String() }),
        response: { 200: NativeApproval, ...nativeErrors },
        detail: { tags, summary: "Sandbox PG: approve a payment the buyer authorized" },
      },
    )
    .post(
      "/payments/:tid/cancel",
      async ({ params, body, request }) =>
        native(await engine.cancel(params.tid, body.amount, keyOf(request)), (p) => ({
          tid: p.tid,
          status: p.status,
          cancelledAmount: p.cancelledNow,
          remainingAmount: p.amount - p.cancelledAmount,
        })),
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
      "/recurring/:sid/charges",
      async ({ params, body, request }) => native(await engine.charge({ sid: params.sid, ...body }, keyOf(request)), nativeApproval),
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
      "/recurring/:sid/inactivate",
      async ({ params, request }) => native(await engine.inactivate(params.sid, keyOf(request)), (v) => v),
      {
        params: t.Object({ sid: t.String({ maxLength: 64 }) }),
        response: { 200: t.Object({ sid: t.String(), status: t.String(), inactivatedAt: t.String() }), ...nativeErrors },
        detail: { tags, summary: "Sandbox PG: inactivate a SID" },
      },
    );
}

export function checkoutRoutes(engine: SandboxPg) {
  return new Elysia({ name: "homebase.sandbox-pg.checkout", prefix: "/sandbox-pg/checkout" }).get(
    "/:tid",
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
        description:
          "Stands in for the buyer approving in the PG's app: redirects to the approval URL with pg_token (or to the cancel/fail URL) — only ever on the shop's public URL (409 invalid_redirect_url otherwise).",
      },
    },
  );
}
