// Subscription and billing schemas.
import { t, type Static } from "elysia";
import { CursorPage, cursorQuery } from "../../../platform/http/paging";
import { subscriptionStatuses, id, won, IsoDate, Timestamp, outId, PeriodDays } from "./common";
import { exampleOrder, OrderItem } from "./orders";

export const Subscription = t.Object(
  {
    id: outId(),
    orderId: outId(),
    userId: outId(),
    status: t.UnionEnum(subscriptionStatuses),
    periodDays: t.Integer(),
    amount: won("Charged each cycle"),
    paidCycles: t.Integer({ minimum: 1, description: "Cycles paid; the first payment is cycle 1" }),
    lastPaidOn: IsoDate,
    nextPaymentOn: t.Union([IsoDate, t.Null()], { description: "Due date of the next cycle: last payment + period (null once ended)" }),
    declines: t.Integer({ minimum: 0, description: "Declined attempts of the current cycle (retried on day 1, 3 and 5, then cancelled)" }),
    items: t.Array(OrderItem),
    createdAt: Timestamp,
    cancelledAt: t.Union([Timestamp, t.Null()]),
  },
  {
    examples: [
      {
        id: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2b50",
        orderId: exampleOrder.id,
        userId: exampleOrder.userId,
        status: "ACTIVE",
        periodDays: 30,
        amount: 27_200,
        paidCycles: 1,
        lastPaidOn: "2026-12-01",
        nextPaymentOn: "2026-12-31",
        declines: 0,
        items: exampleOrder.items,
        createdAt: "2026-12-01T10:01:00.000Z",
        cancelledAt: null,
      },
    ],
  },
);
export type Subscription = Static<typeof Subscription>;

export const SubscriptionIdParams = t.Object({ id: id() });
export const SubscriptionListQuery = t.Object(cursorQuery());
export const SubscriptionPage = CursorPage(Subscription);
export type SubscriptionPage = Static<typeof SubscriptionPage>;

export const SubscriptionCharge = t.Object(
  {
    cycle: t.Integer({ minimum: 1, description: "1 is the first payment (the order that started the subscription)" }),
    status: t.UnionEnum(["PENDING", "PAID", "DECLINED"], {
      description: "PENDING: being settled with the gateway; DECLINED: the last try was declined (retried on day 1, 3 and 5)",
    }),
    dueOn: IsoDate,
    amount: won("Charged for the cycle"),
    paidOn: t.Union([IsoDate, t.Null()]),
    tries: t.Integer({ minimum: 1, description: "Tries of the cycle (a decline retry is a new try)" }),
    lastError: t.Union([t.String(), t.Null()], { description: "Why the last try did not pay (unpaid cycles)" }),
    orderId: t.Union([outId("The cycle's order (GET /orders/{id})"), t.Null()]),
    refundedAmount: won("Refunded of the cycle (cancel with refund)"),
  },
  {
    examples: [
      {
        cycle: 2,
        status: "PAID",
        dueOn: "2026-12-31",
        amount: 27_200,
        paidOn: "2026-12-31",
        tries: 1,
        lastError: null,
        orderId: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2b70",
        refundedAmount: 0,
      },
    ],
  },
);
export type SubscriptionCharge = Static<typeof SubscriptionCharge>;
export const ChargePage = CursorPage(SubscriptionCharge);
export type ChargePage = Static<typeof ChargePage>;

export const CancelSubscriptionBody = t.Optional(
  t.Object(
    {
      refund: t.Optional(
        t.Boolean({
          default: false,
          description: "Also refund the current cycle (the last one paid) through the gateway; its order becomes REFUND",
        }),
      ),
    },
    { examples: [{}, { refund: true }] },
  ),
);
export type CancelSubscriptionBody = Static<typeof CancelSubscriptionBody>;
export const UpdateSubscriptionBody = t.Object({ periodDays: PeriodDays }, { examples: [{ periodDays: 60 }] });

export const BillingRunBody = t.Object(
  { date: t.Optional(IsoDate) },
  { examples: [{}, { date: "2026-12-31" }], description: "date: bill as of this UTC day (default today; never after today)" },
);

export const BillingSummary = t.Object(
  {
    date: IsoDate,
    due: t.Integer({ description: "Subscriptions due on or before the date when the run started" }),
    charged: t.Integer(),
    declined: t.Integer({ description: "Declined and scheduled for a retry" }),
    cancelled: t.Integer({ description: "Cancelled after the last decline retry" }),
    failed: t.Integer({ description: "Transient failures left for the next run (the charge stays pending)" }),
    skipped: t.Integer({ description: "Handled by another worker, or no longer due" }),
  },
  { examples: [{ date: "2026-12-31", due: 120, charged: 117, declined: 2, cancelled: 0, failed: 1, skipped: 0 }] },
);
export type BillingSummary = Static<typeof BillingSummary>;

export const chargeOutcomes = ["charged", "declined", "cancelled", "failed", "skipped"] as const;
export type ChargeOutcome = (typeof chargeOutcomes)[number];

export const ChargeResult = t.Object(
  {
    subscriptionId: outId(),
    cycle: t.Union([t.Integer(), t.Null()]),
    outcome: t.UnionEnum(chargeOutcomes),
    detail: t.Optional(t.String()),
  },
  { examples: [{ subscriptionId: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2b50", cycle: 2, outcome: "charged" }] },
);
export type ChargeResult = Static<typeof ChargeResult>;

export const NoticeSummary = t.Object(
  {
    date: IsoDate,
    noticed: t.Integer({ description: "Notices emitted (homebase.shop.subscription.charge_upcoming), one per coming cycle" }),
  },
  { examples: [{ date: "2026-12-28", noticed: 12 }] },
);
