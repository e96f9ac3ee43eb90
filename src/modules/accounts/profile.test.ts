// The profile through the HTTP API: renames announce themselves (homebase.accounts.user.updated,
// through the outbox), Unicode nicknames, the phone number. Sessions: sessions.test.ts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { EventEnvelope } from "../../platform/events/bus";
import { createTestApp, newUser, signupAndLogin, type TestApp } from "../../testing/app";
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

  let phoneSeq = 0;
  /** A phone number no other test of this run uses: 010-XXXX-XXXX from the clock and a counter. */
  const freshPhone = () => {
    const n = `${Date.now() % 1e6}${(++phoneSeq % 100).toString().padStart(2, "0")}`.padStart(8, "0").slice(-8);
    return `010${n}`;
  };
  const hyphenated = (digits: string) => `${digits.slice(0, 3)}-${digits.slice(3, 7)}-${digits.slice(7)}`;
  const signup = (over: Record<string, unknown>) => t.request("POST", "/auth/signup", { body: { ...newUser("uni"), ...over } });
  const login = async (email: string) => {
    const res = await t.request("POST", "/auth/login", { body: { email, password: "Sup3r-secret!" } });
    expect(res.status).toBe(200);
    return ((await res.json()) as { accessToken: string }).accessToken;
  };
  /** A short key unique to this run, in Hangul syllables (U+AC00…), so reruns never collide. */
  const hangulTag = () =>
    [...Bun.randomUUIDv7().replaceAll("-", "").slice(-6)].map((c) => String.fromCodePoint(0xac00 + Number.parseInt(c, 16) * 37)).join("");

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

  describe("Unicode nicknames", () => {
    test("김철수 signs up, reads back, logs in and renames to another script; NFC is what is stored", async () => {
      const tag = hangulTag();
      const nickname = `김철수${tag}`;
      const body = newUser("kim");
      const res = await signup({ ...body, nickname });
      expect(res.status).toBe(201);
      const created = (await res.json()) as { id: string; nickname: string };
      expect(created.nickname).toBe(nickname);
      const token = await login(body.email);
      expect(((await (await t.request("GET", "/me", { token })).json()) as { nickname: string }).nickname).toBe(nickname);
      // NFD in, NFC stored and announced.
      const nfd = `Zoe\u0308_${tag}`;
      const renamed = await t.request("PATCH", "/me", { token, body: { nickname: nfd } });
      expect(renamed.status).toBe(200);
      expect(((await renamed.json()) as { nickname: string }).nickname).toBe(nfd.normalize("NFC"));
      await waitFor(() => updatesOf(created.id).length > 0, { what: "user.updated" });
      expect(updatesOf(created.id).map((u) => u.nickname)).toEqual([nfd.normalize("NFC")]);
    });

    test("duplicates after case folding or normalisation → 409 nickname_taken", async () => {
      const tag = hangulTag();
      expect((await signup({ nickname: `Ada${tag}` })).status).toBe(201);
      expect((await signup({ nickname: `Caf\u00e9${tag}` })).status).toBe(201);
      expect((await signup({ nickname: `Ωμέγα${tag}` })).status).toBe(201);
      for (const clash of [`ada${tag}`, `ADA${tag}`, `Cafe\u0301${tag}`, `CAF\u00c9${tag}`, `ΩΜΈΓΑ${tag}`]) {
        const res = await signup({ nickname: clash });
        expect(res.status).toBe(409);
        expect((await problem(res)).code).toBe("nickname_taken");
      }
      const { tokens } = await signupAndLogin(t, "dup");
      const res = await t.request("PATCH", "/me", { token: tokens.accessToken, body: { nickname: `cafe\u0301${tag}` } });
      expect(res.status).toBe(409);
      expect((await problem(res)).code).toBe("nickname_taken");
    });

    test("invisible, control, spaced, symbol or wrong-length nicknames → 422 validation_failed naming /nickname", async () => {
      const { tokens } = await signupAndLogin(t, "bad");
      for (const nickname of ["김\u200b철수", "ad\u200da", "adm\u202ein", "ㅤㅤㅤ", "a\u0000b", "김 철수", "ada!", "김", "김".repeat(31)]) {
        for (const res of [await signup({ nickname }), await t.request("PATCH", "/me", { token: tokens.accessToken, body: { nickname } })]) {
          expect(res.status).toBe(422);
          const body = (await problem(res)) as unknown as { code: string; errors: Array<{ field: string }> };
          expect(body.code).toBe("validation_failed");
          expect(body.errors.map((e) => e.field)).toContain("/nickname");
        }
      }
      // 30 Hangul syllables are 30 characters: accepted.
      const thirty = `${hangulTag()}${"가".repeat(24)}`;
      expect((await signup({ nickname: thirty })).status).toBe(201);
    });

    test("reserved names are refused in any case", async () => {
      for (const nickname of ["ADMIN", "Root", " system "]) {
        const res = await signup({ nickname });
        expect(res.status).toBe(422);
        expect((await problem(res)).code).toBe("nickname_reserved");
      }
    });
  });

  describe("phone number", () => {
    test("set at signup without hyphens, stored and shown as 01X-XXXX-XXXX", async () => {
      const phone = freshPhone();
      const body = newUser("ph");
      const res = await signup({ ...body, phone });
      expect(res.status).toBe(201);
      expect(((await res.json()) as { phone: string }).phone).toBe(hyphenated(phone));
      const token = await login(body.email);
      expect(((await (await t.request("GET", "/me", { token })).json()) as { phone: string }).phone).toBe(hyphenated(phone));
    });

    test("no phone: null; PATCH sets, changes and removes it (null) without a user.updated", async () => {
      const { user, tokens } = await signupAndLogin(t, "ph2");
      const me = async () => (await (await t.request("GET", "/me", { token: tokens.accessToken })).json()) as { phone: string | null };
      expect((await me()).phone).toBeNull();
      const first = hyphenated(freshPhone());
      const set = await t.request("PATCH", "/me", { token: tokens.accessToken, body: { phone: first } });
      expect(set.status).toBe(200);
      expect(((await set.json()) as { phone: string }).phone).toBe(first);
      const second = freshPhone().replace(/^010/, "016");
      expect((await t.request("PATCH", "/me", { token: tokens.accessToken, body: { phone: second } })).status).toBe(200);
      expect((await me()).phone).toBe(hyphenated(second));
      expect((await t.request("PATCH", "/me", { token: tokens.accessToken, body: { phone: null } })).status).toBe(200);
      expect((await me()).phone).toBeNull();
      // A rename after: the only user.updated of this account, and it carries no phone.
      const nickname = `${user.nickname.slice(0, 24)}_p`;
      expect((await t.request("PATCH", "/me", { token: tokens.accessToken, body: { nickname } })).status).toBe(200);
      await waitFor(() => updatesOf(user.id).length > 0, { what: "user.updated" });
      expect(updatesOf(user.id)).toEqual([expect.objectContaining({ nickname })]);
      expect(Object.keys(updatesOf(user.id)[0]!).sort()).toEqual(["nickname", "updatedAt", "userId"]);
    });

    test("unique across spellings → 409 phone_taken, at signup and PATCH; a removed number is free again", async () => {
      const phone = freshPhone();
      const owner = newUser("po");
      expect((await signup({ ...owner, phone })).status).toBe(201);
      const clash = await signup({ phone: hyphenated(phone) });
      expect(clash.status).toBe(409);
      expect((await problem(clash)).code).toBe("phone_taken");
      const other = await signupAndLogin(t, "pt");
      const patch = await t.request("PATCH", "/me", { token: other.tokens.accessToken, body: { phone } });
      expect(patch.status).toBe(409);
      expect((await problem(patch)).code).toBe("phone_taken");
      const ownerToken = await login(owner.email);
      expect((await t.request("PATCH", "/me", { token: ownerToken, body: { phone: null } })).status).toBe(200);
      expect((await t.request("PATCH", "/me", { token: other.tokens.accessToken, body: { phone } })).status).toBe(200);
    });

    test("not a Korean mobile number → 422 validation_failed naming /phone", async () => {
      const { tokens } = await signupAndLogin(t, "pv");
      for (const phone of ["012-1234-5678", "010-123-4567", "010-1234-56789", "02-1234-5678", "+82-10-1234-5678", "010 1234 5678", "010-12345678", ""]) {
        for (const res of [await signup({ phone }), await t.request("PATCH", "/me", { token: tokens.accessToken, body: { phone } })]) {
          expect(res.status).toBe(422);
          const body = (await problem(res)) as unknown as { code: string; errors: Array<{ field: string }> };
          expect(body.code).toBe("validation_failed");
          expect(body.errors.map((e) => e.field)).toContain("/phone");
        }
      }
    });
  });
});
