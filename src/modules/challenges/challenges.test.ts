import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ConfigError, loadConfig } from "../../config";
import { createTestApp, signupAndLogin, type TestApp } from "../../testing/app";
import { modes } from "../../testing/modes";
import { startRedis, stopRedis } from "../../testing/servers";
import { waitFor } from "../../testing/wait";
import type { EventEnvelope } from "../../platform/events/bus";
import { challengeEvents } from "./events";
import { ManualClock } from "../../platform/clock";
import { encodeCursor } from "../../platform/http/paging";
import { platformErrors } from "../../platform/http/errors";
import { authFailures } from "../accounts";
import { challengesErrors } from "./errors";
import { logsCacheName } from "./reads";

type User = Awaited<ReturnType<typeof signupAndLogin>>;

interface ChallengeBody {
  id: string;
  ownerId: string;
  title: string;
  description: string;
  startDate: string;
  endDate: string;
  memberCount: number;
  joined: boolean;
}
interface Page {
  items: ChallengeBody[];
  nextCursor: string | null;
}
interface Logs {
  userId: string;
  logs: Array<{ challengeId: string; createdAt: string }>;
}
interface Board {
  challengeId: string;
  entries: Array<{ rank: number; userId: string; nickname: string | null; logCount: number }>;
}

/** A UTC calendar day relative to today. */
function day(offset = 0): string {
  return new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
}

async function expectProblem(res: Response, status: number, code: string) {
  expect({ status: res.status, type: res.headers.get("content-type") }).toEqual({ status, type: expect.stringContaining("application/problem+json") });
  const body = (await res.json()) as { status: number; code: string; errors?: Array<{ field: string }> };
  expect(body.status).toBe(status);
  expect(body.code).toBe(code);
  return body;
}

let titles = 0;
const uniqueTitle = (prefix = "challenge") => `${prefix} ${Date.now().toString(36)}-${++titles}`;

