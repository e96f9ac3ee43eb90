// The Lock port's factory and withLock(). Both backends only provide the three atomic primitives;
// waiting, tokens and leases are shared here.
import type Redis from "ioredis";
import type { Clock } from "../clock";
import { MemoryLockBackend } from "./memory";
import type { Lease, LockManager, LockOptions } from "./port";
import { RedisLockBackend } from "./redis";

export type { Lease, LockManager, LockOptions } from "./port";

/** What a backend must do atomically; `token` identifies the holder. */
export interface LockBackend {
  readonly kind: "memory" | "redis";
  tryAcquire(key: string, token: string, ttlMs: number): Promise<boolean>;
  release(key: string, token: string): Promise<boolean>;
  extend(key: string, token: string, ttlMs: number): Promise<boolean>;
  close(): Promise<void>;
}

const toMs = (ms: number) => Math.max(1, Math.ceil(ms));

export class BackendLockManager implements LockManager {
  readonly kind: "memory" | "redis";

  constructor(private readonly backend: LockBackend) {
    this.kind = backend.kind;
  }

  async acquire(key: string, { ttlMs, waitMs = 0 }: LockOptions): Promise<Lease | null> {
    const token = crypto.randomUUID();
    const deadline = Date.now() + waitMs;
    for (;;) {
      if (await this.backend.tryAcquire(key, token, toMs(ttlMs))) return this.lease(key, token);
      const left = deadline - Date.now();
      if (left <= 0) return null;
      // Short jittered polls: waiters don't retry in lockstep, and the wait stays bounded.
      await Bun.sleep(Math.min(left, 5 + Math.random() * 20));
    }
  }

  private lease(key: string, token: string): Lease {
    const backend = this.backend;
    return {
      key,
      token,
      extend: (ttlMs) => backend.extend(key, token, toMs(ttlMs)),
      release: () => backend.release(key, token),
    };
  }

  close(): Promise<void> {
    return this.backend.close();
  }
}

/** `clock` drives in-process expiry; Redis keeps its own time (PX expiry). */
export function createLockManager(redis: Redis | null, clock?: Clock): LockManager {
  return new BackendLockManager(redis ? new RedisLockBackend(redis) : new MemoryLockBackend(clock));
}

/**
 * Runs fn while holding `key`; null (fn not run) if the lock was not acquired within waitMs.
 * The lease is renewed every ttlMs/3 while fn runs and always released after. If a renewal
 * fails (lost to expiry, or the backend is down), `signal` aborts: fn should check it before an
 * effect that must not happen twice.
 */
export async function withLock<T>(
  locks: LockManager,
  key: string,
  opts: LockOptions,
  fn: (lease: Lease, signal: AbortSignal) => Promise<T>,
): Promise<T | null> {
  const lease = await locks.acquire(key, opts);
  if (!lease) return null;
  const lost = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let done = false;
  const renew = () => {
    timer = setTimeout(async () => {
      const held = await lease.extend(opts.ttlMs).catch(() => false);
      if (done) return;
      if (held) renew();
      else lost.abort(new Error(`lock ${key} lost`));
    }, opts.ttlMs / 3);
  };
  renew();
  try {
    return await fn(lease, lost.signal);
  } finally {
    done = true;
    clearTimeout(timer);
    // Best effort: if this fails (backend down), the lease expires on its own after ttlMs.
    await lease.release().catch(() => false);
  }
}
