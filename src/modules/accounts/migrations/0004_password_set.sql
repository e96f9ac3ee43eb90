-- Whether the account's owner knows its password: an account created by an OpenID sign-in has a
-- random one nobody knows, and sets a real one (or deletes the account) after a fresh sign-in.
ALTER TABLE users ADD COLUMN password_set INTEGER NOT NULL DEFAULT 1;
