// The catalog store on SQLite. Reads run on prepared statements directly; writes go through the
// GroupCommitWriter (one transaction per call, shared with concurrent writes).
import type { Database, Statement } from "bun:sqlite";
import type { GroupCommitWriter } from "../../../platform/db/sqlite";
import type { OrderLine } from "../events";
import type { Category, ItemSort } from "../model";
import type { CatalogStore, ItemFilter, ItemRow, ItemUpdate } from "./catalog";
import { writeOr } from "./tx";

const itemOrder: Record<ItemSort, string> = {
  SALES: "sales_count DESC, id DESC",
  PRICE_H: "sale_price DESC, id DESC",
  PRICE_L: "sale_price ASC, id ASC",
  DISCOUNT_RATE_H: "discount_rate DESC, id DESC",
  DISCOUNT_RATE_L: "discount_rate ASC, id ASC",
  REVIEW_COUNT: "review_count DESC, id DESC",
};

/** The index each sort reads in order (all partial on deleted_at IS NULL). */
const sortIndex: Record<ItemSort, string> = {
  SALES: "shop_items_sales",
  PRICE_H: "shop_items_price",
  PRICE_L: "shop_items_price",
  DISCOUNT_RATE_H: "shop_items_discount",
  DISCOUNT_RATE_L: "shop_items_discount",
  REVIEW_COUNT: "shop_items_reviews",
};

