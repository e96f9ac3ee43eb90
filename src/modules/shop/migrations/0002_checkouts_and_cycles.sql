-- Browser checkouts, an order per recurring charge, and the notice before each charge.

-- The open checkout of an unpaid order (its tid is shop_orders.tid): starting the payment again
-- answers it (same tid, same page) instead of replacing it, so the buyer's approval of it is
-- never lost. Ended by a decline, or by the gateway's cancel/fail redirect of this attempt.
ALTER TABLE shop_orders ADD COLUMN checkout_url TEXT;
ALTER TABLE shop_orders ADD COLUMN checkout_at INTEGER;

-- An order created by a recurring charge: the subscription and the cycle it paid (NULL otherwise).
ALTER TABLE shop_orders ADD COLUMN subscription_id TEXT;
ALTER TABLE shop_orders ADD COLUMN cycle INTEGER;
CREATE UNIQUE INDEX shop_orders_cycle ON shop_orders (subscription_id, cycle) WHERE subscription_id IS NOT NULL;

-- The order a paid cycle created (cycles paid before this migration have none).
ALTER TABLE shop_subscription_charges ADD COLUMN order_id TEXT;

-- One notice per subscription cycle, sent some days before its charge: the row is the record
-- that it was emitted (homebase.shop.subscription.charge_upcoming, in the same transaction).
CREATE TABLE shop_subscription_notices (
  subscription_id TEXT NOT NULL REFERENCES shop_subscriptions (id),
  cycle           INTEGER NOT NULL,
  due_on          TEXT NOT NULL,                      -- YYYY-MM-DD (UTC): the charge the notice announced
  created_at      INTEGER NOT NULL,
  PRIMARY KEY (subscription_id, cycle)
) WITHOUT ROWID;

-- What the notifier consumer sent, once per event.
CREATE TABLE shop_notifications (
  event_id        TEXT PRIMARY KEY,
  subscription_id TEXT NOT NULL,
  user_id         TEXT NOT NULL,
  kind            TEXT NOT NULL,
  channel         TEXT NOT NULL,
  message         TEXT NOT NULL,
  sent_at         INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX shop_notifications_subscription ON shop_notifications (subscription_id, sent_at);
