// The shop's store ports, one per aggregate, and the SQLite set of them. Each port method is one
// use-case unit with its transaction inside; the events a change emits are recorded in the
// outbox in that transaction.
import type { Database } from "bun:sqlite";
import type { GroupCommitWriter } from "../../../platform/db/sqlite";
import type { ShopEventSink } from "../events";
import type { CartStore } from "./cart";
import { SqliteCartStore } from "./cart.sqlite";
import type { CatalogStore } from "./catalog";
import { SqliteCatalogStore } from "./catalog.sqlite";
import type { OrderStore } from "./order";
import { SqliteOrderStore } from "./order.sqlite";
import type { ReviewStore } from "./review";
import { SqliteReviewStore } from "./review.sqlite";
import type { SubscriptionStore } from "./subscription";
import { SqliteSubscriptionStore } from "./subscription.sqlite";

export type { CartLineRow, CartStore, NewCartLine } from "./cart";
export type { CatalogStore, ItemFilter, ItemRow, ItemUpdate } from "./catalog";
export type {
  NewOrder,
  OrderDetail,
  OrderItemRow,
  OrderRow,
  OrderStore,
  PaidOrder,
  PaymentRow,
  Placement,
  Refund,
  RefundLine,
} from "./order";
export type { ReviewableRow, ReviewRefusal, ReviewRow, ReviewStore } from "./review";
export type {
  ChargeRow,
  CycleRow,
  DeclinedCycle,
  NewSubscription,
  NoticeDue,
  NotificationRecord,
  PaidCycle,
  PreparedCharge,
  SubscriptionDetail,
  SubscriptionRow,
  SubscriptionStore,
} from "./subscription";

export interface ShopStores {
  catalog: CatalogStore;
  reviews: ReviewStore;
  carts: CartStore;
  orders: OrderStore;
  subscriptions: SubscriptionStore;
}

export function sqliteStores(db: Database, writer: GroupCommitWriter, events: ShopEventSink): ShopStores {
  return {
    catalog: new SqliteCatalogStore(db, writer),
    reviews: new SqliteReviewStore(db, writer),
    carts: new SqliteCartStore(db, writer),
    orders: new SqliteOrderStore(db, writer, events),
    subscriptions: new SqliteSubscriptionStore(db, writer, events),
  };
}
