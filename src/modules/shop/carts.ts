// Carts: each user has a one-time cart and a subscription cart. Totals in KRW: total =
// Σ qty × price, discount = Σ qty × discount, expected = total − discount. Adding an item
// already in the cart is refused. No HTTP here: refusals are ShopErrors.
import type { Clock } from "../../platform/clock";
import type { Principal } from "../accounts";
import { ShopError, shopErrors } from "./errors";
import type { Cart, OrderKind } from "./model";
import type { CartStore } from "./store";
import { toCartItem } from "./views";

const lineNotFound = () => new ShopError(shopErrors.cartItemNotFound, "no such line in this cart");

export class CartsService {
  constructor(
    private readonly store: CartStore,
    private readonly clock: Clock,
  ) {}

  async cart(principal: Principal, kind: OrderKind): Promise<Cart> {
    const items = (await this.store.lines(principal.userId, kind)).map(toCartItem);
    const total = items.reduce((a, i) => a + i.total, 0);
    const discount = items.reduce((a, i) => a + i.discount, 0);
    return { kind, items, total, discount, expected: total - discount };
  }

  async add(principal: Principal, kind: OrderKind, body: { itemId: string; quantity: number; periodDays?: number }): Promise<Cart> {
    const added = await this.store.add({
      id: Bun.randomUUIDv7(),
      user_id: principal.userId,
      kind,
      item_id: body.itemId,
      quantity: body.quantity,
      period_days: kind === "SUBSCRIPTION" ? body.periodDays! : null,
      created_at: this.clock.now(),
    });
    if (added === "item_not_found") throw new ShopError(shopErrors.itemNotFound, "no such item");
    if (added === "already_in_cart")
      throw new ShopError(shopErrors.alreadyInCart, "the item is already in this cart; change its quantity instead");
    return this.cart(principal, kind);
  }

  async update(principal: Principal, kind: OrderKind, id: string, patch: { quantity?: number; periodDays?: number }): Promise<Cart> {
    if (!(await this.store.update(id, principal.userId, kind, patch, this.clock.now()))) throw lineNotFound();
    return this.cart(principal, kind);
  }

  async remove(principal: Principal, kind: OrderKind, id: string): Promise<void> {
    if (!(await this.store.remove(id, principal.userId, kind))) throw lineNotFound();
  }
}
