// Sign in with OpenID Connect, end to end against a real OpenID provider (panva's oidc-provider
// in a child process, src/testing/oidc-provider.ts): start → the provider's login and consent
// pages → callback → POST /auth/oidc/exchange → GET /me. Two providers: "corp" puts the email in
// the ID token (as Google does), "std" keeps the ID token small and says it at userinfo (OpenID
// Connect Core 5.4); "down" has nothing listening at its issuer.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, moduleConfig, redactedConfig, unknownVariableWarnings } from "../../platform/config";
import { ConfigError } from "../../platform/config/env";
import { ManualClock } from "../../platform/clock";
import { modules } from "../../modules";
import { createTestApp, newUser, type TestApp } from "../../testing/app";
import { modes } from "../../testing/modes";
import { Browser, type OidcProvider, startOidcProvider, type UserClaims } from "../../testing/oidc-provider";
import { freePort } from "../../testing/ports";
import { accountsModule } from ".";

const appOrigin = "http://localhost.test";
const secret = `client-secret-${crypto.randomUUID()}`;
const dir = mkdtempSync(join(tmpdir(), "homebase-oidc-test-"));
const secretFile = join(dir, "client.secret");
writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });

let corp: OidcProvider;
let std: OidcProvider;
let downPort: number;

beforeAll(async () => {
  const redirectUris = [`${appOrigin}/auth/oidc/corp/callback`, `${appOrigin}/auth/oidc/std/callback`];
  [corp, std, downPort] = await Promise.all([
    startOidcProvider({ clientId: "homebase-corp", clientSecret: secret, redirectUris, conformIdTokenClaims: false }),
    startOidcProvider({ clientId: "homebase-std", clientSecret: secret, redirectUris }),
    freePort(),
  ]);
});

