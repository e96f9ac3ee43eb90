// The RateLimiter port's factory: Redis when configured, else in-process. Both get the same
// rule normalisation and the refused-requests metric from the wrapper here.
import type Redis from "ioredis";
import type { Clock } from "../clock";
import type { Metrics } from "../metrics";
import { MemoryRateLimiter } from "./memory";
import type { RateLimitCheck, RateLimiter, RateLimitResult, RateLimitRule, TakeResult } from "./port";
import { RedisRateLimiter } from "./redis";

export { MemoryRateLimiter } from "./memory";
export type { RateLimitCheck, RateLimiter, RateLimitResult, RateLimitRule, TakeResult } from "./port";
export { RedisRateLimiter } from "./redis";

/**
 * `clock` drives the in-process limiter; Redis keeps its own time (PX expiry). `namespace` (the
 * event namespace) keeps the counters of installs sharing one Redis apart, as it does their events.
 */
export function createRateLimiter(redis: Redis | null, metrics?: Metrics, clock?: Clock, namespace = ""): RateLimiter {
  const inner: RateLimiter = redis ? new RedisRateLimiter(redis, namespace ? `ratelimit:${namespace}:` : "ratelimit:") : new MemoryRateLimiter(clock);
  // Redis wants whole milliseconds (PX, PEXPIRE); the memory limiter follows suit.
  // Once per rule object: the hot routes pass the same rule on every request.
  const normalised = new WeakMap<RateLimitRule, RateLimitRule>();
  const normalise = (rule: RateLimitRule): RateLimitRule => {
    let done = normalised.get(rule);
    if (done === undefined) {
      done = {
        ...rule,
        limit: Math.floor(rule.limit),
        windowMs: Math.max(1, Math.ceil(rule.windowMs)),
        blockMs: rule.blockMs && rule.blockMs > 0 ? Math.ceil(rule.blockMs) : 0,
      };
      normalised.set(rule, done);
    }
    return done;
  };
  const normaliseAll = (checks: readonly RateLimitCheck[]): RateLimitCheck[] => checks.map(({ key, rule }) => ({ key, rule: normalise(rule) }));
  const countRefusal = (key: string, rule: RateLimitRule) => metrics?.rateLimited.inc({ limiter: rule.name ?? key.split(":")[0] ?? key });
  const counted = (key: string, rule: RateLimitRule, result: RateLimitResult): RateLimitResult => {
    if (!result.allowed) countRefusal(key, rule);
    return result;
  };
  const hitNow = inner.hitNow?.bind(inner);
  return {
    kind: inner.kind,
    async hit(key, rule) {
      return counted(key, rule, await inner.hit(key, normalise(rule)));
    },
    ...(hitNow ? { hitNow: (key: string, rule: RateLimitRule) => counted(key, rule, hitNow(key, normalise(rule))) } : {}),
    peek: (key, rule) => inner.peek(key, normalise(rule)),
    peekAll: (checks) => inner.peekAll(normaliseAll(checks)),
    async hitAll(checks) {
      const results = await inner.hitAll(normaliseAll(checks));
      return results.map((result, i) => counted(checks[i]!.key, checks[i]!.rule, result));
    },
    async take(checks) {
      const result: TakeResult = await inner.take(normaliseAll(checks));
      for (const { key, rule } of checks) if (result.refusedBy.includes(key)) countRefusal(key, rule);
      return result;
    },
    refund: (key) => inner.refund(key),
    reset: (key) => inner.reset(key),
    close: () => inner.close(),
  };
}
