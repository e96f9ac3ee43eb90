// Revocations are announced: each way the store revokes sessions writes one
// homebase.accounts.session.revoked in the revoking transaction, naming exactly the sessions it
// revoked (chat closes their sockets on every instance); nothing revoked, nothing emitted.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestApp, type TestApp } from "../../testing/app";
import { accountEvents, type SessionRevoked } from "./events";
import type { UserRecord } from "./store";
import { SqliteAccountsStore } from "./store.sqlite";

describe("accounts session.revoked events (sqlite)", () => {
  let t: TestApp;
  let store: SqliteAccountsStore;
  beforeAll(async () => {
    t = await createTestApp("embedded");
    store = new SqliteAccountsStore(t.platform.db, t.platform.writer, t.platform.events);
  });
  afterAll(() => t.close());

  const revocations = (userId: string) =>
    t.platform.db
      .query<{ payload: string }, [string, string]>("SELECT payload FROM outbox WHERE subject = ? AND payload LIKE '%' || ? || '%' ORDER BY id")
      .all(accountEvents.sessionRevoked, userId)
      .map((r) => JSON.parse(r.payload) as SessionRevoked);

  async function userWithSessions(n: number): Promise<{ user: UserRecord; sessions: string[] }> {
    const k = Bun.randomUUIDv7().slice(-12);
    const now = Date.now();
    const user: UserRecord = {
      id: Bun.randomUUIDv7(),
      email: `r.${k}@example.com`,
      nickname: `r_${k}`,
      nicknameKey: `r_${k}`,
      passwordHash: "x",
      passwordSet: true,
      role: "user",
      createdAt: now,
      updatedAt: now,
      passwordChangedAt: now,
      deletedAt: null,
    };
    await store.createUser(user, { userId: user.id, email: user.email, nickname: user.nickname, registeredAt: new Date(now).toISOString() });
    const sessions: string[] = [];
    for (let i = 0; i < n; i++) {
      const id = Bun.randomUUIDv7();
      await store.openSession({ id, userId: user.id, createdAt: now, expiresAt: now + 60_000, userAgent: null, ip: null }, `h-${id}`);
      sessions.push(id);
    }
    return { user, sessions };
  }

  test("logout: the one session; again: nothing", async () => {
    const { user, sessions } = await userWithSessions(2);
    const at = Date.now();
    expect(await store.revokeSession(sessions[0]!, "logout", at)).toBe(true);
    expect(await store.revokeSession(sessions[0]!, "logout", at)).toBe(false);
    expect(revocations(user.id)).toEqual([{ userId: user.id, sessionIds: [sessions[0]!], reason: "logout", revokedAt: new Date(at).toISOString() }]);
  });

  test("logout-all: every live session, in one event; again: nothing", async () => {
    const { user, sessions } = await userWithSessions(3);
    await store.revokeSession(sessions[1]!, "logout", Date.now());
    expect(await store.revokeUserSessions(user.id, "logout_all", Date.now())).toBe(2);
    expect(await store.revokeUserSessions(user.id, "logout_all", Date.now())).toBe(0);
    const events = revocations(user.id);
    expect(events.map((e) => e.reason)).toEqual(["logout", "logout_all"]);
    expect([...events[1]!.sessionIds].sort()).toEqual([sessions[0]!, sessions[2]!].sort());
  });

  test("password change: every session but the one that changed it", async () => {
    const { user, sessions } = await userWithSessions(3);
    expect(await store.changePassword(user.id, "y", Date.now(), sessions[0]!)).toBe(2);
    const [event] = revocations(user.id);
    expect(event!.reason).toBe("password_changed");
    expect([...event!.sessionIds].sort()).toEqual([sessions[1]!, sessions[2]!].sort());
    // The only session left changes it again: nobody else to revoke, no event.
    expect(await store.changePassword(user.id, "z", Date.now(), sessions[0]!)).toBe(0);
    expect(revocations(user.id)).toHaveLength(1);
  });

  test("a refresh token presented twice: its session", async () => {
    const { user, sessions } = await userWithSessions(2);
    const rotate = (presentedHash: string, nextHash: string) => store.rotateRefreshToken({ presentedHash, nextHash, at: Date.now(), expiresAt: Date.now() + 60_000 });
    expect((await rotate(`h-${sessions[1]!}`, `n-${sessions[1]!}`)).kind).toBe("rotated");
    expect(revocations(user.id)).toEqual([]);
    expect((await rotate(`h-${sessions[1]!}`, "again")).kind).toBe("reused");
    expect(revocations(user.id).map((e) => [e.reason, e.sessionIds])).toEqual([["refresh_token_reused", [sessions[1]!]]]);
  });

  test("account deletion: user.deleted ends the sessions, no session.revoked besides", async () => {
    const { user } = await userWithSessions(2);
    expect(await store.deleteUser(user.id, Date.now(), { userId: user.id, deletedAt: new Date().toISOString() })).toBe(true);
    expect(revocations(user.id)).toEqual([]);
  });
});
