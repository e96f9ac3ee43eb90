// Redis fixed-window limiter: one Lua script, so check, count and block are one atomic step
// however many instances hit the same key.
import type Redis from "ioredis";
import { defineScript } from "../redis";
import type { RateLimiter, RateLimitResult, RateLimitRule } from "./port";

// KEYS: window counter, block flag. ARGV: limit, windowMs, blockMs (0 = none), 1 = hit | 0 = peek.
// Returns {allowed 0|1, remaining, retryAfterMs}.
const lua = `
local limit, windowMs, blockMs = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local blocked = redis.call('PTTL', KEYS[2])
if blocked > 0 then return {0, 0, blocked} end
if ARGV[4] == '1' then
  local count = redis.call('INCR', KEYS[1])
  if count == 1 then redis.call('PEXPIRE', KEYS[1], windowMs) end
  if count <= limit then return {1, limit - count, 0} end
  if blockMs > 0 then
    -- The block replaces the rest of the window, so the key starts afresh when it ends.
    redis.call('SET', KEYS[2], '1', 'PX', blockMs)
    redis.call('DEL', KEYS[1])
    return {0, 0, blockMs}
  end
else
  local count = tonumber(redis.call('GET', KEYS[1]) or '0')
  if count < limit then return {1, limit - count, 0} end
  if blockMs > 0 then return {0, 0, blockMs} end
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then ttl = windowMs end
return {0, 0, ttl}`;

export class RedisRateLimiter implements RateLimiter {
  readonly kind = "redis" as const;
  private readonly script;

  constructor(
    private readonly redis: Redis,
    private readonly prefix = "ratelimit:",
  ) {
    this.script = defineScript(redis, "homebaseRateLimit", 2, lua);
  }

  hit(key: string, rule: RateLimitRule): Promise<RateLimitResult> {
    return this.run(key, rule, 1);
  }

  peek(key: string, rule: RateLimitRule): Promise<RateLimitResult> {
    return this.run(key, rule, 0);
  }

  async reset(key: string): Promise<void> {
    await this.redis.del(...this.keys(key));
  }

  /** The connection is shared and owned by the platform. */
  async close(): Promise<void> {}

  private async run(key: string, { limit, windowMs, blockMs = 0 }: RateLimitRule, hit: 0 | 1): Promise<RateLimitResult> {
    const [ok, remaining, retryAfterMs] = (await this.script(this.keys(key), [limit, windowMs, blockMs, hit])) as [number, number, number];
    return { allowed: ok === 1, remaining, retryAfterMs };
  }

  private keys(key: string): string[] {
    return [`${this.prefix}${key}:w`, `${this.prefix}${key}:b`];
  }
}
