// Room passwords cost an Argon2 hash to check and to set, so both are limited before the hash:
//   M2: a guess is taken from the per-(room, user) limit (10 per 5 min) before it is verified:
//       25 parallel wrong passwords get 10 × 401 and 15 × 429, with 10 verifications.
//   L2: password rooms are limited per user (10 per hour): parallel creations past it hash nothing.
import { afterAll, beforeAll, describe, expect, spyOn, test } from "bun:test";
import { modes } from "../../testing/modes";
import { createTestApp, signupAndLogin, type TestApp } from "../../testing/app";
import { chatErrors } from "./errors";

const count = (statuses: number[]) => {
  const byStatus: Record<number, number> = {};
  for (const s of statuses) byStatus[s] = (byStatus[s] ?? 0) + 1;
  return byStatus;
};

describe.each(modes)("room password limits (%s)", (mode) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(mode);
  });
  afterAll(() => t.close());

  const createRoom = (token: string, name: string, password?: string) => t.request("POST", "/rooms", { token, body: password === undefined ? { name } : { name, password } });

  test("M2: 25 parallel wrong room passwords are verified only up to the limit: 10 × 401, 15 × 429", async () => {
    const [owner, guesser] = await Promise.all([signupAndLogin(t, "vault"), signupAndLogin(t, "guess")]);
    const room = (await (await createRoom(owner.tokens.accessToken, "vault", "open-sesame-1")).json()) as { id: string };
    const verify = spyOn(Bun.password, "verify");
    try {
      const join = (password: string) => t.request("POST", `/rooms/${room.id}/join`, { token: guesser.tokens.accessToken, body: { password } });
      const statuses = await Promise.all(Array.from({ length: 25 }, (_, i) => join(`guess-${i}`).then((r) => r.status)));
      expect(count(statuses)).toEqual({ 401: 10, 429: 15 });
      expect(verify).toHaveBeenCalledTimes(10);
      // The right password is refused too while the limit holds; another user is not limited by it.
      const blocked = await join("open-sesame-1");
      expect(blocked.status).toBe(429);
      expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(((await blocked.json()) as { code: string }).code).toBe(chatErrors.roomPasswordRateLimited);
      const other = await signupAndLogin(t, "other");
      expect((await t.request("POST", `/rooms/${room.id}/join`, { token: other.tokens.accessToken, body: { password: "open-sesame-1" } })).status).toBe(200);
    } finally {
      verify.mockRestore();
    }
  });

  test("M2: a right password after wrong ones joins and gives the attempts back", async () => {
    const [owner, member] = await Promise.all([signupAndLogin(t, "vault"), signupAndLogin(t, "member")]);
    const room = (await (await createRoom(owner.tokens.accessToken, "vault", "open-sesame-1")).json()) as { id: string };
    const token = member.tokens.accessToken;
    const join = (password: string) => t.request("POST", `/rooms/${room.id}/join`, { token, body: { password } });
    for (let i = 0; i < 9; i++) expect((await join(`guess-${i}`)).status).toBe(401);
    expect((await join("open-sesame-1")).status).toBe(200);
    // Having left, the member has the whole limit again.
    expect((await t.request("POST", `/rooms/${room.id}/leave`, { token })).status).toBe(204);
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await join(`again-${i}`)).status);
    expect(count(statuses)).toEqual({ 401: 10, 429: 1 });
  });

  test("L2: password rooms are limited per user; parallel creations past the limit hash nothing, open rooms are not limited", async () => {
    const [creator, other] = await Promise.all([signupAndLogin(t, "creator"), signupAndLogin(t, "other")]);
    const hash = spyOn(Bun.password, "hash");
    try {
      const statuses = await Promise.all(Array.from({ length: 16 }, (_, i) => createRoom(creator.tokens.accessToken, `secret ${i}`, "open-sesame-1").then((r) => r.status)));
      expect(count(statuses)).toEqual({ 201: 10, 429: 6 });
      expect(hash).toHaveBeenCalledTimes(10);
      const refused = await createRoom(creator.tokens.accessToken, "one more", "open-sesame-1");
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(((await refused.json()) as { code: string }).code).toBe(chatErrors.rateLimited);
      expect((await createRoom(creator.tokens.accessToken, "open room")).status).toBe(201);
      expect((await createRoom(other.tokens.accessToken, "theirs", "open-sesame-1")).status).toBe(201);
    } finally {
      hash.mockRestore();
    }
  });
});
