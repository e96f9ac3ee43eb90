// Where the gateway sends the buyer's browser back: the approval, cancel and fail URLs. A browser
// is redirected (303) to a small page that says what happened (served here, strict CSP: no
// script, one hashed style); an API client asking for JSON (Accept: application/json) gets the
// JSON answer instead — the paid order's status, or the problem.
import { createHash } from "node:crypto";
import { Elysia, t } from "elysia";
import { ShopError, shopErrors } from "../errors";
import { ApprovedQuery, CheckoutEndQuery, OrderIdParams, type PaymentOutcome, PaymentResult, PaymentResultQuery } from "../model";
import type { CheckoutEnd, OrdersService } from "../orders";
import { GatewayError } from "../payments/port";
import { errors, handled, problem, tags } from "./http";

const gateway = [shopErrors.paymentDeclined, shopErrors.paymentRejected, shopErrors.paymentGatewayUnavailable] as const;

/** A JSON client: it asks for JSON and not for HTML (a browser's Accept names text/html). */
export function wantsJson(request: Request): boolean {
  const accept = request.headers.get("accept") ?? "";
  return /\bjson\b/i.test(accept) && !/text\/html/i.test(accept);
}

/** The buyer's side of a failed approval: what the page says. Anything but a refusal or the gateway's answer is a bug: it propagates. */
export function outcomeOf(err: unknown): PaymentOutcome {
  if (err instanceof GatewayError) return err.kind === "declined" ? "declined" : err.kind === "rejected" ? "failed" : "unavailable";
  if (err instanceof ShopError) {
    if (err.code === shopErrors.orderNotFound) return "not_found";
    if (err.code === shopErrors.orderBusy) return "processing";
    if (err.code === shopErrors.orderNotPayable || err.code === shopErrors.orderExpired) return "not_payable";
    return "failed";
  }
  throw err;
}

const pages: Record<PaymentOutcome, { title: string; text: string }> = {
  paid: { title: "Payment complete", text: "Thank you: your order is paid." },
  cancelled: {
    title: "Payment cancelled",
    text: "You cancelled the payment. Nothing was charged; the order still awaits payment, and you can start paying it again.",
  },
  failed: {
    title: "Payment failed",
    text: "The payment did not go through. Nothing was charged; the order still awaits payment, and you can start paying it again.",
  },
  declined: {
    title: "Payment declined",
    text: "Your payment method declined the payment. Nothing was charged; you can start paying again, with another method if need be.",
  },
  unavailable: {
    title: "Payment not confirmed yet",
    text: "The payment service did not answer in time. Your approval is kept: confirm again in a moment (nothing is charged twice).",
  },
  processing: {
    title: "Payment being confirmed",
    text: "This payment is being confirmed right now. Confirm again in a moment to see the result (nothing is charged twice).",
  },
  not_payable: {
    title: "This order can no longer be paid",
    text: "It was cancelled or has expired. If a payment went through anyway, it is refunded.",
  },
  not_found: { title: "Order not found", text: "There is no such order." },
};

const style =
  "body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#222}h1{font-size:1.4rem}code{font-size:.9em}";
const styleHash = createHash("sha256").update(style).digest("base64");
/** No script, nothing loaded, no forms, not framed: the page only says what happened. */
export const resultPageCsp = `default-src 'none'; style-src 'sha256-${styleHash}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

function resultPage(orderId: string, outcome: PaymentOutcome, retryUrl: string | null): Response {
  const { title, text } = pages[outcome];
  const retry = retryUrl ? `<p><a href="${escapeHtml(retryUrl)}">Confirm the payment again</a></p>` : "";
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title><style>${style}</style></head><body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p>${retry}<p>Order <code>${escapeHtml(orderId)}</code>. You can close this window.</p></body></html>`;
  return new Response(html, {
    headers: {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": resultPageCsp,
      "cache-control": "no-store",
      // The URL may carry the pg_token (the retry link): never sent on as a referrer.
      "referrer-policy": "no-referrer",
      "x-content-type-options": "nosniff",
    },
  });
}

