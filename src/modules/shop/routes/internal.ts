// Internal routes: the billing run and the recurring-charge endpoint, for the internal network only.
import { shopErrors } from "../errors";
import type { BillingService } from "../billing";
import { internalInstance, type InternalCheck } from "../internal";
import { BillingRunBody, BillingSummary, ChargeResult, SubscriptionIdParams } from "../model";
import { errors, gatewayUnavailable, handled, tags } from "./http";

export function internalRoutes(billing: BillingService, isInternal: InternalCheck) {
  return internalInstance("homebase.shop.internal", "/internal", isInternal)
    .post("/billing/run", ({ body }) => billing.runBilling(body.date), {
      body: BillingRunBody,
      response: { 200: BillingSummary, ...errors(400, 422, shopErrors.internalOnly) },
      detail: {
        tags,
        summary: "Run recurring billing now (internal)",
        description:
          "Only from HOMEBASE_SHOP_INTERNAL_ALLOW (loopback and the WireGuard subnet by default), else 403. Safe to run from several workers at once: each due subscription is charged once.",
      },
    })
    .post(
      "/subscriptions/:id/charge",
      async ({ params, body }) => {
        const result = await handled(() => billing.chargeNow(params.id, body.date));
        // A transient failure leaves the charge pending: like any gateway outage, retry.
        if (result.outcome === "failed") throw gatewayUnavailable("charge_failed", false);
        return result;
      },
      {
        params: SubscriptionIdParams,
        body: BillingRunBody,
        response: {
          200: ChargeResult,
          ...errors(400, 422, shopErrors.internalOnly, shopErrors.subscriptionNotFound, shopErrors.paymentGatewayUnavailable),
        },
        detail: {
          tags,
          summary: "Charge one subscription's due cycle (internal)",
          description: "The recurring-charge endpoint: internal IPs only (403). outcome skipped when not due.",
        },
      },
    );
}
