// A socket belongs to the session of the token it was opened (or re-authenticated) with. When
// that session ends — logout, logout-all, a password change, refresh-token reuse, the account's
// deletion — the socket is closed with 4001 within a second, on every instance; when its access
// token expires it is closed with 4002, unless the client sent a fresh token with the `auth` op.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock } from "../../platform/clock";
import { createTestApp, newUser, signupAndLogin, type TestApp } from "../../testing/app";
import { modes } from "../../testing/modes";
import { startServer, type RunningServer } from "../../testing/process";
import { startRealBackends } from "../../testing/servers";
import { closeCodes } from "./model";
import { ChatClient } from "./testkit";

type Tokens = { accessToken: string; refreshToken: string; sessionId: string };

const upgradeHeaders = { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" };

/** Waits for the close and checks its code and that it came within a second of `since`. */
async function closedWithin(client: ChatClient, code: number, since: number): Promise<number> {
  const closed = await client.waitClosed(3_000);
  const ms = client.closedAt! - since;
  expect({ code: closed.code, withinASecond: ms < 1_000 }).toEqual({ code, withinASecond: true });
  return ms;
}

/** The six causes, each as a request against a base URL; `a` and `b` are two sessions of one user. */
type Cause = "logout" | "logout-all" | "password" | "refresh-reuse" | "deletion";

interface Account {
  email: string;
  password: string;
  a: Tokens;
  b: Tokens;
}

async function json(base: string, method: string, path: string, token?: string, body?: unknown): Promise<Response> {
  return fetch(`${base}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
}

/**
 * Ends sessions by one cause, acting as session a. Returns which sessions must be gone
 * (logout, reuse → a only; password → b only, the changing session stays; logout-all, deletion →
 * both) and when the ending request was sent.
 */
async function endSessions(base: string, account: Account, cause: Cause): Promise<{ ended: Array<"a" | "b">; at: number }> {
  const token = account.a.accessToken;
  let res: Response;
  let ended: Array<"a" | "b">;
  if (cause === "refresh-reuse") expect((await json(base, "POST", "/auth/refresh", undefined, { refreshToken: account.a.refreshToken })).status).toBe(200);
  const at = performance.now();
  switch (cause) {
    case "logout":
      res = await json(base, "POST", "/auth/logout", token);
      ended = ["a"];
      break;
    case "logout-all":
      res = await json(base, "POST", "/auth/logout-all", token);
      ended = ["a", "b"];
      break;
    case "password":
      res = await json(base, "POST", "/me/password", token, { currentPassword: account.password, newPassword: "Changed-secret-9!" });
      ended = ["b"];
      break;
    case "refresh-reuse":
      // The same refresh token again: a leak, the session is revoked.
      res = await json(base, "POST", "/auth/refresh", undefined, { refreshToken: account.a.refreshToken });
      expect(res.status).toBe(401);
      return { ended: ["a"], at };
    case "deletion":
      res = await json(base, "DELETE", "/me", token, { password: account.password });
      ended = ["a", "b"];
      break;
  }
  expect(res.status).toBeLessThan(300);
  return { ended, at };
}

const causes: Cause[] = ["logout", "logout-all", "password", "refresh-reuse", "deletion"];

describe.each(modes)("chat sockets end with their session (%s)", (mode) => {
  const clock = new ManualClock();
  let t: TestApp;
  let base: string;
  const clients: ChatClient[] = [];
  const connect = async (token: string) => {
    const c = await ChatClient.connect(base, token);
    clients.push(c);
    return c;
  };
  async function account(prefix: string): Promise<Account> {
    const u = await signupAndLogin(t, prefix);
    const login = await t.request("POST", "/auth/login", { body: { email: u.email, password: u.password } });
    return { email: u.email, password: u.password, a: u.tokens, b: (await login.json()) as Tokens };
  }
  const upgrade = (token: string) => fetch(`${base}/ws?token=${encodeURIComponent(token)}`, { headers: upgradeHeaders });

  beforeAll(async () => {
    t = await createTestApp(mode, { HOMEBASE_CHAT_READ_FLUSH_MS: "50", HOMEBASE_SQLITE_SYNCHRONOUS: "NORMAL" }, undefined, undefined, { clock });
    t.app.listen({ hostname: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${t.app.server!.port}`;
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await t.app.stop(true);
    await t.close();
  });

  test.each(causes)("%s: the ended session's sockets close with 4001 within a second; the others stay", async (cause) => {
    const acc = await account(cause.replace("-", ""));
    const room = (await (await t.request("POST", "/rooms", { token: acc.a.accessToken, body: { name: `${cause} room` } })).json()) as { id: string };
    const sockets = { a: [await connect(acc.a.accessToken), await connect(acc.a.accessToken)], b: [await connect(acc.b.accessToken)] };
    for (const s of [...sockets.a, ...sockets.b]) expect((await s.join(room.id)).event).toBe("joined");

    const { ended, at } = await endSessions(base, acc, cause);
    const ms: number[] = [];
    for (const which of ["a", "b"] as const) {
      for (const s of sockets[which]) {
        if (ended.includes(which)) {
          ms.push(await closedWithin(s, closeCodes.sessionEnded, at));
          expect(s.closed!.reason).toBe("session_ended");
        } else await s.ping();
      }
    }
    // A closed socket's session cannot open another.
    for (const which of ended) expect((await upgrade(acc[which].accessToken)).status).toBe(401);
    console.info(`[sessions ${mode}] ${cause}: closed after ${ms.map((x) => x.toFixed(0)).join(", ")} ms`);
  });

  test("expiry: closed with 4002 at the token's exp; a socket re-authenticated with a fresh token lives on", async () => {
    const u = await signupAndLogin(t, "expiry");
    const ttlMs = 900_000; // HOMEBASE_ACCESS_TTL_SEC's default
    const [stale, renewed] = [await connect(u.tokens.accessToken), await connect(u.tokens.accessToken)];
    const ready = stale.all((e) => e.event === "ready")[0]!;
    expect(Date.parse(ready.expiresAt)).toBeGreaterThan(clock.now());

    clock.advance(ttlMs - 60_000);
    await Promise.all([stale.ping(), renewed.ping()]);
    const fresh = (await (await t.request("POST", "/auth/refresh", { body: { refreshToken: u.tokens.refreshToken } })).json()) as Tokens;
    renewed.send({ op: "auth", token: fresh.accessToken, ref: "re" });
    const authed = await renewed.next((e) => e.ref === "re", "auth reply");
    expect(authed).toMatchObject({ event: "authenticated", userId: u.user.id });
    expect(Date.parse(authed.expiresAt)).toBe(Math.floor(clock.now() / 1000) * 1000 + ttlMs);

    clock.advance(60_000);
    const at = performance.now();
    const ms = await closedWithin(stale, closeCodes.tokenExpired, at);
    expect(stale.closed!.reason).toBe("token_expired");
    await renewed.ping();
    // Past the new token's exp it goes the same way.
    clock.advance(ttlMs);
    await closedWithin(renewed, closeCodes.tokenExpired, performance.now());
    console.info(`[sessions ${mode}] expiry: closed after ${ms.toFixed(0)} ms`);
  });

  test("auth op: another user's token, a bad or an ended session's token is refused and the socket keeps its own", async () => {
    const [u, other] = [await signupAndLogin(t, "authop"), await signupAndLogin(t, "authother")];
    const s = await connect(u.tokens.accessToken);
    const reply = async (token: string) => {
      const ref = Bun.randomUUIDv7();
      s.send({ op: "auth", token, ref });
      return s.next((e) => e.ref === ref, "auth reply");
    };
    expect(await reply(other.tokens.accessToken)).toMatchObject({ event: "error", code: "auth_user_mismatch", status: 403 });
    expect(await reply("not.a.jwt")).toMatchObject({ event: "error", code: "invalid_token", status: 401 });
    const second = (await (await t.request("POST", "/auth/login", { body: { email: u.email, password: u.password } })).json()) as Tokens;
    expect((await t.request("POST", "/auth/logout", { token: second.accessToken })).status).toBe(204);
    expect(await reply(second.accessToken)).toMatchObject({ event: "error", code: "session_revoked", status: 401 });
    await s.ping();
    // Another live session of the same user is accepted: the socket now ends with that one.
    const third = (await (await t.request("POST", "/auth/login", { body: { email: u.email, password: u.password } })).json()) as Tokens;
    expect(await reply(third.accessToken)).toMatchObject({ event: "authenticated", userId: u.user.id });
    expect((await t.request("POST", "/auth/logout", { token: u.tokens.accessToken })).status).toBe(204);
    await s.ping();
    const at = performance.now();
    expect((await t.request("POST", "/auth/logout", { token: third.accessToken })).status).toBe(204);
    await closedWithin(s, closeCodes.sessionEnded, at);
  });

  test("backstop: a session ended without a broadcast is closed at the next check", async () => {
    const u = await signupAndLogin(t, "backstop");
    const [s, kept] = [await connect(u.tokens.accessToken), await connect((await signupAndLogin(t, "kept")).tokens.accessToken)];
    // Revoked behind the bus's back (as if the broadcast was lost): no event, the socket stays.
    t.platform.db.query("UPDATE sessions SET revoked_at = ?, revoke_reason = 'logout' WHERE id = ?").run(clock.now(), u.tokens.sessionId);
    await s.ping();
    const at = performance.now();
    await t.modules.apis.chat.sessions.revalidate();
    await closedWithin(s, closeCodes.sessionEnded, at);
    await kept.ping();
  });
});

