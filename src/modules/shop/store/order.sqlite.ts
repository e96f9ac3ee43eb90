// The order store on SQLite. The stock it reserves and releases is in shop_items, and the first
// payment of a subscription order inserts its shop_subscriptions row: same database, same
// transaction as the order change.
import type { Database } from "bun:sqlite";
import type { GroupCommitWriter } from "../../../platform/db/sqlite";
import type { ShopEvent, ShopEventSink } from "../events";
import type { OrderStatus } from "../model";
import { totalsOf } from "../pricing";
import type { ItemRow } from "./catalog";
import type {
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
import { record, writeOr } from "./tx";

interface RefundRow {
  id: string;
  order_id: string;
  seq: number;
  amount: number;
  items: string;
  status: "PENDING" | "DONE";
  created_at: number;
}

const toRefund = ({ items, ...row }: RefundRow): Refund => ({ ...row, lines: JSON.parse(items) as RefundLine[] });

/** A user's unpaid orders of the reservation window and the units they hold (the per-user caps). */
export const unpaidOfSql = `SELECT COUNT(DISTINCT o.id) AS orders, COALESCE(SUM(i.quantity), 0) AS units
  FROM shop_orders o LEFT JOIN shop_order_items i ON i.order_id = o.id
  WHERE o.user_id = ? AND o.status = 'REQUEST' AND o.created_at >= ?`;

export class SqliteOrderStore implements OrderStore {
  private readonly q;

  constructor(
    db: Database,
    private readonly writer: GroupCommitWriter,
    private readonly events: ShopEventSink,
  ) {
    this.q = {
      order: db.query<OrderRow, [string]>("SELECT * FROM shop_orders WHERE id = ?"),
      items: db.query<OrderItemRow, [string]>("SELECT * FROM shop_order_items WHERE order_id = ? ORDER BY id"),
      subscriptionId: db.query<{ id: string }, [string]>("SELECT id FROM shop_subscriptions WHERE order_id = ?"),
      ofUser: db.query<OrderRow, [string, string, string, number, number]>(
        "SELECT * FROM shop_orders WHERE user_id = ? AND (? = '' OR status = ?) ORDER BY id DESC LIMIT ? OFFSET ?",
      ),
      countOfUser: db.query<{ n: number }, [string, string, string]>(
        "SELECT COUNT(*) AS n FROM shop_orders WHERE user_id = ? AND (? = '' OR status = ?)",
      ),
      unpaidOf: db.query<{ orders: number; units: number }, [string, number]>(unpaidOfSql),
      itemsByIds: db.query<ItemRow, [string]>(
        "SELECT * FROM shop_items WHERE id IN (SELECT value FROM json_each(?)) AND deleted_at IS NULL",
      ),
      // Compare-and-decrement: the reservation that makes oversell impossible.
      reserve: db.query<unknown, [number, string, number]>(
        "UPDATE shop_items SET stock = stock - ? WHERE id = ? AND deleted_at IS NULL AND stock >= ?",
      ),
      release: db.query<unknown, [number, string]>("UPDATE shop_items SET stock = stock + ? WHERE id = ?"),
      insertOrder: db.query(
        `INSERT INTO shop_orders (id, user_id, kind, status, from_cart, period_days, total, discount, amount, created_at, updated_at)
         VALUES ($id, $user_id, $kind, $status, $from_cart, $period_days, $total, $discount, $amount, $created_at, $updated_at)`,
      ),
      insertItem: db.query(
        `INSERT INTO shop_order_items (id, order_id, item_id, name, price, discount_price, quantity)
         VALUES ($id, $order_id, $item_id, $name, $price, $discount_price, $quantity)`,
      ),
      startPayment: db.query<unknown, [string, string, number, number, string]>(
        `UPDATE shop_orders SET tid = ?, checkout_url = ?, checkout_at = ?, ready_count = ready_count + 1, updated_at = ?
         WHERE id = ? AND status = 'REQUEST'`,
      ),
      clearTid: db.query<unknown, [number, string, string]>(
        "UPDATE shop_orders SET tid = NULL, checkout_url = NULL, checkout_at = NULL, updated_at = ? WHERE id = ? AND tid = ? AND status = 'REQUEST'",
      ),
      markPaid: db.query<unknown, [string, number, number, string, string]>(
        "UPDATE shop_orders SET status = ?, paid_at = ?, updated_at = ? WHERE id = ? AND status = 'REQUEST' AND tid = ?",
      ),
      setStatus: db.query<unknown, [string, number, string, string]>(
        "UPDATE shop_orders SET status = ?, updated_at = ? WHERE id = ? AND status = ?",
      ),
      expired: db.query<{ id: string }, [number, number]>(
        "SELECT id FROM shop_orders WHERE status = 'REQUEST' AND created_at < ? ORDER BY created_at LIMIT ?",
      ),
      addRefunded: db.query<unknown, [number, number, string]>(
        "UPDATE shop_orders SET refunded_amount = refunded_amount + ?, updated_at = ? WHERE id = ?",
      ),
      refundItem: db.query<unknown, [number, string, number]>(
        "UPDATE shop_order_items SET refunded_quantity = refunded_quantity + ? WHERE id = ? AND refunded_quantity + ? <= quantity",
      ),
      insertPayment: db.query(
        `INSERT INTO shop_payments (id, order_id, subscription_id, cycle, type, amount, tid, aid, idempotency_key, created_at)
         VALUES ($id, $order_id, $subscription_id, $cycle, $type, $amount, $tid, $aid, $idempotency_key, $created_at)
         ON CONFLICT (idempotency_key) DO NOTHING`,
      ),
      pendingRefund: db.query<RefundRow, [string]>(
        "SELECT id, order_id, seq, amount, items, status, created_at FROM shop_refunds WHERE order_id = ? AND status = 'PENDING'",
      ),
      nextRefundSeq: db.query<{ seq: number }, [string]>("SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM shop_refunds WHERE order_id = ?"),
      insertRefund: db.query(
        `INSERT INTO shop_refunds (id, order_id, seq, amount, items, status, created_at)
         VALUES ($id, $order_id, $seq, $amount, $items, 'PENDING', $created_at)`,
      ),
      deleteRefund: db.query<unknown, [string]>("DELETE FROM shop_refunds WHERE id = ? AND status = 'PENDING'"),
      refundDone: db.query<unknown, [number, string]>(
        "UPDATE shop_refunds SET status = 'DONE', done_at = ? WHERE id = ? AND status = 'PENDING'",
      ),
      insertSubscription: db.query(
        `INSERT INTO shop_subscriptions (id, user_id, order_id, sid, status, period_days, amount, paid_cycles, last_paid_on, next_payment_on,
           charge_on, declines, created_at, updated_at)
         VALUES ($id, $user_id, $order_id, $sid, 'ACTIVE', $period_days, $amount, 1, $last_paid_on, $next_payment_on, $next_payment_on, 0,
           $created_at, $created_at)`,
      ),
    };
  }

  private detailOf(order: OrderRow): OrderDetail {
    return {
      order,
      items: this.q.items.all(order.id),
      // A recurring charge's order names its subscription; the first order is the one a subscription started from.
      subscriptionId: order.subscription_id ?? this.q.subscriptionId.get(order.id)?.id ?? null,
    };
  }

  private emit(events: readonly ShopEvent[]): void {
    record(this.events, events);
  }

  async order(id: string): Promise<OrderRow | null> {
    return this.q.order.get(id);
  }

  async items(orderId: string): Promise<OrderItemRow[]> {
    return this.q.items.all(orderId);
  }

  async detail(id: string): Promise<OrderDetail | null> {
    const order = this.q.order.get(id);
    return order ? this.detailOf(order) : null;
  }

  async ofUser(userId: string, status: OrderStatus | undefined, limit: number, offset: number): Promise<OrderDetail[]> {
    return this.q.ofUser.all(userId, status ?? "", status ?? "", limit, offset).map((o) => this.detailOf(o));
  }

  async countOfUser(userId: string, status: OrderStatus | undefined): Promise<number> {
    return this.q.countOfUser.get(userId, status ?? "", status ?? "")?.n ?? 0;
  }

  place(o: NewOrder, created: (order: OrderRow, items: OrderItemRow[]) => ShopEvent): Promise<Placement> {
    return writeOr<Placement, Placement>(this.writer, (refuse) => {
      // Under the writer: no other placement runs between this count and the insert.
      const { maxOrders, maxUnits, since } = o.unpaid;
      // No cap, no count: with both caps off a user's unpaid orders are unbounded, and so would be the count.
      const capped = maxOrders > 0 || maxUnits > 0;
      const held = (capped && this.q.unpaidOf.get(o.userId, since)) || { orders: 0, units: 0 };
      const units = o.lines.reduce((a, l) => a + l.quantity, 0);
      if (maxOrders > 0 && held.orders + 1 > maxOrders)
        refuse({ ok: false, reason: "unpaid_limit", limit: "orders", max: maxOrders, held: held.orders });
      if (maxUnits > 0 && held.units + units > maxUnits)
        refuse({ ok: false, reason: "unpaid_limit", limit: "units", max: maxUnits, held: held.units });
      const catalog = new Map(this.q.itemsByIds.all(JSON.stringify(o.lines.map((l) => l.itemId))).map((r) => [r.id, r]));
      const items: OrderItemRow[] = [];
      for (const line of o.lines) {
        const item = catalog.get(line.itemId);
        if (!item) refuse({ ok: false, reason: "item_not_found", itemId: line.itemId });
        // Refusing rolls back the reservations made so far.
        else if (this.q.reserve.run(line.quantity, item.id, line.quantity).changes !== 1) {
          refuse({ ok: false, reason: "out_of_stock", itemId: item.id, name: item.name, available: item.stock });
        } else {
          items.push({
            id: Bun.randomUUIDv7(),
            order_id: o.id,
            item_id: item.id,
            name: item.name,
            price: item.price,
            discount_price: item.discount_price,
            quantity: line.quantity,
            refunded_quantity: 0,
          });
        }
      }
      const order: OrderRow = {
        id: o.id,
        user_id: o.userId,
        kind: o.kind,
        status: "REQUEST",
        from_cart: o.fromCart ? 1 : 0,
        period_days: o.periodDays,
        ...totalsOf(items),
        refunded_amount: 0,
        tid: null,
        ready_count: 0,
        checkout_url: null,
        checkout_at: null,
        subscription_id: null,
        cycle: null,
        paid_at: null,
        created_at: o.now,
        updated_at: o.now,
      };
      const {
        refunded_amount: _r,
        tid: _t,
        ready_count: _c,
        checkout_url: _u,
        checkout_at: _a,
        subscription_id: _s,
        cycle: _y,
        paid_at: _p,
        ...values
      } = order;
      this.q.insertOrder.run(values);
      for (const { refunded_quantity: _q, ...item } of items) this.q.insertItem.run(item);
      this.emit([created(order, items)]);
      return { ok: true };
    });
  }

  startPayment(id: string, tid: string, checkoutUrl: string, now: number): Promise<boolean> {
    return this.writer.write(() => this.q.startPayment.run(tid, checkoutUrl, now, now, id).changes === 1);
  }

  abandonPayment(id: string, tid: string, now: number): Promise<boolean> {
    return this.writer.write(() => this.q.clearTid.run(now, id, tid).changes === 1);
  }

  recordPaid(p: PaidOrder, events: readonly ShopEvent[]): Promise<boolean> {
    return this.writer.write(() => {
      if (this.q.markPaid.run(p.status, p.now, p.now, p.orderId, p.tid).changes !== 1) return false;
      this.q.insertPayment.run({ ...p.payment });
      if (p.subscription) this.q.insertSubscription.run({ ...p.subscription });
      this.emit(events);
      return true;
    });
  }

  cancelUnpaid(id: string, now: number, cancelled: ShopEvent): Promise<boolean> {
    return this.writer.write(() => {
      if (this.q.setStatus.run("CANCEL", now, id, "REQUEST").changes !== 1) return false;
      for (const item of this.q.items.all(id)) this.q.release.run(item.quantity, item.item_id);
      this.emit([cancelled]);
      return true;
    });
  }

  async expiredIds(createdBefore: number, limit: number): Promise<string[]> {
    return this.q.expired.all(createdBefore, limit).map((r) => r.id);
  }

  async pendingRefund(orderId: string): Promise<Refund | null> {
    const row = this.q.pendingRefund.get(orderId);
    return row ? toRefund(row) : null;
  }

  openRefund(r: Omit<Refund, "seq" | "status">): Promise<Refund> {
    return this.writer.write((): Refund => {
      const seq = this.q.nextRefundSeq.get(r.order_id)?.seq ?? 1;
      this.q.insertRefund.run({
        id: r.id,
        order_id: r.order_id,
        seq,
        amount: r.amount,
        items: JSON.stringify(r.lines),
        created_at: r.created_at,
      });
      return { ...r, seq, status: "PENDING" };
    });
  }

  async dropRefund(id: string): Promise<void> {
    await this.writer.write(() => this.q.deleteRefund.run(id));
  }

  completeRefund(refund: Refund, payment: PaymentRow, now: number, refunded: (full: boolean) => ShopEvent): Promise<boolean> {
    return this.writer.write(() => {
      if (this.q.refundDone.run(now, refund.id).changes !== 1) return false;
      for (const l of refund.lines) {
        if (this.q.refundItem.run(l.quantity, l.orderItemId, l.quantity).changes !== 1)
          throw new Error(`refund ${refund.id} exceeds order item ${l.orderItemId}`);
        this.q.release.run(l.quantity, l.itemId);
      }
      this.q.addRefunded.run(refund.amount, now, refund.order_id);
      const full = this.q.items.all(refund.order_id).every((i) => i.refunded_quantity === i.quantity);
      if (full) {
        this.q.setStatus.run("REFUND", now, refund.order_id, "COMPLETE");
        // The first order of a subscription cancelled with the refund of that cycle.
        this.q.setStatus.run("REFUND", now, refund.order_id, "SUBSCRIBE_CANCEL");
      }
      this.q.insertPayment.run({ ...payment });
      this.emit([refunded(full)]);
      return true;
    });
  }
}
