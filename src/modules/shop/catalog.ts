// Catalog use cases: item search and detail, the cached main page, unique visitors, admin
// item management and reviews. No Elysia types here; errors are HttpProblems.
import type Redis from "ioredis";
import { LRUCache } from "lru-cache";
import type { CacheAside } from "../../platform/cache/cache-aside";
import type { GroupCommitWriter } from "../../platform/db/sqlite";
import { problems } from "../../platform/http/problem";
import type { Logger } from "../../platform/logger";
import type { Principal } from "../accounts";
import type {
  Category,
  CreateItemBody,
  CreateReviewBody,
  Item,
  ItemDetail,
  ItemListQuery,
  ItemPage,
  MainPage,
  Review,
  ReviewListQuery,
  ReviewPage,
  UpdateItemBody,
  UpdateReviewBody,
} from "./model";
import type { ItemRow, ShopRepository } from "./repository";
import { discountPriceOf, toItem, toReview, utcDay } from "./views";

/** The cache name in homebase_cache_requests_total. */
export const mainCacheName = "shop_main";
const mainNamespace = "shop:main";
const mainListSize = 10;
/** Orders whose buyers may review their items: paid and not (fully) refunded. */
const reviewableStatuses = new Set(["COMPLETE", "SUBSCRIPTION", "SUBSCRIBE_CANCEL", "SUBSCRIBE_PAYMENT_FAIL"]);

export interface CatalogSettings {
  mainTtlMs: number;
}

/** Seed import: an item with the sales and review history it had elsewhere. */
export interface ImportedItem extends CreateItemBody {
  salesCount?: number;
  reviewCount?: number;
  starSum?: number;
}

/**
 * Unique visitors per item per UTC day: a HyperLogLog in Redis when configured (0.81 % error,
 * 12 KB per key, expires after two days), else an exact set in SQLite. A Redis failure falls
 * back to the SQLite set for that request.
 */
class Visitors {
  /** Visitors already written today in this process: a repeat view costs no write. */
  private readonly seen = new LRUCache<string, true>({ max: 100_000 });

  constructor(
    private readonly repo: ShopRepository,
    private readonly writer: GroupCommitWriter,
    private readonly redis: Redis | null,
    private readonly logger: Logger,
  ) {}

  async record(itemId: string, visitor: string | null, now: number): Promise<number> {
    const day = utcDay(now);
    if (this.redis) {
      const key = `shop:visitors:{${itemId}}:${day}`;
      try {
        const replies = await this.redis
          .multi()
          .pfadd(key, visitor ?? "unknown")
          .pexpire(key, 2 * 86_400_000)
          .pfcount(key)
          .exec();
        const count = replies?.[2]?.[1];
        if (typeof count === "number") return count;
      } catch (err) {
        this.logger.warn("visitor count: redis failed, using SQLite", { err: err instanceof Error ? err.message : String(err) });
      }
    }
    if (visitor !== null) {
      const seenKey = `${itemId}|${day}|${visitor}`;
      if (!this.seen.has(seenKey)) {
        await this.writer.write(() => this.repo.recordVisit(itemId, day, visitor));
        this.seen.set(seenKey, true);
      }
    }
    return this.repo.visitors(itemId, day);
  }
}

export class CatalogService {
  private readonly visitors: Visitors;
  /**
   * Search totals by catalog version and filters. A total only changes with a catalog write
   * (which bumps the version in the same transaction), not with sales or stock, so this is
   * exact on every instance that reads the same database.
   */
  private readonly totals = new LRUCache<string, number>({ max: 10_000 });

  constructor(
    private readonly repo: ShopRepository,
    private readonly writer: GroupCommitWriter,
    private readonly cache: CacheAside,
    redis: Redis | null,
    private readonly settings: CatalogSettings,
    private readonly logger: Logger,
  ) {
    this.visitors = new Visitors(repo, writer, redis, logger);
  }

  // ---------------------------------------------------------------------------------------------
  // Reads