// Two processes sharing NATS, Redis and the data dir: a session ended through one instance
// closes its sockets on both, whichever instance's consumer took the event.
const clustered = modes.includes("real") ? ["real"] : [];

describe.each(clustered)("chat sockets end with their session across two instances (%s)", () => {
  let s1: RunningServer, s2: RunningServer;
  let dataDir: string;
  const clients: ChatClient[] = [];

  beforeAll(async () => {
    const { redisUrl, natsUrl } = await startRealBackends();
    dataDir = mkdtempSync(join(tmpdir(), "homebase-chat-sessions-"));
    const env = {
      REDIS_URL: redisUrl,
      NATS_URL: natsUrl,
      HOMEBASE_EVENT_NAMESPACE: `s${Bun.randomUUIDv7().replaceAll("-", "").slice(-12)}`,
      HOMEBASE_LOG_LEVEL: "warn",
      HOMEBASE_SQLITE_SYNCHRONOUS: "NORMAL",
    };
    s1 = await startServer(env, { dataDir });
    s2 = await startServer(env, { dataDir });
  }, 60_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all([s1?.stop(), s2?.stop()]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  test.each(causes)("%s through instance 1 closes the sockets on both instances within a second", async (cause) => {
    const body = newUser(cause.replace("-", ""));
    expect((await json(s1.url, "POST", "/auth/signup", undefined, body)).status).toBe(201);
    const login = async (server: RunningServer) => (await (await json(server.url, "POST", "/auth/login", undefined, { email: body.email, password: body.password })).json()) as Tokens;
    const acc: Account = { email: body.email, password: body.password, a: await login(s1), b: await login(s2) };
    const connect = async (server: RunningServer, token: string) => {
      const c = await ChatClient.connect(server.url, token);
      clients.push(c);
      return c;
    };
    // Each session has a socket on each instance.
    const sockets = {
      a: [await connect(s1, acc.a.accessToken), await connect(s2, acc.a.accessToken)],
      b: [await connect(s1, acc.b.accessToken), await connect(s2, acc.b.accessToken)],
    };
    const { ended, at } = await endSessions(s1.url, acc, cause);
    const ms: number[] = [];
    for (const which of ["a", "b"] as const) {
      for (const s of sockets[which]) {
        if (ended.includes(which)) ms.push(await closedWithin(s, closeCodes.sessionEnded, at));
        else await s.ping();
      }
    }
    console.info(`[sessions two instances] ${cause}: closed after ${ms.map((x) => x.toFixed(0)).join(", ")} ms`);
  });
});
