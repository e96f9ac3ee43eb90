// Catalog schemas: items, search, the main page, admin item bodies.
import { t, type Static } from "elysia";
import { nonBlank } from "../../../platform/http/schemas";
import { categories, itemSorts, id, won, Timestamp, outId, Page } from "./common";

export const exampleItem = {
  id: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2b01",
  name: "Lutein Gold 20 mg, 90 capsules",
  brand: "NutriCore",
  price: 32_000,
  discountRate: 15,
  discountPrice: 4_800,
  salePrice: 27_200,
  stock: 120,
  categories: ["EYE", "ANTIOXIDANT"],
  nutrients: ["Lutein 20 mg", "Zeaxanthin 4 mg"],
  description: "Marigold-extract lutein for eye health.",
  imageUrl: "https://images.example.com/items/lutein-gold.jpg",
  salesCount: 1_204,
  reviewCount: 87,
  averageStars: 4.6,
  createdAt: "2026-11-22T10:00:00.000Z",
  updatedAt: "2026-11-22T10:00:00.000Z",
};

export const Item = t.Object(
  {
    id: outId(),
    name: t.String(),
    brand: t.String(),
    price: won("List price per unit"),
    discountRate: t.Integer({ minimum: 0, maximum: 90, description: "Percent off the list price" }),
    discountPrice: won("Amount off per unit: price × discountRate / 100, rounded down"),
    salePrice: won("What the buyer pays per unit: price − discountPrice"),
    stock: t.Integer({ minimum: 0 }),
    categories: t.Array(t.UnionEnum(categories)),
    nutrients: t.Array(t.String()),
    description: t.String(),
    imageUrl: t.Union([t.String(), t.Null()]),
    salesCount: t.Integer({ minimum: 0 }),
    reviewCount: t.Integer({ minimum: 0 }),
    averageStars: t.Number({ minimum: 0, maximum: 5, description: "One decimal; 0 without reviews" }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { examples: [exampleItem] },
);
export type Item = Static<typeof Item>;

export const ItemDetail = t.Object(
  {
    ...Item.properties,
    visitorsToday: t.Integer({
      minimum: 0,
      description: "Unique visitors (by client IP) today, UTC; approximate (HyperLogLog) with Redis",
    }),
  },
  { examples: [{ ...exampleItem, visitorsToday: 42 }] },
);
export type ItemDetail = Static<typeof ItemDetail>;

export const ItemListQuery = t.Object({
  keyword: t.Optional(t.String({ minLength: 1, maxLength: 100, description: "Contained in the name or brand (case-insensitive)" })),
  // default: undefined — without it Elysia fills a missing optional enum with its first value.
  category: t.Optional(t.UnionEnum(categories, { default: undefined })),
  brand: t.Optional(t.String({ minLength: 1, maxLength: 50, description: "Exact brand, case-insensitive" })),
  minPrice: t.Optional(t.Integer({ minimum: 0, description: "Lowest salePrice" })),
  maxPrice: t.Optional(t.Integer({ minimum: 0, description: "Highest salePrice" })),
  onSale: t.Optional(t.Boolean({ description: "Only discounted items" })),
  sort: t.Optional(t.UnionEnum(itemSorts, { default: "SALES", description: "PRICE_H/PRICE_L order by salePrice" })),
  page: Page,
  size: t.Optional(t.Integer({ minimum: 1, maximum: 100, default: 8 })),
});
export type ItemListQuery = Static<typeof ItemListQuery>;

export const ItemPage = t.Object({
  items: t.Array(Item),
  page: t.Integer({ minimum: 1 }),
  size: t.Integer({ minimum: 1 }),
  total: t.Integer({ minimum: 0, description: "Items matching the filters" }),
});
export type ItemPage = Static<typeof ItemPage>;

export const MainPage = t.Object({
  topSellers: t.Array(Item, { description: "Most sold first" }),
  topDiscounts: t.Array(Item, { description: "Highest discount rate first" }),
});
export type MainPage = Static<typeof MainPage>;

// Non-blank: a name or brand of spaces is refused by validation (422 naming the field).
const ItemName = nonBlank({ maxLength: 100, examples: [exampleItem.name] });
const Brand = nonBlank({ maxLength: 50, examples: [exampleItem.brand] });
const Price = t.Integer({ minimum: 1, maximum: 100_000_000, description: "List price per unit (KRW)", examples: [32_000] });
const DiscountRate = t.Integer({ minimum: 0, maximum: 90, description: "Percent", examples: [15] });
const Categories = t.Array(t.UnionEnum(categories), {
  minItems: 1,
  maxItems: categories.length,
  uniqueItems: true,
  examples: [["EYE", "ANTIOXIDANT"]],
});
const Nutrients = t.Array(t.String({ minLength: 1, maxLength: 100 }), { maxItems: 30, examples: [exampleItem.nutrients] });
const ItemDescription = t.String({ maxLength: 5_000 });
const ImageUrl = t.String({ format: "uri", maxLength: 500, examples: [exampleItem.imageUrl] });

export const CreateItemBody = t.Object(
  {
    name: ItemName,
    brand: Brand,
    price: Price,
    discountRate: t.Optional(DiscountRate),
    stock: t.Integer({ minimum: 0, maximum: 1_000_000_000 }),
    categories: Categories,
    nutrients: t.Optional(Nutrients),
    description: t.Optional(ItemDescription),
    imageUrl: t.Optional(ImageUrl),
  },
  {
    examples: [
      {
        name: exampleItem.name,
        brand: exampleItem.brand,
        price: 32_000,
        discountRate: 15,
        stock: 120,
        categories: ["EYE", "ANTIOXIDANT"],
        nutrients: exampleItem.nutrients,
        description: exampleItem.description,
        imageUrl: exampleItem.imageUrl,
      },
    ],
  },
);
export type CreateItemBody = Static<typeof CreateItemBody>;

export const UpdateItemBody = t.Object(
  {
    name: t.Optional(ItemName),
    brand: t.Optional(Brand),
    price: t.Optional(Price),
    discountRate: t.Optional(DiscountRate),
    stockDelta: t.Optional(
      t.Integer({
        minimum: -1_000_000_000,
        maximum: 1_000_000_000,
        description: "Added to the stock (negative to write off); the stock never goes below 0 (409)",
      }),
    ),
    categories: t.Optional(Categories),
    nutrients: t.Optional(Nutrients),
    description: t.Optional(ItemDescription),
    imageUrl: t.Optional(t.Union([ImageUrl, t.Null()])),
  },
  { minProperties: 1, examples: [{ discountRate: 20, stockDelta: 50 }] },
);
export type UpdateItemBody = Static<typeof UpdateItemBody>;

export const ItemIdParams = t.Object({ id: id() });