  search(query: ItemListQuery): ItemPage {
    if (query.minPrice !== undefined && query.maxPrice !== undefined && query.minPrice > query.maxPrice) {
      throw problems.unprocessable("invalid_price_range", "minPrice is above maxPrice", [{ field: "/maxPrice", message: "must not be below minPrice" }]);
    }
    const page = query.page ?? 1;
    const size = query.size ?? 8;
    const filter = {
      keyword: query.keyword?.trim() || undefined,
      category: query.category,
      brand: query.brand?.trim() || undefined,
      minPrice: query.minPrice,
      maxPrice: query.maxPrice,
      onSale: query.onSale,
    };
    const rows = this.repo.searchItems(filter, query.sort ?? "SALES", size, (page - 1) * size);
    const key = `${this.repo.catalogVersion()}|${JSON.stringify(filter)}`;
    let total = this.totals.get(key);
    if (total === undefined) {
      total = this.repo.countItems(filter);
      this.totals.set(key, total);
    }
    return { items: rows.map(toItem), page, size, total };
  }

  async main(): Promise<MainPage> {
    return JSON.parse(await this.mainJson()) as MainPage;
  }

  /**
   * Top sellers and top discounts as JSON text, cache-aside (HOMEBASE_SHOP_MAIN_TTL_MS); item
   * changes bump the cache generation. Text, so a hit is served as is: no parse, no response
   * validation, no serialisation of 20 items per request.
   */
  async mainJson(): Promise<string> {
    const load = (): string =>
      JSON.stringify({
        topSellers: this.repo.topSellers(mainListSize).map(toItem),
        topDiscounts: this.repo.topDiscounts(mainListSize).map(toItem),
      } satisfies MainPage);
    if (this.settings.mainTtlMs === 0) return load();
    const gen = await this.cache.generation(mainNamespace);
    return this.cache.getOrLoad(mainCacheName, `${mainNamespace}@${gen}`, this.settings.mainTtlMs, load);
  }

  /** One item; counts the caller as today's visitor of it. */
  async detail(id: string, visitor: string | null): Promise<ItemDetail> {
    const row = this.repo.item(id);
    if (!row) throw problems.notFound("item_not_found", "no such item");
    const visitorsToday = await this.visitors.record(id, visitor, Date.now());
    return { ...toItem(row), visitorsToday };
  }

  // ---------------------------------------------------------------------------------------------
  // Admin

  async create(body: CreateItemBody): Promise<Item> {
    const [item] = await this.importItems([body]);
    return item!;
  }

  /** Creates items in one transaction (the admin route, and `homebase seed shop`). */
  async importItems(bodies: ImportedItem[]): Promise<Item[]> {
    const now = Date.now();
    const rows = bodies.map((body, i): { row: ItemRow; cats: Category[] } => {
      const rate = body.discountRate ?? 0;
      const discount = discountPriceOf(body.price, rate);
      return {
        cats: body.categories,
        row: {
          id: Bun.randomUUIDv7(),
          name: body.name.trim(),
          brand: body.brand.trim(),
          brand_key: body.brand.trim().toLowerCase(),
          price: body.price,
          discount_rate: rate,
          discount_price: discount,
          sale_price: body.price - discount,
          stock: body.stock,
          categories: body.categories.join(","),
          nutrients: JSON.stringify(body.nutrients ?? []),
          description: body.description ?? "",
          image_url: body.imageUrl ?? null,
          sales_count: body.salesCount ?? 0,
          review_count: body.reviewCount ?? 0,
          star_sum: body.starSum ?? 0,
          created_at: now + i,
          updated_at: now + i,
          deleted_at: null,
        },
      };
    });
    for (const { row } of rows) {
      if (row.name === "" || row.brand === "") {
        throw problems.unprocessable("blank_field", "name and brand must not be blank", [{ field: row.name === "" ? "/name" : "/brand", message: "blank" }]);
      }
    }
    await this.writer.write(() => {
      for (const { row, cats } of rows) this.repo.insertItem(row, cats);
    });
    await this.cache.bump(mainNamespace);
    return rows.map(({ row }) => toItem(row));
  }

