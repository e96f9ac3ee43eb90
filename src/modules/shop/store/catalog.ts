// The catalog store: items (with their categories and the catalog version), and unique
// visitors per item and day when Redis is not there. SQLite implementation: catalog.sqlite.ts.
import type { OrderLine } from "../events";
import type { Category, ItemSort } from "../model";

/** An item as stored (money in KRW per unit). */
export interface ItemRow {
  id: string;
  name: string;
  brand: string;
  /** Lower-cased brand: the brand filter. */
  brand_key: string;
  price: number;
  discount_rate: number;
  discount_price: number;
  sale_price: number;
  stock: number;
  /** Comma list of categories. */
  categories: string;
  /** JSON array of strings. */
  nutrients: string;
  description: string;
  image_url: string | null;
  sales_count: number;
  review_count: number;
  star_sum: number;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
}

export interface ItemFilter {
  keyword?: string;
  category?: Category;
  brand?: string;
  minPrice?: number;
  maxPrice?: number;
  onSale?: boolean;
}

export type ItemUpdate =
  | { ok: true; item: ItemRow }
  | { ok: false; reason: "not_found" }
  | { ok: false; reason: "insufficient_stock"; stock: number };

export interface CatalogStore {
  /** A live (not deleted) item. */
  item(id: string): Promise<ItemRow | null>;
  /** One page of live items matching the filter, in the sort's order. */
  search(filter: ItemFilter, sort: ItemSort, limit: number, offset: number): Promise<ItemRow[]>;
  count(filter: ItemFilter): Promise<number>;
  /** Bumped by every catalog write (create, update, delete) in the same transaction. */
  version(): Promise<number>;
  topSellers(limit: number): Promise<ItemRow[]>;
  topDiscounts(limit: number): Promise<ItemRow[]>;
  /** Inserts the items and their categories in one transaction. */
  insertItems(items: ReadonlyArray<{ row: ItemRow; categories: readonly Category[] }>): Promise<void>;
  /**
   * In one transaction: the live item, `revise(current)` written back (with `categories` when
   * given), then `stockDelta` added unless the stock would go below 0 (then nothing is written).
   */
  updateItem(
    id: string,
    revise: (current: ItemRow) => ItemRow,
    categories: readonly Category[] | null,
    stockDelta: number,
  ): Promise<ItemUpdate>;
  /** Soft delete: the item leaves the catalog and every cart. False when there is no live item. */
  removeItem(id: string, now: number): Promise<boolean>;
  recordVisit(itemId: string, day: string, visitor: string): Promise<void>;
  visitors(itemId: string, day: string): Promise<number>;
  /** Sales counts follow payments and refunds. Runs inside the caller's transaction (an event consumer's apply). */
  addSales(lines: readonly OrderLine[], sign: 1 | -1): void;
}
