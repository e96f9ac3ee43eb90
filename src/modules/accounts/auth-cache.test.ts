// The auth check serves live sessions from memory (store.sqlite.cache.ts) and stays exact: a
// session or account ended through ANY instance sharing the data dir is refused on the very next
// request of every other one. Two instances here: two platforms on one data dir in one process
// (separate SQLite connections, as two processes have), and two real processes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { createApp, createModules } from "../../app";
import { createPlatform } from "../../platform";
import { createLogger } from "../../platform/logger";
import { createTestApp, newUser, signupAndLogin, type TestApp } from "../../testing/app";
import { modes } from "../../testing/modes";
import { startServer, type RunningServer } from "../../testing/process";
import { SqliteAccountsStore } from "./store.sqlite";

type Tokens = { accessToken: string; refreshToken: string; sessionId: string };
type Handle = (method: string, path: string, options?: { token?: string; body?: unknown }) => Promise<Response>;

const handler =
  (app: { handle(r: Request): Response | Promise<Response> }): Handle =>
  (method, path, { token, body } = {}) =>
    Promise.resolve(
      app.handle(
        new Request(`http://localhost.test${path}`, {
          method,
          headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
          body: body === undefined ? undefined : JSON.stringify(body),
        }),
      ),
    );

const codeOf = async (res: Response) => ((await res.json()) as { code?: string }).code;

describe.each(modes)("auth state across two instances on one data dir (%s)", (mode) => {
  let t: TestApp;
  let a: Handle;
  let b: Handle;
  let closeB: () => Promise<void>;
  beforeAll(async () => {
    t = await createTestApp(mode);
    a = (method, path, options) => t.request(method, path, options);
    // The same configuration (data dir, backends, namespace): another connection to the same file.
    const platform = await createPlatform(t.platform.config, { logger: createLogger("silent") });
    const modules = createModules(platform);
    b = handler(createApp(platform, modules));
    closeB = () => platform.close();
  });
  afterAll(async () => {
    await closeB();
    await t.close();
  });

  async function account(prefix: string) {
    const body = newUser(prefix);
    const signup = await a("POST", "/auth/signup", { body });
    expect(signup.status).toBe(201);
    const { id } = (await signup.json()) as { id: string };
    const login = async (): Promise<Tokens> => {
      const res = await a("POST", "/auth/login", { body: { email: body.email, password: body.password } });
      expect(res.status).toBe(200);
      return (await res.json()) as Tokens;
    };
    return { body, id, login };
  }

  /** B answers GET /me with `status` (and, for 401, session_revoked), twice: cached or not. */
  async function meOnB(token: string, status: number) {
    for (let i = 0; i < 2; i++) {
      const res = await b("GET", "/me", { token });
      expect(res.status).toBe(status);
      if (status === 401) expect(await codeOf(res)).toBe("session_revoked");
    }
  }

  test("logout on A: the next request on B is refused", async () => {
    const u = await account("xlogout");
    const s = await u.login();
    await meOnB(s.accessToken, 200);
    expect((await a("POST", "/auth/logout", { token: s.accessToken })).status).toBe(204);
    await meOnB(s.accessToken, 401);
  });

  test("logout-all, one session revoked from the list, a password change: each refused on B at once", async () => {
    const u = await account("xmany");
    const [s1, s2, s3, s4] = [await u.login(), await u.login(), await u.login(), await u.login()];
    for (const s of [s1, s2, s3, s4]) await meOnB(s.accessToken, 200);
    // Revoking one session of the list from another.
    expect((await a("DELETE", `/me/sessions/${s2.sessionId}`, { token: s1.accessToken })).status).toBe(204);
    await meOnB(s2.accessToken, 401);
    await meOnB(s1.accessToken, 200);
    // A password change ends every other session; the caller's stays.
    const changed = await a("POST", "/me/password", { token: s1.accessToken, body: { currentPassword: u.body.password, newPassword: "An0ther-secret!" } });
    expect(changed.status).toBe(200);
    await meOnB(s3.accessToken, 401);
    await meOnB(s1.accessToken, 200);
    // And logout-all, this one included.
    const s5 = (await (await a("POST", "/auth/login", { body: { email: u.body.email, password: "An0ther-secret!" } })).json()) as Tokens;
    await meOnB(s5.accessToken, 200);
    expect((await a("POST", "/auth/logout-all", { token: s5.accessToken })).status).toBe(200);
    await meOnB(s5.accessToken, 401);
    await meOnB(s1.accessToken, 401);
  });

  test("a reused refresh token on A revokes the session: refused on B", async () => {
    const u = await account("xreuse");
    const s = await u.login();
    await meOnB(s.accessToken, 200);
    expect((await a("POST", "/auth/refresh", { body: { refreshToken: s.refreshToken } })).status).toBe(200);
    await meOnB(s.accessToken, 200);
    const reused = await a("POST", "/auth/refresh", { body: { refreshToken: s.refreshToken } });
    expect([reused.status, await codeOf(reused)]).toEqual([401, "refresh_token_reused"]);
    await meOnB(s.accessToken, 401);
  });

  test("account deletion on A: refused on B", async () => {
    const u = await account("xdelete");
    const s = await u.login();
    await meOnB(s.accessToken, 200);
    expect((await a("DELETE", "/me", { token: s.accessToken, body: { password: u.body.password } })).status).toBe(204);
    await meOnB(s.accessToken, 401);
  });

  test("role changes on A take effect on B's next request; so does a profile change", async () => {
    const [boss, other] = [await account("xboss"), await account("xother")];
    const [sb, so] = [await boss.login(), await other.login()];
    expect((await b("GET", "/users", { token: so.accessToken })).status).toBe(403);
    await t.modules.apis.accounts.promoteByEmail(boss.body.email);
    await t.modules.apis.accounts.promoteByEmail(other.body.email);
    expect((await b("GET", "/users", { token: so.accessToken })).status).toBe(200);
    expect(((await (await b("GET", "/me", { token: so.accessToken })).json()) as { role: string }).role).toBe("admin");
    expect((await a("PATCH", `/users/${other.id}/role`, { token: sb.accessToken, body: { role: "user" } })).status).toBe(200);
    const refused = await b("GET", "/users", { token: so.accessToken });
    expect([refused.status, await codeOf(refused)]).toEqual([403, "admin_only"]);
    expect(((await (await b("GET", "/me", { token: so.accessToken })).json()) as { role: string }).role).toBe("user");
    expect((await a("PATCH", "/me", { token: so.accessToken, body: { nickname: `${other.body.nickname.slice(0, 20)}_new` } })).status).toBe(200);
    expect(((await (await b("GET", "/me", { token: so.accessToken })).json()) as { nickname: string }).nickname).toBe(`${other.body.nickname.slice(0, 20)}_new`);
  });

  test("a hand-run UPDATE on a third connection is seen too (triggers, not the code path, move the counters)", async () => {
    const u = await account("xhand");
    const s = await u.login();
    await meOnB(s.accessToken, 200);
    const db = new Database(join(t.dataDir, "homebase.sqlite"));
    try {
      db.query("UPDATE sessions SET revoked_at = ?, revoke_reason = 'logout' WHERE id = ?").run(Date.now(), s.sessionId);
    } finally {
      db.close();
    }
    await meOnB(s.accessToken, 401);
  });
});

