// Catalog routes: search, the cached main page, item detail (counts the visitor) and admin item management.
import { Elysia, t } from "elysia";
import type { ClientIpResolver } from "../../../platform/http/client-ip";
import { storedResponse } from "../../../platform/http/compression";
import { authPlugin, type AccountsService } from "../../accounts";
import type { CatalogService } from "../catalog";
import { shopErrors } from "../errors";
import { CreateItemBody, Item, ItemDetail, ItemIdParams, ItemListQuery, ItemPage, MainPage, UpdateItemBody } from "../model";
import { errors, handled, tags } from "./http";

export function catalogRoutes(catalog: CatalogService, accounts: AccountsService, clientIp: ClientIpResolver) {
  return (
    new Elysia({ name: "homebase.shop.catalog" })
      .use(authPlugin(accounts))
      .get("/items", ({ query }) => handled(() => catalog.search(query)), {
        query: ItemListQuery,
        response: { 200: ItemPage, ...errors(422, shopErrors.invalidPriceRange) },
        detail: {
          tags,
          summary: "Search the catalog",
          description:
            "Filters combine: keyword (name or brand), category, brand, minPrice/maxPrice (salePrice), onSale. Sorts: SALES (default), PRICE_H/PRICE_L (salePrice), DISCOUNT_RATE_H/L, REVIEW_COUNT. Pages of `size` (default 8).",
        },
      })
      // Declared before /items/:id so the static segment is never read as an id.
      // The stored bytes (checked against MainPage when stored): ETag/304, gzip/br.
      .get(
        "/items/main",
        ({ request, set }) => storedResponse(request, catalog.mainBody(), { cacheControl: "no-cache", set }),
        {
          response: { 200: MainPage },
          detail: {
            tags,
            summary: "Main page: top sellers and top discounts",
            description:
              "Cached (HOMEBASE_SHOP_MAIN_TTL_MS, default 60 s); item changes show at once. A strong ETag (If-None-Match → 304 Not Modified, no body; Cache-Control: no-cache); gzip or brotli when Accept-Encoding allows (Vary: Accept-Encoding).",
          },
        },
      )
      .get("/items/:id", ({ params, request }) => handled(() => catalog.detail(params.id, clientIp(request))), {
        params: ItemIdParams,
        response: { 200: ItemDetail, ...errors(422, shopErrors.itemNotFound) },
        detail: { tags, summary: "One item", description: "Counts the caller (by IP) as one of today's unique visitors of the item." },
      })
      .post("/items", async ({ body, status }) => status(201, await handled(() => catalog.create(body))), {
        admin: true,
        body: CreateItemBody,
        response: { 201: Item, ...errors(400, 401, 403, 422) },
        detail: {
          tags,
          summary: "Create an item (admin)",
          description: "discountPrice = price × discountRate / 100 (rounded down); salePrice = price − discountPrice.",
        },
      })
      .patch("/items/:id", ({ params, body }) => handled(() => catalog.update(params.id, body)), {
        admin: true,
        params: ItemIdParams,
        body: UpdateItemBody,
        response: {
          200: Item,
          ...errors(400, 401, 403, 422, shopErrors.itemNotFound, shopErrors.insufficientStock),
        },
        detail: {
          tags,
          summary: "Update an item (admin)",
          description: "stockDelta adds to the stock atomically (409 if it would go below 0).",
        },
      })
      .delete(
        "/items/:id",
        async ({ params, status }) => {
          await handled(() => catalog.remove(params.id));
          return status(204, undefined);
        },
        {
          admin: true,
          params: ItemIdParams,
          response: { 204: t.Void(), ...errors(401, 403, 422, shopErrors.itemNotFound) },
          detail: {
            tags,
            summary: "Delete an item (admin)",
            description: "Soft delete: it leaves the catalog and every cart; orders and reviews keep it.",
          },
        },
      )
  );
}
