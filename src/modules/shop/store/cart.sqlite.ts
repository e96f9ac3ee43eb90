// The cart store on SQLite.
import type { Database } from "bun:sqlite";
import type { GroupCommitWriter } from "../../../platform/db/sqlite";
import type { OrderKind } from "../model";
import type { CartLineRow, CartStore, NewCartLine } from "./cart";

export class SqliteCartStore implements CartStore {
  private readonly q;

  constructor(
    db: Database,
    private readonly writer: GroupCommitWriter,
  ) {
    const line = `SELECT c.*, i.name, i.brand, i.image_url, i.price, i.discount_price, i.sale_price, i.stock
      FROM shop_cart_items c JOIN shop_items i ON i.id = c.item_id`;
    this.q = {
      lines: db.query<CartLineRow, [string, string]>(`${line} WHERE c.user_id = ? AND c.kind = ? AND i.deleted_at IS NULL ORDER BY c.id`),
      line: db.query<CartLineRow, [string, string, string]>(
        `${line} WHERE c.id = ? AND c.user_id = ? AND c.kind = ? AND i.deleted_at IS NULL`,
      ),
      itemLive: db.query<{ one: number }, [string]>("SELECT 1 AS one FROM shop_items WHERE id = ? AND deleted_at IS NULL"),
      has: db.query<{ one: number }, [string, string, string]>(
        "SELECT 1 AS one FROM shop_cart_items WHERE user_id = ? AND kind = ? AND item_id = ?",
      ),
      insert: db.query(
        `INSERT INTO shop_cart_items (id, user_id, kind, item_id, quantity, period_days, created_at, updated_at)
         VALUES ($id, $user_id, $kind, $item_id, $quantity, $period_days, $created_at, $updated_at)`,
      ),
      update: db.query<unknown, [number, number | null, number, string, string]>(
        "UPDATE shop_cart_items SET quantity = ?, period_days = ?, updated_at = ? WHERE id = ? AND user_id = ?",
      ),
      delete: db.query<unknown, [string, string, string]>("DELETE FROM shop_cart_items WHERE id = ? AND user_id = ? AND kind = ?"),
      deleteItems: db.query<unknown, [string, string, string]>(
        "DELETE FROM shop_cart_items WHERE user_id = ? AND kind = ? AND item_id IN (SELECT value FROM json_each(?))",
      ),
      deleteUser: db.query<unknown, [string]>("DELETE FROM shop_cart_items WHERE user_id = ?"),
    };
  }

  async lines(userId: string, kind: OrderKind): Promise<CartLineRow[]> {
    return this.q.lines.all(userId, kind);
  }

  add(line: NewCartLine): Promise<"added" | "item_not_found" | "already_in_cart"> {
    return this.writer.write(() => {
      if (!this.q.itemLive.get(line.item_id)) return "item_not_found";
      if (this.q.has.get(line.user_id, line.kind, line.item_id)) return "already_in_cart";
      this.q.insert.run({ ...line, updated_at: line.created_at });
      return "added";
    });
  }

  update(id: string, userId: string, kind: OrderKind, patch: { quantity?: number; periodDays?: number }, now: number): Promise<boolean> {
    return this.writer.write(() => {
      const current = this.q.line.get(id, userId, kind);
      if (!current) return false;
      const period = kind === "SUBSCRIPTION" ? (patch.periodDays ?? current.period_days) : null;
      this.q.update.run(patch.quantity ?? current.quantity, period, now, id, userId);
      return true;
    });
  }

  remove(id: string, userId: string, kind: OrderKind): Promise<boolean> {
    return this.writer.write(() => this.q.delete.run(id, userId, kind).changes === 1);
  }

  removeItems(userId: string, kind: OrderKind, itemIds: readonly string[]): void {
    this.q.deleteItems.run(userId, kind, JSON.stringify(itemIds));
  }

  clearUser(userId: string): void {
    this.q.deleteUser.run(userId);
  }
}