  async update(id: string, patch: UpdateItemBody): Promise<Item> {
    const name = patch.name?.trim();
    const brand = patch.brand?.trim();
    if (name === "" || brand === "") {
      throw problems.unprocessable("blank_field", "name and brand must not be blank", [{ field: name === "" ? "/name" : "/brand", message: "blank" }]);
    }
    const row = await this.writer.write(() => {
      const current = this.repo.item(id);
      if (!current) throw problems.notFound("item_not_found", "no such item");
      const price = patch.price ?? current.price;
      const rate = patch.discountRate ?? current.discount_rate;
      const discount = discountPriceOf(price, rate);
      const next: ItemRow = {
        ...current,
        name: name ?? current.name,
        brand: brand ?? current.brand,
        brand_key: (brand ?? current.brand).toLowerCase(),
        price,
        discount_rate: rate,
        discount_price: discount,
        sale_price: price - discount,
        categories: patch.categories ? patch.categories.join(",") : current.categories,
        nutrients: patch.nutrients ? JSON.stringify(patch.nutrients) : current.nutrients,
        description: patch.description ?? current.description,
        image_url: patch.imageUrl === undefined ? current.image_url : patch.imageUrl,
        updated_at: Date.now(),
      };
      this.repo.updateItem(next, patch.categories ?? null);
      if (patch.stockDelta !== undefined && patch.stockDelta !== 0 && !this.repo.addStock(id, patch.stockDelta, next.updated_at)) {
        throw problems.conflict("insufficient_stock", `the stock is ${current.stock}; it cannot go below 0`);
      }
      return this.repo.item(id)!;
    });
    await this.cache.bump(mainNamespace);
    return toItem(row);
  }

  /** Soft delete: orders and reviews keep referring to it; it leaves every cart. */
  async remove(id: string): Promise<void> {
    const removed = await this.writer.write(() => this.repo.softDeleteItem(id, Date.now()));
    if (!removed) throw problems.notFound("item_not_found", "no such item");
    await this.cache.bump(mainNamespace);
  }

  // ---------------------------------------------------------------------------------------------
  // Reviews

  reviews(itemId: string, query: ReviewListQuery): ReviewPage {
    if (!this.repo.item(itemId)) throw problems.notFound("item_not_found", "no such item");
    const page = query.page ?? 1;
    const size = query.size ?? 10;
    const rows = this.repo.reviewsOfItem(itemId, query.sort ?? "NEWEST", size, (page - 1) * size);
    return { items: rows.map(toReview), page, size, total: this.repo.countReviews(itemId) };
  }

  async createReview(principal: Principal, itemId: string, body: CreateReviewBody): Promise<Review> {
    const content = body.content.trim();
    if (content === "") throw problems.unprocessable("blank_content", "the review must not be blank", [{ field: "/content", message: "blank" }]);
    const now = Date.now();
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
    await this.writer.write(() => {
      if (!this.repo.item(itemId)) throw problems.notFound("item_not_found", "no such item");
      const bought = this.repo.reviewable(body.orderItemId);
      // Someone else's order item is "not found" for this caller.
      if (!bought || bought.user_id !== principal.userId) throw problems.notFound("order_item_not_found", "no such order item among your orders");
      if (bought.item_id !== itemId) throw problems.unprocessable("order_item_mismatch", "that order item is another item", [{ field: "/orderItemId", message: "not this item" }]);
      if (!reviewableStatuses.has(bought.status) || bought.paid_at === null || bought.refunded_quantity >= bought.quantity) {
        throw problems.forbidden("not_a_buyer", "only a buyer of a paid, non-refunded order may review the item");
      }
      if (this.repo.reviewOfOrderItemExists(body.orderItemId)) throw problems.conflict("already_reviewed", "this order item already has a review");
      this.repo.insertReview(row);
      this.repo.addReviewStats(itemId, 1, body.stars);
    });
    return toReview(row);
  }

  async updateReview(principal: Principal, id: string, patch: UpdateReviewBody): Promise<Review> {
    const content = patch.content?.trim();
    if (content === "") throw problems.unprocessable("blank_content", "the review must not be blank", [{ field: "/content", message: "blank" }]);
    const row = await this.writer.write(() => {
      const current = this.repo.review(id);
      if (!current || current.user_id !== principal.userId) throw problems.notFound("review_not_found", "no such review of yours");
      const stars = patch.stars ?? current.stars;
      const now = Date.now();
      this.repo.updateReview(id, stars, content ?? current.content, now);
      this.repo.addReviewStats(current.item_id, 0, stars - current.stars);
      return { ...current, stars, content: content ?? current.content, updated_at: now };
    });
    return toReview(row);
  }

  async deleteReview(principal: Principal, id: string): Promise<void> {
    await this.writer.write(() => {
      const current = this.repo.review(id);
      if (!current || current.user_id !== principal.userId) throw problems.notFound("review_not_found", "no such review of yours");
      this.repo.deleteReview(id);
      this.repo.addReviewStats(current.item_id, -1, -current.stars);
    });
  }
}
