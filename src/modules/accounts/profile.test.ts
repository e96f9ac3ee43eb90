// The profile through the HTTP API: renames announce themselves (homebase.accounts.user.updated,
// through the outbox), Unicode nicknames, the phone number.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { EventEnvelope } from "../../platform/events/bus";
import { createTestApp, signupAndLogin, type TestApp } from "../../testing/app";
import { modes } from "../../testing/modes";
import { waitFor } from "../../testing/wait";
import { accountEvents, type UserUpdated } from "./events";

async function problem(res: Response) {
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  const body = (await res.json()) as { status: number; code: string };
  expect(body.status).toBe(res.status);
  return body;
}

describe.each(modes)("accounts profile (%s)", (mode) => {
  let t: TestApp;
  const seen: EventEnvelope[] = [];
  beforeAll(async () => {
    t = await createTestApp(mode, {}, (platform) => {
      platform.events.register({ name: "profile-test-observer", subjects: ["homebase.accounts.>"], apply: (event) => void seen.push(event) });
    });
  });
  afterAll(() => t.close());

  const updatesOf = (userId: string) =>
    seen.filter((e) => e.subject === accountEvents.userUpdated && (e.payload as UserUpdated).userId === userId).map((e) => e.payload as UserUpdated);

  describe("renames", () => {
    test("PATCH /me with a new nickname emits user.updated once, without personal data", async () => {
      const { user, tokens } = await signupAndLogin(t, "ren");
      const nickname = `${user.nickname.slice(0, 24)}_new`;
      const res = await t.request("PATCH", "/me", { token: tokens.accessToken, body: { nickname } });
      expect(res.status).toBe(200);
      const me = (await res.json()) as { nickname: string; updatedAt: string };
      expect(me.nickname).toBe(nickname);
      await waitFor(() => updatesOf(user.id).length > 0, { what: "user.updated" });
      expect(updatesOf(user.id)).toEqual([{ userId: user.id, nickname, updatedAt: me.updatedAt }]);
    });

    test("the same nickname again changes nothing and emits nothing; a case-only change is a rename", async () => {
      const { user, tokens } = await signupAndLogin(t, "same");
      const res = await t.request("PATCH", "/me", { token: tokens.accessToken, body: { nickname: user.nickname } });
      expect(res.status).toBe(200);
      const upper = user.nickname.toUpperCase();
      expect((await t.request("PATCH", "/me", { token: tokens.accessToken, body: { nickname: upper } })).status).toBe(200);
      await waitFor(() => updatesOf(user.id).length > 0, { what: "user.updated" });
      expect(updatesOf(user.id).map((u) => u.nickname)).toEqual([upper]);
    });

    test("a refused rename emits nothing", async () => {
      const a = await signupAndLogin(t, "ra");
      const b = await signupAndLogin(t, "rb");
      const res = await t.request("PATCH", "/me", { token: b.tokens.accessToken, body: { nickname: a.user.nickname } });
      expect(res.status).toBe(409);
      expect((await problem(res)).code).toBe("nickname_taken");
      // A later rename of b is the first event of b that arrives.
      const later = `${b.user.nickname.slice(0, 24)}_ok`;
      expect((await t.request("PATCH", "/me", { token: b.tokens.accessToken, body: { nickname: later } })).status).toBe(200);
      await waitFor(() => updatesOf(b.user.id).length > 0, { what: "user.updated" });
      expect(updatesOf(b.user.id).map((u) => u.nickname)).toEqual([later]);
    });
  });
});
