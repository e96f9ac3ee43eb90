// Review schemas.
import { t, type Static } from "elysia";
import { nonBlank } from "../../../platform/http/schemas";
import { reviewSorts, id, Timestamp, outId, Page } from "./common";
import { exampleItem } from "./catalog";

export const Review = t.Object(
  {
    id: outId(),
    itemId: outId(),
    userId: outId(),
    orderItemId: outId(),
    stars: t.Integer({ minimum: 1, maximum: 5 }),
    content: t.String(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  {
    examples: [
      {
        id: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2b40",
        itemId: exampleItem.id,
        userId: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2a10",
        orderItemId: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2b31",
        stars: 5,
        content: "My eyes feel less tired after a month.",
        createdAt: "2026-12-01T10:00:00.000Z",
        updatedAt: "2026-12-01T10:00:00.000Z",
      },
    ],
  },
);
export type Review = Static<typeof Review>;

const Stars = t.Integer({ minimum: 1, maximum: 5, examples: [5] });
const ReviewContent = nonBlank({ maxLength: 2_000, description: "1–2,000 characters, not blank", examples: ["My eyes feel less tired after a month."] });

export const CreateReviewBody = t.Object(
  { orderItemId: id("The order item this review is about: yours, paid and not refunded"), stars: Stars, content: ReviewContent },
  { examples: [{ orderItemId: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2b31", stars: 5, content: "My eyes feel less tired after a month." }] },
);
export type CreateReviewBody = Static<typeof CreateReviewBody>;

export const UpdateReviewBody = t.Object(
  { stars: t.Optional(Stars), content: t.Optional(ReviewContent) },
  { minProperties: 1, examples: [{ stars: 4 }] },
);
export type UpdateReviewBody = Static<typeof UpdateReviewBody>;

export const ReviewListQuery = t.Object({
  sort: t.Optional(t.UnionEnum(reviewSorts, { default: "NEWEST" })),
  page: Page,
  size: t.Optional(t.Integer({ minimum: 1, maximum: 100, default: 10 })),
});
export type ReviewListQuery = Static<typeof ReviewListQuery>;

export const ReviewPage = t.Object({
  items: t.Array(Review),
  page: t.Integer({ minimum: 1 }),
  size: t.Integer({ minimum: 1 }),
  total: t.Integer({ minimum: 0 }),
});
export type ReviewPage = Static<typeof ReviewPage>;

export const ReviewIdParams = t.Object({ id: id() });
