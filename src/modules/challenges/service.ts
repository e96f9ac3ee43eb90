// Challenge use cases: challenges, membership, daily logs, the cached logs read, leaderboards,
// and the handlers of accounts' events. No Elysia types here; errors are HttpProblems.
//
// Member profiles: a challenge profile (challenge_profiles) is created by accounts'
// user.registered event. Joining or creating a challenge does not wait for it: the profile is
// created lazily (nickname null) in the same transaction, and the event fills in the nickname
// when it arrives. Requiring the event first would make a fresh account's first request fail
// at random (the event is asynchronous, over NATS a few ms behind); the caller is already
// authenticated by accounts, so the account is known to exist. A profile tombstoned by
// user.deleted is never recreated.
//
// Owned challenges outlive their owner's account (user.deleted removes the user's memberships
// and logs, not the challenges other members are taking part in); they just can't be edited.
import type Redis from "ioredis";
import type { CacheAside } from "../../platform/cache/cache-aside";
import type { GroupCommitWriter } from "../../platform/db/sqlite";
import { problems } from "../../platform/http/problem";
import type { Logger } from "../../platform/logger";
import type { Principal } from "../accounts";
import type { UserDeleted, UserRegistered } from "../accounts";
import {
  challengeEvents,
  type ChallengeCreated,
  type ChallengeDeleted,
  type ChallengesEventHandlers,
  type ChallengesEventSink,
  type LogRecorded,
  type MemberJoined,
  type MemberLeft,
} from "./events";
import { RedisLeaderboard, type Standing } from "./leaderboard";
import type {
  Challenge,
  ChallengeListQuery,
  ChallengePage,
  CreateChallengeBody,
  Leaderboard,
  LeaderboardEntry,
  LogEntry,
  Membership,
  UpdateChallengeBody,
  UserLogs,
} from "./model";
import type { ChallengeRow, ChallengeViewRow, ChallengesRepository } from "./repository";

export interface ChallengesSettings {
  /** TTL of cached GET /challenges/logs/:userId answers; 0 = no cache. */
  logsTtlMs: number;
}

/** The cache name in homebase_cache_requests_total. */
export const logsCacheName = "challenge_logs";

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The cache namespace of one user's logs: bumping it retires every cached `count` variant at once. */
export function logsNamespace(userId: string): string {
  return `challenges:logs:${userId}`;
}

