// The accounts store contract, on what the use cases rely: uniqueness decided in the write's
// transaction, an event with the change or neither, a refresh token used once.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestApp, type TestApp } from "../../testing/app";
import { accountEvents } from "./events";
import type { UserRecord } from "./store";
import { SqliteAccountsStore } from "./store.sqlite";

describe("accounts store (sqlite)", () => {
  let t: TestApp;
  let store: SqliteAccountsStore;
  beforeAll(async () => {
    t = await createTestApp("embedded");
    store = new SqliteAccountsStore(t.platform.db, t.platform.writer, t.platform.events);
  });
  afterAll(() => t.close());

  const outbox = (id: string) =>
    t.platform.db
      .query<{ subject: string }, [string]>("SELECT subject FROM outbox WHERE payload LIKE '%' || ? || '%' ORDER BY id")
      .all(id)
      .map((r) => r.subject);

  function user(over: Partial<UserRecord> = {}): UserRecord {
    const n = Bun.randomUUIDv7().slice(-12);
    const now = Date.now();
    return {
      id: Bun.randomUUIDv7(),
      email: `s.${n}@example.com`,
      nickname: `s_${n}`,
      nicknameKey: `s_${n}`,
      passwordHash: "x",
      passwordSet: true,
      role: "user",
      createdAt: now,
      updatedAt: now,
      passwordChangedAt: now,
      deletedAt: null,
      ...over,
    };
  }
  const registered = (u: UserRecord) => ({
    userId: u.id,
    email: u.email,
    nickname: u.nickname,
    registeredAt: new Date(u.createdAt).toISOString(),
  });

  test("createUser: a taken email or nickname writes neither the user nor the event", async () => {
    const a = user();
    expect(await store.createUser(a, registered(a))).toEqual({ kind: "created" });
    expect(outbox(a.id)).toEqual([accountEvents.userRegistered]);
    for (const [clash, field] of [
      [user({ email: a.email }), "email"],
      [user({ nicknameKey: a.nicknameKey }), "nickname"],
    ] as const) {
      expect(await store.createUser(clash, registered(clash))).toEqual({ kind: "taken", field });
      expect(await store.user(clash.id)).toBeNull();
      expect(outbox(clash.id)).toEqual([]);
    }
  });

  test("deleteUser: once (with its event and every session revoked); the email and nickname are free again", async () => {
    const a = user();
    await store.createUser(a, registered(a));
    const now = Date.now();
    await store.openSession(
      { id: Bun.randomUUIDv7(), userId: a.id, createdAt: now, expiresAt: now + 60_000, userAgent: null, ip: null },
      `h-${a.id}`,
    );
    const deleted = { userId: a.id, deletedAt: new Date().toISOString() };
    expect(await store.deleteUser(a.id, Date.now(), deleted)).toBe(true);
    expect(await store.deleteUser(a.id, Date.now(), deleted)).toBe(false);
    expect(outbox(a.id)).toEqual([accountEvents.userRegistered, accountEvents.userDeleted]);
    expect(await store.taken(a.email, a.nicknameKey)).toBeNull();
    expect(
      await store.rotateRefreshToken({ presentedHash: `h-${a.id}`, nextHash: "n", at: Date.now(), expiresAt: Date.now() + 60_000 }),
    ).toEqual({ kind: "invalid" });
  });

  test("rotateRefreshToken: used once; presented again it revokes the session; an expired session rotates nothing", async () => {
    const a = user();
    await store.createUser(a, registered(a));
    const sessionId = Bun.randomUUIDv7();
    const at = Date.now();
    await store.openSession({ id: sessionId, userId: a.id, createdAt: at, expiresAt: at + 60_000, userAgent: "test", ip: null }, "first");

    const rotated = await store.rotateRefreshToken({ presentedHash: "first", nextHash: "second", at: at + 1, expiresAt: at + 120_000 });
    expect(rotated).toMatchObject({ kind: "rotated", sessionId, user: { id: a.id } });
    expect((await store.sessionAuthState(sessionId, a.id, at + 1))?.expiresAt).toBe(at + 120_000);
    // The session was prolonged: past its first lifetime the new token still rotates.
    const again = await store.rotateRefreshToken({ presentedHash: "second", nextHash: "third", at: at + 90_000, expiresAt: at + 200_000 });
    expect(again.kind).toBe("rotated");

    expect(await store.rotateRefreshToken({ presentedHash: "first", nextHash: "x", at: at + 90_001, expiresAt: at + 300_000 })).toEqual({
      kind: "reused",
      sessionId,
      userId: a.id,
    });
    expect((await store.sessionAuthState(sessionId, a.id, at + 90_001))?.revokedAt).toBe(at + 90_001);
    expect((await store.rotateRefreshToken({ presentedHash: "third", nextHash: "y", at: at + 90_002, expiresAt: at + 300_000 })).kind).toBe(
      "invalid",
    );

    const late = Bun.randomUUIDv7();
    await store.openSession({ id: late, userId: a.id, createdAt: at, expiresAt: at + 1_000, userAgent: null, ip: null }, "late");
    expect((await store.rotateRefreshToken({ presentedHash: "late", nextHash: "z", at: at + 1_000, expiresAt: at + 2_000 })).kind).toBe(
      "invalid",
    );
    expect((await store.sessionAuthState(late, a.id, at))?.revokedAt).toBeNull();
    expect(await store.sessionAuthState(late, Bun.randomUUIDv7(), at)).toBeNull();
  });

  test("hasLiveSessionFrom: only an unrevoked, unexpired session of that user from that IP", async () => {
    const [a, b] = [user(), user()];
    await store.createUser(a, registered(a));
    await store.createUser(b, registered(b));
    const at = Date.now();
    const id = Bun.randomUUIDv7();
    await store.openSession({ id, userId: a.id, createdAt: at, expiresAt: at + 10_000, userAgent: null, ip: "192.0.2.1" }, `h-${id}`);
    expect(await store.hasLiveSessionFrom(a.id, "192.0.2.1", at)).toBe(true);
    expect(await store.hasLiveSessionFrom(a.id, "192.0.2.2", at)).toBe(false);
    expect(await store.hasLiveSessionFrom(b.id, "192.0.2.1", at)).toBe(false);
    expect(await store.hasLiveSessionFrom(a.id, "192.0.2.1", at + 10_000)).toBe(false);
    await store.revokeSession(id, "logout", at + 1);
    expect(await store.hasLiveSessionFrom(a.id, "192.0.2.1", at + 2)).toBe(false);
  });

  test("updateProfile and setRole: nickname or phone taken by another live account; unknown users", async () => {
    const [a, b] = [user({ phone: "010-1111-0000" }), user()];
    await store.createUser(a, registered(a));
    await store.createUser(b, registered(b));
    const rename = (id: string, nickname: string, key: string) => store.updateProfile(id, { nickname: { nickname, key } }, Date.now());
    expect(await rename(b.id, a.nickname, a.nicknameKey)).toBe("nickname_taken");
    expect(await store.updateProfile(b.id, { phone: "010-1111-0000" }, Date.now())).toBe("phone_taken");
    // A refused change writes nothing else of the patch, and no event.
    expect(await store.updateProfile(b.id, { nickname: { nickname: "b_fresh", key: `b_${b.id}` }, phone: "010-1111-0000" }, Date.now())).toBe("phone_taken");
    expect((await store.user(b.id))?.nickname).toBe(b.nickname);
    expect(outbox(b.id)).toEqual([accountEvents.userRegistered]);
    expect(await rename(a.id, a.nickname.toUpperCase(), a.nicknameKey)).toBe("updated");
    expect(outbox(a.id)).toEqual([accountEvents.userRegistered, accountEvents.userUpdated]);
    // A deleted account frees its phone number (and forgets it).
    await store.deleteUser(a.id, Date.now(), { userId: a.id, deletedAt: new Date().toISOString() });
    expect(await store.updateProfile(b.id, { phone: "010-1111-0000" }, Date.now())).toBe("updated");
    expect(await rename(Bun.randomUUIDv7(), "free_one", `free_${Bun.randomUUIDv7().slice(-8)}`)).toBe("user_not_found");
    expect((await store.setRole(b.id, "admin", Date.now()))?.role).toBe("admin");
    expect(await store.setRole(Bun.randomUUIDv7(), "admin", Date.now())).toBeNull();
  });
});
