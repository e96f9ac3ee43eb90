// The review store on SQLite.
import type { Database, Statement } from "bun:sqlite";
import type { GroupCommitWriter } from "../../../platform/db/sqlite";
import type { ReviewSort } from "../model";
import type { ReviewableRow, ReviewRefusal, ReviewRow, ReviewStore } from "./review";

const reviewOrder: Record<ReviewSort, string> = {
  NEWEST: "id DESC",
  OLDEST: "id ASC",
  STAR_H: "stars DESC, id DESC",
  STAR_L: "stars ASC, id DESC",
};

export class SqliteReviewStore implements ReviewStore {
  private readonly q;
  private readonly pages = new Map<ReviewSort, Statement<ReviewRow, [string, number, number]>>();

  constructor(
    private readonly db: Database,
    private readonly writer: GroupCommitWriter,
  ) {
    this.q = {
      itemLive: db.query<{ one: number }, [string]>("SELECT 1 AS one FROM shop_items WHERE id = ? AND deleted_at IS NULL"),
      reviewable: db.query<ReviewableRow, [string]>(
        `SELECT oi.id AS order_item_id, oi.item_id, oi.quantity, oi.refunded_quantity, o.user_id, o.status, o.paid_at
         FROM shop_order_items oi JOIN shop_orders o ON o.id = oi.order_id WHERE oi.id = ?`,
      ),
      insert: db.query(
        `INSERT INTO shop_reviews (id, item_id, user_id, order_item_id, stars, content, created_at, updated_at)
         VALUES ($id, $item_id, $user_id, $order_item_id, $stars, $content, $created_at, $updated_at)`,
      ),
      review: db.query<ReviewRow, [string]>("SELECT * FROM shop_reviews WHERE id = ?"),
      ofOrderItem: db.query<{ one: number }, [string]>("SELECT 1 AS one FROM shop_reviews WHERE order_item_id = ?"),
      update: db.query<unknown, [number, string, number, string]>(
        "UPDATE shop_reviews SET stars = ?, content = ?, updated_at = ? WHERE id = ?",
      ),
      delete: db.query<unknown, [string]>("DELETE FROM shop_reviews WHERE id = ?"),
      count: db.query<{ n: number }, [string]>("SELECT COUNT(*) AS n FROM shop_reviews WHERE item_id = ?"),
      // The item's counters (catalog rows) change with its reviews, in the same transaction.
      addStats: db.query<unknown, [number, number, string]>(
        "UPDATE shop_items SET review_count = review_count + ?, star_sum = star_sum + ? WHERE id = ?",
      ),
    };
  }

  async ofItem(itemId: string, sort: ReviewSort, limit: number, offset: number): Promise<ReviewRow[]> {
    let stmt = this.pages.get(sort);
    if (!stmt) {
      stmt = this.db.query<ReviewRow, [string, number, number]>(
        `SELECT * FROM shop_reviews WHERE item_id = ? ORDER BY ${reviewOrder[sort]} LIMIT ? OFFSET ?`,
      );
      this.pages.set(sort, stmt);
    }
    return stmt.all(itemId, limit, offset);
  }

  async countOfItem(itemId: string): Promise<number> {
    return this.q.count.get(itemId)?.n ?? 0;
  }

  create(review: ReviewRow, eligible: (bought: ReviewableRow) => boolean): Promise<ReviewRefusal | null> {
    return this.writer.write((): ReviewRefusal | null => {
      if (!this.q.itemLive.get(review.item_id)) return "item_not_found";
      const bought = this.q.reviewable.get(review.order_item_id);
      // Someone else's order item is "not found" for this author.
      if (!bought || bought.user_id !== review.user_id) return "order_item_not_found";
      if (bought.item_id !== review.item_id) return "order_item_mismatch";
      if (!eligible(bought)) return "not_buyer";
      if (this.q.ofOrderItem.get(review.order_item_id)) return "already_reviewed";
      this.q.insert.run({ ...review });
      this.q.addStats.run(1, review.stars, review.item_id);
      return null;
    });
  }

  update(id: string, userId: string, patch: { stars?: number; content?: string }, now: number): Promise<ReviewRow | null> {
    return this.writer.write(() => {
      const current = this.q.review.get(id);
      if (!current || current.user_id !== userId) return null;
      const stars = patch.stars ?? current.stars;
      const content = patch.content ?? current.content;
      this.q.update.run(stars, content, now, id);
      this.q.addStats.run(0, stars - current.stars, current.item_id);
      return { ...current, stars, content, updated_at: now };
    });
  }

  remove(id: string, userId: string): Promise<boolean> {
    return this.writer.write(() => {
      const current = this.q.review.get(id);
      if (!current || current.user_id !== userId) return false;
      this.q.delete.run(id);
      this.q.addStats.run(-1, -current.stars, current.item_id);
      return true;
    });
  }
}
