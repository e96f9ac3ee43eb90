// Catalog use cases: item search and detail, the cached main page, unique visitors and admin
// item management. No HTTP here: refusals are ShopErrors.
import { LRUCache } from "lru-cache";
import type { CacheAside } from "../../platform/cache/cache-aside";
import { ResponseCache, type StoredBody } from "../../platform/cache/response";
import type { Clock } from "../../platform/clock";
import { fieldRefusal, ShopError, shopErrors } from "./errors";
import { type Category, type CreateItemBody, type Item, type ItemDetail, type ItemListQuery, type ItemPage, MainPage, type UpdateItemBody } from "./model";
import { discountPriceOf } from "./pricing";
import type { CatalogStore, ItemRow } from "./store";
import type { Visitors } from "./visitors";
import { toItem } from "./views";

/** The cache name in homebase_cache_requests_total. */
export const mainCacheName = "shop_main";
const mainNamespace = "shop:main";
const mainListSize = 10;

export interface CatalogSettings {
  mainTtlMs: number;
}

/** Seed import: an item with the sales and review history it had elsewhere. */
export interface ImportedItem extends CreateItemBody {
  salesCount?: number;
  reviewCount?: number;
  starSum?: number;
}


export class CatalogService {
  /**
   * Search totals by catalog version and filters. A total only changes with a catalog write
   * (which bumps the version in the same transaction), not with sales or stock, so this is
   * exact on every instance that reads the same database.
   */
  private readonly totals = new LRUCache<string, number>({ max: 10_000 });
  private readonly responses: ResponseCache;

  constructor(
    private readonly store: CatalogStore,
    private readonly visitors: Visitors,
    private readonly cache: CacheAside,
    private readonly clock: Clock,
    private readonly settings: CatalogSettings,
  ) {
    this.responses = new ResponseCache(cache);
  }

  // ---------------------------------------------------------------------------------------------
  // Reads

  async search(query: ItemListQuery): Promise<ItemPage> {
    if (query.minPrice !== undefined && query.maxPrice !== undefined && query.minPrice > query.maxPrice) {
      throw fieldRefusal(shopErrors.invalidPriceRange, "minPrice is above maxPrice", "/maxPrice", "must not be below minPrice");
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
    const rows = await this.store.search(filter, query.sort ?? "SALES", size, (page - 1) * size);
    const key = `${await this.store.version()}|${JSON.stringify(filter)}`;
    let total = this.totals.get(key);
    if (total === undefined) {
      total = await this.store.count(filter);
      this.totals.set(key, total);
    }
    return { items: rows.map(toItem), page, size, total };
  }

  async main(): Promise<MainPage> {
    return JSON.parse(await (await this.mainBody()).body.text()) as MainPage;
  }

  /**
   * Top sellers and top discounts as the response body, cache-aside (HOMEBASE_SHOP_MAIN_TTL_MS);
   * item changes bump the cache generation. Checked against MainPage and serialized once when
   * stored, so a hit is served as the stored bytes: no parse, no response validation, no
   * serialisation of 20 items per request.
   */
  mainBody(): StoredBody | Promise<StoredBody> {
    const load = async (): Promise<MainPage> => ({
      topSellers: (await this.store.topSellers(mainListSize)).map(toItem),
      topDiscounts: (await this.store.topDiscounts(mainListSize)).map(toItem),
    });
    if (this.settings.mainTtlMs === 0) return load().then((page) => this.responses.once(MainPage, page, mainCacheName));
    return this.responses.versioned(mainCacheName, mainNamespace, "", this.settings.mainTtlMs, MainPage, async () => ({ value: await load() }));
  }

  /** One item; counts the caller (by IP, null when unknown) as today's visitor of it. */
  async detail(id: string, visitor: string | null): Promise<ItemDetail> {
    const row = await this.store.item(id);
    if (!row) throw new ShopError(shopErrors.itemNotFound, "no such item");
    const visitorsToday = await this.visitors.record(id, visitor, this.clock.now());
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
    const now = this.clock.now();
    const items = bodies.map((body, i): { row: ItemRow; categories: Category[] } => {
      const rate = body.discountRate ?? 0;
      const discount = discountPriceOf(body.price, rate);
      return {
        categories: body.categories,
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
    await this.store.insertItems(items);
    await this.cache.bump(mainNamespace);
    return items.map(({ row }) => toItem(row));
  }

  async update(id: string, patch: UpdateItemBody): Promise<Item> {
    const name = patch.name?.trim();
    const brand = patch.brand?.trim();
    const now = this.clock.now();
    const revise = (current: ItemRow): ItemRow => {
      const price = patch.price ?? current.price;
      const rate = patch.discountRate ?? current.discount_rate;
      const discount = discountPriceOf(price, rate);
      return {
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
        updated_at: now,
      };
    };
    const out = await this.store.updateItem(id, revise, patch.categories ?? null, patch.stockDelta ?? 0);
    if (!out.ok && out.reason === "not_found") throw new ShopError(shopErrors.itemNotFound, "no such item");
    if (!out.ok) throw new ShopError(shopErrors.insufficientStock, `the stock is ${out.stock}; it cannot go below 0`);
    await this.cache.bump(mainNamespace);
    return toItem(out.item);
  }

  /** Soft delete: orders and reviews keep referring to it; it leaves every cart. */
  async remove(id: string): Promise<void> {
    if (!(await this.store.removeItem(id, this.clock.now()))) throw new ShopError(shopErrors.itemNotFound, "no such item");
    await this.cache.bump(mainNamespace);
  }
}
