// In-process fixed-window limiter: the same steps as the Redis script (see redis.ts), on a Map.
import { type Clock, systemClock } from "../clock";
import type { RateLimitCheck, RateLimiter, RateLimitResult, RateLimitRule, TakeResult } from "./port";

interface Entry {
  count: number;
  windowEndsAt: number;
  blockedUntil: number;
}

export class MemoryRateLimiter implements RateLimiter {
  readonly kind = "memory" as const;
  private readonly entries = new Map<string, Entry>();
  private sweepAt = 1024;

  /** Windows and blocks follow the platform's clock: a test moves it instead of sleeping. */
  constructor(private readonly clock: Clock = systemClock) {}

  async hit(key: string, rule: RateLimitRule): Promise<RateLimitResult> {
    return this.hitNow(key, rule);
  }

  hitNow(key: string, { limit, windowMs, blockMs = 0 }: RateLimitRule): RateLimitResult {
    const now = this.clock.now();
    let entry = this.entries.get(key);
    if (entry && entry.blockedUntil > now) return refused(entry.blockedUntil - now);
    if (!entry || entry.windowEndsAt <= now) {
      entry = { count: 0, windowEndsAt: now + windowMs, blockedUntil: 0 };
      this.entries.set(key, entry);
      this.sweep(now);
    }
    entry.count++;
    if (entry.count <= limit) return allowed(limit - entry.count);
    if (blockMs > 0) {
      // The block replaces the rest of the window, so the key starts afresh when it ends.
      this.entries.set(key, { count: 0, windowEndsAt: 0, blockedUntil: now + blockMs });
      return refused(blockMs);
    }
    return refused(entry.windowEndsAt - now);
  }

  async peek(key: string, rule: RateLimitRule): Promise<RateLimitResult> {
    return this.peekNow(key, rule);
  }

  async peekAll(checks: readonly RateLimitCheck[]): Promise<RateLimitResult[]> {
    return checks.map(({ key, rule }) => this.peekNow(key, rule));
  }

  async hitAll(checks: readonly RateLimitCheck[]): Promise<RateLimitResult[]> {
    return checks.map(({ key, rule }) => this.hitNow(key, rule));
  }

  private peekNow(key: string, { limit, windowMs, blockMs = 0 }: RateLimitRule): RateLimitResult {
    const now = this.clock.now();
    const entry = this.entries.get(key);
    if (entry && entry.blockedUntil > now) return refused(entry.blockedUntil - now);
    const live = entry && entry.windowEndsAt > now ? entry : undefined;
    const count = live?.count ?? 0;
    if (count < limit) return allowed(limit - count);
    return refused(blockMs > 0 ? blockMs : live ? live.windowEndsAt - now : windowMs);
  }

  async take(checks: readonly RateLimitCheck[]): Promise<TakeResult> {
    const now = this.clock.now();
    // No await below: check and count are one step for this process's callers.
    const refusedBy: string[] = [];
    let retryAfterMs = 0;
    for (const { key, rule } of checks) {
      const wait = this.refusal(key, rule, now);
      if (wait > 0) {
        refusedBy.push(key);
        retryAfterMs = Math.max(retryAfterMs, wait);
      }
    }
    if (refusedBy.length > 0) return { ...refused(retryAfterMs), refusedBy };
    let remaining = Number.POSITIVE_INFINITY;
    for (const { key, rule } of checks) {
      let entry = this.entries.get(key);
      if (!entry || entry.windowEndsAt <= now) {
        entry = { count: 0, windowEndsAt: now + rule.windowMs, blockedUntil: 0 };
        this.entries.set(key, entry);
      }
      entry.count++;
      remaining = Math.min(remaining, rule.limit - entry.count);
    }
    this.sweep(now);
    return { ...allowed(remaining), refusedBy };
  }

  async refund(key: string): Promise<void> {
    const entry = this.entries.get(key);
    if (entry && entry.windowEndsAt > this.clock.now() && entry.count > 0) entry.count--;
  }

  /** 0 when the key takes one more attempt; else how long it refuses (arming a block at the limit). */
  private refusal(key: string, { limit, windowMs, blockMs = 0 }: RateLimitRule, now: number): number {
    const entry = this.entries.get(key);
    if (entry && entry.blockedUntil > now) return entry.blockedUntil - now;
    const live = entry && entry.windowEndsAt > now ? entry : undefined;
    if ((live?.count ?? 0) < limit) return 0;
    if (blockMs > 0) {
      this.entries.set(key, { count: 0, windowEndsAt: 0, blockedUntil: now + blockMs });
      return blockMs;
    }
    return live ? live.windowEndsAt - now : windowMs;
  }

  async reset(key: string): Promise<void> {
    this.entries.delete(key);
  }

  async close(): Promise<void> {
    this.entries.clear();
  }

  // Drops keys whose window and block are both over; amortised O(1) (the threshold doubles).
  private sweep(now: number): void {
    if (this.entries.size < this.sweepAt) return;
    for (const [key, e] of this.entries) if (e.windowEndsAt <= now && e.blockedUntil <= now) this.entries.delete(key);
    this.sweepAt = Math.max(1024, this.entries.size * 2);
  }
}

const allowed = (remaining: number): RateLimitResult => ({ allowed: true, remaining, retryAfterMs: 0 });
const refused = (retryAfterMs: number): RateLimitResult => ({ allowed: false, remaining: 0, retryAfterMs: Math.max(1, retryAfterMs) });
