// The Lock port: mutual exclusion across requests (in-process) or instances (Redis).
export interface Lease {
  readonly key: string;
  readonly token: string;
  /** Extends the lease by ttlMs if still held; false when it was lost. */
  extend(ttlMs: number): Promise<boolean>;
  /** Releases only if this lease still owns the lock; false otherwise. */
  release(): Promise<boolean>;
}

export interface LockOptions {
  /** Lease length; the lock frees itself after this unless extended. */
  ttlMs: number;
  /** How long to wait for the lock; 0 = try once. */
  waitMs?: number;
}

export interface LockManager {
  readonly kind: "memory" | "redis";
  acquire(key: string, options: LockOptions): Promise<Lease | null>;
  close(): Promise<void>;
}
