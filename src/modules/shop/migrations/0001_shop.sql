-- Shop: catalog, reviews, visitors, carts, orders, payments, subscriptions with recurring
-- billing, and the built-in sandbox payment gateway's own ledger. Money is integer KRW.

-- Items are soft-deleted: orders and reviews keep pointing at them.
CREATE TABLE shop_items (
  id             TEXT PRIMARY KEY,                    -- UUIDv7
  name           TEXT NOT NULL,
  brand          TEXT NOT NULL,
  brand_key      TEXT NOT NULL,                       -- lower-cased: the brand filter
  price          INTEGER NOT NULL CHECK (price > 0),  -- list price per unit
  discount_rate  INTEGER NOT NULL DEFAULT 0 CHECK (discount_rate BETWEEN 0 AND 90), -- percent
  discount_price INTEGER NOT NULL DEFAULT 0,          -- amount off per unit: price * rate / 100, rounded down
  sale_price     INTEGER NOT NULL,                    -- what the buyer pays per unit: price - discount_price
  stock          INTEGER NOT NULL CHECK (stock >= 0), -- the CHECK is the last line against oversell
  categories     TEXT NOT NULL,                       -- comma list (the filter uses shop_item_categories)
  nutrients      TEXT NOT NULL DEFAULT '[]',          -- JSON array of strings
  description    TEXT NOT NULL DEFAULT '',
  image_url      TEXT,
  sales_count    INTEGER NOT NULL DEFAULT 0,          -- kept by the order.paid / order.refunded consumers
  review_count   INTEGER NOT NULL DEFAULT 0,
  star_sum       INTEGER NOT NULL DEFAULT 0,          -- average stars = star_sum / review_count
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL,
  deleted_at     INTEGER,
  CHECK (sale_price = price - discount_price)
);
-- One index per sort order of GET /items (live items only), id as the tie-breaker.
CREATE INDEX shop_items_sales ON shop_items (sales_count DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX shop_items_price ON shop_items (sale_price, id) WHERE deleted_at IS NULL;
CREATE INDEX shop_items_discount ON shop_items (discount_rate, id) WHERE deleted_at IS NULL;
CREATE INDEX shop_items_reviews ON shop_items (review_count DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX shop_items_brand ON shop_items (brand_key) WHERE deleted_at IS NULL;

-- Keyword search ("contains", in the name or brand): a trigram index, so a 3+ character
-- keyword is an index lookup instead of a LIKE scan of the catalog. It keeps its own copy of
-- the text keyed by item id (not external content: shop_items has no INTEGER PRIMARY KEY, so
-- VACUUM — and VACUUM INTO backups — may renumber its rowids). Triggers keep it in step.
CREATE VIRTUAL TABLE shop_items_fts USING fts5(item_id UNINDEXED, name, brand, tokenize = 'trigram');
CREATE TRIGGER shop_items_fts_insert AFTER INSERT ON shop_items BEGIN
  INSERT INTO shop_items_fts (item_id, name, brand) VALUES (new.id, new.name, new.brand);
END;
CREATE TRIGGER shop_items_fts_update AFTER UPDATE OF name, brand ON shop_items BEGIN
  DELETE FROM shop_items_fts WHERE item_id = old.id;
  INSERT INTO shop_items_fts (item_id, name, brand) VALUES (new.id, new.name, new.brand);
END;
CREATE TRIGGER shop_items_fts_delete AFTER DELETE ON shop_items BEGIN
  DELETE FROM shop_items_fts WHERE item_id = old.id;
END;

CREATE TABLE shop_item_categories (
  category TEXT NOT NULL CHECK (category IN ('EYE','BONE','BRAIN','INTESTINE','LIVER','SKIN','ANTIOXIDANT','FATIGUE','ETC')),
  item_id  TEXT NOT NULL REFERENCES shop_items (id) ON DELETE CASCADE,
  PRIMARY KEY (category, item_id)
) WITHOUT ROWID;
CREATE INDEX shop_item_categories_item ON shop_item_categories (item_id);

-- Bumped by every catalog write (create, update, delete): cached search totals are keyed by it,
-- so they are exact without any cross-instance invalidation.
CREATE TABLE shop_catalog_version (
  id      INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL
);
INSERT INTO shop_catalog_version (id, version) VALUES (1, 0);

-- Unique visitors per item per day when Redis is not configured (with Redis: a HyperLogLog).
CREATE TABLE shop_item_visits (
  item_id TEXT NOT NULL,
  day     TEXT NOT NULL,                              -- YYYY-MM-DD (UTC)
  visitor TEXT NOT NULL,                              -- client IP
  PRIMARY KEY (item_id, day, visitor)
) WITHOUT ROWID;

-- Carts: one one-time cart and one subscription cart per user, implicit (their rows).
CREATE TABLE shop_cart_items (
  id          TEXT PRIMARY KEY,                       -- UUIDv7
  user_id     TEXT NOT NULL,
  kind        TEXT NOT NULL CHECK (kind IN ('NORMAL','SUBSCRIPTION')),
  item_id     TEXT NOT NULL REFERENCES shop_items (id),
  quantity    INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 99),
  period_days INTEGER CHECK (period_days BETWEEN 30 AND 180),
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  CHECK ((kind = 'SUBSCRIPTION') = (period_days IS NOT NULL))
);
CREATE UNIQUE INDEX shop_cart_items_unique ON shop_cart_items (user_id, kind, item_id);
CREATE INDEX shop_cart_items_item ON shop_cart_items (item_id);

CREATE TABLE shop_orders (
  id              TEXT PRIMARY KEY,                   -- UUIDv7
  user_id         TEXT NOT NULL,
  kind            TEXT NOT NULL CHECK (kind IN ('NORMAL','SUBSCRIPTION')),
  status          TEXT NOT NULL CHECK (status IN ('REQUEST','COMPLETE','REFUND','SUBSCRIPTION','SUBSCRIBE_CANCEL','SUBSCRIBE_PAYMENT_FAIL','CANCEL')),
  from_cart       INTEGER NOT NULL,                   -- 1: the paid items leave the cart
  period_days     INTEGER,                            -- subscription orders
  total           INTEGER NOT NULL,                   -- Σ quantity × price
  discount        INTEGER NOT NULL,                   -- Σ quantity × discount_price
  amount          INTEGER NOT NULL,                   -- total - discount: what is charged
  refunded_amount INTEGER NOT NULL DEFAULT 0,
  tid             TEXT,                               -- the gateway transaction of the current payment attempt
  ready_count     INTEGER NOT NULL DEFAULT 0,         -- payment attempts started (part of their idempotency keys)
  paid_at         INTEGER,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL
);
CREATE INDEX shop_orders_user ON shop_orders (user_id, id DESC);
CREATE INDEX shop_orders_unpaid ON shop_orders (created_at) WHERE status = 'REQUEST';

CREATE TABLE shop_order_items (
  id                TEXT PRIMARY KEY,                 -- UUIDv7
  order_id          TEXT NOT NULL REFERENCES shop_orders (id),
  item_id           TEXT NOT NULL REFERENCES shop_items (id),
  name              TEXT NOT NULL,                    -- snapshots at order time
  price             INTEGER NOT NULL,
  discount_price    INTEGER NOT NULL,
  quantity          INTEGER NOT NULL CHECK (quantity > 0),
  refunded_quantity INTEGER NOT NULL DEFAULT 0,
  CHECK (refunded_quantity BETWEEN 0 AND quantity)
);
CREATE INDEX shop_order_items_order ON shop_order_items (order_id);

-- Every money movement that happened, once: the idempotency key makes a replayed gateway
-- success a no-op. Refunds are negative.
CREATE TABLE shop_payments (
  id              TEXT PRIMARY KEY,
  order_id        TEXT NOT NULL REFERENCES shop_orders (id),
  subscription_id TEXT,
  cycle           INTEGER,
  type            TEXT NOT NULL CHECK (type IN ('PAYMENT','REFUND')),
  amount          INTEGER NOT NULL,
  tid             TEXT NOT NULL,
  aid             TEXT,
  idempotency_key TEXT NOT NULL UNIQUE,
  created_at      INTEGER NOT NULL
);
CREATE INDEX shop_payments_order ON shop_payments (order_id);

CREATE TABLE shop_refunds (
  id         TEXT PRIMARY KEY,
  order_id   TEXT NOT NULL REFERENCES shop_orders (id),
  seq        INTEGER NOT NULL,                        -- 1, 2, … per order: part of the idempotency key
  amount     INTEGER NOT NULL,
  items      TEXT NOT NULL,                           -- JSON [{orderItemId, itemId, quantity}]
  status     TEXT NOT NULL CHECK (status IN ('PENDING','DONE')),
  created_at INTEGER NOT NULL,
  done_at    INTEGER,
  UNIQUE (order_id, seq)
);
-- At most one refund in flight per order.
CREATE UNIQUE INDEX shop_refunds_pending ON shop_refunds (order_id) WHERE status = 'PENDING';

CREATE TABLE shop_reviews (
  id            TEXT PRIMARY KEY,                     -- UUIDv7
  item_id       TEXT NOT NULL REFERENCES shop_items (id),
  user_id       TEXT NOT NULL,
  order_item_id TEXT NOT NULL UNIQUE REFERENCES shop_order_items (id), -- one review per order item
  stars         INTEGER NOT NULL CHECK (stars BETWEEN 1 AND 5),
  content       TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
);
CREATE INDEX shop_reviews_item ON shop_reviews (item_id, id DESC);
CREATE INDEX shop_reviews_item_stars ON shop_reviews (item_id, stars, id DESC);

-- A subscription is born from a paid subscription order and charges its amount every period.
CREATE TABLE shop_subscriptions (
  id               TEXT PRIMARY KEY,                  -- UUIDv7
  user_id          TEXT NOT NULL,
  order_id         TEXT NOT NULL UNIQUE REFERENCES shop_orders (id),
  sid              TEXT NOT NULL,                     -- the gateway's recurring-payment key
  status           TEXT NOT NULL CHECK (status IN ('ACTIVE','CANCELLED','PAYMENT_FAILED')),
  period_days      INTEGER NOT NULL CHECK (period_days BETWEEN 30 AND 180),
  amount           INTEGER NOT NULL,
  paid_cycles      INTEGER NOT NULL,                  -- the first payment is cycle 1
  last_paid_on     TEXT NOT NULL,                     -- YYYY-MM-DD (UTC)
  next_payment_on  TEXT NOT NULL,                     -- the due date of cycle paid_cycles + 1
  charge_on        TEXT NOT NULL,                     -- when billing tries next: the due date, or a decline retry day
  declines         INTEGER NOT NULL DEFAULT 0,        -- declines of the current cycle
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  cancelled_at     INTEGER
);
CREATE INDEX shop_subscriptions_due ON shop_subscriptions (charge_on, id) WHERE status = 'ACTIVE';
CREATE INDEX shop_subscriptions_user ON shop_subscriptions (user_id, id DESC);

-- Exactly one charge per subscription per cycle: the primary key. `try` counts decline
-- retries (part of the gateway idempotency key, so a retry after a decline is a new charge
-- while a retry after a timeout is the same one).
CREATE TABLE shop_subscription_charges (
  subscription_id TEXT NOT NULL REFERENCES shop_subscriptions (id),
  cycle           INTEGER NOT NULL,
  status          TEXT NOT NULL CHECK (status IN ('PENDING','PAID','DECLINED')),
  try             INTEGER NOT NULL DEFAULT 0,
  due_on          TEXT NOT NULL,
  amount          INTEGER NOT NULL,
  attempts        INTEGER NOT NULL DEFAULT 0,         -- gateway round trips, retries included
  last_error      TEXT,
  tid             TEXT,
  paid_on         TEXT,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  PRIMARY KEY (subscription_id, cycle)
) WITHOUT ROWID;

-- The sandbox payment gateway (HOMEBASE_SHOP_PG=sandbox): its own ledger, as a PG would keep it.
CREATE TABLE shop_sandbox_payments (
  tid              TEXT PRIMARY KEY,
  kind             TEXT NOT NULL CHECK (kind IN ('ONETIME','SUBSCRIPTION_FIRST','RECURRING')),
  status           TEXT NOT NULL CHECK (status IN ('READY','AUTHORIZED','APPROVED','DECLINED','ABORTED','CANCELLED','PART_CANCELLED')),
  partner_order_id TEXT NOT NULL,
  partner_user_id  TEXT NOT NULL,
  item_name        TEXT NOT NULL,
  quantity         INTEGER NOT NULL,
  amount           INTEGER NOT NULL,
  cancelled_amount INTEGER NOT NULL DEFAULT 0,
  sid              TEXT,
  aid              TEXT,
  pg_token         TEXT,
  approval_url     TEXT,
  cancel_url       TEXT,
  fail_url         TEXT,
  created_at       INTEGER NOT NULL,
  approved_at      INTEGER,
  updated_at       INTEGER NOT NULL
);
CREATE INDEX shop_sandbox_payments_order ON shop_sandbox_payments (partner_order_id);

CREATE TABLE shop_sandbox_sids (
  sid             TEXT PRIMARY KEY,
  partner_user_id TEXT NOT NULL,
  status          TEXT NOT NULL CHECK (status IN ('ACTIVE','INACTIVE')),
  created_at      INTEGER NOT NULL,
  inactivated_at  INTEGER
) WITHOUT ROWID;

-- Idempotency-Key → the stored answer, kept 12 h: a repeated request gets the same answer.
CREATE TABLE shop_sandbox_idempotency (
  key         TEXT PRIMARY KEY,
  operation   TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  status      INTEGER NOT NULL,
  body        TEXT NOT NULL,
  created_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX shop_sandbox_idempotency_age ON shop_sandbox_idempotency (created_at);
