CREATE TABLE users (
  id                  TEXT PRIMARY KEY,              -- UUIDv7
  email               TEXT NOT NULL,                 -- lower-cased
  nickname            TEXT NOT NULL,
  nickname_key        TEXT NOT NULL,                 -- lower-cased, for case-insensitive uniqueness
  password_hash       TEXT NOT NULL,                 -- Argon2id (Bun.password)
  role                TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
  created_at          INTEGER NOT NULL,
  updated_at          INTEGER NOT NULL,
  password_changed_at INTEGER NOT NULL,
  deleted_at          INTEGER                        -- soft delete
);
-- Uniqueness only among live accounts: a deleted account frees its email and nickname.
CREATE UNIQUE INDEX users_email_live ON users (email) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX users_nickname_live ON users (nickname_key) WHERE deleted_at IS NULL;
CREATE INDEX users_created ON users (created_at, id);

-- A session is one login: a family of refresh tokens rotated one after another.
CREATE TABLE sessions (
  id            TEXT PRIMARY KEY,
  user_id       TEXT NOT NULL REFERENCES users (id),
  created_at    INTEGER NOT NULL,
  last_used_at  INTEGER NOT NULL,
  expires_at    INTEGER NOT NULL,
  revoked_at    INTEGER,
  revoke_reason TEXT,
  user_agent    TEXT,
  ip            TEXT
);
CREATE INDEX sessions_user ON sessions (user_id) WHERE revoked_at IS NULL;

-- Every refresh token ever issued, by SHA-256 hash. A token with used_at set that is
-- presented again is a replay: the whole session is revoked.
CREATE TABLE refresh_tokens (
  token_hash  TEXT PRIMARY KEY,
  session_id  TEXT NOT NULL REFERENCES sessions (id),
  created_at  INTEGER NOT NULL,
  used_at     INTEGER
) WITHOUT ROWID;
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
