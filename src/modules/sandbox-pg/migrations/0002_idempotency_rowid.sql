-- The idempotency records become a rowid table. WITHOUT ROWID, each row (~1.1 KB: the request's
-- fingerprint and the stored answer) was over the ~1,000 bytes an index B-tree page keeps
-- locally, so every record took an overflow page of its own besides a random leaf (its key is
-- a sha256): 10,096 pages for 14,730 records, 28 MB of them unused, and ~3 pages written per
-- paid order (bench/README.md, "Order + pay"). In a rowid table the rows sit whole in leaves
-- filled in insertion order; only the unique index on the key (~70 bytes an entry) is random.
CREATE TABLE shop_sandbox_idempotency_v2 (
  key         TEXT PRIMARY KEY,
  operation   TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  status      INTEGER NOT NULL,
  body        TEXT NOT NULL,
  created_at  INTEGER NOT NULL
);
INSERT INTO shop_sandbox_idempotency_v2 (key, operation, fingerprint, status, body, created_at)
SELECT key, operation, fingerprint, status, body, created_at FROM shop_sandbox_idempotency ORDER BY created_at;
DROP TABLE shop_sandbox_idempotency;
ALTER TABLE shop_sandbox_idempotency_v2 RENAME TO shop_sandbox_idempotency;
CREATE INDEX shop_sandbox_idempotency_age ON shop_sandbox_idempotency (created_at);