/** LIKE pattern for "contains", with the wildcards in the keyword taken literally. */
export function containsPattern(keyword: string): string {
  return `%${keyword.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

type Params = Record<string, string | number>;

export class SqliteCatalogStore implements CatalogStore {
  private readonly q;
  /** GET /items has one statement shape per filter combination and sort; each is prepared once. */
  private readonly searchQueries = new Map<string, Statement<ItemRow, [Params]>>();
  private readonly countQueries = new Map<string, Statement<{ n: number }, [Params]>>();

  constructor(
    private readonly db: Database,
    private readonly writer: GroupCommitWriter,
  ) {
    this.q = {
      item: db.query<ItemRow, [string]>("SELECT * FROM shop_items WHERE id = ? AND deleted_at IS NULL"),
      topSellers: db.query<ItemRow, [number]>(
        "SELECT * FROM shop_items WHERE deleted_at IS NULL ORDER BY sales_count DESC, id DESC LIMIT ?",
      ),
      topDiscounts: db.query<ItemRow, [number]>(
        "SELECT * FROM shop_items WHERE deleted_at IS NULL AND discount_rate > 0 ORDER BY discount_rate DESC, id DESC LIMIT ?",
      ),
      insertItem: db.query(
        `INSERT INTO shop_items (id, name, brand, brand_key, price, discount_rate, discount_price, sale_price, stock, categories, nutrients,
           description, image_url, sales_count, review_count, star_sum, created_at, updated_at)
         VALUES ($id, $name, $brand, $brand_key, $price, $discount_rate, $discount_price, $sale_price, $stock, $categories, $nutrients,
           $description, $image_url, $sales_count, $review_count, $star_sum, $created_at, $updated_at)`,
      ),
      updateItem: db.query(
        `UPDATE shop_items SET name = $name, brand = $brand, brand_key = $brand_key, price = $price, discount_rate = $discount_rate,
           discount_price = $discount_price, sale_price = $sale_price, categories = $categories, nutrients = $nutrients,
           description = $description, image_url = $image_url, updated_at = $updated_at
         WHERE id = $id AND deleted_at IS NULL`,
      ),
      insertCategory: db.query<unknown, [string, string]>("INSERT INTO shop_item_categories (category, item_id) VALUES (?, ?)"),
      deleteCategories: db.query<unknown, [string]>("DELETE FROM shop_item_categories WHERE item_id = ?"),
      softDeleteItem: db.query<unknown, [number, number, string]>(
        "UPDATE shop_items SET deleted_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL",
      ),
      // A deleted item leaves every cart (the cart lines are the cart store's rows; same transaction).
      deleteCartLinesOfItem: db.query<unknown, [string]>("DELETE FROM shop_cart_items WHERE item_id = ?"),
      addStock: db.query<unknown, [number, number, string, number]>(
        "UPDATE shop_items SET stock = stock + ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL AND stock + ? >= 0",
      ),
      addSales: db.query<unknown, [number, string]>("UPDATE shop_items SET sales_count = MAX(0, sales_count + ?) WHERE id = ?"),
      catalogVersion: db.query<{ version: number }, []>("SELECT version FROM shop_catalog_version WHERE id = 1"),
      bumpCatalog: db.query<unknown, []>("UPDATE shop_catalog_version SET version = version + 1 WHERE id = 1"),
      visit: db.query<unknown, [string, string, string]>("INSERT OR IGNORE INTO shop_item_visits (item_id, day, visitor) VALUES (?, ?, ?)"),
      visitors: db.query<{ n: number }, [string, string]>("SELECT COUNT(*) AS n FROM shop_item_visits WHERE item_id = ? AND day = ?"),
    };
  }

  async item(id: string): Promise<ItemRow | null> {
    return this.q.item.get(id);
  }

  async topSellers(limit: number): Promise<ItemRow[]> {
    return this.q.topSellers.all(limit);
  }

  async topDiscounts(limit: number): Promise<ItemRow[]> {
    return this.q.topDiscounts.all(limit);
  }

  async version(): Promise<number> {
    return this.q.catalogVersion.get()?.version ?? 0;
  }

  insertItems(items: ReadonlyArray<{ row: ItemRow; categories: readonly Category[] }>): Promise<void> {
    return this.writer.write(() => {
      for (const { row, categories } of items) {
        const { deleted_at: _deleted, ...values } = row;
        this.q.insertItem.run(values);
        for (const c of categories) this.q.insertCategory.run(c, row.id);
      }
      this.q.bumpCatalog.run();
    });
  }

  updateItem(
    id: string,
    revise: (current: ItemRow) => ItemRow,
    categories: readonly Category[] | null,
    stockDelta: number,
  ): Promise<ItemUpdate> {
    return writeOr<ItemUpdate, ItemUpdate>(this.writer, (refuse) => {
      const current = this.q.item.get(id);
      if (!current) return { ok: false, reason: "not_found" };
      const next = revise(current);
      const { name, brand, brand_key, price, discount_rate, discount_price, sale_price, nutrients, description, image_url, updated_at } =
        next;
      this.q.updateItem.run({
        id,
        name,
        brand,
        brand_key,
        price,
        discount_rate,
        discount_price,
        sale_price,
        categories: next.categories,
        nutrients,
        description,
        image_url,
        updated_at,
      });
      if (categories !== null) {
        this.q.deleteCategories.run(id);
        for (const c of categories) this.q.insertCategory.run(c, id);
      }
      // Below 0: the item stays as it was.
      if (stockDelta !== 0 && this.q.addStock.run(stockDelta, updated_at, id, stockDelta).changes !== 1)
        refuse({ ok: false, reason: "insufficient_stock", stock: current.stock });
      this.q.bumpCatalog.run();
      return { ok: true, item: this.q.item.get(id)! };
    });
  }

  removeItem(id: string, now: number): Promise<boolean> {
    return this.writer.write(() => {
      if (this.q.softDeleteItem.run(now, now, id).changes !== 1) return false;
      this.q.deleteCartLinesOfItem.run(id);
      this.q.bumpCatalog.run();
      return true;
    });
  }

  async recordVisit(itemId: string, day: string, visitor: string): Promise<void> {
    await this.writer.write(() => this.q.visit.run(itemId, day, visitor));
  }

  async visitors(itemId: string, day: string): Promise<number> {
    return this.q.visitors.get(itemId, day)?.n ?? 0;
  }

  addSales(lines: readonly OrderLine[], sign: 1 | -1): void {
    for (const line of lines) this.q.addSales.run(sign * line.quantity, line.itemId);
  }

  /**
   * The WHERE clause of a search. The category filter takes the form of the plan it serves:
   *   - "scan": a page read along its sort index, each row probed for the category (EXISTS);
   *   - "list": a page of a selective search (keyword, brand): the few matches, then sorted;
   *   - "join": the count, driven by the category's rows.
   */
  private filterSql(f: ItemFilter, category: "scan" | "list" | "join"): { where: string; params: Params; shape: string } {
    const clauses = ["deleted_at IS NULL"];
    const params: Params = {};
    const shape: string[] = [];
    if (f.category !== undefined) {
      clauses.push(
        category === "join"
          ? "c.category = $category"
          : category === "scan"
            ? "EXISTS (SELECT 1 FROM shop_item_categories c WHERE c.category = $category AND c.item_id = shop_items.id)"
            : "id IN (SELECT item_id FROM shop_item_categories WHERE category = $category)",
      );
      params.category = f.category;
      shape.push("c");
    }
    if (f.brand !== undefined) {
      clauses.push("brand_key = $brand");
      params.brand = f.brand.trim().toLowerCase();
      shape.push("b");
    }
    if (f.keyword !== undefined) {
      const keyword = f.keyword.trim();
      if ([...keyword].length >= 3) {
        // A quoted phrase of trigrams is a substring match, case-insensitive, in name or brand.
        clauses.push("id IN (SELECT item_id FROM shop_items_fts WHERE shop_items_fts MATCH $keyword)");
        params.keyword = `"${keyword.replaceAll('"', '""')}"`;
        shape.push("fts");
      } else {
        // Too short for a trigram: scan.
        clauses.push("(name LIKE $keyword ESCAPE '\\' OR brand LIKE $keyword ESCAPE '\\')");
        params.keyword = containsPattern(keyword);
        shape.push("k");
      }
    }
    if (f.minPrice !== undefined) {
      clauses.push("sale_price >= $minPrice");
      params.minPrice = f.minPrice;
      shape.push("min");
    }
    if (f.maxPrice !== undefined) {
      clauses.push("sale_price <= $maxPrice");
      params.maxPrice = f.maxPrice;
      shape.push("max");
    }
    if (f.onSale === true) {
      clauses.push("discount_rate > 0");
      shape.push("sale");
    }
    return { where: clauses.join(" AND "), params, shape: shape.join(",") };
  }

  /**
   * One page of a search. Without a keyword or brand the filters match a good share of the
   * catalog, so the page is read along the sort's index until it is full (measured on 2,000
   * items: 35 µs instead of 370 µs for collecting the category and sorting it); SQLite's
   * planner would pick the collect-and-sort plan, hence INDEXED BY. A keyword or brand matches
   * few items: those are collected through their index and sorted.
   */
  async search(f: ItemFilter, sort: ItemSort, limit: number, offset: number): Promise<ItemRow[]> {
    const scan = f.keyword === undefined && f.brand === undefined;
    const { where, params, shape } = this.filterSql(f, scan ? "scan" : "list");
    const key = `${shape}|${sort}`;
    let stmt = this.searchQueries.get(key);
    if (!stmt) {
      const from = scan ? `shop_items INDEXED BY ${sortIndex[sort]}` : "shop_items";
      stmt = this.db.query<ItemRow, [Params]>(
        `SELECT * FROM ${from} WHERE ${where} ORDER BY ${itemOrder[sort]} LIMIT $limit OFFSET $offset`,
      );
      this.searchQueries.set(key, stmt);
    }
    return stmt.all({ ...params, limit, offset });
  }

  async count(f: ItemFilter): Promise<number> {
    const join = f.category !== undefined;
    const { where, params, shape } = this.filterSql(f, join ? "join" : "list");
    let stmt = this.countQueries.get(shape);
    if (!stmt) {
      // Column names are unambiguous across the two tables, so the same clauses serve both forms.
      const from = join ? "shop_item_categories c JOIN shop_items ON shop_items.id = c.item_id" : "shop_items";
      stmt = this.db.query<{ n: number }, [Params]>(`SELECT COUNT(*) AS n FROM ${from} WHERE ${where}`);
      this.countQueries.set(shape, stmt);
    }
    return stmt.get(params)?.n ?? 0;
  }
}
