// The session list (GET /me/sessions) and revoking one session (DELETE /me/sessions/:id), over
// real HTTP so the client IP is the platform's (here forwarded by a trusted proxy: this test).
// The chat sockets of a revoked session: src/modules/chat/session-list.test.ts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ManualClock } from "../../platform/clock";
import type { EventEnvelope } from "../../platform/events/bus";
import { createTestApp, newUser, type TestApp } from "../../testing/app";
import { modes } from "../../testing/modes";
import { freePort } from "../../testing/ports";
import { waitFor } from "../../testing/wait";
import { accountEvents, type SessionRevoked } from "./events";

type Tokens = { accessToken: string; refreshToken: string; sessionId: string };
type Session = { id: string; userAgent: string | null; ip: string | null; createdAt: string; lastUsedAt: string; expiresAt: string; current: boolean };

describe.each(modes)("accounts session list (%s)", (mode) => {
  const clock = new ManualClock(Date.now());
  let t: TestApp;
  let base: string;
  const seen: EventEnvelope[] = [];
  beforeAll(async () => {
    t = await createTestApp(
      mode,
      { HOMEBASE_TRUSTED_PROXIES: "127.0.0.1" },
      (platform) => {
        platform.events.register({ name: "sessions-test-observer", subjects: [accountEvents.sessionRevoked], apply: (e) => void seen.push(e) });
      },
      undefined,
      { clock },
    );
    const port = await freePort();
    t.app.listen({ hostname: "127.0.0.1", port });
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await t.app.stop(true);
    await t.close();
  });

  const call = (method: string, path: string, { token, body, ip, ua }: { token?: string; body?: unknown; ip?: string; ua?: string } = {}) =>
    fetch(`${base}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
        ...(ip ? { "x-forwarded-for": ip } : {}),
        ...(ua ? { "user-agent": ua } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });

  async function account() {
    const body = newUser("sess");
    expect((await call("POST", "/auth/signup", { body })).status).toBe(201);
    const login = async (ip: string, ua: string) => {
      const res = await call("POST", "/auth/login", { body: { email: body.email, password: body.password }, ip, ua });
      expect(res.status).toBe(200);
      return (await res.json()) as Tokens;
    };
    return { body, login };
  }
  const list = async (token: string) => {
    const res = await call("GET", "/me/sessions", { token });
    expect(res.status).toBe(200);
    return (await res.json()) as { items: Session[]; total: number };
  };
  async function problemCode(res: Response): Promise<string> {
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    return ((await res.json()) as { code: string }).code;
  }

  test("lists each live session: device, IP, created, last used (moved by a refresh), current", async () => {
    const { login } = await account();
    const phone = await login("203.0.113.7", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X)");
    const openedAt = clock.now();
    clock.advance(60_000);
    const laptop = await login("198.51.100.20", "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0");
    clock.advance(60_000);
    // The phone refreshes: its last-used time moves, the phone becomes the most recently used.
    const refreshed = await call("POST", "/auth/refresh", { body: { refreshToken: phone.refreshToken } });
    expect(refreshed.status).toBe(200);
    const refreshedAt = clock.now();

    const { items, total } = await list(laptop.accessToken);
    expect(total).toBe(2);
    expect(items).toEqual([
      {
        id: phone.sessionId,
        userAgent: "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X)",
        ip: "203.0.113.7",
        createdAt: new Date(openedAt).toISOString(),
        lastUsedAt: new Date(refreshedAt).toISOString(),
        expiresAt: expect.any(String),
        current: false,
      },
      {
        id: laptop.sessionId,
        userAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
        ip: "198.51.100.20",
        createdAt: new Date(openedAt + 60_000).toISOString(),
        lastUsedAt: new Date(openedAt + 60_000).toISOString(),
        expiresAt: expect.any(String),
        current: true,
      },
    ]);
    // The phone sees itself as current, with the refreshed access token as with the one before.
    const renewed = (await refreshed.json()) as Tokens;
    for (const token of [phone.accessToken, renewed.accessToken]) {
      expect((await list(token)).items.filter((s) => s.current).map((s) => s.id)).toEqual([phone.sessionId]);
    }
  });

  test("revoking one: 204, session.revoked (session_revoked) names it, its tokens stop working, the other goes on", async () => {
    const { login } = await account();
    const [keep, drop] = [await login("192.0.2.1", "keep"), await login("192.0.2.2", "drop")];
    const res = await call("DELETE", `/me/sessions/${drop.sessionId}`, { token: keep.accessToken });
    expect(res.status).toBe(204);
    expect((await list(keep.accessToken)).items.map((s) => s.id)).toEqual([keep.sessionId]);
    const revoked = await call("GET", "/me", { token: drop.accessToken });
    expect(revoked.status).toBe(401);
    expect(await problemCode(revoked)).toBe("session_revoked");
    const refresh = await call("POST", "/auth/refresh", { body: { refreshToken: drop.refreshToken } });
    expect(refresh.status).toBe(401);
    expect(await problemCode(refresh)).toBe("invalid_refresh_token");
    await waitFor(() => seen.some((e) => (e.payload as SessionRevoked).sessionIds.includes(drop.sessionId)), { what: "session.revoked" });
    const events = seen.map((e) => e.payload as SessionRevoked).filter((p) => p.sessionIds.includes(drop.sessionId));
    expect(events.map((p) => [p.reason, p.sessionIds])).toEqual([["session_revoked", [drop.sessionId]]]);
    // Again: it is not a live session any more.
    const again = await call("DELETE", `/me/sessions/${drop.sessionId}`, { token: keep.accessToken });
    expect(again.status).toBe(404);
    expect(await problemCode(again)).toBe("session_not_found");
  });

  test("the current session can revoke itself (like logout)", async () => {
    const { login } = await account();
    const s = await login("192.0.2.3", "self");
    expect((await call("DELETE", `/me/sessions/${s.sessionId}`, { token: s.accessToken })).status).toBe(204);
    expect((await call("GET", "/me/sessions", { token: s.accessToken })).status).toBe(401);
  });

  test("another user's session, an unknown id or an expired session → 404 session_not_found, nothing revoked", async () => {
    const [a, b] = [await account(), await account()];
    const [mine, theirs] = [await a.login("192.0.2.4", "a"), await b.login("192.0.2.5", "b")];
    for (const id of [theirs.sessionId, Bun.randomUUIDv7(), "not-a-session"]) {
      const res = await call("DELETE", `/me/sessions/${id}`, { token: mine.accessToken });
      expect(res.status).toBe(404);
      expect(await problemCode(res)).toBe("session_not_found");
    }
    expect((await list(theirs.accessToken)).items.map((s) => s.id)).toEqual([theirs.sessionId]);
    expect(seen.some((e) => (e.payload as SessionRevoked).sessionIds.includes(theirs.sessionId))).toBe(false);
    // An old session past its refresh expiry is neither listed nor revocable.
    const old = await a.login("192.0.2.6", "old");
    t.platform.db.query("UPDATE sessions SET expires_at = ? WHERE id = ?").run(clock.now() - 1, old.sessionId);
    expect((await list(mine.accessToken)).items.map((s) => s.id)).toEqual([mine.sessionId]);
    expect((await call("DELETE", `/me/sessions/${old.sessionId}`, { token: mine.accessToken })).status).toBe(404);
  });

  test("anonymous callers get 401", async () => {
    expect((await call("GET", "/me/sessions")).status).toBe(401);
    expect((await call("DELETE", `/me/sessions/${Bun.randomUUIDv7()}`)).status).toBe(401);
  });
});
