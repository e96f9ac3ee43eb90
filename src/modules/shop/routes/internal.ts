// Internal routes: the billing run and the recurring-charge endpoint, behind the platform's
// internal guard (the IP allowlist and the internal token, before the body is read).
import { type InternalGuard, internalInstance, internalResponses } from "../../../platform/http/internal";
import type { BillingService } from "../billing";
import { shopErrors } from "../errors";
import { BillingRunBody, BillingSummary, ChargeResult, NoticeSummary, SubscriptionIdParams } from "../model";
import type { ChargeNotices } from "../notices";
import { errors, gatewayUnavailable, handled, tags } from "./http";

const access =
  "Only from HOMEBASE_SHOP_INTERNAL_ALLOW (loopback by default; 403) with `Authorization: Bearer <internal token>` (HOMEBASE_INTERNAL_TOKEN_FILE, or internal.token in the data dir; 401).";

export function internalRoutes(billing: BillingService, notices: ChargeNotices, guard: InternalGuard) {
  return internalInstance("homebase.shop.internal", "/internal", guard)
    .post("/billing/run", ({ body }) => handled(() => billing.runBilling(body.date)), {
      body: BillingRunBody,
      response: { 200: BillingSummary, ...errors(400, 422, shopErrors.billingDateInFuture), ...internalResponses },
      detail: {
        tags,
        summary: "Run recurring billing now (internal)",
        description: `${access} Charges what is due on or before the date (default today, UTC); a date after today is refused (422 billing_date_in_future). Safe to run from several workers at once: each due subscription is charged once.`,
      },
    })
    .post("/notices/run", ({ body }) => handled(() => notices.run(body.date)), {
      body: BillingRunBody,
      response: { 200: NoticeSummary, ...errors(400, 422, shopErrors.billingDateInFuture), ...internalResponses },
      detail: {
        tags,
        summary: "Send the notices of coming recurring charges now (internal)",
        description: `${access} What the worker does before each day's billing run: one homebase.shop.subscription.charge_upcoming per subscription cycle due within HOMEBASE_SHOP_CHARGE_NOTICE_DAYS of the date (default today; never after today) — once per cycle however often it runs.`,
      },
    })
    .post(
      "/subscriptions/:id/charge",
      async ({ params, body }) => {
        const result = await handled(() => billing.chargeNow(params.id, body.date));
        // A transient failure leaves the charge pending: like any gateway outage, retry.
        if (result.outcome === "failed") throw gatewayUnavailable("charge_failed", null);
        return result;
      },
      {
        params: SubscriptionIdParams,
        body: BillingRunBody,
        response: {
          200: ChargeResult,
          ...errors(400, 422, shopErrors.billingDateInFuture, shopErrors.subscriptionNotFound, shopErrors.paymentGatewayUnavailable),
          ...internalResponses,
        },
        detail: {
          tags,
          summary: "Charge one subscription's due cycle (internal)",
          description: `The recurring-charge endpoint. ${access} outcome skipped when not due; a date after today is refused (422 billing_date_in_future).`,
        },
      },
    );
}
