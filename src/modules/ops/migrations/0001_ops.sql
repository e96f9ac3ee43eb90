-- Every process sharing this data dir, by heartbeat (every few seconds): the /ops page lists them.
CREATE TABLE ops_instances (
  id           TEXT PRIMARY KEY,      -- UUIDv7 made at start
  role         TEXT NOT NULL,         -- serve | worker | all
  pid          INTEGER NOT NULL,
  hostname     TEXT NOT NULL,
  port         INTEGER NOT NULL,      -- HOMEBASE_PORT as configured
  started_at   INTEGER NOT NULL,      -- epoch ms
  last_seen_at INTEGER NOT NULL       -- epoch ms
);

-- Dead-letter retries and discards: who did what to which event, and how it ended.
CREATE TABLE ops_audit (
  id            TEXT PRIMARY KEY,     -- UUIDv7
  at            INTEGER NOT NULL,     -- epoch ms
  actor_user_id TEXT NOT NULL,
  instance_id   TEXT NOT NULL,
  action        TEXT NOT NULL,        -- dead_letter.retry | dead_letter.discard
  consumer      TEXT NOT NULL,
  event_id      TEXT NOT NULL,
  subject       TEXT,
  outcome       TEXT NOT NULL,        -- processed | duplicate | dead | discarded
  detail        TEXT
);
CREATE INDEX ops_audit_at ON ops_audit (at);

-- One-time tickets for the live stream (EventSource sends no headers): only their sha256 is kept.
CREATE TABLE ops_tickets (
  hash       TEXT PRIMARY KEY,
  user_id    TEXT NOT NULL,
  session_id TEXT NOT NULL,
  expires_at INTEGER NOT NULL         -- epoch ms
);
