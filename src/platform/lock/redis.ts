// Redis lock primitives: SET NX PX to take a key; release and extend only with the owner's
// token, checked and applied atomically in Lua (a plain GET then DEL could delete the lock of
// the next holder if ours expired in between).
import type Redis from "ioredis";
import { defineScript } from "../redis";
import type { LockBackend } from "./index";

const releaseLua = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

const extendLua = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

export class RedisLockBackend implements LockBackend {
  readonly kind = "redis" as const;
  private readonly releaseScript;
  private readonly extendScript;

  constructor(
    private readonly redis: Redis,
    private readonly prefix = "lock:",
  ) {
    this.releaseScript = defineScript(redis, "homebaseLockRelease", 1, releaseLua);
    this.extendScript = defineScript(redis, "homebaseLockExtend", 1, extendLua);
  }

  async tryAcquire(key: string, token: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.prefix + key, token, "PX", ttlMs, "NX")) === "OK";
  }

  async release(key: string, token: string): Promise<boolean> {
    return (await this.releaseScript([this.prefix + key], [token])) === 1;
  }

  async extend(key: string, token: string, ttlMs: number): Promise<boolean> {
    return (await this.extendScript([this.prefix + key], [token, ttlMs])) === 1;
  }

  /** The connection is shared and owned by the platform. */
  async close(): Promise<void> {}
}
