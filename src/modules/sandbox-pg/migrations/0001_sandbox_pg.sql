-- The sandbox payment gateway's own ledger, as a PG would keep it. Money is integer KRW.
--
-- The tables keep the names they had when the sandbox was part of the shop, whose migration 1
-- created them too: a data dir from then already has them (with their rows), and IF NOT EXISTS
-- leaves them as they are; a fresh one gets them here.
CREATE TABLE IF NOT EXISTS shop_sandbox_payments (
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
CREATE INDEX IF NOT EXISTS shop_sandbox_payments_order ON shop_sandbox_payments (partner_order_id);

CREATE TABLE IF NOT EXISTS shop_sandbox_sids (
  sid             TEXT PRIMARY KEY,
  partner_user_id TEXT NOT NULL,
  status          TEXT NOT NULL CHECK (status IN ('ACTIVE','INACTIVE')),
  created_at      INTEGER NOT NULL,
  inactivated_at  INTEGER
) WITHOUT ROWID;

-- Idempotency-Key → the stored answer, kept 12 h: a repeated request gets the same answer.
CREATE TABLE IF NOT EXISTS shop_sandbox_idempotency (
  key         TEXT PRIMARY KEY,
  operation   TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  status      INTEGER NOT NULL,
  body        TEXT NOT NULL,
  created_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS shop_sandbox_idempotency_age ON shop_sandbox_idempotency (created_at);
