// Cart routes: the caller's one-time and subscription carts, their lines, and checkout.
import { Elysia, t } from "elysia";
import { authPlugin, type AccountsService } from "../../accounts";
import type { CartsService } from "../carts";
import { shopErrors } from "../errors";
import {
  AddNormalCartItemBody,
  AddSubscriptionCartItemBody,
  Cart,
  CartItemParams,
  CheckoutBody,
  Order,
  UpdateNormalCartItemBody,
  UpdateSubscriptionCartItemBody,
} from "../model";
import type { OrdersService } from "../orders";
import { errors, handled, tags } from "./http";

const addErrors = errors(400, 401, 422, shopErrors.itemNotFound, shopErrors.alreadyInCart);
const lineErrors = errors(400, 401, 422, shopErrors.cartItemNotFound);
const checkoutErrors = errors(
  400,
  401,
  422,
  shopErrors.cartItemNotFound,
  shopErrors.cartEmpty,
  shopErrors.itemNotFound,
  shopErrors.outOfStock,
  shopErrors.unpaidOrderLimit,
  shopErrors.unpaidQuantityLimit,
);

export function cartRoutes(carts: CartsService, orders: OrdersService, accounts: AccountsService) {
  const removed = { 204: t.Void(), ...errors(401, 422, shopErrors.cartItemNotFound) };
  return new Elysia({ name: "homebase.shop.carts" })
    .use(authPlugin(accounts))
    .get("/carts/normal", ({ principal }) => carts.cart(principal, "NORMAL"), {
      auth: true,
      response: { 200: Cart, ...errors(401) },
      detail: {
        tags,
        summary: "Your one-time cart",
        description: "Totals in KRW: total = Σ qty × price, discount = Σ qty × discountPrice, expected = total − discount.",
      },
    })
    .get("/carts/subscription", ({ principal }) => carts.cart(principal, "SUBSCRIPTION"), {
      auth: true,
      response: { 200: Cart, ...errors(401) },
      detail: { tags, summary: "Your subscription cart" },
    })
    .post(
      "/carts/normal/items",
      async ({ principal, body, status }) => status(201, await handled(() => carts.add(principal, "NORMAL", body))),
      {
        auth: true,
        body: AddNormalCartItemBody,
        response: { 201: Cart, ...addErrors },
        detail: { tags, summary: "Add an item to your one-time cart", description: "409 already_in_cart when it is there already." },
      },
    )
    .post(
      "/carts/subscription/items",
      async ({ principal, body, status }) => status(201, await handled(() => carts.add(principal, "SUBSCRIPTION", body))),
      {
        auth: true,
        body: AddSubscriptionCartItemBody,
        response: { 201: Cart, ...addErrors },
        detail: {
          tags,
          summary: "Add an item to your subscription cart",
          description: "periodDays 30–180. 409 already_in_cart when it is there already.",
        },
      },
    )
    .patch("/carts/normal/items/:id", ({ principal, params, body }) => handled(() => carts.update(principal, "NORMAL", params.id, body)), {
      auth: true,
      params: CartItemParams,
      body: UpdateNormalCartItemBody,
      response: { 200: Cart, ...lineErrors },
      detail: { tags, summary: "Change a line's quantity (one-time cart)" },
    })
    .patch(
      "/carts/subscription/items/:id",
      ({ principal, params, body }) => handled(() => carts.update(principal, "SUBSCRIPTION", params.id, body)),
      {
        auth: true,
        params: CartItemParams,
        body: UpdateSubscriptionCartItemBody,
        response: { 200: Cart, ...lineErrors },
        detail: { tags, summary: "Change a line's quantity or period (subscription cart)" },
      },
    )
    .delete(
      "/carts/normal/items/:id",
      async ({ principal, params, status }) => {
        await handled(() => carts.remove(principal, "NORMAL", params.id));
        return status(204, undefined);
      },
      { auth: true, params: CartItemParams, response: removed, detail: { tags, summary: "Remove a line (one-time cart)" } },
    )
    .delete(
      "/carts/subscription/items/:id",
      async ({ principal, params, status }) => {
        await handled(() => carts.remove(principal, "SUBSCRIPTION", params.id));
        return status(204, undefined);
      },
      { auth: true, params: CartItemParams, response: removed, detail: { tags, summary: "Remove a line (subscription cart)" } },
    )
    .post(
      "/carts/normal/checkout",
      async ({ principal, body, status }) => status(201, await handled(() => orders.checkout(principal, "NORMAL", body))),
      {
        auth: true,
        body: CheckoutBody,
        response: { 201: Order, ...checkoutErrors },
        detail: {
          tags,
          summary: "Order your one-time cart",
          description:
            "The whole cart, or the lines in cartItemIds. Stock is reserved now (409 out_of_stock); the lines leave the cart when the order is paid.",
        },
      },
    )
    .post(
      "/carts/subscription/checkout",
      async ({ principal, body, status }) => status(201, await handled(() => orders.checkout(principal, "SUBSCRIPTION", body))),
      {
        auth: true,
        body: CheckoutBody,
        response: {
          201: Order,
          ...errors(
            400,
            401,
            422,
            shopErrors.cartItemNotFound,
            shopErrors.cartEmpty,
            shopErrors.itemNotFound,
            shopErrors.outOfStock,
            shopErrors.unpaidOrderLimit,
            shopErrors.unpaidQuantityLimit,
            shopErrors.mixedPeriods,
          ),
        },
        detail: {
          tags,
          summary: "Order your subscription cart",
          description: "All ordered lines must share one period (422 mixed_periods).",
        },
      },
    );
}
