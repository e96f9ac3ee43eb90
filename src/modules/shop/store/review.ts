// The review store: one review per order item, with the item's review count and star sum kept
// in the same transaction. SQLite implementation: review.sqlite.ts.
import type { OrderStatus, ReviewSort } from "../model";

export interface ReviewRow {
  id: string;
  item_id: string;
  user_id: string;
  order_item_id: string;
  stars: number;
  content: string;
  created_at: number;
  updated_at: number;
}

/** What a review's order item says about its buyer. */
export interface ReviewableRow {
  order_item_id: string;
  item_id: string;
  quantity: number;
  refunded_quantity: number;
  user_id: string;
  status: OrderStatus;
  paid_at: number | null;
}

/** Why a review was not created; null when it was. */
export type ReviewRefusal = "item_not_found" | "order_item_not_found" | "order_item_mismatch" | "not_buyer" | "already_reviewed";

export interface ReviewStore {
  ofItem(itemId: string, sort: ReviewSort, limit: number, offset: number): Promise<ReviewRow[]>;
  countOfItem(itemId: string): Promise<number>;
  /**
   * In one transaction: the item is live, the order item is the author's own and of this item,
   * `eligible` admits its order, and it has no review yet; then the review is inserted and its
   * stars counted on the item.
   */
  create(review: ReviewRow, eligible: (bought: ReviewableRow) => boolean): Promise<ReviewRefusal | null>;
  /** The author's review with the patch applied (and the item's star sum adjusted), or null. */
  update(id: string, userId: string, patch: { stars?: number; content?: string }, now: number): Promise<ReviewRow | null>;
  /** Deletes the author's review and uncounts it; false when there is none. */
  remove(id: string, userId: string): Promise<boolean>;
}
