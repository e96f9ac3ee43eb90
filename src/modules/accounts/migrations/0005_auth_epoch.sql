-- Two counters the auth check's in-memory caches (store.sqlite.cache.ts) are valid under, moved by
-- triggers in the transaction of the change itself, whatever wrote it (this process, another
-- instance on the same data dir, a hand-run UPDATE):
--   auth:  a session is revoked (or un-revoked), shortened, moved or deleted; an account is
--          deleted (or restored) or changes role: what decides whether a token is still good.
--   users: any change to an account row (what GET /me and the other user reads return).
-- A prolonged session (a refresh) moves neither: a cached expiry that has passed is read again.
CREATE TABLE accounts_epoch (
  id    INTEGER PRIMARY KEY CHECK (id = 1),
  auth  INTEGER NOT NULL,
  users INTEGER NOT NULL
);
INSERT INTO accounts_epoch (id, auth, users) VALUES (1, 0, 0);

CREATE TRIGGER sessions_auth_epoch_update AFTER UPDATE OF revoked_at, expires_at, user_id ON sessions
WHEN NEW.revoked_at IS NOT OLD.revoked_at OR NEW.expires_at < OLD.expires_at OR NEW.user_id IS NOT OLD.user_id
BEGIN
  UPDATE accounts_epoch SET auth = auth + 1 WHERE id = 1;
END;

CREATE TRIGGER sessions_auth_epoch_delete AFTER DELETE ON sessions
BEGIN
  UPDATE accounts_epoch SET auth = auth + 1 WHERE id = 1;
END;

CREATE TRIGGER users_epoch_update AFTER UPDATE ON users
BEGIN
  UPDATE accounts_epoch
     SET users = users + 1,
         auth = auth + (NEW.deleted_at IS NOT OLD.deleted_at OR NEW.role IS NOT OLD.role OR NEW.id IS NOT OLD.id)
   WHERE id = 1;
END;

CREATE TRIGGER users_epoch_delete AFTER DELETE ON users
BEGIN
  UPDATE accounts_epoch SET users = users + 1, auth = auth + 1 WHERE id = 1;
END;