describe("the cached path (one store, its own connection and another)", () => {
  let t: TestApp;
  let store: SqliteAccountsStore;
  beforeAll(async () => {
    t = await createTestApp("embedded");
    store = new SqliteAccountsStore(t.platform.db, t.platform.writer, t.platform.events);
  });
  afterAll(async () => {
    store.close();
    await t.close();
  });

  test("cached reads read nothing from SQLite while nothing committed (the -shm header says so), nothing is dropped until a counter moves; a revocation drops the states", async () => {
    const signup = newUser("cached");
    const created = await t.request("POST", "/auth/signup", { body: signup });
    const userId = ((await created.json()) as { id: string }).id;
    const login = (await (await t.request("POST", "/auth/login", { body: { email: signup.email, password: signup.password } })).json()) as Tokens;
    const now = Date.now();
    expect((await store.sessionAuthState(login.sessionId, userId, now))?.revokedAt).toBeNull();
    expect((await store.user(userId))?.email).toBe(signup.email);
    const before = { ...store.caches.stats };
    for (let i = 0; i < 100; i++) {
      expect((await store.sessionAuthState(login.sessionId, userId, now))?.revokedAt).toBeNull();
      expect((await store.user(userId))?.id).toBe(userId);
    }
    expect(store.caches.stats).toEqual({ ...before, looks: before.looks + 200 });

    // Another connection commits something unrelated: the counters are read again, nothing dropped.
    const other = new Database(join(t.dataDir, "homebase.sqlite"));
    try {
      other.exec("CREATE TABLE IF NOT EXISTS cache_test_unrelated (n INTEGER)");
      other.query("INSERT INTO cache_test_unrelated (n) VALUES (1)").run();
      expect((await store.sessionAuthState(login.sessionId, userId, now))?.revokedAt).toBeNull();
      expect(store.caches.stats).toEqual({ ...before, looks: before.looks + 201, reads: before.reads + 1 });
      // Read once, the counters hold again until the next commit.
      expect((await store.sessionAuthState(login.sessionId, userId, now))?.revokedAt).toBeNull();
      expect(store.caches.stats).toEqual({ ...before, looks: before.looks + 202, reads: before.reads + 1 });
      // A session of the same user prolonged elsewhere moves no counter; a shortened one does.
      other.query("UPDATE sessions SET expires_at = expires_at + 1000 WHERE id = ?").run(login.sessionId);
      await store.sessionAuthState(login.sessionId, userId, now);
      expect(store.caches.stats.authDrops).toBe(before.authDrops);
      other.query("UPDATE sessions SET expires_at = ? WHERE id = ?").run(now + 10, login.sessionId);
      expect((await store.sessionAuthState(login.sessionId, userId, now))?.expiresAt).toBe(now + 10);
      expect(store.caches.stats.authDrops).toBe(before.authDrops + 1);
      // Past the cached expiry the state is read again, whatever the cache held.
      other.query("UPDATE sessions SET expires_at = expires_at + 60000 WHERE id = ?").run(login.sessionId);
      expect((await store.sessionAuthState(login.sessionId, userId, now + 20))?.expiresAt).toBe(now + 60_010);
      // The account row changed elsewhere: the user read follows.
      other.query("UPDATE users SET nickname = 'renamed_by_hand' WHERE id = ?").run(userId);
      expect((await store.user(userId))?.nickname).toBe("renamed_by_hand");
    } finally {
      other.close();
    }
    // This process's own writes move the counters the same way.
    await store.revokeSession(login.sessionId, "logout", now);
    expect((await store.sessionAuthState(login.sessionId, userId, now))?.revokedAt).toBe(now);
  });

  test("a read given its request's auth-check mark reuses that look; a look since, or no mark, looks again and sees what committed", async () => {
    const signup = newUser("marked");
    const userId = ((await (await t.request("POST", "/auth/signup", { body: signup })).json()) as { id: string }).id;
    const login = (await (
      await t.request("POST", "/auth/login", { body: { email: signup.email, password: signup.password } })
    ).json()) as Tokens;
    const now = Date.now();
    await store.sessionAuthState(login.sessionId, userId, now);
    await store.user(userId);
    const check = async () => {
      await store.sessionAuthState(login.sessionId, userId, now);
      return store.readMark();
    };
    const looks = () => store.caches.stats.looks;

    let mark = await check();
    let before = looks();
    expect((await store.user(userId, mark))?.id).toBe(userId);
    expect(looks()).toBe(before);
    // No mark, a stale mark (another look came between): a look of its own.
    expect((await store.user(userId))?.id).toBe(userId);
    expect(looks()).toBe(before + 1);
    expect((await store.user(userId, mark))?.id).toBe(userId);
    expect(looks()).toBe(before + 2);

    const other = new Database(join(t.dataDir, "homebase.sqlite"));
    try {
      // Committed before the request's auth check: that check's look sees it, so the reuse does.
      other.query("UPDATE users SET nickname = 'before_the_check' WHERE id = ?").run(userId);
      mark = await check();
      expect((await store.user(userId, mark))?.nickname).toBe("before_the_check");
      // Committed after: a later request's check sees it.
      other.query("UPDATE users SET nickname = 'after_the_check' WHERE id = ?").run(userId);
      mark = await check();
      before = looks();
      expect((await store.user(userId, mark))?.nickname).toBe("after_the_check");
      expect(looks()).toBe(before);
    } finally {
      other.close();
    }
  });

  test("GET /me looks at the counters once (its auth check's look); PATCH /me answers its own write", async () => {
    const u = await signupAndLogin(t, "once");
    const me = () => t.request("GET", "/me", { token: u.tokens.accessToken });
    await me();
    // The app's own store (the service keeps it private): its looks are what GET /me costs.
    const appStore = (t.modules.apis.accounts as unknown as { store: SqliteAccountsStore }).store;
    const before = appStore.caches.stats.looks;
    for (let i = 0; i < 10; i++) expect((await me()).status).toBe(200);
    expect(appStore.caches.stats.looks - before).toBe(10);
    const patched = await t.request("PATCH", "/me", { token: u.tokens.accessToken, body: { nickname: `renamed${Date.now() % 100000}` } });
    expect(patched.status).toBe(200);
    const nickname = ((await patched.json()) as { nickname: string }).nickname;
    expect(nickname).toMatch(/^renamed/);
    expect(((await (await me()).json()) as { nickname: string }).nickname).toBe(nickname);
  });
});