export function paymentPageRoutes(orders: OrdersService, publicUrl: string) {
  const base = (id: string) => `${publicUrl}/orders/${id}/payment`;
  const resultUrl = (id: string, outcome: PaymentOutcome, pgToken?: string) => {
    const url = new URL(`${base(id)}/result`);
    url.searchParams.set("outcome", outcome);
    // Approved but not confirmed: the page offers to confirm again with the same approval.
    if (pgToken !== undefined && (outcome === "unavailable" || outcome === "processing")) url.searchParams.set("pg_token", pgToken);
    return url.toString();
  };
  const seeOther = (id: string, outcome: PaymentOutcome) =>
    new Response(null, { status: 303, headers: { location: resultUrl(id, outcome), "cache-control": "no-store" } });
  const ended =
    (how: CheckoutEnd) =>
    async ({ params, query, request }: { params: { id: string }; query: { checkout?: string }; request: Request }) => {
      await orders.endCheckout(params.id, query.checkout, how);
      if (!wantsJson(request)) return seeOther(params.id, how);
      throw how === "cancelled"
        ? problem(shopErrors.paymentCancelled, "the buyer cancelled the payment at the gateway; the order awaits payment")
        : problem(shopErrors.paymentFailed, "the payment failed at the gateway; the order awaits payment");
    };
  const endedDoc = (how: CheckoutEnd) =>
    `Where the gateway sends the buyer when the payment was ${how}: that checkout ends (the next start opens a new one). A browser is redirected (303) to …/payment/result?outcome=${how}; with Accept: application/json, 409 payment_${how}.`;

  return new Elysia({ name: "homebase.shop.payment-pages" })
    .get(
      "/orders/:id/payment/approved",
      async ({ params, query, request, set }) => {
        if (wantsJson(request)) {
          const order = await handled(() => orders.approve(null, params.id, query.pg_token));
          return { orderId: order.id, status: order.status, paidAt: order.paidAt };
        }
        const outcome = await orders.approve(null, params.id, query.pg_token).then(() => "paid" as const, outcomeOf);
        set.status = 303;
        set.headers.location = resultUrl(params.id, outcome, query.pg_token);
        set.headers["cache-control"] = "no-store";
      },
      {
        params: OrderIdParams,
        query: ApprovedQuery,
        response: {
          200: PaymentResult,
          303: t.Void({
            description: "A browser: to …/payment/result?outcome=paid|declined|failed|unavailable|processing|not_payable|not_found",
          }),
          ...errors(
            422,
            shopErrors.orderNotFound,
            shopErrors.orderBusy,
            shopErrors.orderNotPayable,
            shopErrors.paymentNotStarted,
            ...gateway,
          ),
        },
        detail: {
          tags,
          summary: "The gateway's approval redirect",
          description:
            "Where the gateway sends the buyer back; approves like POST …/approve (the pg_token is the credential). A browser is redirected (303) to the result page; with Accept: application/json, the order's status (or the problem).",
        },
      },
    )
    .get("/orders/:id/payment/cancelled", ended("cancelled"), {
      params: OrderIdParams,
      query: CheckoutEndQuery,
      response: { 303: t.Void({ description: "A browser: to the result page" }), ...errors(422, shopErrors.paymentCancelled) },
      detail: { tags, summary: "The gateway's cancel redirect", description: endedDoc("cancelled") },
    })
    .get("/orders/:id/payment/failed", ended("failed"), {
      params: OrderIdParams,
      query: CheckoutEndQuery,
      response: { 303: t.Void({ description: "A browser: to the result page" }), ...errors(422, shopErrors.paymentFailed) },
      detail: { tags, summary: "The gateway's failure redirect", description: endedDoc("failed") },
    })
    .get(
      "/orders/:id/payment/result",
      ({ params, query }) =>
        resultPage(
          params.id,
          query.outcome,
          query.pg_token === undefined ? null : `${base(params.id)}/approved?pg_token=${encodeURIComponent(query.pg_token)}`,
        ),
      {
        params: OrderIdParams,
        query: t.Object({ ...PaymentResultQuery.properties, pg_token: t.Optional(t.String({ minLength: 1, maxLength: 200 })) }),
        response: { 200: t.String({ contentMediaType: "text/html", description: "What happened to the payment" }), ...errors(422) },
        detail: {
          tags,
          summary: "The buyer's payment result page",
          description:
            "A small HTML page (no script; CSP default-src 'none') saying what happened to the payment. Says only what the outcome in its URL says: it reads no order.",
        },
      },
    );
}
