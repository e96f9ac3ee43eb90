// Redis fixed-window limiter: one Lua script, so check, count and block are one atomic step
// however many instances hit the same key.
import type Redis from "ioredis";
import { defineScript, defineVariadicScript, type VariadicScript } from "../redis";
import type { RateLimitCheck, RateLimiter, RateLimitResult, RateLimitRule, TakeResult } from "./port";

// hit() and peek(), of one key or several. KEYS: per key its window counter and block flag.
// ARGV: per key limit, windowMs, blockMs (0 = none), 1 = hit | 0 = peek. Each key on its own.
// Returns per key {allowed 0|1, remaining, retryAfterMs}, flattened.
const lua = `
local function one(w, b, limit, windowMs, blockMs, hit)
  local blocked = redis.call('PTTL', b)
  if blocked > 0 then return 0, 0, blocked end
  if hit == '1' then
    local count = redis.call('INCR', w)
    if count == 1 then redis.call('PEXPIRE', w, windowMs) end
    if count <= limit then return 1, limit - count, 0 end
    if blockMs > 0 then
      -- The block replaces the rest of the window, so the key starts afresh when it ends.
      redis.call('SET', b, '1', 'PX', blockMs)
      redis.call('DEL', w)
      return 0, 0, blockMs
    end
  else
    local count = tonumber(redis.call('GET', w) or '0')
    if count < limit then return 1, limit - count, 0 end
    if blockMs > 0 then return 0, 0, blockMs end
  end
  local ttl = redis.call('PTTL', w)
  if ttl <= 0 then ttl = windowMs end
  return 0, 0, ttl
end
local out = {}
for i = 1, #KEYS / 2 do
  local a = 4 * i
  local allowed, remaining, retry = one(KEYS[2 * i - 1], KEYS[2 * i], tonumber(ARGV[a - 3]), tonumber(ARGV[a - 2]), tonumber(ARGV[a - 1]), ARGV[a])
  out[#out + 1] = allowed
  out[#out + 1] = remaining
  out[#out + 1] = retry
end
return out`;

// take(): KEYS: per check its window counter and block flag. ARGV: per check limit, windowMs,
// blockMs. Every key is checked first (a key at its limit arms its block); only when none
// refuses does each count. Returns {allowed 0|1, remaining, retryAfterMs, refusing checks (1-based)...}.
const takeLua = `
local n = #KEYS / 2
local refused, retry = {}, 0
for i = 1, n do
  local w, b = KEYS[2 * i - 1], KEYS[2 * i]
  local limit, windowMs, blockMs = tonumber(ARGV[3 * i - 2]), tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i])
  local wait = redis.call('PTTL', b)
  if wait <= 0 then
    wait = 0
    if tonumber(redis.call('GET', w) or '0') >= limit then
      if blockMs > 0 then
        redis.call('SET', b, '1', 'PX', blockMs)
        redis.call('DEL', w)
        wait = blockMs
      else
        wait = redis.call('PTTL', w)
        if wait <= 0 then wait = windowMs end
      end
    end
  end
  if wait > 0 then
    refused[#refused + 1] = i
    if wait > retry then retry = wait end
  end
end
if #refused > 0 then return {0, 0, retry, unpack(refused)} end
local remaining = -1
for i = 1, n do
  local count = redis.call('INCR', KEYS[2 * i - 1])
  if count == 1 then redis.call('PEXPIRE', KEYS[2 * i - 1], tonumber(ARGV[3 * i - 1])) end
  local left = tonumber(ARGV[3 * i - 2]) - count
  if remaining < 0 or left < remaining then remaining = left end
end
return {1, remaining, 0}`;

// refund(): one counted attempt back, never below zero (DECR keeps the window's expiry).
const refundLua = `
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
return 0`;

export class RedisRateLimiter implements RateLimiter {
  readonly kind = "redis" as const;
  private readonly script: VariadicScript;
  private readonly refundScript;
  private readonly takeScript: VariadicScript;

  constructor(
    private readonly redis: Redis,
    private readonly prefix = "ratelimit:",
  ) {
    this.refundScript = defineScript(redis, "homebaseRateLimitRefund", 1, refundLua);
    this.script = defineVariadicScript(redis, "homebaseRateLimitKeys", lua);
    this.takeScript = defineVariadicScript(redis, "homebaseRateLimitTake", takeLua);
  }

  async take(checks: readonly RateLimitCheck[]): Promise<TakeResult> {
    if (checks.length === 0) return { allowed: true, remaining: Number.POSITIVE_INFINITY, retryAfterMs: 0, refusedBy: [] };
    const keys = checks.flatMap(({ key }) => this.keys(key));
    const args = checks.flatMap(({ rule }) => [rule.limit, rule.windowMs, rule.blockMs ?? 0]);
    const [ok, remaining, retryAfterMs, ...refusing] = (await this.takeScript(keys.length, ...keys, ...args)) as number[];
    return { allowed: ok === 1, remaining: remaining!, retryAfterMs: retryAfterMs!, refusedBy: refusing.map((i) => checks[i - 1]!.key) };
  }

  async refund(key: string): Promise<void> {
    await this.refundScript([this.keys(key)[0]!], []);
  }

  async hit(key: string, rule: RateLimitRule): Promise<RateLimitResult> {
    return (await this.run([{ key, rule }], 1))[0]!;
  }

  async peek(key: string, rule: RateLimitRule): Promise<RateLimitResult> {
    return (await this.run([{ key, rule }], 0))[0]!;
  }

  peekAll(checks: readonly RateLimitCheck[]): Promise<RateLimitResult[]> {
    return this.run(checks, 0);
  }

  hitAll(checks: readonly RateLimitCheck[]): Promise<RateLimitResult[]> {
    return this.run(checks, 1);
  }

  async reset(key: string): Promise<void> {
    await this.redis.del(...this.keys(key));
  }

  /** The connection is shared and owned by the platform. */
  async close(): Promise<void> {}

  private async run(checks: readonly RateLimitCheck[], hit: 0 | 1): Promise<RateLimitResult[]> {
    if (checks.length === 0) return [];
    const keys = checks.flatMap(({ key }) => this.keys(key));
    const args = checks.flatMap(({ rule }) => [rule.limit, rule.windowMs, rule.blockMs ?? 0, hit]);
    const flat = (await this.script(keys.length, ...keys, ...args)) as number[];
    return checks.map((_, i) => ({ allowed: flat[3 * i] === 1, remaining: flat[3 * i + 1]!, retryAfterMs: flat[3 * i + 2]! }));
  }

  private keys(key: string): string[] {
    return [`${this.prefix}${key}:w`, `${this.prefix}${key}:b`];
  }
}
