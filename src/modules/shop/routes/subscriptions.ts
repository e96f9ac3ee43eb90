// Subscription routes: the caller's subscriptions, period change, skip and cancel.
import { Elysia, t } from "elysia";
import { authPlugin, type AccountsService } from "../../accounts";
import { shopErrors } from "../errors";
import { Subscription, SubscriptionIdParams, UpdateSubscriptionBody } from "../model";
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
    .get("/subscriptions", ({ principal }) => subscriptions.list(principal), {
      auth: true,
      response: { 200: t.Array(Subscription), ...errors(401) },
      detail: { tags, summary: "Your subscriptions", description: "Newest first." },
    })
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
    .post("/subscriptions/:id/cancel", ({ principal, params }) => handled(() => subscriptions.cancel(principal, params.id)), {
      auth: true,
      params: SubscriptionIdParams,
      response: { 200: Subscription, ...errors(401, 422, ...changeErrors) },
      detail: {
        tags,
        summary: "Cancel a subscription",
        description: "No further charges; the order becomes SUBSCRIBE_CANCEL. Emits homebase.shop.subscription.cancelled.",
      },
    });
}
