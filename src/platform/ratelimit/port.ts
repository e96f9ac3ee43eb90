// The RateLimiter port: fixed window with an optional block period after the limit is passed.

export interface RateLimitRule {
  limit: number;
  windowMs: number;
  /** When set, passing the limit blocks the key for this long (from that moment). */
  blockMs?: number;
  /** Label of the refused-requests metric; defaults to the key up to its first ':'. */
  name?: string;
}

export interface RateLimitResult {
  allowed: boolean;
  /** Requests left in the current window (0 when refused). */
  remaining: number;
  /** When refused: milliseconds until a request can succeed again. */
  retryAfterMs: number;
}

/** One limit of a take(): a key and its rule. */
export interface RateLimitCheck {
  key: string;
  rule: RateLimitRule;
}

export interface TakeResult extends RateLimitResult {
  /** The keys that refused (blocked, or at their limit); empty when allowed. */
  refusedBy: string[];
}

export interface RateLimiter {
  readonly kind: "memory" | "redis";
  hit(key: string, rule: RateLimitRule): Promise<RateLimitResult>;
  /** hit() answered with no promise, where the counters live in this process (the in-process limiter). */
  hitNow?(key: string, rule: RateLimitRule): RateLimitResult;
  /**
   * Without counting a request: would a hit() now be allowed? allowed = not blocked and
   * count < limit; remaining = limit - count; retryAfterMs as hit() would report it.
   */
  peek(key: string, rule: RateLimitRule): Promise<RateLimitResult>;
  /** peek() of several keys in one step (one round trip to Redis); the answers in order. */
  peekAll(checks: readonly RateLimitCheck[]): Promise<RateLimitResult[]>;
  /** hit() of several keys in one step, each counted on its own (not all-or-nothing); the answers in order. */
  hitAll(checks: readonly RateLimitCheck[]): Promise<RateLimitResult[]>;
  /**
   * One attempt against several limits (distinct keys) as one atomic, all-or-nothing step:
   * when every key is under its limit, each counts the attempt (remaining = the least left);
   * otherwise none counts it, a key at its limit arms its block period (as the hit past the
   * limit does), and retryAfterMs is the longest wait. No checks = allowed.
   *
   * For work that must not race its limit (a password hash): take before the work, so parallel
   * attempts past the limit are refused without it, and refund() an attempt that succeeded.
   */
  take(checks: readonly RateLimitCheck[]): Promise<TakeResult>;
  /**
   * Gives back one attempt counted in the key's current window (never below zero). A blocked
   * key stays blocked; a window that ended has nothing to give back.
   */
  refund(key: string): Promise<void>;
  reset(key: string): Promise<void>;
  close(): Promise<void>;
}