afterAll(async () => {
  await Promise.all([corp?.stop(), std?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

function oidcEnv(): Record<string, string> {
  return {
    HOMEBASE_PUBLIC_URL: appOrigin,
    HOMEBASE_OIDC_PROVIDERS: "corp,std,down",
    HOMEBASE_OIDC_CORP_ISSUER: corp.issuer,
    HOMEBASE_OIDC_CORP_CLIENT_ID: "homebase-corp",
    HOMEBASE_OIDC_CORP_CLIENT_SECRET_FILE: secretFile,
    HOMEBASE_OIDC_CORP_LABEL: "Corp SSO",
    HOMEBASE_OIDC_STD_ISSUER: std.issuer,
    HOMEBASE_OIDC_STD_CLIENT_ID: "homebase-std",
    HOMEBASE_OIDC_STD_CLIENT_SECRET_FILE: secretFile,
    HOMEBASE_OIDC_DOWN_ISSUER: `http://127.0.0.1:${downPort}`,
    HOMEBASE_OIDC_DOWN_CLIENT_ID: "homebase-down",
    HOMEBASE_OIDC_DOWN_CLIENT_SECRET_FILE: secretFile,
  };
}

let seq = 0;
/** A fresh user at a provider: its sub (the login typed on its page) and claims. */
function providerUser(op: OidcProvider, claims: Partial<UserClaims> = {}) {
  const sub = `u${++seq}-${crypto.randomUUID().slice(0, 8)}`;
  const user: UserClaims = { email: `${sub}@corp.example`, email_verified: true, name: `User ${seq}`, preferred_username: sub, ...claims };
  op.setUser(sub, user);
  return { sub, ...user };
}

type Tokens = { accessToken: string; refreshToken: string; sessionId: string; tokenType: string };

describe.each(modes)("OIDC sign-in (%s)", (mode) => {
  const clock = new ManualClock(Date.now());
  let t: TestApp;
  const browser = () => new Browser(appOrigin, (request) => t.app.handle(request));

  beforeAll(async () => {
    t = await createTestApp(mode, oidcEnv(), undefined, undefined, { clock });
  });
  afterAll(() => t.close());

  const flows = () => (t.platform.db.query("SELECT count(*) AS n FROM oidc_flows").get() as { n: number }).n;

  /** Start → provider → the callback's answer (not followed). */
  async function toCallback(
    b: Browser,
    provider: string,
    login: string,
    { returnTo, tamper }: { returnTo?: string; tamper?: (url: URL) => void } = {},
  ) {
    const start = await b.request(`${appOrigin}/auth/oidc/${provider}/start${returnTo ? `?returnTo=${encodeURIComponent(returnTo)}` : ""}`);
    expect(start.status).toBe(302);
    const authorize = new URL(start.headers.get("location")!);
    tamper?.(authorize);
    const callbackUrl = await b.authorize(authorize.toString(), login);
    return { start, authorize, callbackUrl, callback: await b.request(callbackUrl) };
  }

  /** The whole sign-in: tokens and /me. */
  async function signIn(provider: string, login: string, b = browser()) {
    const { callback } = await toCallback(b, provider, login);
    expect(callback.status).toBe(303);
    const exchange = await b.request(`${appOrigin}/auth/oidc/exchange`, { method: "POST" });
    expect(exchange.status).toBe(200);
    const tokens = (await exchange.json()) as Tokens;
    const me = await t.request("GET", "/me", { token: tokens.accessToken });
    expect(me.status).toBe(200);
    return { tokens, me: (await me.json()) as { id: string; email: string; nickname: string } };
  }

  async function expectProblem(response: Response, status: number, code: string) {
    expect(response.status).toBe(status);
    expect(response.headers.get("content-type")).toContain("application/problem+json");
    const body = (await response.json()) as { code: string; detail: string };
    expect(body.code).toBe(code);
    return body;
  }

  test("GET /auth/oidc/providers lists the configured providers", async () => {
    const res = await t.request("GET", "/auth/oidc/providers");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      providers: [
        { name: "corp", label: "Corp SSO", start: "/auth/oidc/corp/start" },
        { name: "std", label: "std", start: "/auth/oidc/std/start" },
        { name: "down", label: "down", start: "/auth/oidc/down/start" },
      ],
    });
  });

  test("end to end: start → provider login → callback → exchange → GET /me, a new account from a verified email", async () => {
    const user = providerUser(corp, { preferred_username: undefined, name: "Ada Lovelace" });
    const b = browser();
    const { start, authorize, callbackUrl, callback } = await toCallback(b, "corp", user.sub, { returnTo: "/chat" });
    // The authorization request: code flow, PKCE S256, state and nonce, our redirect URI.
    expect(authorize.origin).toBe(corp.issuer);
    expect(authorize.searchParams.get("response_type")).toBe("code");
    expect(authorize.searchParams.get("code_challenge_method")).toBe("S256");
    expect(authorize.searchParams.get("code_challenge")).toMatch(/^[\w-]{43}$/);
    expect(authorize.searchParams.get("nonce")).toMatch(/^[\w-]{20,}$/);
    expect(authorize.searchParams.get("redirect_uri")).toBe(`${appOrigin}/auth/oidc/corp/callback`);
    const stateCookie = start.headers.getSetCookie().find((c) => c.startsWith("homebase_oidc_state="))!;
    expect(stateCookie).toContain("HttpOnly");
    expect(stateCookie).toContain("SameSite=Lax");
    expect(stateCookie).toContain("Path=/auth/oidc/corp/callback");
    expect(stateCookie).toContain(`homebase_oidc_state=${authorize.searchParams.get("state")};`);
    expect(new URL(callbackUrl).searchParams.get("code")).toBeTruthy();
    // Back to returnTo; the login code in an HttpOnly cookie only POST /auth/oidc/exchange gets.
    expect(callback.status).toBe(303);
    expect(callback.headers.get("location")).toBe("/chat");
    const loginCookie = callback.headers.getSetCookie().find((c) => c.startsWith("homebase_oidc_login="))!;
    expect(loginCookie).toContain("HttpOnly");
    expect(loginCookie).toContain("Path=/auth/oidc/exchange");
    const code = b.cookie(appOrigin, "homebase_oidc_login")!;
    const exchange = await b.request(`${appOrigin}/auth/oidc/exchange`, { method: "POST" });
    expect(exchange.status).toBe(200);
    const tokens = (await exchange.json()) as Tokens;
    expect(tokens.tokenType).toBe("Bearer");
    const me = (await (await t.request("GET", "/me", { token: tokens.accessToken })).json()) as { email: string; nickname: string };
    expect(me.email).toBe(user.email!);
    // The provider's name, in the characters nicknames allow.
    expect(me.nickname).toBe("Ada.Lovelace");
    // The same tokens as a login: the refresh token rotates.
    expect((await t.request("POST", "/auth/refresh", { body: { refreshToken: tokens.refreshToken } })).status).toBe(200);
    // The login code works once.
    const again = await b.request(`${appOrigin}/auth/oidc/exchange`, {
      method: "POST",
      headers: { cookie: `homebase_oidc_login=${code}` },
    });
    await expectProblem(again, 401, "oidc_login_code_invalid");
    await expectProblem(await t.request("POST", "/auth/oidc/exchange"), 401, "oidc_login_code_invalid");
  });

  test("the email can come from userinfo (a provider whose ID token carries no email)", async () => {
    const user = providerUser(std);
    const { me } = await signIn("std", user.sub);
    expect(me.email).toBe(user.email!);
  });

  test("a verified email equal to an account's (after normalising) links to that account", async () => {
    const existing = newUser("link");
    expect((await t.request("POST", "/auth/signup", { body: existing })).status).toBe(201);
    const user = providerUser(corp, { email: `  ${existing.email.toUpperCase()} ` });
    const { me } = await signIn("corp", user.sub);
    expect(me.email).toBe(existing.email);
    expect(me.nickname).toBe(existing.nickname);
    // Its password still works, and the identity now finds it directly.
    expect((await t.request("POST", "/auth/login", { body: { email: existing.email, password: existing.password } })).status).toBe(200);
    expect((await signIn("corp", user.sub)).me.id).toBe(me.id);
  });

  test("an unverified email neither links nor creates an account", async () => {
    const existing = newUser("unv");
    const signup = (await (await t.request("POST", "/auth/signup", { body: existing })).json()) as { id: string };
    const user = providerUser(corp, { email: existing.email, email_verified: false });
    const { callback } = await toCallback(browser(), "corp", user.sub);
    const problem = await expectProblem(callback, 403, "oidc_email_unverified");
    expect(problem.detail).toContain("nothing was linked or created");
    // No email at all is the same.
    const noEmail = providerUser(corp, { email: undefined, email_verified: undefined });
    await expectProblem((await toCallback(browser(), "corp", noEmail.sub)).callback, 403, "oidc_email_unverified");
    // A new unverified email created no account: it is free for a signup.
    const fresh = providerUser(corp, { email_verified: false });
    await expectProblem((await toCallback(browser(), "corp", fresh.sub)).callback, 403, "oidc_email_unverified");
    expect((await t.request("POST", "/auth/signup", { body: { ...newUser("free"), email: fresh.email } })).status).toBe(201);
    // And the identity was not linked to the existing account: once the provider verifies another
    // email, it signs in to a new account with that one, not to the first.
    corp.setUser(user.sub, { ...user, email: `other-${user.sub}@corp.example`, email_verified: true });
    const { me } = await signIn("corp", user.sub);
    expect(me.id).not.toBe(signup.id);
    expect(me.email).toBe(`other-${user.sub}@corp.example`);
  });

  test("later sign-ins find the account by (provider, sub) even after the email changed", async () => {
    const user = providerUser(corp);
    const first = await signIn("corp", user.sub);
    corp.setUser(user.sub, { ...user, email: `changed-${user.sub}@corp.example` });
    expect((await signIn("corp", user.sub)).me.id).toBe(first.me.id);
    corp.setUser(user.sub, { ...user, email: `unverified-${user.sub}@corp.example`, email_verified: false });
    const third = await signIn("corp", user.sub);
    expect(third.me.id).toBe(first.me.id);
    expect(third.me.email).toBe(user.email!);
    // The same sub at another provider is another identity.
    std.setUser(user.sub, { ...user, email: `std-${user.sub}@corp.example` });
    expect((await signIn("std", user.sub)).me.id).not.toBe(first.me.id);
  });

  test("nicknames from the provider are made unique", async () => {
    const a = providerUser(corp, { preferred_username: `grace${seq}`, name: undefined });
    const b = providerUser(corp, { preferred_username: a.preferred_username, name: undefined });
    const first = await signIn("corp", a.sub);
    const second = await signIn("corp", b.sub);
    expect(first.me.nickname).toBe(a.preferred_username!);
    expect(second.me.nickname).not.toBe(first.me.nickname);
    expect(second.me.nickname.startsWith(`${a.preferred_username}-`)).toBe(true);
  });

  test("an identity whose account was deleted signs in to a new account", async () => {
    const existing = newUser("del");
    expect((await t.request("POST", "/auth/signup", { body: existing })).status).toBe(201);
    const user = providerUser(corp, { email: existing.email });
    const linked = await signIn("corp", user.sub);
    expect((await t.request("DELETE", "/me", { token: linked.tokens.accessToken, body: { password: existing.password } })).status).toBe(
      204,
    );
    const again = await signIn("corp", user.sub);
    expect(again.me.id).not.toBe(linked.me.id);
    expect(again.me.email).toBe(existing.email);
  });

  test("an account the sign-in created has no password: a fresh sign-in sets one or deletes the account, a stale one is refused", async () => {
    const user = providerUser(corp);
    const first = await signIn("corp", user.sub);
    expect(first.me).toMatchObject({ hasPassword: false });
    // The random password nobody knows is never asked for.
    clock.advance(10 * 60 * 1000 + 1);
    try {
      const refreshed = await t.request("POST", "/auth/refresh", { body: { refreshToken: first.tokens.refreshToken } });
      const later = ((await refreshed.json()) as Tokens).accessToken;
      await expectProblem(await t.request("POST", "/me/password", { token: later, body: { newPassword: "battery-staple-9!" } }), 403, "recent_sign_in_required");
      await expectProblem(await t.request("DELETE", "/me", { token: later, body: {} }), 403, "recent_sign_in_required");
    } finally {
      clock.set(Date.now());
    }
    // Signed in again: a password can be set without a current one, then it is a normal account.
    const again = await signIn("corp", user.sub);
    expect(again.me.id).toBe(first.me.id);
    const set = await t.request("POST", "/me/password", { token: again.tokens.accessToken, body: { newPassword: "battery-staple-9!" } });
    expect(set.status).toBe(200);
    const me = await t.request("GET", "/me", { token: again.tokens.accessToken });
    expect((await me.json()) as object).toMatchObject({ hasPassword: true });
    const login = await t.request("POST", "/auth/login", { body: { email: again.me.email, password: "battery-staple-9!" } });
    expect(login.status).toBe(200);
    // Now the password is asked for, like any account's.
    await expectProblem(await t.request("DELETE", "/me", { token: again.tokens.accessToken, body: {} }), 422, "validation_failed");
    expect((await t.request("DELETE", "/me", { token: again.tokens.accessToken, body: { password: "battery-staple-9!" } })).status).toBe(204);
  });

  test("a fresh sign-in deletes an account without a password", async () => {
    const user = providerUser(corp);
    const first = await signIn("corp", user.sub);
    expect((await t.request("DELETE", "/me", { token: first.tokens.accessToken, body: {} })).status).toBe(204);
    expect((await t.request("GET", "/me", { token: first.tokens.accessToken })).status).toBe(401);
  });

  test("a callback whose state is not this browser's cookie is refused (login CSRF)", async () => {
    const user = providerUser(corp);
    const victim = browser();
    const attacker = browser();
    const start = await attacker.request(`${appOrigin}/auth/oidc/corp/start`);
    const callbackUrl = await attacker.authorize(start.headers.get("location")!, user.sub);
    // The attacker's finished callback, opened in the victim's browser (no state cookie).
    await expectProblem(await victim.request(callbackUrl), 400, "oidc_state_mismatch");
    // In a browser with a sign-in of its own, a state other than its cookie's.
    await victim.request(`${appOrigin}/auth/oidc/corp/start`);
    await expectProblem(await victim.request(callbackUrl), 400, "oidc_state_mismatch");
    const wrong = new URL(callbackUrl);
    wrong.searchParams.set("state", "not-the-state");
    await expectProblem(await attacker.request(wrong.toString()), 400, "oidc_state_mismatch");
    // Nothing was used up: the attacker's own browser still finishes.
    expect((await attacker.request(callbackUrl)).status).toBe(303);
  });

  test("a replayed callback (state used once) is refused", async () => {
    const user = providerUser(corp);
    const b = browser();
    const { start, callbackUrl, callback } = await toCallback(b, "corp", user.sub);
    expect(callback.status).toBe(303);
    const state = new URL(callbackUrl).searchParams.get("state");
    expect(start.headers.getSetCookie().some((c) => c.includes(`homebase_oidc_state=${state};`))).toBe(true);
    const replay = await b.request(callbackUrl, { headers: { cookie: `homebase_oidc_state=${state}` } });
    await expectProblem(replay, 400, "oidc_state_invalid");
  });

  test("a code from another sign-in is refused by PKCE (its verifier is this flow's)", async () => {
    const user = providerUser(corp);
    const mine = browser();
    const other = browser();
    const start = await mine.request(`${appOrigin}/auth/oidc/corp/start`);
    const mineCallback = new URL(await mine.authorize(start.headers.get("location")!, user.sub));
    const otherStart = await other.request(`${appOrigin}/auth/oidc/corp/start`);
    const otherCallback = new URL(await other.authorize(otherStart.headers.get("location")!, user.sub));
    mineCallback.searchParams.set("code", otherCallback.searchParams.get("code")!);
    await expectProblem(await mine.request(mineCallback.toString()), 401, "oidc_code_rejected");
  });

  test("an ID token with another nonce is refused and creates nothing", async () => {
    const user = providerUser(corp);
    // The authorization request altered on its way to the provider: the provider signs the nonce it got.
    const { callback } = await toCallback(browser(), "corp", user.sub, {
      tamper: (url) => url.searchParams.set("nonce", "an-attackers-nonce-0123456789"),
    });
    await expectProblem(callback, 401, "oidc_id_token_invalid");
    expect((await t.request("POST", "/auth/signup", { body: { ...newUser("nonce"), email: user.email } })).status).toBe(201);
  });

  test("the provider's error (the user declined) is a clear problem", async () => {
    const b = browser();
    const start = await b.request(`${appOrigin}/auth/oidc/corp/start`);
    const state = new URL(start.headers.get("location")!).searchParams.get("state")!;
    const declined = `${appOrigin}/auth/oidc/corp/callback?error=access_denied&error_description=End-User+aborted&state=${state}&iss=${encodeURIComponent(corp.issuer)}`;
    const problem = await expectProblem(await b.request(declined), 401, "oidc_sign_in_denied");
    expect(problem.detail).toContain("access_denied");
  });

  test("an unknown provider is 404 problem+json", async () => {
    await expectProblem(await t.request("GET", "/auth/oidc/nope/start"), 404, "oidc_provider_unknown");
    await expectProblem(await t.request("GET", "/auth/oidc/nope/callback?code=x&state=y"), 404, "oidc_provider_unknown");
  });

  test("returnTo must be a path on this server", async () => {
    for (const bad of ["https://evil.example/", "//evil.example/x", "/\\evil.example", "chat"]) {
      await expectProblem(await t.request("GET", `/auth/oidc/corp/start?returnTo=${encodeURIComponent(bad)}`), 422, "validation_failed");
    }
  });

  test("the provider down at start: 502 problem+json, no cookie, nothing stored", async () => {
    const before = flows();
    const res = await t.request("GET", "/auth/oidc/down/start");
    const problem = await expectProblem(res, 502, "oidc_provider_unavailable");
    expect(problem.detail).toContain("nothing was changed");
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(flows()).toBe(before);
  });

  test("a sign-in left longer than 10 minutes expires", async () => {
    const user = providerUser(corp);
    const b = browser();
    const start = await b.request(`${appOrigin}/auth/oidc/corp/start`);
    const callbackUrl = await b.authorize(start.headers.get("location")!, user.sub);
    clock.advance(10 * 60 * 1000 + 1);
    try {
      await expectProblem(await b.request(callbackUrl), 400, "oidc_state_invalid");
    } finally {
      clock.set(Date.now());
    }
  });
});

describe("OIDC configuration", () => {
  const base = () => ({ HOMEBASE_DATA_DIR: mkdtempSync(join(dir, "cfg-")), ...oidcEnv() });

  test("each listed provider's variables are read, the client secret from its file", () => {
    const config = moduleConfig(loadConfig(base(), modules), accountsModule).oidc;
    expect(config.publicUrl).toBe(appOrigin);
    expect(config.providers.map((p) => [p.name, p.label, p.clientId, p.scopes, p.redirectUri])).toEqual([
      ["corp", "Corp SSO", "homebase-corp", "openid email profile", `${appOrigin}/auth/oidc/corp/callback`],
      ["std", "std", "homebase-std", "openid email profile", `${appOrigin}/auth/oidc/std/callback`],
      ["down", "down", "homebase-down", "openid email profile", `${appOrigin}/auth/oidc/down/callback`],
    ]);
    expect(config.providers[0]!.clientSecret).toBe(secret);
  });

  test("no providers by default; the redirect URIs default to this server", () => {
    const config = moduleConfig(
      loadConfig({ HOMEBASE_DATA_DIR: mkdtempSync(join(dir, "cfg-")), HOMEBASE_PORT: "4123" }, modules),
      accountsModule,
    ).oidc;
    expect(config).toEqual({ publicUrl: "http://127.0.0.1:4123", providers: [] });
  });

  test("a listed provider's variables are known; an unlisted one's are warned about", () => {
    const config = loadConfig({ ...base(), HOMEBASE_OIDC_OTHER_ISSUER: "https://idp.example" }, modules);
    const warnings = unknownVariableWarnings(config);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toStartWith("HOMEBASE_OIDC_OTHER_ISSUER is not a homebase variable");
    // `homebase config` shows them (the secret stays in its file: only the path is printed).
    const shown = redactedConfig(config).accounts!;
    expect(shown.HOMEBASE_OIDC_CORP_CLIENT_SECRET_FILE).toBe(secretFile);
    expect(shown.HOMEBASE_JWT_SECRET_FILE).toBeNull();
    expect(JSON.stringify(redactedConfig(config))).not.toContain(secret);
  });

  test("bad provider settings are refused, naming the variable", () => {
    const refused: Array<[Record<string, string>, string]> = [
      [{ HOMEBASE_OIDC_CORP_ISSUER: "" }, "HOMEBASE_OIDC_CORP_ISSUER"],
      [{ HOMEBASE_OIDC_CORP_ISSUER: "http://idp.example" }, "HOMEBASE_OIDC_CORP_ISSUER"],
      [{ HOMEBASE_OIDC_CORP_ISSUER: "ftp://idp.example" }, "HOMEBASE_OIDC_CORP_ISSUER"],
      [{ HOMEBASE_OIDC_CORP_CLIENT_ID: "" }, "HOMEBASE_OIDC_CORP_CLIENT_ID"],
      [{ HOMEBASE_OIDC_CORP_CLIENT_SECRET_FILE: join(dir, "missing") }, "HOMEBASE_OIDC_CORP_CLIENT_SECRET_FILE"],
      [{ HOMEBASE_OIDC_CORP_SCOPES: "profile email" }, "HOMEBASE_OIDC_CORP_SCOPES"],
      [{ HOMEBASE_OIDC_PROVIDERS: "corp,Corp" }, "HOMEBASE_OIDC_PROVIDERS"],
      [{ HOMEBASE_OIDC_PROVIDERS: "corp,corp" }, "HOMEBASE_OIDC_PROVIDERS"],
    ];
    for (const [env, variable] of refused) {
      expect(() => loadConfig({ ...base(), ...env }, modules)).toThrow(ConfigError);
      expect(() => loadConfig({ ...base(), ...env }, modules)).toThrow(variable);
    }
  });
});
