// Cart schemas.
import { t, type Static } from "elysia";
import { orderKinds, id, won, outId, Quantity, PeriodDays } from "./common";
import { exampleItem } from "./catalog";

export const CartItem = t.Object({
  id: outId("The cart line"),
  itemId: outId(),
  name: t.String(),
  brand: t.String(),
  imageUrl: t.Union([t.String(), t.Null()]),
  price: won("List price per unit"),
  discountPrice: won("Amount off per unit"),
  salePrice: won("Price per unit after the discount"),
  stock: t.Integer({ minimum: 0 }),
  quantity: t.Integer({ minimum: 1 }),
  periodDays: t.Union([t.Integer(), t.Null()], { description: "Subscription cart only" }),
  total: won("quantity × price"),
  discount: won("quantity × discountPrice"),
  expected: won("total − discount"),
});
export type CartItem = Static<typeof CartItem>;

export const Cart = t.Object(
  {
    kind: t.UnionEnum(orderKinds),
    items: t.Array(CartItem),
    total: won("Σ quantity × price"),
    discount: won("Σ quantity × discountPrice"),
    expected: won("total − discount: what an order of the whole cart charges"),
  },
  { examples: [{ kind: "NORMAL", items: [], total: 64_000, discount: 9_600, expected: 54_400 }] },
);
export type Cart = Static<typeof Cart>;

export const AddNormalCartItemBody = t.Object(
  { itemId: id(), quantity: Quantity },
  { examples: [{ itemId: exampleItem.id, quantity: 2 }] },
);
export const AddSubscriptionCartItemBody = t.Object(
  { itemId: id(), quantity: Quantity, periodDays: PeriodDays },
  { examples: [{ itemId: exampleItem.id, quantity: 1, periodDays: 30 }] },
);
export const UpdateNormalCartItemBody = t.Object({ quantity: Quantity }, { examples: [{ quantity: 3 }] });
export const UpdateSubscriptionCartItemBody = t.Object(
  { quantity: t.Optional(Quantity), periodDays: t.Optional(PeriodDays) },
  { minProperties: 1, examples: [{ periodDays: 60 }] },
);
export const CartItemParams = t.Object({ id: id("The cart line id") });

export const CheckoutBody = t.Object(
  {
    cartItemIds: t.Optional(
      t.Array(id(), { minItems: 1, maxItems: 50, uniqueItems: true, description: "Cart lines to order; the whole cart when omitted" }),
    ),
  },
  { examples: [{}] },
);
export type CheckoutBody = Static<typeof CheckoutBody>;
