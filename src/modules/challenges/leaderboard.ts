// The leaderboard as a Redis sorted set: a view derived from SQLite, never the source of truth.
//
// - Score = -(log count), so ZRANGE (ascending, ties by member) gives "most logs first, then
//   user id ascending" — exactly the SQL ORDER BY, so both modes rank identically.
// - Writes set absolute counts read from SQLite after commit (ZADD LT, never ZINCRBY): applying
//   the same update twice, or an old one after a newer one, changes nothing. That makes the
//   inline update and the event consumer's repeat of it safe to run in any order.
// - A missing set is rebuilt from SQL. Every update bumps a version key; a rebuild only stores
//   if the version is still the one it read before its SQL read, so it cannot overwrite a
//   newer update with older data (the generation trick of CacheAside).
// - The rebuilt set expires (rebuildTtlMs), bounding any drift if an update was lost while
//   Redis kept its data (a partition rather than a restart).
import type Redis from "ioredis";
import { defineScript } from "../../platform/redis";

const versionTtlMs = 3_600_000;

const syncLua = `
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
if redis.call('EXISTS', KEYS[1]) == 1 then
  if ARGV[2] == '' then redis.call('ZREM', KEYS[1], ARGV[1])
  else redis.call('ZADD', KEYS[1], 'LT', ARGV[2], ARGV[1]) end
end
return 1`;

const fillLua = `
local v = redis.call('GET', KEYS[2]) or '0'
if v ~= ARGV[1] or redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 3, #ARGV, 2 do redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 1]) end
if #ARGV > 2 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1`;

const dropLua = `
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
return 1`;

export interface Standing {
  userId: string;
  logCount: number;
}

export class RedisLeaderboard {
  private readonly syncScript;
  private readonly fillScript;
  private readonly dropScript;

  constructor(
    private readonly redis: Redis,
    private readonly rebuildTtlMs = 600_000,
  ) {
    this.syncScript = defineScript(redis, "challengesLeaderboardSync", 2, syncLua);
    this.fillScript = defineScript(redis, "challengesLeaderboardFill", 2, fillLua);
    this.dropScript = defineScript(redis, "challengesLeaderboardDrop", 2, dropLua);
  }

  /** Both keys share a hash tag, so the scripts also work on a Redis Cluster. */
  keys(challengeId: string): [set: string, version: string] {
    return [`challenges:lb:{${challengeId}}`, `challenges:lb:{${challengeId}}:v`];
  }

  /** Sets a member's count (null = not a member any more). Call after the change is committed. */
  async sync(challengeId: string, userId: string, logCount: number | null): Promise<void> {
    await this.syncScript(this.keys(challengeId), [userId, logCount === null ? "" : String(-logCount), versionTtlMs]);
  }

  /** Forgets a challenge's set (the challenge was deleted). */
  async drop(challengeId: string): Promise<void> {
    await this.dropScript(this.keys(challengeId), [versionTtlMs]);
  }

  /**
   * The top `limit` members, or null when the set is missing, with the version to pass to
   * fill(). One round trip: the version and the range come from the same MULTI.
   */
  async top(challengeId: string, limit: number): Promise<{ standings: Standing[] } | { missing: true; version: string }> {
    const [set, version] = this.keys(challengeId);
    const replies = await this.redis.multi().get(version).zrange(set, 0, limit - 1, "WITHSCORES").exec();
    if (!replies) throw new Error("redis MULTI was aborted");
    for (const [err] of replies) if (err) throw err;
    const v = (replies[0]![1] as string | null) ?? "0";
    const flat = replies[1]![1] as string[];
    // An empty sorted set does not exist in Redis: empty means missing.
    if (flat.length === 0) return { missing: true, version: v };
    const standings: Standing[] = [];
    for (let i = 0; i < flat.length; i += 2) standings.push({ userId: flat[i]!, logCount: -Number(flat[i + 1]) || 0 });
    return { standings };
  }

  /** Stores a full set read from SQL, unless an update happened since `version` was read. */
  async fill(challengeId: string, version: string, all: Standing[]): Promise<boolean> {
    const args: (string | number)[] = [version, this.rebuildTtlMs];
    for (const s of all) args.push(-s.logCount, s.userId);
    return (await this.fillScript(this.keys(challengeId), args)) === 1;
  }
}
