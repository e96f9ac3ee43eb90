// Authentication comes before validation: an anonymous caller with a bad body gets 401 and
// learns nothing about the route's schema; a signed-in caller with the same body gets 422.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestApp, signupAndLogin, type TestApp } from "../../testing/app";

describe("auth before validation", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp("embedded");
  });
  afterAll(() => t.close());

  test.each([
    ["POST", "/challenges", { title: 7 }],
    ["PATCH", "/me", { nickname: ["x"] }],
    ["POST", "/projects", { id: "nope" }],
    ["GET", "/users?limit=oops", undefined],
  ] as const)("%s %s: 401 without a token, 422 with one", async (method, path, body) => {
    const anonymous = await t.request(method, path, { body });
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { code: string }).code).toBe("missing_token");
    const { tokens } = await signupAndLogin(t, "authfirst");
    // /users is admin-only: a signed-in user is refused with 403 before validation, too.
    const signedIn = await t.request(method, path, { body, token: tokens.accessToken });
    expect(signedIn.status).toBe(path.startsWith("/users") ? 403 : 422);
  });

  test("the Authorization header: the scheme in any case, any whitespace before the token; nothing else", async () => {
    const { tokens } = await signupAndLogin(t, "spelling");
    const me = async (authorization: string) => {
      const res = await t.request("GET", "/me", { headers: { authorization } });
      return res.status === 200 ? 200 : ((await res.json()) as { code: string }).code;
    };
    for (const ok of [`Bearer ${tokens.accessToken}`, `bearer ${tokens.accessToken}`, `BEARER\t${tokens.accessToken}`, `Bearer   ${tokens.accessToken}  `]) {
      expect(await me(ok)).toBe(200);
    }
    for (const missing of ["Bearer ", "Bearer", "Basic abc", tokens.accessToken, ""]) expect(await me(missing)).toBe("missing_token");
    expect(await me(`Bearer x${tokens.accessToken}`)).toBe("invalid_token");
  });
});