function toChallenge(row: ChallengeViewRow): Challenge {
  return {
    id: row.id,
    ownerId: row.owner_id,
    title: row.title,
    description: row.description,
    startDate: row.start_date,
    endDate: row.end_date,
    memberCount: row.member_count,
    joined: row.joined === 1,
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

function titleKey(title: string): string {
  return title.normalize("NFC").toLowerCase();
}

function cleanTitle(raw: string): string {
  const title = raw.trim();
  if (title === "") throw problems.unprocessable("title_blank", "the title must not be blank", [{ field: "/title", message: "blank" }]);
  return title;
}

function checkRange(startDate: string, endDate: string): void {
  // YYYY-MM-DD strings compare like the dates they name.
  if (startDate > endDate) {
    throw problems.unprocessable("invalid_date_range", `startDate ${startDate} is after endDate ${endDate}`, [
      { field: "/endDate", message: "must not be before startDate" },
    ]);
  }
}

/** Competition ranking over an already ordered list: equal counts share a rank (1, 2, 2, 4). */
function ranked(rows: Array<{ userId: string; nickname: string | null; logCount: number }>): LeaderboardEntry[] {
  const out: LeaderboardEntry[] = [];
  rows.forEach((r, i) => {
    const prev = out[i - 1];
    out.push({ rank: prev && prev.logCount === r.logCount ? prev.rank : i + 1, userId: r.userId, nickname: r.nickname, logCount: r.logCount });
  });
  return out;
}

export class ChallengesService implements ChallengesEventHandlers {
  private readonly leaderboardStore: RedisLeaderboard | null;
  private redisFailing = false;

  constructor(
    private readonly repo: ChallengesRepository,
    private readonly writer: GroupCommitWriter,
    private readonly events: ChallengesEventSink,
    private readonly cache: CacheAside,
    redis: Redis | null,
    private readonly settings: ChallengesSettings,
    private readonly logger: Logger,
  ) {
    this.leaderboardStore = redis ? new RedisLeaderboard(redis) : null;
  }

  // ---------------------------------------------------------------------------------------
  // Challenges

  async create(principal: Principal, body: CreateChallengeBody): Promise<Challenge> {
    const title = cleanTitle(body.title);
    checkRange(body.startDate, body.endDate);
    const now = Date.now();
    const row: ChallengeRow = {
      id: Bun.randomUUIDv7(),
      owner_id: principal.userId,
      title,
      title_key: titleKey(title),
      description: body.description ?? "",
      start_date: body.startDate,
      end_date: body.endDate,
      created_at: now,
      updated_at: now,
    };
    await this.writer.write(() => {
      if (this.repo.titleTaken(row.owner_id, row.title_key)) {
        throw problems.conflict("title_taken", "you already have a challenge with this title");
      }
      this.ensureProfile(row.owner_id, now);
      this.repo.insertChallenge(row);
      // The owner takes part in their own challenge (and may leave it like anyone else).
      this.repo.insertMember(row.id, row.owner_id, now);
      this.events.emit(challengeEvents.challengeCreated, this.challengePayload(row) satisfies ChallengeCreated);
      this.events.emit(challengeEvents.memberJoined, {
        challengeId: row.id,
        userId: row.owner_id,
        joinedAt: new Date(now).toISOString(),
      } satisfies MemberJoined);
    });
    await this.refreshMember(row.id, row.owner_id, false);
    return this.get(principal, row.id);
  }

  get(principal: Principal, id: string): Challenge {
    const row = this.repo.challengeView(id, principal.userId);
    if (!row) throw problems.notFound("challenge_not_found", "no such challenge");
    return toChallenge(row);
  }

  async update(principal: Principal, id: string, patch: UpdateChallengeBody): Promise<Challenge> {
    const title = patch.title === undefined ? undefined : cleanTitle(patch.title);
    await this.writer.write(() => {
      const row = this.ownedChallenge(principal, id);
      const next: ChallengeRow = {
        ...row,
        title: title ?? row.title,
        title_key: title === undefined ? row.title_key : titleKey(title),
        description: patch.description ?? row.description,
        start_date: patch.startDate ?? row.start_date,
        end_date: patch.endDate ?? row.end_date,
        updated_at: Date.now(),
      };
      checkRange(next.start_date, next.end_date);
      if (next.title_key !== row.title_key && this.repo.titleTaken(row.owner_id, next.title_key, row.id)) {
        throw problems.conflict("title_taken", "you already have a challenge with this title");
      }
      this.repo.updateChallenge(next);
      this.events.emit(challengeEvents.challengeUpdated, this.challengePayload(next));
    });
    return this.get(principal, id);
  }

  async remove(principal: Principal, id: string): Promise<void> {
    const memberIds = await this.writer.write(() => {
      const row = this.ownedChallenge(principal, id);
      const members = this.repo.memberIds(id);
      this.repo.deleteChallenge(id); // memberships and logs go by cascade
      this.events.emit(challengeEvents.challengeDeleted, { challengeId: id, ownerId: row.owner_id, memberIds: members } satisfies ChallengeDeleted);
      return members;
    });
    await Promise.all([
      ...memberIds.map((userId) => this.cache.bump(logsNamespace(userId))),
      this.redisOp(() => this.leaderboardStore?.drop(id)),
    ]);
  }

  list(principal: Principal, query: ChallengeListQuery): ChallengePage {
    const limit = query.limit ?? 20;
    let beforeId: string | undefined;
    if (query.cursor !== undefined) {
      beforeId = Buffer.from(query.cursor, "base64url").toString("utf8");
      if (!uuidPattern.test(beforeId)) throw problems.badRequest("invalid_cursor", "the cursor is not one this server issued");
    }
    const rows = this.repo.list({
      viewerId: principal.userId,
      activeOn: query.active ? utcDay(Date.now()) : undefined,
      mine: query.mine === true,
      joined: query.joined === true,
      beforeId,
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    // Keyed by the UUIDv7 id alone: unique and totally ordered, so a page boundary can neither
    // repeat nor skip a challenge, whatever is created or deleted meanwhile.
    return {
      items: page.map(toChallenge),
      nextCursor: rows.length > limit && last ? Buffer.from(last.id).toString("base64url") : null,
    };
  }

  // ---------------------------------------------------------------------------------------
  // Membership and logs

  async join(principal: Principal, id: string): Promise<Membership> {
    const now = Date.now();
    const userId = principal.userId;
    await this.writer.write(() => {
      const row = this.challengeRow(id);
      if (utcDay(now) > row.end_date) throw problems.conflict("challenge_ended", `the challenge ended on ${row.end_date}`);
      this.ensureProfile(userId, now);
      if (!this.repo.insertMember(id, userId, now)) throw problems.conflict("already_member", "you already take part in this challenge");
      this.events.emit(challengeEvents.memberJoined, { challengeId: id, userId, joinedAt: new Date(now).toISOString() } satisfies MemberJoined);
    });
    await this.refreshMember(id, userId, false);
    return { challengeId: id, userId, joinedAt: new Date(now).toISOString() };
  }

  /** Leaving removes the member's logs of this challenge too. */
  async leave(principal: Principal, id: string): Promise<void> {
    const userId = principal.userId;
    await this.writer.write(() => {
      this.challengeRow(id);
      if (!this.repo.deleteMember(id, userId)) throw problems.notFound("membership_not_found", "you do not take part in this challenge");
      this.events.emit(challengeEvents.memberLeft, { challengeId: id, userId, reason: "left" } satisfies MemberLeft);
    });
    await this.refreshMember(id, userId, true);
  }

  async recordLog(principal: Principal, id: string): Promise<LogEntry> {
    const now = Date.now();
    const day = utcDay(now);
    const userId = principal.userId;
    const log = { id: Bun.randomUUIDv7(), challenge_id: id, user_id: userId, day, created_at: now };
    await this.writer.write(() => {
      const row = this.challengeRow(id);
      if (!this.repo.isMember(id, userId)) throw problems.forbidden("not_a_member", "join the challenge before logging progress");
      if (day < row.start_date) throw problems.conflict("challenge_not_started", `the challenge starts on ${row.start_date} (UTC)`);
      if (day > row.end_date) throw problems.conflict("challenge_ended", `the challenge ended on ${row.end_date} (UTC)`);
      if (!this.repo.insertLog(log)) throw problems.conflict("already_logged_today", `you already logged this challenge on ${day} (UTC)`);
      this.events.emit(challengeEvents.logRecorded, {
        logId: log.id,
        challengeId: id,
        userId,
        day,
        createdAt: new Date(now).toISOString(),
      } satisfies LogRecorded);
    });
    // Before answering: the caller's next read (logs or leaderboard) must show this log.
    await this.refreshMember(id, userId, true);
    return { id: log.id, challengeId: id, userId, day, createdAt: new Date(now).toISOString() };
  }

  /**
   * A user's latest logs, newest first. Cache-aside under a per-user generation: every `count`
   * has its own key, and one bump after a write retires all of them at once, on every instance.
   */
  async userLogs(userId: string, count: number): Promise<UserLogs> {
    const load = (): UserLogs => ({
      userId,
      logs: this.repo.userLogs(userId, count).map((r) => ({ challengeId: r.challenge_id, createdAt: new Date(r.created_at).toISOString() })),
    });
    if (this.settings.logsTtlMs === 0) return load();
    const ns = logsNamespace(userId);
    const gen = await this.cache.generation(ns);
    return this.cache.getOrLoad(logsCacheName, `${ns}@${gen}:count=${count}`, this.settings.logsTtlMs, load);
  }

  /**
   * Members ranked by log count. With Redis: the ranking comes from the sorted set (rebuilt from
   * SQL when missing), nicknames and membership from SQL; a member the set still lists but SQL
   * no longer has means the set missed a removal: it is dropped and the answer comes from SQL.
   * Without Redis, or when it fails: SQL.
   */
  async leaderboard(challengeId: string, limit: number): Promise<Leaderboard> {
    this.challengeRow(challengeId);
    const store = this.leaderboardStore;
    if (store) {
      try {
        // A rebuild is refused when an update raced it; a couple more tries usually get through.
        for (let attempt = 1; attempt <= 3; attempt++) {
          const top = await store.top(challengeId, limit);
          if ("standings" in top) {
            const names = this.repo.membersNamed(challengeId, top.standings.map((s) => s.userId));
            if (names.size === top.standings.length) {
              this.redisRecovered();
              return { challengeId, entries: ranked(top.standings.map((s) => ({ ...s, nickname: names.get(s.userId) ?? null }))) };
            }
            await store.drop(challengeId);
            break;
          }
          const all = this.repo.standings(challengeId, -1).map((r) => ({ userId: r.user_id, nickname: r.nickname, logCount: r.log_count }));
          if ((await store.fill(challengeId, top.version, all)) || attempt === 3) {
            this.redisRecovered();
            return { challengeId, entries: ranked(all.slice(0, limit)) };
          }
        }
      } catch (err) {
        this.redisFailed(err);
      }
    }
    const rows = this.repo.standings(challengeId, limit);
    return { challengeId, entries: ranked(rows.map((r) => ({ userId: r.user_id, nickname: r.nickname, logCount: r.log_count }))) };
  }

  // ---------------------------------------------------------------------------------------
  // Event handlers (see events.ts)

  applyUserRegistered(event: UserRegistered): void {
    const registeredAt = Date.parse(event.registeredAt);
    this.repo.upsertProfile(event.userId, event.nickname, Number.isFinite(registeredAt) ? registeredAt : Date.now());
  }

  applyUserDeleted(event: UserDeleted): void {
    // One member.left per membership: the views consumer then invalidates this user's cached
    // logs and takes them off each leaderboard, after this transaction committed.
    for (const challengeId of this.repo.membershipsOf(event.userId)) {
      this.events.emit(challengeEvents.memberLeft, { challengeId, userId: event.userId, reason: "user_deleted" } satisfies MemberLeft);
    }
    this.repo.deleteMembershipsOf(event.userId); // their logs go by cascade
    this.repo.tombstoneProfile(event.userId, Date.now());
  }

  /**
   * The views consumer. Requests already invalidated the cached logs they changed (inline,
   * before answering); bumping again here would only cost every writer an extra miss, so only
   * the changes made by consumers (user_deleted) are invalidated here. The leaderboard update
   * is repeated for every change (absolute, so harmless): it is what repairs a set that missed
   * an inline update while Redis was unreachable. Not caught: the bus retries until Redis is back.
   */
  async refreshViews(subject: string, payload: unknown): Promise<void> {
    const store = this.leaderboardStore;
    switch (subject) {
      case challengeEvents.logRecorded:
      case challengeEvents.memberLeft:
      case challengeEvents.memberJoined: {
        const { challengeId, userId, reason } = payload as { challengeId: string; userId: string; reason?: MemberLeft["reason"] };
        if (reason === "user_deleted") await this.cache.bump(logsNamespace(userId));
        if (store) await this.syncLeaderboard(store, challengeId, userId);
        return;
      }
      case challengeEvents.challengeDeleted:
        await store?.drop((payload as ChallengeDeleted).challengeId);
        return;
    }
  }

  // ---------------------------------------------------------------------------------------

  private challengePayload(row: ChallengeRow): ChallengeCreated {
    return { challengeId: row.id, ownerId: row.owner_id, title: row.title, startDate: row.start_date, endDate: row.end_date };
  }

  private challengeRow(id: string): ChallengeRow {
    const row = this.repo.challenge(id);
    if (!row) throw problems.notFound("challenge_not_found", "no such challenge");
    return row;
  }

  /** Challenges are public: anyone may read one, so a non-owner's edit is 403, not 404. */
  private ownedChallenge(principal: Principal, id: string): ChallengeRow {
    const row = this.challengeRow(id);
    if (row.owner_id !== principal.userId) throw problems.forbidden("not_owner", "only the owner can change or delete this challenge");
    return row;
  }

  /** Inside a write: the caller's profile, created lazily (see the top of this file). */
  private ensureProfile(userId: string, now: number): void {
    if (this.repo.ensureProfile(userId, now).deleted_at !== null) {
      throw problems.notFound("user_not_found", "the account no longer exists");
    }
  }

  /** After a committed change of one membership: retire cached logs, update the Redis leaderboard. */
  private async refreshMember(challengeId: string, userId: string, logsChanged: boolean): Promise<void> {
    const store = this.leaderboardStore;
    await Promise.all([
      logsChanged ? this.cache.bump(logsNamespace(userId)) : undefined,
      store ? this.redisOp(() => this.syncLeaderboard(store, challengeId, userId)) : undefined,
    ]);
  }

  /** Sets the member's leaderboard entry to what SQLite says now (absolute, so idempotent). */
  private async syncLeaderboard(store: RedisLeaderboard, challengeId: string, userId: string): Promise<void> {
    const count = this.repo.isMember(challengeId, userId) ? this.repo.logCount(challengeId, userId) : null;
    await store.sync(challengeId, userId, count);
  }

  /** A Redis side effect on the request path: a failure is logged; the views consumer retries it. */
  private async redisOp(op: () => Promise<unknown> | undefined): Promise<void> {
    try {
      await op();
      this.redisRecovered();
    } catch (err) {
      this.redisFailed(err);
    }
  }

  // One warning per outage, not one per request.
  private redisFailed(err: unknown): void {
    if (this.redisFailing) return;
    this.redisFailing = true;
    this.logger.warn("leaderboard: redis unavailable; answering from SQLite", { err: err instanceof Error ? err.message : String(err) });
  }

  private redisRecovered(): void {
    if (!this.redisFailing) return;
    this.redisFailing = false;
    this.logger.info("leaderboard: redis available again");
  }
}
