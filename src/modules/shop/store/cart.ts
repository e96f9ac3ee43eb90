// The cart store: each user's one-time and subscription cart (implicit: their lines). SQLite
// implementation: cart.sqlite.ts.
import type { OrderKind } from "../model";

/** A cart line with the live item it holds. */
export interface CartLineRow {
  id: string;
  user_id: string;
  kind: OrderKind;
  item_id: string;
  quantity: number;
  period_days: number | null;
  created_at: number;
  name: string;
  brand: string;
  image_url: string | null;
  price: number;
  discount_price: number;
  sale_price: number;
  stock: number;
}

export interface NewCartLine {
  id: string;
  user_id: string;
  kind: OrderKind;
  item_id: string;
  quantity: number;
  period_days: number | null;
  created_at: number;
}

export interface CartStore {
  /** The lines of one cart whose items are live, oldest first. */
  lines(userId: string, kind: OrderKind): Promise<CartLineRow[]>;
  /** Adds the line if its item is live and not in that cart yet. */
  add(line: NewCartLine): Promise<"added" | "item_not_found" | "already_in_cart">;
  /** Changes a line of the user's cart (a subscription line keeps its period unless given); false when there is none. */
  update(id: string, userId: string, kind: OrderKind, patch: { quantity?: number; periodDays?: number }, now: number): Promise<boolean>;
  remove(id: string, userId: string, kind: OrderKind): Promise<boolean>;
  /** Paid items leave the cart they were ordered from. Inside the caller's transaction (an event consumer's apply). */
  removeItems(userId: string, kind: OrderKind, itemIds: readonly string[]): void;
  /** A deleted account's carts. Inside the caller's transaction (an event consumer's apply). */
  clearUser(userId: string): void;
}
