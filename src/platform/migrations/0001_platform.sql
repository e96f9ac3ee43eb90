-- Transactional outbox: written in the same transaction as the domain change.
CREATE TABLE outbox (
  id          TEXT PRIMARY KEY,          -- event id (UUIDv7), also the JetStream Nats-Msg-Id
  subject     TEXT NOT NULL,             -- homebase.<domain>.<event>
  payload     TEXT NOT NULL,             -- JSON
  created_at  INTEGER NOT NULL,          -- epoch ms
  attempts    INTEGER NOT NULL DEFAULT 0, -- failed relay/delivery rounds
  next_attempt_at INTEGER NOT NULL DEFAULT 0, -- epoch ms; backoff after a failed round
  sent_at     INTEGER                    -- NULL until relayed (embedded: until every consumer is done)
);
CREATE INDEX outbox_unsent ON outbox (next_attempt_at, created_at) WHERE sent_at IS NULL;

-- One row per (consumer, event) handled: inserted in the handler's transaction so a
-- redelivered event is recognised and skipped.
CREATE TABLE processed_events (
  consumer     TEXT NOT NULL,
  event_id     TEXT NOT NULL,
  processed_at INTEGER NOT NULL,
  PRIMARY KEY (consumer, event_id)
) WITHOUT ROWID;

-- Events a consumer gave up on after the maximum number of attempts.
CREATE TABLE dead_letters (
  consumer   TEXT NOT NULL,
  event_id   TEXT NOT NULL,
  subject    TEXT NOT NULL,
  payload    TEXT NOT NULL,
  error      TEXT NOT NULL,
  attempts   INTEGER NOT NULL,
  failed_at  INTEGER NOT NULL,
  PRIMARY KEY (consumer, event_id)
) WITHOUT ROWID;
