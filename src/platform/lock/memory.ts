// In-process lock primitives: one holder per key until released or expired.
import { type Clock, systemClock } from "../clock";
import type { LockBackend } from "./index";

interface Holder {
  token: string;
  expiresAt: number;
}

export class MemoryLockBackend implements LockBackend {
  readonly kind = "memory" as const;
  private readonly held = new Map<string, Holder>();
  private sweepAt = 1024;

  /** Expiry follows the platform's clock: a test moves it instead of sleeping. */
  constructor(private readonly clock: Clock = systemClock) {}

  async tryAcquire(key: string, token: string, ttlMs: number): Promise<boolean> {
    const now = this.clock.now();
    if (this.current(key, now)) return false;
    this.held.set(key, { token, expiresAt: now + ttlMs });
    this.sweep(now);
    return true;
  }

  async release(key: string, token: string): Promise<boolean> {
    if (this.current(key, this.clock.now())?.token !== token) return false;
    this.held.delete(key);
    return true;
  }

  async extend(key: string, token: string, ttlMs: number): Promise<boolean> {
    const now = this.clock.now();
    const holder = this.current(key, now);
    if (holder?.token !== token) return false;
    holder.expiresAt = now + ttlMs;
    return true;
  }

  async close(): Promise<void> {
    this.held.clear();
  }

  /** The live holder; an expired one counts as none (expiry needs no timer). */
  private current(key: string, now: number): Holder | undefined {
    const holder = this.held.get(key);
    return holder && holder.expiresAt > now ? holder : undefined;
  }

  // Expired holders of keys never locked again would pile up: drop them now and then
  // (amortised O(1): the threshold doubles with the live size).
  private sweep(now: number): void {
    if (this.held.size < this.sweepAt) return;
    for (const [key, holder] of this.held) if (holder.expiresAt <= now) this.held.delete(key);
    this.sweepAt = Math.max(1024, this.held.size * 2);
  }
}
