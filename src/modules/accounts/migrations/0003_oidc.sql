-- Issue 16: sign in with OpenID Connect (oidc.ts). Independent of 0002: either applies first.
--
-- An identity at a provider (its issuer's `sub`) and the account it signs in to. Found by
-- (provider, subject) on every later sign-in, whatever email the provider says then.
CREATE TABLE oidc_identities (
  provider      TEXT NOT NULL,                 -- the name in HOMEBASE_OIDC_PROVIDERS
  subject       TEXT NOT NULL,                 -- the ID token's sub
  user_id       TEXT NOT NULL REFERENCES users (id),
  email         TEXT,                          -- the last verified email the provider said, lower-cased
  created_at    INTEGER NOT NULL,
  last_login_at INTEGER NOT NULL,
  PRIMARY KEY (provider, subject)
) WITHOUT ROWID;
CREATE INDEX oidc_identities_user ON oidc_identities (user_id);

-- A started sign-in, by the SHA-256 of its state (the browser holds the state in an HttpOnly
-- cookie): the PKCE verifier and nonce the callback checks against. Used once, short-lived.
CREATE TABLE oidc_flows (
  state_hash    TEXT PRIMARY KEY,
  provider      TEXT NOT NULL,
  code_verifier TEXT NOT NULL,
  nonce         TEXT NOT NULL,
  return_to     TEXT NOT NULL,                 -- a path on this server
  created_at    INTEGER NOT NULL,
  expires_at    INTEGER NOT NULL,
  used_at       INTEGER
) WITHOUT ROWID;
CREATE INDEX oidc_flows_expires ON oidc_flows (expires_at);

-- A finished sign-in waiting for the browser's POST /auth/oidc/exchange, by the SHA-256 of its
-- one-time code (in an HttpOnly cookie, never in a URL). Used once, short-lived.
CREATE TABLE oidc_logins (
  code_hash   TEXT PRIMARY KEY,
  user_id     TEXT NOT NULL REFERENCES users (id),
  provider    TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  used_at     INTEGER
) WITHOUT ROWID;
CREATE INDEX oidc_logins_expires ON oidc_logins (expires_at);
