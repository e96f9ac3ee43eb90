// Refunds of paid one-time orders, all or part, through the gateway; stock and sales counts
// follow (order.refunded). A refund is recorded PENDING before the gateway is called, with a
// sequence number in its idempotency key: a refund left pending by a gateway failure is
// finished first, with the same key, so nothing is refunded twice. No HTTP here.
import type { Clock } from "../../platform/clock";
import type { LockManager } from "../../platform/lock";
import type { Principal } from "../accounts";
import { fieldRefusal, ShopError, shopErrors } from "./errors";
import { shopEvent } from "./events";
import type { Order, RefundBody } from "./model";
import { ownedOrder, withOrderLock, type OrdersService } from "./orders";
import { GatewayError, type PaymentGateway } from "./payments/port";
import type { OrderRow, OrderStore, Refund } from "./store";

export class RefundsService {
  constructor(
    private readonly store: OrderStore,
    private readonly orders: OrdersService,
    private readonly locks: LockManager,
    private readonly gateway: PaymentGateway,
    private readonly clock: Clock,
  ) {}

  /** Refunds the given quantities (or everything left) and answers the order. */
  async refund(principal: Principal, id: string, body: RefundBody): Promise<Order> {
    await ownedOrder(this.store, principal, id);
    await withOrderLock(this.locks, id, async () => {
      const order = (await this.store.order(id))!;
      const pending = await this.store.pendingRefund(id);
      if (pending) return this.finish(order, pending);
      if (order.kind !== "NORMAL") throw new ShopError(shopErrors.orderNotRefundable, "subscription orders are cancelled, not refunded");
      if (order.status === "REFUND") throw new ShopError(shopErrors.alreadyRefunded, "the order is fully refunded");
      if (order.status !== "COMPLETE" || order.tid === null)
        throw new ShopError(shopErrors.orderNotRefundable, `the order is ${order.status}`);
      const items = await this.store.items(id);
      const byId = new Map(items.map((i) => [i.id, i]));
      const wanted =
        body.items ??
        items
          .filter((i) => i.refunded_quantity < i.quantity)
          .map((i) => ({ orderItemId: i.id, quantity: i.quantity - i.refunded_quantity }));
      if (new Set(wanted.map((w) => w.orderItemId)).size !== wanted.length) {
        throw fieldRefusal(shopErrors.duplicateItems, "each order item may appear once", "/items", "duplicate orderItemId");
      }
      const lines = wanted.map((w) => {
        const item = byId.get(w.orderItemId);
        if (!item) throw new ShopError(shopErrors.orderItemNotFound, `no order item ${w.orderItemId} in this order`);
        if (w.quantity > item.quantity - item.refunded_quantity) {
          throw new ShopError(
            shopErrors.refundExceedsQuantity,
            `only ${item.quantity - item.refunded_quantity} of "${item.name}" can still be refunded`,
          );
        }
        return {
          orderItemId: item.id,
          itemId: item.item_id,
          quantity: w.quantity,
          amount: w.quantity * (item.price - item.discount_price),
        };
      });
      if (lines.length === 0) throw new ShopError(shopErrors.nothingToRefund, "everything is refunded already");
      const refund = await this.store.openRefund({
        id: Bun.randomUUIDv7(),
        order_id: id,
        amount: lines.reduce((a, l) => a + l.amount, 0),
        lines: lines.map(({ orderItemId, itemId, quantity }) => ({ orderItemId, itemId, quantity })),
        created_at: this.clock.now(),
      });
      await this.finish(order, refund);
    });
    return this.orders.view(id);
  }

  private async finish(order: OrderRow, refund: Refund): Promise<void> {
    const key = `order:${order.id}:refund:${refund.seq}`;
    try {
      // A subscription cycle's refund (cancel with refund) left pending may be finished here too.
      await this.gateway.cancel({
        idempotencyKey: key,
        tid: order.tid!,
        amount: refund.amount,
        subscription: order.kind === "SUBSCRIPTION",
      });
    } catch (err) {
      // A refusal will not change on retry: forget the attempt. A transient failure keeps it pending.
      if (err instanceof GatewayError && err.kind !== "transient") await this.store.dropRefund(refund.id);
      throw err;
    }
    const now = this.clock.now();
    const payment = {
      id: Bun.randomUUIDv7(),
      order_id: order.id,
      subscription_id: null,
      cycle: null,
      type: "REFUND" as const,
      amount: -refund.amount,
      tid: order.tid!,
      aid: null,
      idempotency_key: key,
      created_at: now,
    };
    await this.store.completeRefund(refund, payment, now, (full) =>
      shopEvent.orderRefunded({
        orderId: order.id,
        userId: order.user_id,
        refundId: refund.id,
        amount: refund.amount,
        items: refund.lines.map((l) => ({ itemId: l.itemId, quantity: l.quantity })),
        full,
      }),
    );
  }
}
