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

export interface RateLimiter {
  readonly kind: "memory" | "redis";
  hit(key: string, rule: RateLimitRule): Promise<RateLimitResult>;
  /**
   * Without counting a request: would a hit() now be allowed? allowed = not blocked and
   * count < limit; remaining = limit - count; retryAfterMs as hit() would report it.
   * (e.g. "is this login blocked?" before checking the password.)
   */
  peek(key: string, rule: RateLimitRule): Promise<RateLimitResult>;
  reset(key: string): Promise<void>;
  close(): Promise<void>;
}
