// The challenges store contract, on what the use cases rely: a write is one transaction with its
// outbox events, so a refusal — the store's own or a `decide` callback's — writes neither.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestApp, type TestApp } from "../../testing/app";
import { challengeEvents } from "./events";
import type { ChallengeRecord } from "./store";
import { SqliteChallengesStore } from "./store.sqlite";

describe("challenges store (sqlite)", () => {
  let t: TestApp;
  let store: SqliteChallengesStore;
  beforeAll(async () => {
    t = await createTestApp("embedded");
    store = new SqliteChallengesStore(t.platform.db, t.platform.writer, t.platform.events);
  });
  afterAll(() => t.close());

  const outbox = (id: string) =>
    t.platform.db
      .query<{ subject: string }, [string]>("SELECT subject FROM outbox WHERE payload LIKE '%' || ? || '%' ORDER BY id")
      .all(id)
      .map((r) => r.subject);

  function challenge(ownerId: string, title: string): ChallengeRecord {
    const now = Date.now();
    return {
      id: Bun.randomUUIDv7(),
      ownerId,
      title,
      titleKey: title.toLowerCase(),
      description: "",
      startDate: "2026-12-01",
      endDate: "2026-12-31",
      createdAt: now,
      updatedAt: now,
    };
  }

  async function created(ownerId: string, title = `t ${Bun.randomUUIDv7()}`) {
    const c = challenge(ownerId, title);
    const payload = { challengeId: c.id, ownerId, title: c.title, startDate: c.startDate, endDate: c.endDate };
    const joined = { challengeId: c.id, userId: ownerId, joinedAt: new Date(c.createdAt).toISOString() };
    expect(await store.createChallenge(c, { created: payload, ownerJoined: joined })).toBe("created");
    return c;
  }

  test("create: the challenge, its owner's membership and both events, or nothing", async () => {
    const owner = Bun.randomUUIDv7();
    const c = await created(owner, "Push-ups");
    expect(outbox(c.id)).toEqual([challengeEvents.challengeCreated, challengeEvents.memberJoined]);
    expect(await store.memberLogCount(c.id, owner)).toBe(0);

    const twin = challenge(owner, "push-ups");
    const refused = await store.createChallenge(twin, {
      created: { challengeId: twin.id, ownerId: owner, title: twin.title, startDate: twin.startDate, endDate: twin.endDate },
      ownerJoined: { challengeId: twin.id, userId: owner, joinedAt: new Date().toISOString() },
    });
    expect(refused).toBe("title_taken");
    expect(await store.challenge(twin.id)).toBeNull();
    expect(outbox(twin.id)).toEqual([]);
  });

  test("a decide callback that throws writes nothing, outbox included", async () => {
    const owner = Bun.randomUUIDv7();
    const c = await created(owner);
    const refusal = new Error("refused");
    await expect(
      store.updateChallenge(c.id, () => {
        throw refusal;
      }),
    ).rejects.toBe(refusal);
    await expect(
      store.deleteChallenge(c.id, () => {
        throw refusal;
      }),
    ).rejects.toBe(refusal);
    const member = Bun.randomUUIDv7();
    await expect(
      store.join({ challengeId: c.id, userId: member, joinedAt: Date.now() }, () => {
        throw refusal;
      }),
    ).rejects.toBe(refusal);
    const log = { id: Bun.randomUUIDv7(), challengeId: c.id, userId: owner, day: "2026-12-02", createdAt: Date.now() };
    await expect(
      store.recordLog(log, () => {
        throw refusal;
      }),
    ).rejects.toBe(refusal);

    expect(await store.challenge(c.id)).toEqual(c);
    expect(await store.memberLogCount(c.id, member)).toBeNull();
    expect(await store.memberLogCount(c.id, owner)).toBe(0);
    expect(outbox(c.id)).toEqual([challengeEvents.challengeCreated, challengeEvents.memberJoined]);
  });

  test("the store's own refusals emit nothing: already a member, already logged, not a member, title taken on update", async () => {
    const owner = Bun.randomUUIDv7();
    const c = await created(owner);
    const other = await created(owner);
    const joinAgain = await store.join({ challengeId: c.id, userId: owner, joinedAt: Date.now() }, () => ({
      challengeId: c.id,
      userId: owner,
      joinedAt: new Date().toISOString(),
    }));
    expect(joinAgain).toBe("already_member");

    const log = { id: Bun.randomUUIDv7(), challengeId: c.id, userId: owner, day: "2026-12-02", createdAt: Date.now() };
    const event = () => ({
      logId: log.id,
      challengeId: c.id,
      userId: owner,
      day: log.day,
      createdAt: new Date(log.createdAt).toISOString(),
    });
    let seen: unknown[] = [];
    const recorded = await store.recordLog(log, (found, isMember) => {
      seen = [found?.id, isMember];
      return event();
    });
    expect([recorded, ...seen]).toEqual(["recorded", c.id, true]);
    expect(await store.recordLog({ ...log, id: Bun.randomUUIDv7() }, event)).toBe("already_logged");
    expect(await store.memberLogCount(c.id, owner)).toBe(1);

    expect(await store.leave(c.id, Bun.randomUUIDv7(), { challengeId: c.id, userId: owner, reason: "left" })).toBe("not_member");
    const renamed = await store.updateChallenge(c.id, (current) => {
      const next = { ...current!, title: other.title, titleKey: other.titleKey };
      return { next, event: { challengeId: c.id, ownerId: owner, title: next.title, startDate: next.startDate, endDate: next.endDate } };
    });
    expect(renamed).toBe("title_taken");
    expect((await store.challenge(c.id))?.title).toBe(c.title);
    expect(outbox(c.id)).toEqual([challengeEvents.challengeCreated, challengeEvents.memberJoined, challengeEvents.logRecorded]);
  });

  test("removing a user: member.left for each membership, logs gone, the profile a tombstone no user.registered revives", async () => {
    const owner = Bun.randomUUIDv7();
    const user = Bun.randomUUIDv7();
    const [a, b] = [await created(owner), await created(owner)];
    for (const c of [a, b]) {
      expect(
        await store.join({ challengeId: c.id, userId: user, joinedAt: Date.now() }, () => ({
          challengeId: c.id,
          userId: user,
          joinedAt: new Date().toISOString(),
        })),
      ).toBe("joined");
    }
    await t.platform.writer.write(() =>
      store.removeUserSync(user, Date.now(), (challengeId) => ({ challengeId, userId: user, reason: "user_deleted" })),
    );
    expect(await store.memberLogCount(a.id, user)).toBeNull();
    expect(await store.memberLogCount(b.id, user)).toBeNull();
    expect(outbox(user).filter((s) => s === challengeEvents.memberLeft)).toHaveLength(2);

    await t.platform.writer.write(() => store.saveProfileSync(user, "ghost", Date.now()));
    const join = await store.join({ challengeId: a.id, userId: user, joinedAt: Date.now() }, () => ({
      challengeId: a.id,
      userId: user,
      joinedAt: new Date().toISOString(),
    }));
    expect(join).toBe("profile_deleted");
    expect((await store.standings(a.id, -1)).map((s) => s.userId)).toEqual([owner]);
  });
});
