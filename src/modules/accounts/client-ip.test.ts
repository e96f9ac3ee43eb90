// Behind a reverse proxy (HOMEBASE_TRUSTED_PROXIES), the login and signup limits count the
// forwarded client, not the proxy: one client's failed logins never block another client's login.
// (The attack: before the limiter used the resolved client IP, every login through the proxy
// shared the proxy's bucket, and 20 failures blocked every user for 15 minutes.)
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestApp, newUser, signupAndLogin, type TestApp } from "../../testing/app";
import { freePort } from "../../testing/ports";

describe("login and signup limits behind a trusted proxy", () => {
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    // The proxy is this test, on loopback; limits small so the per-IP bucket trips fast.
    t = await createTestApp("embedded", { HOMEBASE_TRUSTED_PROXIES: "127.0.0.1", HOMEBASE_LOGIN_MAX_ATTEMPTS: "2", HOMEBASE_LOGIN_BLOCK_SEC: "900", HOMEBASE_SIGNUP_PER_IP: "2" });
    const port = await freePort();
    t.app.listen({ hostname: "127.0.0.1", port });
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await t.app.stop(true);
    await t.close();
  });

  const login = (forwardedFor: string, email: string, password: string) =>
    fetch(`${base}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-forwarded-for": forwardedFor },
      body: JSON.stringify({ email, password }),
    });

  test("an attacker's failures block the attacker's address, not another client's", async () => {
    const victim = await signupAndLogin(t, "victim");
    // Wrong passwords for many accounts from one forwarded address: past the per-IP limit (2 × 4).
    let blocked = false;
    for (let i = 0; i < 12 && !blocked; i++) {
      const r = await login("203.0.113.7", `nobody${i}@example.com`, "wrong-password-1!");
      blocked = r.status === 429;
    }
    expect(blocked).toBe(true);
    expect((await login("203.0.113.7", victim.email, victim.password)).status).toBe(429);
    // Another client through the same proxy logs in.
    expect((await login("198.51.100.20", victim.email, victim.password)).status).toBe(200);
  });

  test("signups count the forwarded client too: one client's flood doesn't refuse another's signup", async () => {
    const signup = (forwardedFor: string) =>
      fetch(`${base}/auth/signup`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-forwarded-for": forwardedFor },
        body: JSON.stringify(newUser("proxied")),
      }).then((r) => r.status);
    expect([await signup("203.0.113.50"), await signup("203.0.113.50"), await signup("203.0.113.50")]).toEqual([201, 201, 429]);
    expect(await signup("198.51.100.50")).toBe(201);
  });

  test("a forged X-Forwarded-For from an untrusted peer is ignored", async () => {
    // Sent straight to the app (no trusted hop between): the header's first entry is not believed,
    // the rightmost entry written by the trusted proxy (this test) is.
    const r = await login("10.9.9.9, 203.0.113.7", "nobody@example.com", "wrong-password-1!");
    expect(r.status).toBe(429);
  });
});
