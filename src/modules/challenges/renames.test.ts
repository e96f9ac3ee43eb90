// Renames reach the leaderboard: PATCH /me emits homebase.accounts.user.updated, the
// challenges-profiles consumer names the member's profile anew (exactly once), and the next
// leaderboard read shows the new nickname — from SQL, and from the Redis sorted set in the
// real mode. Profile events may arrive in any order: a nickname older than the profile's is ignored.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestApp, signupAndLogin, type TestApp } from "../../testing/app";
import { modes } from "../../testing/modes";
import { waitFor } from "../../testing/wait";

type User = Awaited<ReturnType<typeof signupAndLogin>>;
type Board = { entries: Array<{ rank: number; userId: string; nickname: string | null; logCount: number }> };

const day = (offset = 0) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

describe.each(modes)("challenges: renames reach the leaderboard (%s)", (mode) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(mode);
  });
  afterAll(() => t.close());

  const profileNickname = (userId: string) =>
    t.platform.db.query<{ nickname: string | null }, [string]>("SELECT nickname FROM challenge_profiles WHERE user_id = ?").get(userId)?.nickname;
  const board = async (reader: User, challengeId: string) => {
    const res = await t.request("GET", `/challenges/${challengeId}/leaderboard`, { token: reader.tokens.accessToken });
    expect(res.status).toBe(200);
    return (await res.json()) as Board;
  };
  const nicknameOn = async (reader: User, challengeId: string, userId: string) =>
    (await board(reader, challengeId)).entries.find((e) => e.userId === userId)?.nickname;
  const rename = async (u: User, nickname: string) => {
    const res = await t.request("PATCH", "/me", { token: u.tokens.accessToken, body: { nickname } });
    expect(res.status).toBe(200);
    return (await res.json()) as { nickname: string; updatedAt: string };
  };
  async function challengeWith(owner: User, members: User[]) {
    const res = await t.request("POST", "/challenges", {
      token: owner.tokens.accessToken,
      body: { title: `renames ${Bun.randomUUIDv7()}`, startDate: day(-1), endDate: day(1) },
    });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    for (const m of members) expect((await t.request("POST", `/challenges/${id}/members`, { token: m.tokens.accessToken })).status).toBe(201);
    return id;
  }

  test("a renamed member (Hangul included) shows the new nickname on every leaderboard; the others keep theirs", async () => {
    const [owner, member] = [await signupAndLogin(t, "lbo"), await signupAndLogin(t, "lbm")];
    const [c1, c2] = [await challengeWith(owner, [member]), await challengeWith(owner, [member])];
    expect((await t.request("POST", `/challenges/${c1}/logs`, { token: member.tokens.accessToken })).status).toBe(201);
    await waitFor(async () => (await nicknameOn(owner, c1, member.user.id)) === member.nickname, { what: "the registered nickname" });
    // Read once before the rename: in the real mode the ranking now lives in the Redis set.
    expect((await board(owner, c1)).entries.map((e) => [e.userId, e.nickname, e.logCount])).toEqual([
      [member.user.id, member.nickname, 1],
      [owner.user.id, owner.nickname, 0],
    ]);
    if (mode === "real") expect(await t.platform.redis!.zscore(`challenges:lb:{${c1}}`, member.user.id)).toBe("-1");

    const fresh = `철수_${Bun.randomUUIDv7().slice(-8)}`;
    await rename(member, fresh);
    for (const c of [c1, c2]) await waitFor(async () => (await nicknameOn(owner, c, member.user.id)) === fresh, { what: `the new nickname on ${c}` });
    expect((await board(owner, c1)).entries.map((e) => [e.userId, e.nickname, e.logCount])).toEqual([
      [member.user.id, fresh, 1],
      [owner.user.id, owner.nickname, 0],
    ]);
    // Applied exactly once by the profiles consumer.
    const processed = t.platform.db
      .query<{ n: number }, [string]>(
        "SELECT COUNT(*) AS n FROM processed_events p JOIN outbox o ON o.id = p.event_id WHERE p.consumer = 'challenges-profiles' AND o.subject = 'homebase.accounts.user.updated' AND o.payload LIKE '%' || ? || '%'",
      )
      .get(member.user.id);
    expect(processed?.n).toBe(1);
  });

  test("events out of order: a late user.registered or an older rename does not bring back the old nickname", async () => {
    const owner = await signupAndLogin(t, "ooo");
    const c = await challengeWith(owner, []);
    await waitFor(() => profileNickname(owner.user.id) === owner.nickname, { what: "the registered nickname" });
    const second = `${owner.nickname.slice(0, 24)}_2`;
    const renamed = await rename(owner, second);
    await waitFor(() => profileNickname(owner.user.id) === second, { what: "the rename" });
    const api = t.modules.apis.challenges;
    const before = new Date(Date.parse(renamed.updatedAt) - 1).toISOString();
    await t.platform.writer.write(() => {
      api.applyUserRegistered({ userId: owner.user.id, email: owner.email, nickname: owner.nickname, registeredAt: before });
      api.applyUserUpdated({ userId: owner.user.id, nickname: "stale_name", updatedAt: before });
    });
    expect(profileNickname(owner.user.id)).toBe(second);
    expect(await nicknameOn(owner, c, owner.user.id)).toBe(second);
    // A rename that arrives before user.registered names the profile; the older registration then changes nothing.
    const newcomer = Bun.randomUUIDv7();
    await t.platform.writer.write(() => {
      api.applyUserUpdated({ userId: newcomer, nickname: "newer", updatedAt: new Date(Date.now()).toISOString() });
      api.applyUserRegistered({ userId: newcomer, email: "n@example.com", nickname: "older", registeredAt: new Date(Date.now() - 60_000).toISOString() });
    });
    expect(profileNickname(newcomer)).toBe("newer");
  });

  test("a deleted account's profile stays a tombstone when a rename arrives late", async () => {
    const u = await signupAndLogin(t, "tomb");
    await challengeWith(u, []);
    await waitFor(() => profileNickname(u.user.id) === u.nickname, { what: "the registered nickname" });
    expect((await t.request("DELETE", "/me", { token: u.tokens.accessToken, body: { password: u.password } })).status).toBe(204);
    await waitFor(() => profileNickname(u.user.id) === null, { what: "the tombstone" });
    await t.platform.writer.write(() => t.modules.apis.challenges.applyUserUpdated({ userId: u.user.id, nickname: "ghost", updatedAt: new Date(Date.now() + 60_000).toISOString() }));
    expect(profileNickname(u.user.id)).toBeNull();
  });
});
