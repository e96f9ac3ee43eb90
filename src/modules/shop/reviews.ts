// Reviews: only buyers of a paid, non-refunded order item may review it, once per order item;
// authors edit and delete their own. No HTTP here: refusals are ShopErrors.
import type { Clock } from "../../platform/clock";
import type { Principal } from "../accounts";
import { fieldRefusal, ShopError, shopErrors } from "./errors";
import type { CreateReviewBody, Review, ReviewListQuery, ReviewPage, UpdateReviewBody } from "./model";
import type { CatalogStore, ReviewableRow, ReviewRefusal, ReviewStore } from "./store";
import { toReview } from "./views";

/** Orders whose buyers may review their items: paid and not (fully) refunded. */
const reviewableStatuses = new Set(["COMPLETE", "SUBSCRIPTION", "SUBSCRIBE_CANCEL", "SUBSCRIBE_PAYMENT_FAIL"]);

const eligible = (bought: ReviewableRow): boolean =>
  reviewableStatuses.has(bought.status) && bought.paid_at !== null && bought.refunded_quantity < bought.quantity;

const refusals: Record<ReviewRefusal, () => ShopError> = {
  item_not_found: () => new ShopError(shopErrors.itemNotFound, "no such item"),
  order_item_not_found: () => new ShopError(shopErrors.orderItemNotFound, "no such order item among your orders"),
  order_item_mismatch: () => fieldRefusal(shopErrors.orderItemMismatch, "that order item is another item", "/orderItemId", "not this item"),
  not_buyer: () => new ShopError(shopErrors.notBuyer, "only a buyer of a paid, non-refunded order may review the item"),
  already_reviewed: () => new ShopError(shopErrors.alreadyReviewed, "this order item already has a review"),
};

const reviewNotFound = () => new ShopError(shopErrors.reviewNotFound, "no such review of yours");

export class ReviewsService {
  constructor(
    private readonly store: ReviewStore,
    private readonly catalog: CatalogStore,
    private readonly clock: Clock,
  ) {}

  async ofItem(itemId: string, query: ReviewListQuery): Promise<ReviewPage> {
    if (!(await this.catalog.item(itemId))) throw refusals.item_not_found();
    const page = query.page ?? 1;
    const size = query.size ?? 10;
    const rows = await this.store.ofItem(itemId, query.sort ?? "NEWEST", size, (page - 1) * size);
    return { items: rows.map(toReview), page, size, total: await this.store.countOfItem(itemId) };
  }

  async create(principal: Principal, itemId: string, body: CreateReviewBody): Promise<Review> {
    const content = body.content.trim();
    const now = this.clock.now();
    const row = {
      id: Bun.randomUUIDv7(),
      item_id: itemId,
      user_id: principal.userId,
      order_item_id: body.orderItemId,
      stars: body.stars,
      content,
      created_at: now,
      updated_at: now,
    };
    const refused = await this.store.create(row, eligible);
    if (refused) throw refusals[refused]();
    return toReview(row);
  }

  async update(principal: Principal, id: string, patch: UpdateReviewBody): Promise<Review> {
    const content = patch.content?.trim();
    const row = await this.store.update(id, principal.userId, { stars: patch.stars, content }, this.clock.now());
    if (!row) throw reviewNotFound();
    return toReview(row);
  }

  async remove(principal: Principal, id: string): Promise<void> {
    if (!(await this.store.remove(id, principal.userId))) throw reviewNotFound();
  }
}
