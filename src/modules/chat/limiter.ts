// Chat's rate limits (room list, room passwords, uploads) while the limiter's store is down:
// degrade like every other Redis use instead of answering 500. For the outage each instance
// counts in its own memory (a limit still holds per instance, so a password cannot be guessed
// without bound); the outage is logged once, each fallback counted.
import { Counter, type Registry } from "prom-client";
import type { Logger } from "../../platform/logger";
import type { RateLimitCheck, RateLimiter, RateLimitRule } from "../../platform/ratelimit";

export function withLocalFallback(primary: RateLimiter, fallback: RateLimiter, registry: Registry, logger: Logger): RateLimiter {
  if (primary.kind === "memory") return primary;
  const fallbacks = new Counter({
    name: "homebase_chat_rate_limit_fallbacks_total",
    help: "Chat rate-limit checks answered by the in-process limiter because the shared one (Redis) failed, by limiter",
    labelNames: ["limiter"] as const,
    registers: [registry],
  });
  let failing = false;
  const fellBack = (limiter: string, err: unknown) => {
    fallbacks.inc({ limiter });
    if (failing) return;
    failing = true;
    logger.warn("rate limiter unavailable; chat limits counted in this instance until it is back", {
      err: err instanceof Error ? err.message : String(err),
    });
  };
  const recovered = () => {
    if (!failing) return;
    failing = false;
    logger.info("rate limiter available again");
  };
  // Every call goes to the shared limiter first; one that fails is answered by the local one.
  const guarded = async <T>(label: string, shared: () => Promise<T>, local: () => Promise<T>): Promise<T> => {
    try {
      const result = await shared();
      recovered();
      return result;
    } catch (err) {
      fellBack(label, err);
      return local();
    }
  };
  const labelOf = (key: string, rule?: RateLimitRule) => rule?.name ?? key.split(":")[0] ?? key;
  // A call over several keys is labelled by its first one.
  const labelOfAll = (checks: readonly RateLimitCheck[], call: string) => labelOf(checks[0]?.key ?? call, checks[0]?.rule);
  return {
    kind: primary.kind,
    hit: (key, rule) =>
      guarded(
        labelOf(key, rule),
        () => primary.hit(key, rule),
        () => fallback.hit(key, rule),
      ),
    peek: (key, rule) =>
      guarded(
        labelOf(key, rule),
        () => primary.peek(key, rule),
        () => fallback.peek(key, rule),
      ),
    peekAll: (checks) =>
      guarded(
        labelOfAll(checks, "peekAll"),
        () => primary.peekAll(checks),
        () => fallback.peekAll(checks),
      ),
    hitAll: (checks) =>
      guarded(
        labelOfAll(checks, "hitAll"),
        () => primary.hitAll(checks),
        () => fallback.hitAll(checks),
      ),
    take: (checks) =>
      guarded(
        labelOfAll(checks, "take"),
        () => primary.take(checks),
        () => fallback.take(checks),
      ),
    refund: (key) =>
      guarded(
        labelOf(key),
        () => primary.refund(key),
        () => fallback.refund(key),
      ),
    reset: (key) =>
      guarded(
        labelOf(key),
        () => primary.reset(key),
        () => fallback.reset(key),
      ),
    // The shared limiter is the platform's to close.
    close: () => fallback.close(),
  };
}