describe.each(modes)("challenges (%s)", (mode) => {
  let t: TestApp;
  const seen: EventEnvelope[] = [];

  beforeAll(async () => {
    t = await createTestApp(mode, {}, (platform) => {
      platform.events.register({ name: "challenges-test-observer", subjects: ["homebase.challenges.>"], apply: (e) => void seen.push(e) });
    });
  });
  afterAll(() => t.close());

  const as = (u: User) => u.tokens.accessToken;

  async function create(u: User, body: Partial<{ title: string; description: string; startDate: string; endDate: string }> = {}) {
    const res = await t.request("POST", "/challenges", {
      token: as(u),
      body: { title: uniqueTitle(), startDate: day(-1), endDate: day(1), ...body },
    });
    if (res.status !== 201) throw new Error(`create failed: ${res.status} ${await res.text()}`);
    return (await res.json()) as ChallengeBody;
  }

  async function join(u: User, challengeId: string) {
    const res = await t.request("POST", `/challenges/${challengeId}/members`, { token: as(u) });
    expect(res.status).toBe(201);
  }

  async function log(u: User, challengeId: string) {
    const res = await t.request("POST", `/challenges/${challengeId}/logs`, { token: as(u) });
    if (res.status !== 201) throw new Error(`log failed: ${res.status} ${await res.text()}`);
    return (await res.json()) as { id: string; challengeId: string; day: string; createdAt: string };
  }

  async function logsOf(reader: User, userId: string, count?: number): Promise<Logs> {
    const res = await t.request("GET", `/challenges/logs/${userId}${count === undefined ? "" : `?count=${count}`}`, { token: as(reader) });
    expect(res.status).toBe(200);
    return (await res.json()) as Logs;
  }

  async function board(reader: User, challengeId: string, limit?: number): Promise<Board> {
    const res = await t.request("GET", `/challenges/${challengeId}/leaderboard${limit ? `?limit=${limit}` : ""}`, { token: as(reader) });
    expect(res.status).toBe(200);
    return (await res.json()) as Board;
  }

  async function cacheCount(result: "hit" | "miss" | "error"): Promise<number> {
    const { values } = await t.platform.metrics.cacheRequests.get();
    return values.find((v) => v.labels.cache === logsCacheName && v.labels.result === result)?.value ?? 0;
  }

  /** Waits until the challenges-views consumer has handled every event emitted so far. */
  async function viewsSettled() {
    const subjects = [challengeEvents.logRecorded, challengeEvents.memberJoined, challengeEvents.memberLeft, challengeEvents.challengeDeleted];
    const emitted = t.platform.db.query<{ n: number }, string[]>(`SELECT COUNT(*) AS n FROM outbox WHERE subject IN (${subjects.map(() => "?").join(", ")})`);
    const handled = t.platform.db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM processed_events WHERE consumer = 'challenges-views'");
    await waitFor(() => emitted.get(...subjects)!.n === handled.get()!.n, { what: "the challenges-views consumer" });
  }

  /** Logs for past days, written straight to SQLite: the API only logs today. */
  async function seedPastLogs(challengeId: string, userId: string, days: number[]) {
    await t.platform.writer.write(() => {
      for (const d of days) {
        const when = Date.parse(`${day(d)}T12:00:00.000Z`);
        t.platform.db
          .query("INSERT INTO challenge_logs (id, challenge_id, user_id, day, created_at) VALUES (?, ?, ?, ?, ?)")
          .run(Bun.randomUUIDv7(), challengeId, userId, day(d), when);
      }
    });
  }

  describe("challenges CRUD", () => {
    test("create → 201 owned and joined; get, patch, delete; events emitted", async () => {
      const owner = await signupAndLogin(t);
      const created = await create(owner, { title: "  Push-ups  ", description: "daily", startDate: day(-2), endDate: day(5) });
      expect(created).toMatchObject({ ownerId: owner.user.id, title: "Push-ups", description: "daily", startDate: day(-2), endDate: day(5), memberCount: 1, joined: true });

      const other = await signupAndLogin(t);
      const got = await t.request("GET", `/challenges/${created.id}`, { token: as(other) });
      expect(got.status).toBe(200);
      expect((await got.json()) as ChallengeBody).toMatchObject({ id: created.id, joined: false, memberCount: 1 });

      const patched = await t.request("PATCH", `/challenges/${created.id}`, { token: as(owner), body: { title: "Push-ups v2", endDate: day(9) } });
      expect(patched.status).toBe(200);
      expect((await patched.json()) as ChallengeBody).toMatchObject({ title: "Push-ups v2", endDate: day(9), description: "daily" });

      const deleted = await t.request("DELETE", `/challenges/${created.id}`, { token: as(owner) });
      expect(deleted.status).toBe(204);
      await expectProblem(await t.request("GET", `/challenges/${created.id}`, { token: as(owner) }), 404, "challenge_not_found");

      const subjects = () => seen.filter((e) => (e.payload as { challengeId?: string }).challengeId === created.id).map((e) => e.subject);
      await waitFor(() => subjects().includes(challengeEvents.challengeDeleted));
      expect(subjects()).toEqual([
        challengeEvents.challengeCreated,
        challengeEvents.memberJoined,
        challengeEvents.challengeUpdated,
        challengeEvents.challengeDeleted,
      ]);
    });

    test("every route answers 401 problem+json without a token", async () => {
      const id = Bun.randomUUIDv7();
      const routes: Array<[string, string]> = [
        ["POST", "/challenges"],
        ["GET", "/challenges"],
        ["GET", `/challenges/${id}`],
        ["PATCH", `/challenges/${id}`],
        ["DELETE", `/challenges/${id}`],
        ["POST", `/challenges/${id}/members`],
        ["DELETE", `/challenges/${id}/members/me`],
        ["POST", `/challenges/${id}/logs`],
        ["GET", `/challenges/logs/${id}`],
        ["GET", `/challenges/${id}/leaderboard`],
      ];
      for (const [method, path] of routes) {
        // Authentication comes first: no body, or a bad one, still answers 401.
        await expectProblem(await t.request(method, path), 401, "missing_token");
        if (method === "POST" || method === "PATCH") await expectProblem(await t.request(method, path, { body: { title: 7 } }), 401, "missing_token");
      }
      await expectProblem(await t.request("GET", "/challenges", { token: "not-a-jwt" }), 401, "invalid_token");
    });

    test("create validation → 422; duplicate title per owner → 409; another owner may reuse it", async () => {
      const owner = await signupAndLogin(t);
      const post = (body: unknown) => t.request("POST", "/challenges", { token: as(owner), body });
      const base = { title: uniqueTitle(), startDate: day(0), endDate: day(3) };
      const fields = async (res: Response, code = "validation_failed") => (await expectProblem(res, 422, code)).errors?.map((e) => e.field) ?? [];

      expect(await fields(await post({}))).toEqual(expect.arrayContaining(["/title", "/startDate", "/endDate"]));
      expect(await fields(await post({ ...base, title: "" }))).toContain("/title");
      expect(await fields(await post({ ...base, title: "x".repeat(101) }))).toContain("/title");
      expect(await fields(await post({ ...base, title: "   " }))).toEqual(["/title"]);
      expect(await fields(await post({ ...base, description: "d".repeat(1001) }))).toContain("/description");
      expect(await fields(await post({ ...base, startDate: "2026-02-30" }))).toContain("/startDate");
      expect(await fields(await post({ ...base, endDate: "2026-1-5" }))).toContain("/endDate");
      expect(await fields(await post({ ...base, startDate: day(3), endDate: day(2) }), "invalid_date_range")).toEqual(["/endDate"]);
      await expectProblem(await t.request("POST", "/challenges", { token: as(owner), body: "{", headers: { "content-type": "application/json" } }), 400, "malformed_body");

      // Boundaries are accepted: 100 characters, 1000 of description, one-day challenge.
      expect((await post({ title: "t".repeat(100), description: "d".repeat(1000), startDate: day(0), endDate: day(0) })).status).toBe(201);
      expect((await post(base)).status).toBe(201);
      await expectProblem(await post({ ...base, title: base.title.toUpperCase() }), 409, "title_taken");
      const other = await signupAndLogin(t);
      expect((await t.request("POST", "/challenges", { token: as(other), body: base })).status).toBe(201);
    });

    test("get/patch/delete errors: 422 bad id, 404 unknown, 403 not owner, 409 title taken, 422 range and empty patch", async () => {
      const owner = await signupAndLogin(t);
      const stranger = await signupAndLogin(t);
      const a = await create(owner, { startDate: day(0), endDate: day(5) });
      const b = await create(owner);
      const unknown = Bun.randomUUIDv7();

      await expectProblem(await t.request("GET", "/challenges/not-a-uuid", { token: as(owner) }), 422, "validation_failed");
      await expectProblem(await t.request("GET", `/challenges/${unknown}`, { token: as(owner) }), 404, "challenge_not_found");
      await expectProblem(await t.request("PATCH", `/challenges/${unknown}`, { token: as(owner), body: { title: "x" } }), 404, "challenge_not_found");
      await expectProblem(await t.request("DELETE", `/challenges/${unknown}`, { token: as(owner) }), 404, "challenge_not_found");
      await expectProblem(await t.request("DELETE", "/challenges/123", { token: as(owner) }), 422, "validation_failed");

      await expectProblem(await t.request("PATCH", `/challenges/${a.id}`, { token: as(stranger), body: { title: "mine now" } }), 403, "not_owner");
      await expectProblem(await t.request("DELETE", `/challenges/${a.id}`, { token: as(stranger) }), 403, "not_owner");

      await expectProblem(await t.request("PATCH", `/challenges/${a.id}`, { token: as(owner), body: { title: b.title } }), 409, "title_taken");
      await expectProblem(await t.request("PATCH", `/challenges/${a.id}`, { token: as(owner), body: { endDate: day(-1) } }), 422, "invalid_date_range");
      await expectProblem(await t.request("PATCH", `/challenges/${a.id}`, { token: as(owner), body: {} }), 422, "validation_failed");
      await expectProblem(await t.request("PATCH", `/challenges/${a.id}`, { token: as(owner), body: { description: "d".repeat(1001) } }), 422, "validation_failed");
      // Nothing of the refused edits stuck; renaming to its own title (other case) is fine.
      const same = await t.request("PATCH", `/challenges/${a.id}`, { token: as(owner), body: { title: a.title.toUpperCase() } });
      expect(same.status).toBe(200);
      expect((await same.json()) as ChallengeBody).toMatchObject({ title: a.title.toUpperCase(), endDate: day(5) });
    });
  });

  describe("listing", () => {
    test("cursor pagination returns every challenge exactly once, also while challenges are added", async () => {
      const owner = await signupAndLogin(t);
      const created = new Set<string>();
      for (let i = 0; i < 23; i++) created.add((await create(owner)).id);

      const seenIds: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res = await t.request("GET", `/challenges?mine=true&limit=5${cursor ? `&cursor=${cursor}` : ""}`, { token: as(owner) });
        expect(res.status).toBe(200);
        const page = (await res.json()) as Page;
        seenIds.push(...page.items.map((c) => c.id));
        cursor = page.nextCursor;
        // A challenge created mid-way is newer than the cursor: it neither repeats nor shifts a page.
        if (++pages === 2) await create(owner);
      } while (cursor !== null);
      expect(pages).toBe(5);
      expect(seenIds).toHaveLength(23);
      expect(new Set(seenIds)).toEqual(created);

      // Unfiltered, across every owner: the pages are exactly the table.
      const all: string[] = [];
      cursor = null;
      do {
        const page = (await (await t.request("GET", `/challenges?limit=7${cursor ? `&cursor=${cursor}` : ""}`, { token: as(owner) })).json()) as Page;
        all.push(...page.items.map((c) => c.id));
        cursor = page.nextCursor;
      } while (cursor !== null);
      const rows = t.platform.db.query<{ id: string }, []>("SELECT id FROM challenges ORDER BY id DESC").all().map((r) => r.id);
      expect(all).toEqual(rows);
    });

    test("filters: mine, joined, active (and combined)", async () => {
      const me = await signupAndLogin(t);
      const other = await signupAndLogin(t);
      const mineActive = await create(me);
      const mineFuture = await create(me, { startDate: day(3), endDate: day(6) });
      const theirsActive = await create(other);
      const theirsPast = await create(other, { startDate: day(-10), endDate: day(-5) });
      await join(me, theirsActive.id);
      const ids = async (query: string) => {
        const res = await t.request("GET", `/challenges?limit=100&${query}`, { token: as(me) });
        expect(res.status).toBe(200);
        return ((await res.json()) as Page).items.map((c) => c.id);
      };
      expect(await ids("mine=true")).toEqual([mineFuture.id, mineActive.id]);
      expect(await ids("joined=true")).toEqual([theirsActive.id, mineFuture.id, mineActive.id]);
      expect(await ids("joined=true&mine=false")).toEqual([theirsActive.id, mineFuture.id, mineActive.id]);
      expect(await ids("joined=true&active=true")).toEqual([theirsActive.id, mineActive.id]);
      const active = await ids("active=true");
      expect(active).toContain(theirsActive.id);
      expect(active).not.toContain(theirsPast.id);
      expect(active).not.toContain(mineFuture.id);
      const page = (await (await t.request("GET", "/challenges?joined=true&limit=1", { token: as(me) })).json()) as Page;
      expect(page.items[0]).toMatchObject({ id: theirsActive.id, joined: true, memberCount: 2 });
    });

    test("bad list queries: limit → 422, filter value → 422, foreign cursor → 400", async () => {
      const me = await signupAndLogin(t);
      await expectProblem(await t.request("GET", "/challenges?limit=0", { token: as(me) }), 422, "validation_failed");
      await expectProblem(await t.request("GET", "/challenges?limit=101", { token: as(me) }), 422, "validation_failed");
      await expectProblem(await t.request("GET", "/challenges?mine=perhaps", { token: as(me) }), 422, "validation_failed");
      await expectProblem(await t.request("GET", "/challenges?cursor=bm9wZQ", { token: as(me) }), 400, "invalid_cursor");
      // Another list's cursor (the user list's is [createdAt, id]).
      await expectProblem(await t.request("GET", `/challenges?cursor=${encodeCursor([Date.now(), Bun.randomUUIDv7()])}`, { token: as(me) }), 400, "invalid_cursor");
    });
  });

  describe("membership and logs", () => {
    test("join and leave: 201, 409 already_member, 409 challenge_ended, 404s", async () => {
      const owner = await signupAndLogin(t);
      const member = await signupAndLogin(t);
      const c = await create(owner, { startDate: day(2), endDate: day(4) });
      const joined = await t.request("POST", `/challenges/${c.id}/members`, { token: as(member) });
      expect(joined.status).toBe(201);
      expect(await joined.json()).toMatchObject({ challengeId: c.id, userId: member.user.id });
      await expectProblem(await t.request("POST", `/challenges/${c.id}/members`, { token: as(member) }), 409, "already_member");
      await expectProblem(await t.request("POST", `/challenges/${c.id}/members`, { token: as(owner) }), 409, "already_member");
      await expectProblem(await t.request("POST", `/challenges/${Bun.randomUUIDv7()}/members`, { token: as(member) }), 404, "challenge_not_found");
      await expectProblem(await t.request("POST", "/challenges/x/members", { token: as(member) }), 422, "validation_failed");

      const ended = await create(owner, { startDate: day(-5), endDate: day(-1) });
      await expectProblem(await t.request("POST", `/challenges/${ended.id}/members`, { token: as(member) }), 409, "challenge_ended");

      expect((await t.request("DELETE", `/challenges/${c.id}/members/me`, { token: as(member) })).status).toBe(204);
      await expectProblem(await t.request("DELETE", `/challenges/${c.id}/members/me`, { token: as(member) }), 404, "not_member");
      await expectProblem(await t.request("DELETE", `/challenges/${Bun.randomUUIDv7()}/members/me`, { token: as(member) }), 404, "challenge_not_found");
      expect(((await (await t.request("GET", `/challenges/${c.id}`, { token: as(member) })).json()) as ChallengeBody).memberCount).toBe(1);
    });

    test("logs: members only (403), inside the dates (409), once a day (409), unknown challenge (404)", async () => {
      const owner = await signupAndLogin(t);
      const member = await signupAndLogin(t);
      const outsider = await signupAndLogin(t);
      const c = await create(owner);
      await join(member, c.id);

      const first = await log(member, c.id);
      expect(first).toMatchObject({ challengeId: c.id, day: day(0) });
      await expectProblem(await t.request("POST", `/challenges/${c.id}/logs`, { token: as(member) }), 409, "already_logged_today");
      await expectProblem(await t.request("POST", `/challenges/${c.id}/logs`, { token: as(outsider) }), 403, "not_member");
      await expectProblem(await t.request("POST", `/challenges/${Bun.randomUUIDv7()}/logs`, { token: as(member) }), 404, "challenge_not_found");
      await expectProblem(await t.request("POST", "/challenges/nope/logs", { token: as(member) }), 422, "validation_failed");

      const future = await create(owner, { startDate: day(1), endDate: day(3) });
      await expectProblem(await t.request("POST", `/challenges/${future.id}/logs`, { token: as(owner) }), 409, "challenge_not_started");
      // Joined while it ran, then the owner moved it into the past.
      const moved = await create(owner);
      await join(member, moved.id);
      expect((await t.request("PATCH", `/challenges/${moved.id}`, { token: as(owner), body: { startDate: day(-9), endDate: day(-2) } })).status).toBe(200);
      await expectProblem(await t.request("POST", `/challenges/${moved.id}/logs`, { token: as(member) }), 409, "challenge_ended");

      const events = () => seen.filter((e) => e.subject === challengeEvents.logRecorded && (e.payload as { userId: string }).userId === member.user.id);
      await waitFor(() => events().length === 1);
      expect(events()[0]!.payload).toMatchObject({ logId: first.id, challengeId: c.id, day: day(0) });
    });

    test("GET /challenges/logs/:userId: shape, newest first, default 10; bad count or id → 422", async () => {
      const owner = await signupAndLogin(t);
      const member = await signupAndLogin(t);
      const cs = [];
      for (let i = 0; i < 12; i++) cs.push(await create(owner));
      for (const c of cs) await join(member, c.id);
      const written = [];
      for (const c of cs) written.push(await log(member, c.id));

      const body = await logsOf(owner, member.user.id);
      expect(body.userId).toBe(member.user.id);
      expect(body.logs).toEqual(written.reverse().slice(0, 10).map((l) => ({ challengeId: l.challengeId, createdAt: l.createdAt })));
      expect((await logsOf(owner, Bun.randomUUIDv7())).logs).toEqual([]);

      for (const q of ["count=0", "count=101", "count=abc", "count=1.5"]) {
        await expectProblem(await t.request("GET", `/challenges/logs/${member.user.id}?${q}`, { token: as(owner) }), 422, "validation_failed");
      }
      await expectProblem(await t.request("GET", "/challenges/logs/someone", { token: as(owner) }), 422, "validation_failed");
    });
  });

  describe("cached logs read", () => {
    test("the next read after a log write shows it, though the previous answer was cached", async () => {
      const owner = await signupAndLogin(t);
      const member = await signupAndLogin(t);
      const [c1, c2] = [await create(owner), await create(owner)];
      await join(member, c1.id);
      await join(member, c2.id);

      expect((await logsOf(owner, member.user.id)).logs).toEqual([]);
      const hits = await cacheCount("hit");
      expect((await logsOf(owner, member.user.id)).logs).toEqual([]);
      expect(await cacheCount("hit")).toBe(hits + 1);

      const l1 = await log(member, c1.id);
      expect((await logsOf(owner, member.user.id)).logs).toEqual([{ challengeId: c1.id, createdAt: l1.createdAt }]);
      expect((await logsOf(owner, member.user.id)).logs).toHaveLength(1);
      const l2 = await log(member, c2.id);
      expect((await logsOf(owner, member.user.id)).logs).toEqual([
        { challengeId: c2.id, createdAt: l2.createdAt },
        { challengeId: c1.id, createdAt: l1.createdAt },
      ]);

      // Leaving takes that challenge's logs with it, on the next read too.
      expect((await t.request("DELETE", `/challenges/${c2.id}/members/me`, { token: as(member) })).status).toBe(204);
      expect((await logsOf(owner, member.user.id)).logs).toEqual([{ challengeId: c1.id, createdAt: l1.createdAt }]);
      // So does the owner deleting a challenge.
      expect((await t.request("DELETE", `/challenges/${c1.id}`, { token: as(owner) })).status).toBe(204);
      expect((await logsOf(owner, member.user.id)).logs).toEqual([]);
    });

    test("count=5 and count=20 never share a cached answer", async () => {
      const owner = await signupAndLogin(t);
      const member = await signupAndLogin(t);
      const ids: string[] = [];
      for (let i = 0; i < 12; i++) {
        const c = await create(owner);
        await join(member, c.id);
        await log(member, c.id);
        ids.unshift(c.id);
      }
      const read = async (n: number) => (await logsOf(owner, member.user.id, n)).logs.map((l) => l.challengeId);
      const hits = await cacheCount("hit");
      expect(await read(5)).toEqual(ids.slice(0, 5));
      expect(await read(20)).toEqual(ids);
      expect(await read(5)).toEqual(ids.slice(0, 5));
      expect(await read(20)).toEqual(ids);
      expect(await read(10)).toEqual(ids.slice(0, 10));
      expect(await cacheCount("hit")).toBe(hits + 2);

      // A write retires every count's entry at once.
      const c = await create(owner);
      await join(member, c.id);
      await log(member, c.id);
      expect(await read(20)).toEqual([c.id, ...ids]);
      expect(await read(5)).toEqual([c.id, ...ids.slice(0, 4)]);
    });

    test("HOMEBASE_CHALLENGE_LOGS_TTL_MS=0 turns the cache off; a bad value is a config error", async () => {
      const off = await createTestApp(mode, { HOMEBASE_CHALLENGE_LOGS_TTL_MS: "0" });
      try {
        const u = await signupAndLogin(off);
        for (let i = 0; i < 3; i++) {
          const res = await off.request("GET", `/challenges/logs/${u.user.id}`, { token: as(u) });
          expect(res.status).toBe(200);
        }
        const { values } = await off.platform.metrics.cacheRequests.get();
        expect(values.filter((v) => v.labels.cache === logsCacheName)).toEqual([]);
      } finally {
        await off.close();
      }
      for (const bad of ["-1", "abc", "86400001", "1.5"]) {
        expect(() => loadConfig({ HOMEBASE_CHALLENGE_LOGS_TTL_MS: bad, HOMEBASE_JWT_SECRET: "s".repeat(40), HOMEBASE_DATA_DIR: off.dataDir })).toThrow(ConfigError);
      }
    });
  });

  describe("leaderboard and accounts' events", () => {
    test("user.registered creates the member's challenge profile (nickname on the leaderboard)", async () => {
      const u = await signupAndLogin(t);
      await waitFor(() => t.platform.db.query<{ nickname: string | null }, [string]>("SELECT nickname FROM challenge_profiles WHERE user_id = ?").get(u.user.id)?.nickname === u.nickname);
      const c = await create(u);
      expect((await board(u, c.id)).entries).toEqual([{ rank: 1, userId: u.user.id, nickname: u.nickname, logCount: 0 }]);
    });

    test("ranking by log count (ties share a rank), kept current by writes; user.deleted (DELETE /me) removes the user from reads, cache and leaderboard", async () => {
      const owner = await signupAndLogin(t);
      const [a, b, d] = [await signupAndLogin(t), await signupAndLogin(t), await signupAndLogin(t)];
      const c = await create(owner, { startDate: day(-10), endDate: day(1) });
      const other = await create(owner, { startDate: day(-10), endDate: day(1) });
      for (const u of [a, b, d]) await join(u, c.id);
      await join(a, other.id);
      // History: a logged 3 past days, b one. Written before the first leaderboard read.
      await seedPastLogs(c.id, a.user.id, [-1, -2, -3]);
      await seedPastLogs(c.id, b.user.id, [-4]);
      const nick = new Map([owner, a, b, d].map((u) => [u.user.id, u.nickname]));
      await waitFor(() => [...nick.keys()].every((id) => t.platform.db.query<{ nickname: string | null }, [string]>("SELECT nickname FROM challenge_profiles WHERE user_id = ?").get(id)?.nickname === nick.get(id)));

      const expected = (counts: Array<[User, number]>) => {
        const sorted = counts.map(([u, n]) => ({ userId: u.user.id, nickname: u.nickname, logCount: n })).sort((x, y) => y.logCount - x.logCount || (x.userId < y.userId ? -1 : 1));
        return sorted.map((e) => ({ rank: sorted.findIndex((s) => s.logCount === e.logCount) + 1, ...e }));
      };
      const zeroes = [owner, d].sort((x, y) => (x.user.id < y.user.id ? -1 : 1));
      // The consumer's repeats of the joins would (correctly) refuse a rebuild racing them.
      await viewsSettled();
      expect((await board(owner, c.id)).entries).toEqual(expected([[a, 3], [b, 1], [owner, 0], [d, 0]]));
      expect((await board(owner, c.id)).entries.map((e) => e.rank)).toEqual([1, 2, 3, 3]);
      expect((await board(owner, c.id)).entries.slice(2).map((e) => e.userId)).toEqual(zeroes.map((u) => u.user.id));
      const redisKey = `challenges:lb:{${c.id}}`;
      if (mode === "real") {
        // The ranking came from (and rebuilt) the sorted set.
        expect(await t.platform.redis!.zscore(redisKey, a.user.id)).toBe("-3");
      }

      await log(b, c.id);
      await log(d, c.id);
      await log(a, other.id);
      expect((await board(owner, c.id)).entries).toEqual(expected([[a, 3], [b, 2], [d, 1], [owner, 0]]));
      expect((await board(owner, c.id, 2)).entries).toEqual(expected([[a, 3], [b, 2]]));
      if (mode === "real") expect(await t.platform.redis!.zscore(redisKey, b.user.id)).toBe("-2");

      // a's logs are read (and cached) by someone else, then a deletes the account.
      expect((await logsOf(owner, a.user.id, 10)).logs).toHaveLength(4);
      const hits = await cacheCount("hit");
      expect((await logsOf(owner, a.user.id, 10)).logs).toHaveLength(4);
      expect(await cacheCount("hit")).toBe(hits + 1);
      expect((await t.request("DELETE", "/me", { token: as(a), body: { password: a.password } })).status).toBe(204);

      // The cached answer is retired by the event: without invalidation it would live 30 s.
      await waitFor(async () => (await logsOf(owner, a.user.id, 10)).logs.length === 0, { what: "a's logs to leave the read" });
      await waitFor(async () => !(await board(owner, c.id)).entries.some((e) => e.userId === a.user.id), { what: "a to leave the leaderboard" });
      expect((await board(owner, c.id)).entries).toEqual(expected([[b, 2], [d, 1], [owner, 0]]));
      expect((await board(owner, other.id)).entries.map((e) => e.userId)).toEqual([owner.user.id]);
      if (mode === "real") await waitFor(async () => (await t.platform.redis!.zscore(redisKey, a.user.id)) === null, { what: "a's zset entry to go" });
      const profile = t.platform.db.query<{ deleted_at: number | null; nickname: string | null }, [string]>("SELECT deleted_at, nickname FROM challenge_profiles WHERE user_id = ?").get(a.user.id);
      expect(profile?.deleted_at).toBeNumber();
      expect(profile?.nickname).toBeNull();
      // A user.registered arriving late (or redelivered) does not bring the profile back.
      await t.platform.writer.write(() =>
        t.modules.apis.challenges.applyUserRegistered({ userId: a.user.id, email: a.email, nickname: "ghost", registeredAt: new Date().toISOString() }),
      );
      expect(t.platform.db.query<{ nickname: string | null }, [string]>("SELECT nickname FROM challenge_profiles WHERE user_id = ?").get(a.user.id)?.nickname).toBeNull();
      const leftEvents = () => seen.filter((e) => e.subject === challengeEvents.memberLeft && (e.payload as { userId: string }).userId === a.user.id);
      // The test observer is a consumer of its own, not ordered with challenges-views.
      await waitFor(() => leftEvents().length >= 2, { what: "member.left events" });
      const left = leftEvents();
      expect(left.map((e) => (e.payload as { challengeId: string; reason: string })).sort((x, y) => (x.challengeId < y.challengeId ? -1 : 1))).toEqual(
        [c.id, other.id].sort().map((challengeId) => ({ challengeId, userId: a.user.id, reason: "user_deleted" })),
      );
    });

    test("leaderboard errors: 404 unknown challenge, 422 bad limit or id", async () => {
      const u = await signupAndLogin(t);
      const c = await create(u);
      await expectProblem(await t.request("GET", `/challenges/${Bun.randomUUIDv7()}/leaderboard`, { token: as(u) }), 404, "challenge_not_found");
      await expectProblem(await t.request("GET", `/challenges/${c.id}/leaderboard?limit=0`, { token: as(u) }), 422, "validation_failed");
      await expectProblem(await t.request("GET", `/challenges/${c.id}/leaderboard?limit=101`, { token: as(u) }), 422, "validation_failed");
      await expectProblem(await t.request("GET", "/challenges/zzz/leaderboard", { token: as(u) }), 422, "validation_failed");
    });
  });

  test("OpenAPI: every error status of every challenges route lists its codes, from the vocabulary, each code somewhere", async () => {
    type Op = { tags?: string[]; responses: Record<string, { content?: Record<string, { schema: { properties?: { code?: { enum?: string[] } } } }> }> };
    const spec = (await (await t.request("GET", "/swagger/json")).json()) as { paths: Record<string, Record<string, Op>> };
    const known = new Set<string>([...Object.values(challengesErrors), ...Object.values(platformErrors), ...authFailures]);
    const documented = new Set<string>();
    const problems: string[] = [];
    for (const [path, ops] of Object.entries(spec.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        if (!op.tags?.includes("challenges")) continue;
        for (const [status, response] of Object.entries(op.responses)) {
          // 431: the runtime refuses an oversized URL or headers before any handler, with no body.
          if (Number(status) < 400 || status === "431") continue;
          const codes = response.content?.["application/problem+json"]?.schema.properties?.code?.enum;
          if (!codes) problems.push(`${method.toUpperCase()} ${path} ${status}: no codes`);
          for (const code of codes ?? []) {
            documented.add(code);
            if (!known.has(code)) problems.push(`${method.toUpperCase()} ${path} ${status}: ${code} is not in the vocabulary`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
    expect(Object.values(challengesErrors).filter((code) => !documented.has(code))).toEqual([]);
  });

  describe("days come from the injected clock", () => {
    // A minute before midnight UTC: the next log day is one clock.advance away.
    const clock = new ManualClock(Date.parse("2026-12-01T23:59:00.000Z"));
    let c: TestApp;
    beforeAll(async () => {
      c = await createTestApp(mode, {}, undefined, undefined, { clock });
    });
    afterAll(() => c.close());

    test("one log per UTC day, the next day again; after endDate neither logging nor joining; active follows the clock", async () => {
      const owner = await signupAndLogin(c);
      const member = await signupAndLogin(c);
      const created = await c.request("POST", "/challenges", { token: as(owner), body: { title: uniqueTitle(), startDate: "2026-12-01", endDate: "2026-12-02" } });
      expect(created.status).toBe(201);
      const { id } = (await created.json()) as ChallengeBody;
      expect((await c.request("POST", `/challenges/${id}/members`, { token: as(member) })).status).toBe(201);
      const logToday = () => c.request("POST", `/challenges/${id}/logs`, { token: as(member) });
      const activeIds = async () => ((await (await c.request("GET", "/challenges?active=true", { token: as(member) })).json()) as Page).items.map((x) => x.id);
      // Access tokens expire by the same clock.
      const logInAgain = async (u: User) => {
        const res = await c.request("POST", "/auth/login", { body: { email: u.email, password: u.password } });
        u.tokens = (await res.json()) as User["tokens"];
      };

      const first = await logToday();
      expect(first.status).toBe(201);
      expect(await first.json()).toMatchObject({ day: "2026-12-01", createdAt: "2026-12-01T23:59:00.000Z" });
      await expectProblem(await logToday(), 409, "already_logged_today");

      clock.advance(60_000);
      const second = await logToday();
      expect(second.status).toBe(201);
      expect(await second.json()).toMatchObject({ day: "2026-12-02", createdAt: "2026-12-02T00:00:00.000Z" });
      const logs = (await (await c.request("GET", `/challenges/logs/${member.user.id}`, { token: as(owner) })).json()) as Logs;
      expect(logs.logs.map((l) => l.createdAt)).toEqual(["2026-12-02T00:00:00.000Z", "2026-12-01T23:59:00.000Z"]);
      const ranking = (await (await c.request("GET", `/challenges/${id}/leaderboard`, { token: as(owner) })).json()) as Board;
      expect(ranking.entries.map((e) => [e.userId, e.logCount])).toEqual([[member.user.id, 2], [owner.user.id, 0]]);
      expect(await activeIds()).toContain(id);

      clock.advance(86_400_000);
      await logInAgain(member);
      await expectProblem(await logToday(), 409, "challenge_ended");
      const late = await signupAndLogin(c);
      await expectProblem(await c.request("POST", `/challenges/${id}/members`, { token: as(late) }), 409, "challenge_ended");
      expect(await activeIds()).not.toContain(id);
    });
  });

  // Only where there is a redis-server to stop (defined, not skipped, in the embedded run).
  if (mode === "real") describe("with redis", () => {
    test("a missing or stale sorted set is rebuilt from SQL", async () => {
      const owner = await signupAndLogin(t);
      const m = await signupAndLogin(t);
      const c = await create(owner);
      await join(m, c.id);
      await log(m, c.id);
      // Its own repeats of these updates would (correctly) refuse a rebuild racing them.
      await viewsSettled();
      const key = `challenges:lb:{${c.id}}`;
      const redis = t.platform.redis!;
      const ids = async () => (await board(owner, c.id)).entries.map((e) => [e.userId, e.logCount]);
      expect(await ids()).toEqual([[m.user.id, 1], [owner.user.id, 0]]);
      expect(await redis.exists(key)).toBe(1);

      await redis.del(key);
      expect(await ids()).toEqual([[m.user.id, 1], [owner.user.id, 0]]);
      expect(await redis.zrange(key, 0, -1, "WITHSCORES")).toEqual([m.user.id, "-1", owner.user.id, "0"]);

      // A removal the set missed (a ghost member): answered from SQL, and the set is dropped.
      await redis.zadd(key, "-5", "01900000-0000-7000-8000-000000000000");
      expect(await ids()).toEqual([[m.user.id, 1], [owner.user.id, 0]]);
      expect(await ids()).toEqual([[m.user.id, 1], [owner.user.id, 0]]);
      expect(await redis.zscore(key, "01900000-0000-7000-8000-000000000000")).toBeNull();
    });

    test("redis stopped mid-test: logs read and leaderboard answer 200 from SQLite, writes go on", async () => {
      const owner = await signupAndLogin(t);
      const m = await signupAndLogin(t);
      const [c1, c2] = [await create(owner), await create(owner)];
      await join(m, c1.id);
      await join(m, c2.id);
      const l1 = await log(m, c1.id);
      expect((await logsOf(owner, m.user.id)).logs).toHaveLength(1);
      expect((await board(owner, c2.id)).entries).toHaveLength(2);
      try {
        await stopRedis();
        // Two-level in the real mode: until the cache notices, a hit may come from the local level.
        const store = t.platform.cacheStore as { ping(): Promise<boolean>; active?: boolean };
        await waitFor(async () => !(await store.ping()) && store.active !== true, { timeoutMs: 10_000, intervalMs: 50, what: "the cache to notice redis is gone" });
        const errors = await cacheCount("error");
        expect((await logsOf(owner, m.user.id)).logs).toEqual([{ challengeId: c1.id, createdAt: l1.createdAt }]);
        expect(await cacheCount("error")).toBeGreaterThan(errors);
        const l2 = await log(m, c2.id);
        expect((await logsOf(owner, m.user.id)).logs).toEqual([
          { challengeId: c2.id, createdAt: l2.createdAt },
          { challengeId: c1.id, createdAt: l1.createdAt },
        ]);
        expect((await board(owner, c2.id)).entries.map((e) => [e.userId, e.logCount])).toEqual([[m.user.id, 1], [owner.user.id, 0]]);
      } finally {
        await startRedis();
      }
      await waitFor(async () => (await t.platform.cacheStore.ping()), { timeoutMs: 10_000, intervalMs: 50, what: "redis to reconnect" });
      // The restarted redis is empty: the sorted set is rebuilt with the write made during the outage.
      expect((await board(owner, c2.id)).entries.map((e) => [e.userId, e.logCount])).toEqual([[m.user.id, 1], [owner.user.id, 0]]);
      expect((await logsOf(owner, m.user.id)).logs.map((l) => l.challengeId)).toEqual([c2.id, c1.id]);
    });
  });
});
