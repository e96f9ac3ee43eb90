// The subscription store on SQLite. A subscription's order status, the stock a cycle reserves
// and the payments ledger are other tables of the same database: they change in the same
// transaction as the subscription.
import type { Database } from "bun:sqlite";
import type { GroupCommitWriter } from "../../../platform/db/sqlite";
import type { ShopEvent, ShopEventSink } from "../events";
import { totalsOf } from "../pricing";
import type { OrderItemRow, OrderRow, Refund, RefundLine } from "./order";
import type {
  ChargeRow,
  CycleRow,
  DeclinedCycle,
  NoticeDue,
  NotificationRecord,
  PaidCycle,
  PreparedCharge,
  SubscriptionDetail,
  SubscriptionRow,
  SubscriptionStore,
} from "./subscription";
import { record, writeOr } from "./tx";

interface PendingRefundRow {
  id: string;
  order_id: string;
  seq: number;
  amount: number;
  items: string;
  created_at: number;
  tid: string;
}

export class SqliteSubscriptionStore implements SubscriptionStore {
  private readonly q;

  constructor(
    db: Database,
    private readonly writer: GroupCommitWriter,
    private readonly events: ShopEventSink,
  ) {
    this.q = {
      subscription: db.query<SubscriptionRow, [string]>("SELECT * FROM shop_subscriptions WHERE id = ?"),
      ofUser: db.query<SubscriptionRow, [string, string, string, number]>(
        "SELECT * FROM shop_subscriptions WHERE user_id = ? AND (? = '' OR id < ?) ORDER BY id DESC LIMIT ?",
      ),
      // Cycle 1 is the order that started the subscription; the others are its charge rows.
      cycles: db.query<CycleRow, { $id: string; $before: number; $limit: number }>(
        `SELECT * FROM (
           SELECT c.cycle, c.status, c.try, c.due_on, c.amount, c.paid_on, c.last_error, c.order_id,
             COALESCE(o.refunded_amount, 0) AS refunded_amount
           FROM shop_subscription_charges c LEFT JOIN shop_orders o ON o.id = c.order_id
           WHERE c.subscription_id = $id
           UNION ALL
           SELECT 1, 'PAID', 0, strftime('%Y-%m-%d', o.created_at / 1000, 'unixepoch'), o.amount,
             strftime('%Y-%m-%d', o.paid_at / 1000, 'unixepoch'), NULL, o.id, o.refunded_amount
           FROM shop_subscriptions s JOIN shop_orders o ON o.id = s.order_id
           WHERE s.id = $id
         ) WHERE cycle < $before ORDER BY cycle DESC LIMIT $limit`,
      ),
      insertOrder: db.query(
        `INSERT INTO shop_orders (id, user_id, kind, status, from_cart, period_days, total, discount, amount, tid, paid_at,
           subscription_id, cycle, created_at, updated_at)
         VALUES ($id, $user_id, 'SUBSCRIPTION', 'COMPLETE', 0, $period_days, $total, $discount, $amount, $tid, $now,
           $subscription_id, $cycle, $now, $now)`,
      ),
      insertItem: db.query(
        `INSERT INTO shop_order_items (id, order_id, item_id, name, price, discount_price, quantity)
         VALUES ($id, $order_id, $item_id, $name, $price, $discount_price, $quantity)`,
      ),
      noticesDue: db.query<NoticeDue, [string, string, number]>(
        `SELECT s.id, s.user_id, s.paid_cycles + 1 AS cycle, s.amount, s.next_payment_on,
           COALESCE((SELECT i.name FROM shop_order_items i WHERE i.order_id = s.order_id ORDER BY i.id LIMIT 1), 'subscription') AS item_name
         FROM shop_subscriptions s
         WHERE s.status = 'ACTIVE' AND s.next_payment_on <= ? AND s.id > ?
           AND NOT EXISTS (SELECT 1 FROM shop_subscription_notices n WHERE n.subscription_id = s.id AND n.cycle = s.paid_cycles + 1)
           AND NOT EXISTS (SELECT 1 FROM shop_subscription_charges c WHERE c.subscription_id = s.id AND c.cycle = s.paid_cycles + 1)
         ORDER BY s.id LIMIT ?`,
      ),
      insertNotice: db.query<unknown, [string, number, string, number]>(
        "INSERT OR IGNORE INTO shop_subscription_notices (subscription_id, cycle, due_on, created_at) VALUES (?, ?, ?, ?)",
      ),
      insertNotification: db.query<unknown, [string, string, string, string, string, string, number]>(
        `INSERT OR IGNORE INTO shop_notifications (event_id, subscription_id, user_id, kind, channel, message, sent_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      notificationsOf: db.query<NotificationRecord, [string]>(
        `SELECT event_id AS eventId, subscription_id AS subscriptionId, user_id AS userId, kind, channel, message, sent_at AS sentAt
         FROM shop_notifications WHERE subscription_id = ? ORDER BY sent_at, event_id`,
      ),
      orderOf: db.query<OrderRow, [string]>("SELECT * FROM shop_orders WHERE id = ?"),
      nextRefundSeq: db.query<{ seq: number }, [string]>("SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM shop_refunds WHERE order_id = ?"),
      insertRefund: db.query(
        `INSERT INTO shop_refunds (id, order_id, seq, amount, items, status, created_at)
         VALUES ($id, $order_id, $seq, $amount, $items, 'PENDING', $created_at)`,
      ),
      pendingRefund: db.query<PendingRefundRow, [string, string]>(
        `SELECT r.id, r.order_id, r.seq, r.amount, r.items, r.created_at, o.tid FROM shop_refunds r JOIN shop_orders o ON o.id = r.order_id
         WHERE r.status = 'PENDING' AND (o.subscription_id = ? OR o.id = (SELECT order_id FROM shop_subscriptions WHERE id = ?))`,
      ),
      chargeOrder: db.query<unknown, [string, string, number]>(
        "UPDATE shop_subscription_charges SET order_id = ? WHERE subscription_id = ? AND cycle = ?",
      ),
      activeOfUser: db.query<SubscriptionRow, [string]>("SELECT * FROM shop_subscriptions WHERE user_id = ? AND status = 'ACTIVE'"),
      orderItems: db.query<OrderItemRow, [string]>("SELECT * FROM shop_order_items WHERE order_id = ? ORDER BY id"),
      due: db.query<{ id: string }, [string, string, number]>(
        "SELECT id FROM shop_subscriptions WHERE status = 'ACTIVE' AND charge_on <= ? AND id > ? ORDER BY id LIMIT ?",
      ),
      countDue: db.query<{ n: number }, [string]>(
        "SELECT COUNT(*) AS n FROM shop_subscriptions WHERE status = 'ACTIVE' AND charge_on <= ?",
      ),
      // (In SET, a column on the right is the old value: the new date is bound twice.)
      paid: db.query<unknown, [string, string, string, number, string, number]>(
        `UPDATE shop_subscriptions SET paid_cycles = paid_cycles + 1, last_paid_on = ?, next_payment_on = ?, charge_on = ?,
           declines = 0, updated_at = ? WHERE id = ? AND status = 'ACTIVE' AND paid_cycles = ?`,
      ),
      declined: db.query<unknown, [string, number, string]>(
        "UPDATE shop_subscriptions SET declines = declines + 1, charge_on = ?, updated_at = ? WHERE id = ? AND status = 'ACTIVE'",
      ),
      schedule: db.query<unknown, [number, string, string, number, number, string]>(
        `UPDATE shop_subscriptions SET period_days = ?, next_payment_on = ?, charge_on = ?, declines = CASE WHEN ? = 1 THEN 0 ELSE declines END,
           updated_at = ? WHERE id = ? AND status = 'ACTIVE'`,
      ),
      end: db.query<unknown, [string, number, number, string]>(
        "UPDATE shop_subscriptions SET status = ?, cancelled_at = ?, updated_at = ? WHERE id = ? AND status = 'ACTIVE'",
      ),
      orderStatus: db.query<unknown, [string, number, string, string]>(
        "UPDATE shop_orders SET status = ?, updated_at = ? WHERE id = ? AND status = ?",
      ),
      charge: db.query<ChargeRow, [string, number]>("SELECT * FROM shop_subscription_charges WHERE subscription_id = ? AND cycle = ?"),
      pendingCharge: db.query<ChargeRow, [string]>(
        "SELECT * FROM shop_subscription_charges WHERE subscription_id = ? AND status = 'PENDING'",
      ),
      insertCharge: db.query(
        `INSERT INTO shop_subscription_charges (subscription_id, cycle, status, try, due_on, amount, created_at, updated_at)
         VALUES ($subscription_id, $cycle, 'PENDING', $try, $due_on, $amount, $created_at, $created_at)`,
      ),
      chargeAgain: db.query<unknown, [number, number, string, number]>(
        "UPDATE shop_subscription_charges SET status = 'PENDING', try = ?, updated_at = ? WHERE subscription_id = ? AND cycle = ? AND status = 'DECLINED'",
      ),
      chargeAttempted: db.query<unknown, [number, string | null, number, string, number]>(
        "UPDATE shop_subscription_charges SET attempts = attempts + ?, last_error = ?, updated_at = ? WHERE subscription_id = ? AND cycle = ?",
      ),
      chargePaid: db.query<unknown, [string, string, number, string, number]>(
        "UPDATE shop_subscription_charges SET status = 'PAID', tid = ?, paid_on = ?, updated_at = ? WHERE subscription_id = ? AND cycle = ? AND status = 'PENDING'",
      ),
      chargeDeclined: db.query<unknown, [string, number, string, number]>(
        "UPDATE shop_subscription_charges SET status = 'DECLINED', last_error = ?, updated_at = ? WHERE subscription_id = ? AND cycle = ? AND status = 'PENDING'",
      ),
      reserve: db.query<unknown, [number, string, number]>(
        "UPDATE shop_items SET stock = stock - ? WHERE id = ? AND deleted_at IS NULL AND stock >= ?",
      ),
      release: db.query<unknown, [number, string]>("UPDATE shop_items SET stock = stock + ? WHERE id = ?"),
      insertPayment: db.query(
        `INSERT INTO shop_payments (id, order_id, subscription_id, cycle, type, amount, tid, aid, idempotency_key, created_at)
         VALUES ($id, $order_id, $subscription_id, $cycle, $type, $amount, $tid, $aid, $idempotency_key, $created_at)
         ON CONFLICT (idempotency_key) DO NOTHING`,
      ),
    };
  }

  private emit(events: readonly ShopEvent[]): void {
    record(this.events, events);
  }

  private detailOf(subscription: SubscriptionRow): SubscriptionDetail {
    return { subscription, items: this.q.orderItems.all(subscription.order_id) };
  }

  /** Inside a write: the subscription and its order end; false when it was not active. */
  private endNow(sub: SubscriptionRow, status: "CANCELLED" | "PAYMENT_FAILED", now: number): boolean {
    if (this.q.end.run(status, now, now, sub.id).changes !== 1) return false;
    this.q.orderStatus.run(status === "CANCELLED" ? "SUBSCRIBE_CANCEL" : "SUBSCRIBE_PAYMENT_FAIL", now, sub.order_id, "SUBSCRIPTION");
    return true;
  }

  async noticesDue(until: string, afterId: string, limit: number): Promise<NoticeDue[]> {
    return this.q.noticesDue.all(until, afterId, limit);
  }

  recordNotice(subscriptionId: string, cycle: number, dueOn: string, now: number, event: ShopEvent): Promise<boolean> {
    return this.writer.write(() => {
      if (this.q.insertNotice.run(subscriptionId, cycle, dueOn, now).changes !== 1) return false;
      this.emit([event]);
      return true;
    });
  }

  recordNotificationSync(n: NotificationRecord): void {
    this.q.insertNotification.run(n.eventId, n.subscriptionId, n.userId, n.kind, n.channel, n.message, n.sentAt);
  }

  async notificationsOf(subscriptionId: string): Promise<NotificationRecord[]> {
    return this.q.notificationsOf.all(subscriptionId);
  }

  async subscription(id: string): Promise<SubscriptionRow | null> {
    return this.q.subscription.get(id);
  }

  async detail(id: string): Promise<SubscriptionDetail | null> {
    const row = this.q.subscription.get(id);
    return row ? this.detailOf(row) : null;
  }

  async ofUser(userId: string, beforeId: string, limit: number): Promise<SubscriptionDetail[]> {
    return this.q.ofUser.all(userId, beforeId, beforeId, limit).map((row) => this.detailOf(row));
  }

  async cycles(id: string, beforeCycle: number, limit: number): Promise<CycleRow[]> {
    return this.q.cycles.all({ $id: id, $before: beforeCycle, $limit: limit });
  }

  async pendingCharge(id: string): Promise<ChargeRow | null> {
    return this.q.pendingCharge.get(id);
  }

  reschedule(
    id: string,
    c: { periodDays: number; nextOn: string; chargeOn: string; resetDeclines: boolean },
    now: number,
  ): Promise<boolean> {
    return this.writer.write(() => this.q.schedule.run(c.periodDays, c.nextOn, c.chargeOn, c.resetDeclines ? 1 : 0, now, id).changes === 1);
  }

  end(sub: SubscriptionRow, status: "CANCELLED" | "PAYMENT_FAILED", now: number, events: readonly ShopEvent[]): Promise<boolean> {
    return this.writer.write(() => {
      if (!this.endNow(sub, status, now)) return false;
      this.emit(events);
      return true;
    });
  }

  async countDue(day: string): Promise<number> {
    return this.q.countDue.get(day)?.n ?? 0;
  }

  async dueIds(day: string, afterId: string, limit: number): Promise<string[]> {
    return this.q.due.all(day, afterId, limit).map((r) => r.id);
  }

  prepareCharge(id: string, day: string, now: number): Promise<PreparedCharge> {
    return this.writer.write((): PreparedCharge => {
      const sub = this.q.subscription.get(id);
      if (sub?.status !== "ACTIVE") return { kind: "skip", detail: "not active" };
      if (sub.charge_on > day) return { kind: "skip", detail: `not due until ${sub.charge_on}` };
      const cycle = sub.paid_cycles + 1;
      const items = this.q.orderItems.all(sub.order_id);
      const existing = this.q.charge.get(id, cycle);
      if (existing?.status === "PENDING") return { kind: "charge", cycle, tryNo: existing.try, dueOn: existing.due_on, items };
      if (existing?.status === "PAID") return { kind: "skip", detail: `cycle ${cycle} is already paid` };
      // New cycle, or a new try after a decline: reserve the stock again (a decline released it).
      for (const [i, item] of items.entries()) {
        if (this.q.reserve.run(item.quantity, item.item_id, item.quantity).changes !== 1) {
          for (const done of items.slice(0, i)) this.q.release.run(done.quantity, done.item_id);
          if (!existing) {
            this.q.insertCharge.run({
              subscription_id: id,
              cycle,
              try: 0,
              due_on: sub.next_payment_on,
              amount: sub.amount,
              created_at: now,
            });
            this.q.chargeDeclined.run("out_of_stock", now, id, cycle);
          }
          return { kind: "no_stock", cycle, detail: `out_of_stock: "${item.name}" is sold out` };
        }
      }
      if (existing) {
        this.q.chargeAgain.run(existing.try + 1, now, id, cycle);
        return { kind: "charge", cycle, tryNo: existing.try + 1, dueOn: existing.due_on, items };
      }
      this.q.insertCharge.run({ subscription_id: id, cycle, try: 0, due_on: sub.next_payment_on, amount: sub.amount, created_at: now });
      return { kind: "charge", cycle, tryNo: 0, dueOn: sub.next_payment_on, items };
    });
  }

  recordCharge(p: PaidCycle, charged: ShopEvent): Promise<boolean> {
    return this.writer.write(() => {
      // Already recorded by a worker that got the same (replayed) approval: nothing to do.
      if (this.q.chargePaid.run(p.tid, p.paidOn, p.now, p.subscriptionId, p.cycle).changes !== 1) return false;
      this.q.paid.run(p.paidOn, p.nextOn, p.nextOn, p.now, p.subscriptionId, p.cycle - 1);
      this.q.chargeAttempted.run(1, null, p.now, p.subscriptionId, p.cycle);
      // The cycle's order: what the buyer sees of this charge (GET /orders), with the subscription's items.
      const sub = this.q.subscription.get(p.subscriptionId)!;
      const items = this.q.orderItems.all(sub.order_id);
      this.q.insertOrder.run({
        id: p.orderId,
        user_id: sub.user_id,
        period_days: sub.period_days,
        ...totalsOf(items),
        tid: p.tid,
        now: p.now,
        subscription_id: p.subscriptionId,
        cycle: p.cycle,
      });
      for (const { refunded_quantity: _q, ...item } of items)
        this.q.insertItem.run({ ...item, id: Bun.randomUUIDv7(), order_id: p.orderId });
      this.q.chargeOrder.run(p.orderId, p.subscriptionId, p.cycle);
      this.q.insertPayment.run({ ...p.payment });
      this.emit([charged]);
      return true;
    });
  }

  async chargeFailed(id: string, cycle: number, error: string, now: number): Promise<void> {
    await this.writer.write(() => this.q.chargeAttempted.run(1, error, now, id, cycle));
  }

  recordDecline(d: DeclinedCycle): Promise<"declined" | "cancelled" | "skipped"> {
    return this.writer.write((): "declined" | "cancelled" | "skipped" => {
      const sub = d.subscription;
      if (d.reserved) {
        if (this.q.chargeDeclined.run(d.reason, d.now, sub.id, d.cycle).changes !== 1) return "skipped";
        for (const item of this.q.orderItems.all(sub.order_id)) this.q.release.run(item.quantity, item.item_id);
      }
      if (d.next.kind === "end") {
        if (!this.endNow(sub, "PAYMENT_FAILED", d.now)) return "skipped";
        this.emit(d.next.events);
        return "cancelled";
      }
      this.q.declined.run(d.next.retryOn, d.now, sub.id);
      this.emit(d.next.events);
      return "declined";
    });
  }

  endWithRefund(
    sub: SubscriptionRow,
    refundId: string,
    now: number,
    events: readonly ShopEvent[],
  ): Promise<{ refund: Refund; tid: string } | "not_active" | "no_order"> {
    return writeOr<{ refund: Refund; tid: string }, "not_active" | "no_order">(this.writer, (refuse) => {
      const fresh = this.q.subscription.get(sub.id);
      if (fresh?.status !== "ACTIVE") refuse("not_active");
      const cycle = fresh!.paid_cycles;
      const orderId = cycle === 1 ? fresh!.order_id : this.q.charge.get(sub.id, cycle)?.order_id;
      const order = orderId ? this.q.orderOf.get(orderId) : null;
      if (!order?.tid) refuse("no_order");
      const lines: RefundLine[] = this.q.orderItems
        .all(order!.id)
        .filter((i) => i.refunded_quantity < i.quantity)
        .map((i) => ({ orderItemId: i.id, itemId: i.item_id, quantity: i.quantity - i.refunded_quantity }));
      if (!this.endNow(fresh!, "CANCELLED", now)) refuse("not_active");
      this.emit(events);
      const refund: Refund = {
        id: refundId,
        order_id: order!.id,
        seq: this.q.nextRefundSeq.get(order!.id)?.seq ?? 1,
        amount: order!.amount - order!.refunded_amount,
        lines,
        status: "PENDING",
        created_at: now,
      };
      this.q.insertRefund.run({
        id: refund.id,
        order_id: refund.order_id,
        seq: refund.seq,
        amount: refund.amount,
        items: JSON.stringify(lines),
        created_at: now,
      });
      return { refund, tid: order!.tid! };
    });
  }

  async pendingRefund(subscriptionId: string): Promise<{ refund: Refund; tid: string } | null> {
    const row = this.q.pendingRefund.get(subscriptionId, subscriptionId);
    if (!row) return null;
    const { items, tid, ...rest } = row;
    return { refund: { ...rest, lines: JSON.parse(items) as RefundLine[], status: "PENDING" }, tid };
  }

  endAllOfUser(userId: string, now: number, cancelled: (subscription: SubscriptionRow) => ShopEvent): void {
    for (const sub of this.q.activeOfUser.all(userId)) {
      // A pending charge settles (or fails) on its own; the subscription is never charged again.
      if (this.endNow(sub, "CANCELLED", now)) this.emit([cancelled(sub)]);
    }
  }
}
