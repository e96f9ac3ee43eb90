// Reads and the views behind them: a user's latest logs (cache-aside, invalidated by generation)
// and leaderboards (a Redis sorted set when Redis is configured, SQL otherwise), plus keeping
// both current after a committed change: inline on the request path, and again from the views
// consumer (which repairs what an outage made the inline update miss).
import type Redis from "ioredis";
import type { CacheAside } from "../../platform/cache/cache-aside";
import { ResponseCache, type StoredBody } from "../../platform/cache/response";
import type { Logger } from "../../platform/logger";
import { challengeNotFound, iso } from "./challenges";
import { challengeEvents, type ChallengeDeleted, type MemberLeft } from "./events";
import { RedisLeaderboard } from "./leaderboard";
import { type Leaderboard, type LeaderboardEntry, UserLogs } from "./model";
import type { ChallengesStore, Standing } from "./store";

export interface ChallengesSettings {
  /** TTL of cached GET /challenges/logs/:userId answers; 0 = no cache. */
  logsTtlMs: number;
}

/** The cache name in homebase_cache_requests_total. */
export const logsCacheName = "challenge_logs";

/** The cache namespace of one user's logs: bumping it retires every cached `count` variant at once. */
export function logsNamespace(userId: string): string {
  return `challenges:logs:${userId}`;
}

/** Competition ranking over an already ordered list: equal counts share a rank (1, 2, 2, 4). */
function ranked(rows: Standing[]): LeaderboardEntry[] {
  const out: LeaderboardEntry[] = [];
  rows.forEach((r, i) => {
    const prev = out[i - 1];
    out.push({
      rank: prev && prev.logCount === r.logCount ? prev.rank : i + 1,
      userId: r.userId,
      nickname: r.nickname,
      logCount: r.logCount,
    });
  });
  return out;
}

export class ChallengeReads {
  private readonly leaderboards: RedisLeaderboard | null;
  private readonly responses: ResponseCache;
  private redisFailing = false;

  constructor(
    private readonly store: ChallengesStore,
    private readonly cache: CacheAside,
    redis: Redis | null,
    private readonly settings: ChallengesSettings,
    private readonly logger: Logger,
  ) {
    this.leaderboards = redis ? new RedisLeaderboard(redis) : null;
    this.responses = new ResponseCache(cache);
  }

  /**
   * A user's latest logs, newest first, as the response body: checked against UserLogs and
   * serialized once when stored, so a hit is served as the stored bytes (see ResponseCache).
   * Cache-aside under a per-user generation: every `count` has its own key, and one bump after a
   * write retires all of them at once, on every instance.
   */
  userLogs(userId: string, count: number): StoredBody | Promise<StoredBody> {
    const load = async (): Promise<UserLogs> => ({
      userId,
      logs: (await this.store.userLogs(userId, count)).map((l) => ({ challengeId: l.challengeId, createdAt: iso(l.createdAt) })),
    });
    if (this.settings.logsTtlMs === 0) return load().then((logs) => this.responses.once(UserLogs, logs, logsCacheName));
    return this.responses.versioned(logsCacheName, logsNamespace(userId), `:count=${count}`, this.settings.logsTtlMs, UserLogs, async () => ({
      value: await load(),
    }));
  }

  /**
   * Members ranked by log count. With Redis: the ranking comes from the sorted set (rebuilt from
   * SQL when missing), nicknames and membership from SQL; a member the set still lists but SQL
   * no longer has means the set missed a removal: it is dropped and the answer comes from SQL.
   * Without Redis, or when it fails: SQL.
   */
  async leaderboard(challengeId: string, limit: number): Promise<Leaderboard> {
    if (!(await this.store.challenge(challengeId))) throw challengeNotFound();
    const sets = this.leaderboards;
    if (sets) {
      try {
        // A rebuild is refused when an update raced it; a couple more tries usually get through.
        for (let attempt = 1; attempt <= 3; attempt++) {
          const top = await sets.top(challengeId, limit);
          if ("standings" in top) {
            const names = await this.store.membersNamed(
              challengeId,
              top.standings.map((s) => s.userId),
            );
            if (names.size === top.standings.length) {
              this.redisRecovered();
              return { challengeId, entries: ranked(top.standings.map((s) => ({ ...s, nickname: names.get(s.userId) ?? null }))) };
            }
            await sets.drop(challengeId);
            break;
          }
          const all = await this.store.standings(challengeId, -1);
          if ((await sets.fill(challengeId, top.version, all)) || attempt === 3) {
            this.redisRecovered();
            return { challengeId, entries: ranked(all.slice(0, limit)) };
          }
        }
      } catch (err) {
        this.redisFailed(err);
      }
    }
    return { challengeId, entries: ranked(await this.store.standings(challengeId, limit)) };
  }

  /** After a committed change of one membership: retire cached logs, update the Redis leaderboard. */
  async memberChanged(challengeId: string, userId: string, logsChanged: boolean): Promise<void> {
    const sets = this.leaderboards;
    await Promise.all([
      logsChanged ? this.cache.bump(logsNamespace(userId)) : undefined,
      sets ? this.redisOp(() => this.syncLeaderboard(sets, challengeId, userId)) : undefined,
    ]);
  }

  /** After a challenge was deleted: its members' logs went with it, and its leaderboard. */
  async challengeDeleted(challengeId: string, memberIds: string[]): Promise<void> {
    await Promise.all([
      ...memberIds.map((userId) => this.cache.bump(logsNamespace(userId))),
      this.redisOp(() => this.leaderboards?.drop(challengeId)),
    ]);
  }

  /**
   * The views consumer. Requests already invalidated the cached logs they changed (inline,
   * before answering); bumping again here would only cost every writer an extra miss, so only
   * the changes made by consumers (user_deleted) are invalidated here. The leaderboard update
   * is repeated for every change (absolute, so harmless): it is what repairs a set that missed
   * an inline update while Redis was unreachable. Not caught: the bus retries until Redis is back.
   */
  async refreshViews(subject: string, payload: unknown): Promise<void> {
    const sets = this.leaderboards;
    switch (subject) {
      case challengeEvents.logRecorded:
      case challengeEvents.memberLeft:
      case challengeEvents.memberJoined: {
        const { challengeId, userId, reason } = payload as { challengeId: string; userId: string; reason?: MemberLeft["reason"] };
        if (reason === "user_deleted") await this.cache.bump(logsNamespace(userId));
        if (sets) await this.syncLeaderboard(sets, challengeId, userId);
        return;
      }
      case challengeEvents.challengeDeleted:
        await sets?.drop((payload as ChallengeDeleted).challengeId);
        return;
    }
  }

  /** Sets the member's leaderboard entry to what the store says now (absolute, so idempotent). */
  private async syncLeaderboard(sets: RedisLeaderboard, challengeId: string, userId: string): Promise<void> {
    await sets.sync(challengeId, userId, await this.store.memberLogCount(challengeId, userId));
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
