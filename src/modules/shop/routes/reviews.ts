// Review routes: an item's reviews, and its buyers' own reviews.
import { Elysia, t } from "elysia";
import { authPlugin, type AccountsService } from "../../accounts";
import { shopErrors } from "../errors";
import { CreateReviewBody, ItemIdParams, Review, ReviewIdParams, ReviewListQuery, ReviewPage, UpdateReviewBody } from "../model";
import type { ReviewsService } from "../reviews";
import { errors, handled, tags } from "./http";

export function reviewRoutes(reviews: ReviewsService, accounts: AccountsService) {
  return new Elysia({ name: "homebase.shop.reviews" })
    .use(authPlugin(accounts))
    .get("/items/:id/reviews", ({ params, query }) => handled(() => reviews.ofItem(params.id, query)), {
      params: ItemIdParams,
      query: ReviewListQuery,
      response: { 200: ReviewPage, ...errors(422, shopErrors.itemNotFound) },
      detail: { tags, summary: "An item's reviews", description: "Sorts: NEWEST (default), OLDEST, STAR_H, STAR_L." },
    })
    .post(
      "/items/:id/reviews",
      async ({ principal, params, body, status }) => status(201, await handled(() => reviews.create(principal, params.id, body))),
      {
        auth: true,
        params: ItemIdParams,
        body: CreateReviewBody,
        response: {
          201: Review,
          ...errors(
            400,
            401,
            422,
            shopErrors.itemNotFound,
            shopErrors.orderItemNotFound,
            shopErrors.orderItemMismatch,
            shopErrors.notBuyer,
            shopErrors.alreadyReviewed,
          ),
        },
        detail: {
          tags,
          summary: "Review an item you bought",
          description:
            "Only for your own order item of this item in a paid order that is not fully refunded (403 not_buyer); one review per order item (409).",
        },
      },
    )
    .patch("/reviews/:id", ({ principal, params, body }) => handled(() => reviews.update(principal, params.id, body)), {
      auth: true,
      params: ReviewIdParams,
      body: UpdateReviewBody,
      response: { 200: Review, ...errors(400, 401, 422, shopErrors.reviewNotFound) },
      detail: { tags, summary: "Edit your review" },
    })
    .delete(
      "/reviews/:id",
      async ({ principal, params, status }) => {
        await handled(() => reviews.remove(principal, params.id));
        return status(204, undefined);
      },
      {
        auth: true,
        params: ReviewIdParams,
        response: { 204: t.Void(), ...errors(401, 422, shopErrors.reviewNotFound) },
        detail: { tags, summary: "Delete your review" },
      },
    );
}
