import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SignJWT } from "jose";
import { modes } from "../../testing/modes";
import { createTestApp, newUser, signupAndLogin, type TestApp } from "../../testing/app";
import { waitFor } from "../../testing/wait";
import { ManualClock } from "../../platform/clock";
import type { EventEnvelope } from "../../platform/events/bus";
import { accountEvents } from "./events";
import { moduleConfig } from "../../config";
import { accountsModule } from "./index";
import { accountsErrors } from "./errors";
import { platformErrors } from "../../platform/http/errors";

async function problem(res: Response) {
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  const body = (await res.json()) as { status: number; code: string; errors?: Array<{ field: string }> };
  expect(body.status).toBe(res.status);
  return body;
}

describe.each(modes)("accounts (%s)", (mode) => {
  let t: TestApp;
  const seen: EventEnvelope[] = [];
  // Token and session expiry read this clock, and so does the in-process login limiter (Redis
  // keeps its own time for the real-backend limiter).
  const clock = new ManualClock(Date.now());
  const nowSec = () => Math.floor(clock.now() / 1000);

  beforeAll(async () => {
    t = await createTestApp(
      mode,
      { HOMEBASE_LOGIN_MAX_ATTEMPTS: "3", HOMEBASE_LOGIN_WINDOW_SEC: "2", HOMEBASE_LOGIN_BLOCK_SEC: "60" },
      (platform) => {
        platform.events.register({
          name: "accounts-test-observer",
          subjects: ["homebase.accounts.>"],
          apply: (event) => void seen.push(event),
        });
      },
      undefined,
      { clock },
    );
  });
  afterAll(() => t.close());

  describe("signup", () => {
    test("creates an account with a lower-cased email and emits user.registered", async () => {
      const body = newUser();
      const res = await t.request("POST", "/auth/signup", { body: { ...body, email: body.email.toUpperCase() } });
      expect(res.status).toBe(201);
      const user = (await res.json()) as { id: string; email: string; role: string };
      expect(user.email).toBe(body.email.toLowerCase());
      expect(user.role).toBe("user");
      await waitFor(() => seen.some((e) => e.subject === accountEvents.userRegistered && (e.payload as { userId: string }).userId === user.id));
      const events = seen.filter((e) => (e.payload as { userId: string }).userId === user.id);
      expect(events).toHaveLength(1);
    });

    test("duplicate email (any case) → 409 email_taken", async () => {
      const body = newUser();
      expect((await t.request("POST", "/auth/signup", { body })).status).toBe(201);
      const again = await t.request("POST", "/auth/signup", {
        body: { ...newUser(), email: body.email.toUpperCase() },
      });
      expect(again.status).toBe(409);
      expect((await problem(again)).code).toBe("email_taken");
    });

    test("duplicate nickname (any case) → 409 nickname_taken", async () => {
      const body = newUser();
      expect((await t.request("POST", "/auth/signup", { body })).status).toBe(201);
      const again = await t.request("POST", "/auth/signup", { body: { ...newUser(), nickname: body.nickname.toUpperCase() } });
      expect(again.status).toBe(409);
      expect((await problem(again)).code).toBe("nickname_taken");
    });

    test("reserved nickname → 422 nickname_reserved", async () => {
      const res = await t.request("POST", "/auth/signup", { body: { ...newUser(), nickname: "Admin" } });
      expect(res.status).toBe(422);
      expect((await problem(res)).code).toBe("nickname_reserved");
    });

    test.each([
      ["short", "a1!"],
      ["no digit", "password!!"],
      ["no letter", "12345678!"],
      ["no symbol", "password12"],
      ["too long", "a1!" + "x".repeat(70)],
    ])("weak password (%s) → 422 listing /password", async (_name, password) => {
      const res = await t.request("POST", "/auth/signup", { body: { ...newUser(), password } });
      expect(res.status).toBe(422);
      const body = await problem(res);
      expect(body.code).toBe("validation_failed");
      expect(body.errors?.map((e) => e.field)).toContain("/password");
    });

    test("invalid email and missing fields → 422 listing each field", async () => {
      const res = await t.request("POST", "/auth/signup", { body: { email: "not-an-email" } });
      expect(res.status).toBe(422);
      const fields = (await problem(res)).errors?.map((e) => e.field) ?? [];
      expect(fields).toContain("/email");
      expect(fields).toContain("/password");
      expect(fields).toContain("/nickname");
    });

    test("malformed JSON → 400 malformed_body", async () => {
      const res = await t.request("POST", "/auth/signup", {
        body: '{"email": "a@b.c",',
        headers: { "content-type": "application/json" },
      });
      expect(res.status).toBe(400);
      expect((await problem(res)).code).toBe("malformed_body");
    });

    test("oversized body → 413 body_too_large", async () => {
      const huge = "x".repeat(1_100_000);
      const res = await t.request("POST", "/auth/signup", {
        body: JSON.stringify({ email: huge }),
        headers: { "content-type": "application/json", "content-length": String(huge.length + 12) },
      });
      expect(res.status).toBe(413);
      expect((await problem(res)).code).toBe("body_too_large");
    });
  });

  describe("login and tokens", () => {
    test("login → tokens; GET /me with the access token", async () => {
      const u = await signupAndLogin(t);
      const me = await t.request("GET", "/me", { token: u.tokens.accessToken });
      expect(me.status).toBe(200);
      expect(((await me.json()) as { email: string }).email).toBe(u.email);
    });

    test("wrong password and unknown email → 401 invalid_credentials", async () => {
      const u = await signupAndLogin(t);
      const wrong = await t.request("POST", "/auth/login", { body: { email: u.email, password: "Wrong-pass1!" } });
      expect(wrong.status).toBe(401);
      expect((await problem(wrong)).code).toBe("invalid_credentials");
      const unknown = await t.request("POST", "/auth/login", { body: { email: `nobody.${Date.now()}@example.com`, password: "x" } });
      expect(unknown.status).toBe(401);
      expect((await problem(unknown)).code).toBe("invalid_credentials");
    });

    test("brute force: after 3 failures from an address the account is blocked there (429 + Retry-After), even with the right password", async () => {
      const u = await signupAndLogin(t);
      for (let i = 0; i < 3; i++) {
        const res = await t.request("POST", "/auth/login", { body: { email: u.email, password: `Wrong-${i}-pass!` } });
        expect(res.status).toBe(401);
      }
      const blocked = await t.request("POST", "/auth/login", { body: { email: u.email, password: u.password } });
      expect(blocked.status).toBe(429);
      expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
      expect((await problem(blocked)).code).toBe("login_rate_limited");
      // The block (60 s) outlasts the 2 s counting window. Redis counts real time; the embedded
      // limiter counts the injected clock, which moves instead of the test sleeping.
      if (mode === "real") await Bun.sleep(2100);
      else clock.advance(2100);
      const stillBlocked = await t.request("POST", "/auth/login", { body: { email: u.email, password: u.password } });
      expect(stillBlocked.status).toBe(429);
      expect(Number(stillBlocked.headers.get("retry-after"))).toBeGreaterThan(50);
      // Another account from the same address is still allowed (IP limit is 4×).
      const other = await signupAndLogin(t);
      expect(other.tokens.accessToken).toBeString();
    });

    test("missing, malformed, tampered, wrong-key, alg:none and expired tokens → 401", async () => {
      const u = await signupAndLogin(t);
      const missing = await t.request("GET", "/me");
      expect(missing.status).toBe(401);
      expect((await problem(missing)).code).toBe("missing_token");
      expect(missing.headers.get("www-authenticate")).toContain("Bearer");

      const [h, p, s] = u.tokens.accessToken.split(".");
      const payload = JSON.parse(Buffer.from(p!, "base64url").toString()) as Record<string, unknown>;
      const forged = Buffer.from(JSON.stringify({ ...payload, role: "admin", sub: "someone-else" })).toString("base64url");
      const none = Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url");
      const wrongKey = await new SignJWT(payload).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode("x".repeat(48)));
      const expired = await new SignJWT({ ...payload, exp: nowSec() - 10 })
        .setProtectedHeader({ alg: "HS256" })
        .sign(new TextEncoder().encode(moduleConfig(t.platform.config, accountsModule).jwtSecret));
      const cases: Array<[string, string]> = [
        ["garbage", "invalid_token"],
        [`${h}.${forged}.${s}`, "invalid_token"],
        [`${none}.${p}.`, "invalid_token"],
        [wrongKey, "invalid_token"],
        [expired, "token_expired"],
      ];
      for (const [token, code] of cases) {
        const res = await t.request("GET", "/me", { token });
        expect(res.status).toBe(401);
        expect((await problem(res)).code).toBe(code);
      }
    });

    test("a token that worked (and was remembered as verified) is refused once it expires", async () => {
      const u = await signupAndLogin(t);
      const payload = JSON.parse(Buffer.from(u.tokens.accessToken.split(".")[1]!, "base64url").toString()) as Record<string, unknown>;
      const exp = nowSec() + 2;
      const shortLived = await new SignJWT({ ...payload, exp })
        .setProtectedHeader({ alg: "HS256" })
        .sign(new TextEncoder().encode(moduleConfig(t.platform.config, accountsModule).jwtSecret));
      expect((await t.request("GET", "/me", { token: shortLived })).status).toBe(200);
      clock.set(exp * 1000 - 100);
      expect((await t.request("GET", "/me", { token: shortLived })).status).toBe(200);
      clock.set(exp * 1000);
      const expired = await t.request("GET", "/me", { token: shortLived });
      expect(expired.status).toBe(401);
      expect((await problem(expired)).code).toBe("token_expired");
    });

    test("refresh rotates; replaying a rotated token revokes the whole session", async () => {
      const u = await signupAndLogin(t);
      const first = await t.request("POST", "/auth/refresh", { body: { refreshToken: u.tokens.refreshToken } });
      expect(first.status).toBe(200);
      const rotated = (await first.json()) as { accessToken: string; refreshToken: string; sessionId: string };
      expect(rotated.refreshToken).not.toBe(u.tokens.refreshToken);
      expect(rotated.sessionId).toBe(u.tokens.sessionId);

      const replay = await t.request("POST", "/auth/refresh", { body: { refreshToken: u.tokens.refreshToken } });
      expect(replay.status).toBe(401);
      expect((await problem(replay)).code).toBe("refresh_token_reused");

      // The family is dead: the newest refresh token and the access tokens too.
      const newest = await t.request("POST", "/auth/refresh", { body: { refreshToken: rotated.refreshToken } });
      expect(newest.status).toBe(401);
      expect((await problem(newest)).code).toBe("invalid_refresh_token");
      const me = await t.request("GET", "/me", { token: rotated.accessToken });
      expect(me.status).toBe(401);
      expect((await problem(me)).code).toBe("session_revoked");
    });

    test("concurrent refreshes of one token: exactly one wins", async () => {
      const u = await signupAndLogin(t);
      const results = await Promise.all(
        Array.from({ length: 10 }, () => t.request("POST", "/auth/refresh", { body: { refreshToken: u.tokens.refreshToken } })),
      );
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      expect(results.filter((r) => r.status === 401)).toHaveLength(9);
    });

    test("access tokens expire by the clock; each refresh extends the session, which ends a lifetime after the last one", async () => {
      const u = await signupAndLogin(t);
      const { accessTokenTtlSec: accessTtlSec, refreshTokenTtlSec: refreshTtlSec } = moduleConfig(t.platform.config, accountsModule);
      clock.advance(accessTtlSec * 1000 + 1000);
      const stale = await t.request("GET", "/me", { token: u.tokens.accessToken });
      expect(stale.status).toBe(401);
      expect((await problem(stale)).code).toBe("token_expired");

      // Just inside the session's lifetime: the refresh works and starts a new lifetime.
      clock.advance(refreshTtlSec * 1000 - accessTtlSec * 1000 - 60_000);
      const refreshed = await t.request("POST", "/auth/refresh", { body: { refreshToken: u.tokens.refreshToken } });
      expect(refreshed.status).toBe(200);
      const next = (await refreshed.json()) as { accessToken: string; refreshToken: string };
      expect((await t.request("GET", "/me", { token: next.accessToken })).status).toBe(200);
      clock.advance(120_000);
      const again = await t.request("POST", "/auth/refresh", { body: { refreshToken: next.refreshToken } });
      expect(again.status).toBe(200);
      const last = (await again.json()) as { refreshToken: string };

      clock.advance(refreshTtlSec * 1000 + 1000);
      const ended = await t.request("POST", "/auth/refresh", { body: { refreshToken: last.refreshToken } });
      expect(ended.status).toBe(401);
      expect((await problem(ended)).code).toBe("invalid_refresh_token");
    });

    test("unknown refresh token → 401 invalid_refresh_token; empty → 422", async () => {
      const res = await t.request("POST", "/auth/refresh", { body: { refreshToken: "nope.nope" } });
      expect(res.status).toBe(401);
      expect((await problem(res)).code).toBe("invalid_refresh_token");
      const empty = await t.request("POST", "/auth/refresh", { body: { refreshToken: "" } });
      expect(empty.status).toBe(422);
    });

    test("logout revokes the session; logout-all revokes every session", async () => {
      const u = await signupAndLogin(t);
      const logout = await t.request("POST", "/auth/logout", { token: u.tokens.accessToken });
      expect(logout.status).toBe(204);
      expect((await t.request("GET", "/me", { token: u.tokens.accessToken })).status).toBe(401);
      expect((await t.request("POST", "/auth/refresh", { body: { refreshToken: u.tokens.refreshToken } })).status).toBe(401);
      expect((await t.request("POST", "/auth/logout", {})).status).toBe(401);

      const login = async () =>
        (await (await t.request("POST", "/auth/login", { body: { email: u.email, password: u.password } })).json()) as {
          accessToken: string;
        };
      const a = await login();
      const b = await login();
      const all = await t.request("POST", "/auth/logout-all", { token: a.accessToken });
      expect(all.status).toBe(200);
      expect(((await all.json()) as { revoked: number }).revoked).toBe(2);
      expect((await t.request("GET", "/me", { token: a.accessToken })).status).toBe(401);
      expect((await t.request("GET", "/me", { token: b.accessToken })).status).toBe(401);
    });
  });

  describe("profile", () => {
    test("PATCH /me changes the nickname; taken → 409; reserved → 422; empty → 422", async () => {
      const a = await signupAndLogin(t);
      const b = await signupAndLogin(t);
      const nick = `n_${Date.now().toString(36)}`;
      const ok = await t.request("PATCH", "/me", { token: a.tokens.accessToken, body: { nickname: nick } });
      expect(ok.status).toBe(200);
      expect(((await ok.json()) as { nickname: string }).nickname).toBe(nick);
      const taken = await t.request("PATCH", "/me", { token: b.tokens.accessToken, body: { nickname: nick.toUpperCase() } });
      expect(taken.status).toBe(409);
      expect((await problem(taken)).code).toBe("nickname_taken");
      const reserved = await t.request("PATCH", "/me", { token: b.tokens.accessToken, body: { nickname: "root" } });
      expect(reserved.status).toBe(422);
      const empty = await t.request("PATCH", "/me", { token: b.tokens.accessToken, body: {} });
      expect(empty.status).toBe(422);
      expect((await t.request("PATCH", "/me", { body: { nickname: "zz" } })).status).toBe(401);
    });

    test("change password: wrong current → 403; success revokes the other sessions only", async () => {
      const u = await signupAndLogin(t);
      const other = (await (await t.request("POST", "/auth/login", { body: { email: u.email, password: u.password } })).json()) as {
        accessToken: string;
      };
      const wrong = await t.request("POST", "/me/password", {
        token: u.tokens.accessToken,
        body: { currentPassword: "Not-it-123!", newPassword: "N3w-password!" },
      });
      expect(wrong.status).toBe(403);
      expect((await problem(wrong)).code).toBe("wrong_password");
      const weak = await t.request("POST", "/me/password", {
        token: u.tokens.accessToken,
        body: { currentPassword: u.password, newPassword: "weak" },
      });
      expect(weak.status).toBe(422);
      const ok = await t.request("POST", "/me/password", {
        token: u.tokens.accessToken,
        body: { currentPassword: u.password, newPassword: "N3w-password!" },
      });
      expect(ok.status).toBe(200);
      expect(((await ok.json()) as { revoked: number }).revoked).toBe(1);
      expect((await t.request("GET", "/me", { token: u.tokens.accessToken })).status).toBe(200);
      expect((await t.request("GET", "/me", { token: other.accessToken })).status).toBe(401);
      const oldLogin = await t.request("POST", "/auth/login", { body: { email: u.email, password: u.password } });
      expect(oldLogin.status).toBe(401);
      const newLogin = await t.request("POST", "/auth/login", { body: { email: u.email, password: "N3w-password!" } });
      expect(newLogin.status).toBe(200);
    });

    test("DELETE /me: wrong password → 403; success soft-deletes, revokes, frees the email, emits user.deleted", async () => {
      const u = await signupAndLogin(t);
      const wrong = await t.request("DELETE", "/me", { token: u.tokens.accessToken, body: { password: "Nope-1234!" } });
      expect(wrong.status).toBe(403);
      const ok = await t.request("DELETE", "/me", { token: u.tokens.accessToken, body: { password: u.password } });
      expect(ok.status).toBe(204);
      expect((await t.request("GET", "/me", { token: u.tokens.accessToken })).status).toBe(401);
      expect((await t.request("POST", "/auth/login", { body: { email: u.email, password: u.password } })).status).toBe(401);
      await waitFor(() => seen.some((e) => e.subject === accountEvents.userDeleted && (e.payload as { userId: string }).userId === u.user.id));
      const row = t.platform.db.query<{ deleted_at: number | null }, [string]>("SELECT deleted_at FROM users WHERE id = ?").get(u.user.id);
      expect(row?.deleted_at).toBeNumber();
      const again = await t.request("POST", "/auth/signup", { body: { ...newUser(), email: u.email } });
      expect(again.status).toBe(201);
    });
  });

  describe("admin", () => {
    test("user list and role changes need the admin role", async () => {
      const user = await signupAndLogin(t);
      expect((await t.request("GET", "/users")).status).toBe(401);
      const forbidden = await t.request("GET", "/users", { token: user.tokens.accessToken });
      expect(forbidden.status).toBe(403);
      expect((await problem(forbidden)).code).toBe("admin_only");
      expect((await t.request("PATCH", `/users/${user.user.id}/role`, { token: user.tokens.accessToken, body: { role: "admin" } })).status).toBe(403);

      const admin = await signupAndLogin(t, "admin");
      await t.modules.apis.accounts.promoteByEmail(admin.email);
      // The role is read from the store on each request: no new token needed.
      const page1 = await t.request("GET", "/users?limit=2", { token: admin.tokens.accessToken });
      expect(page1.status).toBe(200);
      const p1 = (await page1.json()) as { items: Array<{ id: string }>; nextCursor: string | null };
      expect(p1.items).toHaveLength(2);
      expect(p1.nextCursor).toBeString();
      const page2 = await t.request("GET", `/users?limit=2&cursor=${p1.nextCursor}`, { token: admin.tokens.accessToken });
      const p2 = (await page2.json()) as { items: Array<{ id: string }> };
      expect(p2.items.map((u) => u.id)).not.toContain(p1.items[0]!.id);
      expect((await t.request("GET", "/users?limit=0", { token: admin.tokens.accessToken })).status).toBe(422);
      for (const cursor of ["%%%", "bm9wZQ", Buffer.from(JSON.stringify([1, 2])).toString("base64url")]) {
        const bad = await t.request("GET", `/users?cursor=${cursor}`, { token: admin.tokens.accessToken });
        expect(bad.status).toBe(400);
        expect((await problem(bad)).code).toBe("invalid_cursor");
      }

      const promote = await t.request("PATCH", `/users/${user.user.id}/role`, { token: admin.tokens.accessToken, body: { role: "admin" } });
      expect(promote.status).toBe(200);
      expect((await t.request("GET", "/users", { token: user.tokens.accessToken })).status).toBe(200);
      const missing = await t.request("PATCH", `/users/${Bun.randomUUIDv7()}/role`, { token: admin.tokens.accessToken, body: { role: "user" } });
      expect(missing.status).toBe(404);
      expect((await problem(missing)).code).toBe("user_not_found");
      const self = await t.request("PATCH", `/users/${admin.user.id}/role`, { token: admin.tokens.accessToken, body: { role: "user" } });
      expect(self.status).toBe(409);
      const badRole = await t.request("PATCH", `/users/${user.user.id}/role`, { token: admin.tokens.accessToken, body: { role: "root" } });
      expect(badRole.status).toBe(422);
    });
  });

  test("OpenAPI: every error status of every accounts route lists its codes, from the vocabulary, each code somewhere", async () => {
    type Op = { tags?: string[]; responses: Record<string, { content?: Record<string, { schema: { properties?: { code?: { enum?: string[] } } } }> }> };
    const spec = (await (await t.request("GET", "/swagger/json")).json()) as { paths: Record<string, Record<string, Op>> };
    const known = new Set<string>([...Object.values(accountsErrors), ...Object.values(platformErrors)]);
    const documented = new Set<string>();
    const problems: string[] = [];
    for (const [path, ops] of Object.entries(spec.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        if (!op.tags?.includes("accounts")) continue;
        for (const [status, response] of Object.entries(op.responses)) {
          // 431: the runtime refuses an oversized URL or headers before any handler, with no body.
          if (Number(status) < 400 || status === "431") continue;
          const codes = response.content?.["application/problem+json"]?.schema.properties?.code?.enum;
          if (!codes) problems.push(`${method.toUpperCase()} ${path} ${status}: no codes`);
          for (const code of codes ?? []) {
            documented.add(code);
            if (!known.has(code)) problems.push(`${method.toUpperCase()} ${path} ${status}: ${code} is not in the vocabulary`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
    expect(Object.values(accountsErrors).filter((code) => !documented.has(code))).toEqual([]);
  });

  test("unknown route → 404 problem with a request id", async () => {
    const res = await t.request("GET", "/nope", { headers: { "x-request-id": "req-123" } });
    expect(res.status).toBe(404);
    const body = (await problem(res)) as { code: string; requestId?: string };
    expect(body.code).toBe("route_not_found");
    expect(body.requestId).toBe("req-123");
    expect(res.headers.get("x-request-id")).toBe("req-123");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });
});