describe("auth state across two processes on one data dir", () => {
  let first: RunningServer;
  let second: RunningServer;
  beforeAll(async () => {
    first = await startServer({ HOMEBASE_LOG_LEVEL: "warn" }, { args: ["all"] });
    second = await startServer({ HOMEBASE_LOG_LEVEL: "warn" }, { args: ["serve"], dataDir: first.dataDir });
  });
  afterAll(async () => {
    await Promise.all([first?.stop(), second?.stop()]);
  });

  test("logged out through one process, refused by the other on its next request", async () => {
    const body = newUser("xproc");
    const json = { "content-type": "application/json" };
    expect((await fetch(`${first.url}/auth/signup`, { method: "POST", headers: json, body: JSON.stringify(body) })).status).toBe(201);
    const login = (await (await fetch(`${first.url}/auth/login`, { method: "POST", headers: json, body: JSON.stringify({ email: body.email, password: body.password }) })).json()) as Tokens;
    const auth = { authorization: `Bearer ${login.accessToken}` };
    for (let i = 0; i < 3; i++) expect((await fetch(`${second.url}/me`, { headers: auth })).status).toBe(200);
    expect((await fetch(`${first.url}/auth/logout`, { method: "POST", headers: auth })).status).toBe(204);
    const refused = await fetch(`${second.url}/me`, { headers: auth });
    expect([refused.status, await codeOf(refused)]).toEqual([401, "session_revoked"]);
  });
});
