// Attempt limits of the password checks (limits.ts), through a listening server behind a trusted
// proxy (this test, on loopback) so every request comes from the client address it names.
//   M2: an attempt is taken before the hash is verified: parallel wrong passwords past the limit
//       are refused (429) without an Argon2 verification.
//   L6: throttling, not lockout: an attacker's failures block the attacker's address for the
//       account, never the owner elsewhere; the per-account ceiling spares the owner's own devices.
//   L1: the password re-checks of POST /me/password and DELETE /me are limited per account.
//   L2: signups are limited per client address.
import { afterAll, afterEach, beforeAll, describe, expect, spyOn, test } from "bun:test";
import { modes } from "../../testing/modes";
import { createTestApp, newUser, type TestApp } from "../../testing/app";
import { freePort } from "../../testing/ports";
import { accountsErrors } from "./errors";

const maxAttempts = 5;
const accountCeiling = 12;
const signupsPerIp = 3;

/** A fresh client address (198.18.0.0/15, benchmarking range): Redis is shared across test apps. */
const freshIp = () => `198.${18 + Math.floor(Math.random() * 2)}.${Math.floor(Math.random() * 256)}.${Math.floor(Math.random() * 256)}`;

describe.each(modes)("password attempt limits (%s)", (mode) => {
  let t: TestApp;
  let base: string;
  let verify: ReturnType<typeof spyOn<typeof Bun.password, "verify">>;

  beforeAll(async () => {
    t = await createTestApp(mode, {
      HOMEBASE_TRUSTED_PROXIES: "127.0.0.1",
      HOMEBASE_LOGIN_MAX_ATTEMPTS: String(maxAttempts),
      HOMEBASE_LOGIN_BLOCK_SEC: "900",
      HOMEBASE_LOGIN_ACCOUNT_MAX_ATTEMPTS: String(accountCeiling),
      HOMEBASE_SIGNUP_PER_IP: String(signupsPerIp),
    });
    const port = await freePort();
    t.app.listen({ hostname: "127.0.0.1", port });
    base = `http://127.0.0.1:${port}`;
    // Every Argon2 verification of the process goes through here.
    verify = spyOn(Bun.password, "verify");
  });
  afterEach(() => verify.mockClear());
  afterAll(async () => {
    verify.mockRestore();
    await t.app.stop(true);
    await t.close();
  });

  const call = (method: string, path: string, ip: string, body: unknown, token?: string) =>
    fetch(`${base}${path}`, {
      method,
      headers: {
        "x-forwarded-for": ip,
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
  const login = (ip: string, email: string, password: string) => call("POST", "/auth/login", ip, { email, password });
  const count = (statuses: number[]) => {
    const byStatus: Record<number, number> = {};
    for (const s of statuses) byStatus[s] = (byStatus[s] ?? 0) + 1;
    return byStatus;
  };

  async function account(ip = freshIp()) {
    const body = newUser("limits");
    const res = await call("POST", "/auth/signup", ip, body);
    expect(res.status).toBe(201);
    return body;
  }

  async function expectRateLimited(res: Response, code: string) {
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(((await res.json()) as { code: string }).code).toBe(code);
  }

  test("M2: 20 parallel wrong logins for one account are verified only up to the limit: 5 × 401, 15 × 429", async () => {
    const owner = await account();
    const ip = freshIp();
    verify.mockClear();
    const statuses = await Promise.all(Array.from({ length: 20 }, (_, i) => login(ip, owner.email, `Wrong-${i}-pass!`).then((r) => r.status)));
    expect(count(statuses)).toEqual({ 401: maxAttempts, 429: 20 - maxAttempts });
    expect(verify).toHaveBeenCalledTimes(maxAttempts);
  });

  test("M2: 30 parallel wrong logins for unknown emails from one address: verified (dummy hash) only up to the per-IP limit", async () => {
    const ip = freshIp();
    verify.mockClear();
    const statuses = await Promise.all(Array.from({ length: 30 }, () => login(ip, `nobody.${Bun.randomUUIDv7()}@example.com`, "Wrong-pass1!").then((r) => r.status)));
    // Different emails from one address: the per-IP limit (4×) holds them.
    expect(count(statuses)).toEqual({ 401: maxAttempts * 4, 429: 30 - maxAttempts * 4 });
    expect(verify).toHaveBeenCalledTimes(maxAttempts * 4);
  });

  test("L6: an attacker's failures lock out the attacker's address, not the owner logging in from another", async () => {
    const owner = await account();
    const attacker = freshIp();
    const statuses: number[] = [];
    for (let i = 0; i < maxAttempts * 2; i++) statuses.push((await login(attacker, owner.email, `Wrong-${i}-pass!`)).status);
    expect(count(statuses)).toEqual({ 401: maxAttempts, 429: maxAttempts });
    // The attacker's address is blocked for the account, the right password included …
    await expectRateLimited(await login(attacker, owner.email, owner.password), accountsErrors.loginRateLimited);
    // … the owner, from their address, logs in.
    expect((await login(freshIp(), owner.email, owner.password)).status).toBe(200);
    // A success is no failure: the owner's address keeps every attempt of its limit.
    const home = freshIp();
    expect((await login(home, owner.email, owner.password)).status).toBe(200);
    for (let i = 0; i < maxAttempts - 1; i++) expect((await login(home, owner.email, "Wrong-pass1!")).status).toBe(401);
    expect((await login(home, owner.email, owner.password)).status).toBe(200);
    for (let i = 0; i < maxAttempts; i++) expect((await login(home, owner.email, "Wrong-pass1!")).status).toBe(401);
  });

  test("L6: the per-account ceiling stops guessing from many addresses, but not the owner's own devices", async () => {
    const owner = await account();
    const home = freshIp();
    const homeLogin = await login(home, owner.email, owner.password);
    expect(homeLogin.status).toBe(200);
    const { accessToken } = (await homeLogin.json()) as { accessToken: string };
    // Attackers on three addresses, each under its own limit, reach the account's ceiling (12).
    const statuses: number[] = [];
    for (let a = 0; a < 3; a++) {
      const attacker = freshIp();
      for (let i = 0; i < maxAttempts; i++) statuses.push((await login(attacker, owner.email, `Wrong-${a}-${i}!`)).status);
    }
    expect(count(statuses)).toEqual({ 401: accountCeiling, 429: 3 * maxAttempts - accountCeiling });
    // A new address is refused, the right password included …
    await expectRateLimited(await login(freshIp(), owner.email, owner.password), accountsErrors.loginRateLimited);
    // … the owner's own device (a live session from that address) still gets in.
    expect((await login(home, owner.email, owner.password)).status).toBe(200);
    // The exemption is the live session: once every session ends, home is a new address too.
    expect((await call("POST", "/auth/logout-all", home, undefined, accessToken)).status).toBe(200);
    await expectRateLimited(await login(home, owner.email, owner.password), accountsErrors.loginRateLimited);
  });

  test("L1: wrong passwords on POST /me/password and DELETE /me share a per-account limit; parallel ones verified only up to it", async () => {
    const owner = await account();
    const ip = freshIp();
    const res = await login(ip, owner.email, owner.password);
    const { accessToken } = (await res.json()) as { accessToken: string };
    const changePassword = (currentPassword: string) => call("POST", "/me/password", ip, { currentPassword, newPassword: "N3w-secret-pass!" }, accessToken);
    const deleteMe = (password: string) => call("DELETE", "/me", ip, { password }, accessToken);
    // One wrong try first: the parallel ones share what is left of the limit, across both routes.
    expect((await changePassword("Wrong-pass1!")).status).toBe(403);
    verify.mockClear();
    const statuses = await Promise.all(
      Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? changePassword(`Wrong-${i}-pass!`) : deleteMe(`Wrong-${i}-pass!`)).then((r) => r.status)),
    );
    expect(count(statuses)).toEqual({ 403: maxAttempts - 1, 429: 12 - (maxAttempts - 1) });
    expect(verify).toHaveBeenCalledTimes(maxAttempts - 1);
    // The right password is refused too, for both routes, and the account is still there.
    await expectRateLimited(await changePassword(owner.password), accountsErrors.passwordRateLimited);
    await expectRateLimited(await deleteMe(owner.password), accountsErrors.passwordRateLimited);
    expect((await call("GET", "/me", ip, undefined, accessToken)).status).toBe(200);
    // Another account's checks are not limited by it.
    const other = await account();
    const otherLogin = (await (await login(ip, other.email, other.password)).json()) as { accessToken: string };
    expect((await call("DELETE", "/me", ip, { password: other.password }, otherLogin.accessToken)).status).toBe(204);
  });

  test("L1: a right password resets the per-account count", async () => {
    const owner = await account();
    const ip = freshIp();
    const { accessToken } = (await (await login(ip, owner.email, owner.password)).json()) as { accessToken: string };
    const changePassword = (currentPassword: string, newPassword: string) => call("POST", "/me/password", ip, { currentPassword, newPassword }, accessToken);
    for (let i = 0; i < maxAttempts - 1; i++) expect((await changePassword("Wrong-pass1!", "N3w-secret-pass!")).status).toBe(403);
    expect((await changePassword(owner.password, "N3w-secret-pass!")).status).toBe(200);
    for (let i = 0; i < maxAttempts; i++) expect((await changePassword("Wrong-pass1!", "Other-secret-1!")).status).toBe(403);
    await expectRateLimited(await changePassword("N3w-secret-pass!", "Other-secret-1!"), accountsErrors.passwordRateLimited);
  });

  test("L2: signups are limited per client address; parallel ones past the limit hash nothing", async () => {
    const hash = spyOn(Bun.password, "hash");
    try {
      const ip = freshIp();
      const statuses = await Promise.all(Array.from({ length: 10 }, () => call("POST", "/auth/signup", ip, newUser("flood")).then((r) => r.status)));
      expect(count(statuses)).toEqual({ 201: signupsPerIp, 429: 10 - signupsPerIp });
      expect(hash).toHaveBeenCalledTimes(signupsPerIp);
      // Every attempt counts, a taken email too (it tells whether the email has an account).
      const taken = freshIp();
      const existing = await account(taken);
      for (let i = 0; i < signupsPerIp - 1; i++) expect((await call("POST", "/auth/signup", taken, { ...newUser(), email: existing.email })).status).toBe(409);
      await expectRateLimited(await call("POST", "/auth/signup", taken, newUser()), accountsErrors.signupRateLimited);
      // Another address signs up.
      expect((await call("POST", "/auth/signup", freshIp(), newUser())).status).toBe(201);
    } finally {
      hash.mockRestore();
    }
  });
});
