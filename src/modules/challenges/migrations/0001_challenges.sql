-- Challenges: the member profile fed by accounts' events, challenges, memberships, daily logs.

-- One row per account the challenges module knows about. Created by homebase.accounts.user.registered,
-- or lazily (nickname NULL) when the account joins or creates a challenge before that event arrived.
-- homebase.accounts.user.deleted leaves a tombstone (deleted_at) so a late or redelivered
-- user.registered cannot bring the profile back.
CREATE TABLE challenge_profiles (
  user_id    TEXT PRIMARY KEY,
  nickname   TEXT,                                 -- NULL until user.registered arrives
  created_at INTEGER NOT NULL,
  deleted_at INTEGER
) WITHOUT ROWID;

CREATE TABLE challenges (
  id          TEXT PRIMARY KEY,                      -- UUIDv7: time-ordered, the pagination key
  owner_id    TEXT NOT NULL,
  title       TEXT NOT NULL,
  title_key   TEXT NOT NULL,                         -- trimmed, lower-cased: unique per owner
  description TEXT NOT NULL DEFAULT '',
  start_date  TEXT NOT NULL,                         -- YYYY-MM-DD (UTC), inclusive
  end_date    TEXT NOT NULL,                         -- YYYY-MM-DD (UTC), inclusive
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  CHECK (start_date <= end_date)
);
CREATE UNIQUE INDEX challenges_owner_title ON challenges (owner_id, title_key);
CREATE INDEX challenges_active ON challenges (end_date, start_date);

CREATE TABLE challenge_members (
  challenge_id TEXT NOT NULL REFERENCES challenges (id) ON DELETE CASCADE,
  user_id      TEXT NOT NULL,
  joined_at    INTEGER NOT NULL,
  PRIMARY KEY (challenge_id, user_id)
) WITHOUT ROWID;
CREATE INDEX challenge_members_user ON challenge_members (user_id, challenge_id);

-- A log belongs to a membership: leaving a challenge (or deleting it) removes its logs.
CREATE TABLE challenge_logs (
  id           TEXT PRIMARY KEY,                     -- UUIDv7
  challenge_id TEXT NOT NULL,
  user_id      TEXT NOT NULL,
  day          TEXT NOT NULL,                        -- UTC date of created_at: one log per member per day
  created_at   INTEGER NOT NULL,
  FOREIGN KEY (challenge_id, user_id) REFERENCES challenge_members (challenge_id, user_id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX challenge_logs_daily ON challenge_logs (challenge_id, user_id, day);
CREATE INDEX challenge_logs_user ON challenge_logs (user_id, created_at DESC, id DESC);
