// Subscription routes: the caller's subscriptions (paged), a subscription's charge history,
// period change, skip and cancel (with the refund of the current cycle if asked).
import { Elysia } from "elysia";
import { platformErrors } from "../../../platform/http/errors";
import { problemResponses } from "../../../platform/http/problem";
import { authPlugin, type AccountsService } from "../../accounts";
import { shopErrors } from "../errors";
import {
  CancelSubscriptionBody,
  ChargePage,
  Subscription,
  SubscriptionIdParams,
  SubscriptionListQuery,
  SubscriptionPage,
  UpdateSubscriptionBody,
} from "../model";
import type { SubscriptionsService } from "../subscriptions";
import { errors, handled, tags } from "./http";

const changeErrors = [
  shopErrors.subscriptionNotFound,
  shopErrors.subscriptionNotActive,
  shopErrors.chargeInProgress,
  shopErrors.subscriptionBusy,
] as const;

export function subscriptionRoutes(subscriptions: SubscriptionsService, accounts: AccountsService) {
  return new Elysia({ name: "homebase.shop.subscriptions" })
    .use(authPlugin(accounts))
    .get("/subscriptions", ({ principal, query }) => subscriptions.list(principal, query), {
      auth: true,
      query: SubscriptionListQuery,
      response: { 200: SubscriptionPage, ...errors(401, 422), ...problemResponses({ 400: [platformErrors.invalidCursor] }) },
      detail: { tags, summary: "Your subscriptions", description: "Newest first, in pages: pass nextCursor as cursor for the next one." },
    })
    .get(
      "/subscriptions/:id/charges",
      ({ principal, params, query }) => handled(() => subscriptions.charges(principal, params.id, query)),
      {
        auth: true,
        params: SubscriptionIdParams,
        query: SubscriptionListQuery,
        response: {
          200: ChargePage,
          ...errors(401, 422, shopErrors.subscriptionNotFound),
          ...problemResponses({ 400: [platformErrors.invalidCursor] }),
        },
        detail: {
          tags,
          summary: "A subscription's charge history",
          description:
            "Every cycle, newest first, in pages: cycle 1 is the first payment, each later one a recurring charge (paid, pending or declined), with the order it created (listed by GET /orders as a SUBSCRIPTION order of that cycle) and what was refunded of it.",
        },
      },
    )
    .get("/subscriptions/:id", ({ principal, params }) => handled(() => subscriptions.get(principal, params.id)), {
      auth: true,
      params: SubscriptionIdParams,
      response: { 200: Subscription, ...errors(401, 422, shopErrors.subscriptionNotFound) },
      detail: { tags, summary: "One of your subscriptions" },
    })
    .patch(
      "/subscriptions/:id",
      ({ principal, params, body }) => handled(() => subscriptions.changePeriod(principal, params.id, body.periodDays)),
      {
        auth: true,
        params: SubscriptionIdParams,
        body: UpdateSubscriptionBody,
        response: { 200: Subscription, ...errors(400, 401, 422, ...changeErrors) },
        detail: { tags, summary: "Change the period", description: "Next payment = last payment + new period (tomorrow at the earliest)." },
      },
    )
    .post("/subscriptions/:id/skip", ({ principal, params }) => handled(() => subscriptions.skip(principal, params.id)), {
      auth: true,
      params: SubscriptionIdParams,
      response: { 200: Subscription, ...errors(401, 422, ...changeErrors) },
      detail: { tags, summary: "Skip the coming cycle", description: "The next payment moves one period later." },
    })
    .post(
      "/subscriptions/:id/cancel",
      ({ principal, params, body }) => handled(() => subscriptions.cancel(principal, params.id, body?.refund ?? false)),
      {
        auth: true,
        params: SubscriptionIdParams,
        body: CancelSubscriptionBody,
        response: {
          200: Subscription,
          ...errors(
            400,
            401,
            422,
            ...changeErrors,
            shopErrors.cycleNotRefundable,
            shopErrors.paymentDeclined,
            shopErrors.paymentRejected,
            shopErrors.paymentGatewayUnavailable,
          ),
        },
        detail: {
          tags,
          summary: "Cancel a subscription (and refund the current cycle)",
          description:
            "No further charges; the order becomes SUBSCRIBE_CANCEL. With {refund: true}, the current cycle (the last one paid) is refunded through the gateway too: its order becomes REFUND, stock and sales follow. If the gateway fails (503), the subscription is cancelled all the same and the refund stays pending: asking again finishes it (nothing is refunded twice). Emits homebase.shop.subscription.cancelled (and homebase.shop.order.refunded).",
        },
      },
    );
}
