// The shared ioredis connection. Redis backs a cache, locks and rate limits: when it is down,
// callers must get an error quickly (and fall back) instead of waiting on a queue.
import Redis from "ioredis";
import type { Logger } from "./logger";

export interface RedisOptions {
  /** Upper bound on any single command, queued or in flight. */
  commandTimeoutMs?: number;
}

export function createRedis(url: string, logger: Logger, options: RedisOptions = {}): Redis {
  const log = logger.child({ component: "redis" });
  const redis = new Redis(url, {
    lazyConnect: false,
    // One retry on reconnect, then the command fails; callers degrade instead of hanging.
    maxRetriesPerRequest: 1,
    commandTimeout: options.commandTimeoutMs ?? 500,
    connectTimeout: 2_000,
    // Queue only while the first connect is in progress (startup); once it has succeeded or
    // failed, commands on a dead connection fail at once (see the handlers below).
    enableOfflineQueue: true,
    // Commands issued in one tick go out in one write and come back in one read: under load a
    // cache hit, a lock and a rate limit share round trips instead of one syscall pair each.
    enableAutoPipelining: true,
    // Exponential backoff with jitter, capped at 2 s; never give up.
    retryStrategy: (times) => Math.min(2_000, 50 * 2 ** Math.min(times, 6)) * (0.5 + Math.random() / 2),
  });

  // Log per state change, not per failed command or reconnect attempt.
  let state: "connecting" | "up" | "down" = "connecting";
  const settled = () => void (redis.options.enableOfflineQueue = false);
  redis.on("ready", () => {
    settled();
    if (state === "down") log.info("redis reconnected");
    else log.debug("redis connected");
    state = "up";
  });
  redis.on("error", (err: Error) => {
    settled();
    if (state === "down") return;
    state = "down";
    log.warn("redis unavailable; retrying in the background", { err: err.message });
  });
  // A clean server shutdown closes the socket without an "error"; "reconnecting" (unlike
  // "close") does not fire when we disconnect on purpose.
  redis.on("reconnecting", () => {
    if (state !== "up") return;
    state = "down";
    log.warn("redis connection lost; retrying in the background");
  });
  return redis;
}

type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;

/**
 * A Lua script as a function of (keys, args). ioredis sends EVALSHA and falls back to EVAL on
 * NOSCRIPT, so a restarted (empty) Redis is handled. Defining the same name twice is harmless.
 */
export function defineScript(redis: Redis, name: string, numberOfKeys: number, lua: string): (keys: string[], args: (string | number)[]) => Promise<unknown> {
  const commands = redis as unknown as Record<string, ScriptFn | undefined>;
  if (typeof commands[name] !== "function") redis.defineCommand(name, { numberOfKeys, lua });
  const fn = commands[name]!;
  return (keys, args) => {
    if (keys.length !== numberOfKeys) throw new Error(`${name}: expected ${numberOfKeys} keys, got ${keys.length}`);
    return fn.call(redis, ...keys, ...args);
  };
}

/** A script taking a variable number of keys: ioredis takes their count as the first argument. */
export type VariadicScript = (numberOfKeys: number, ...keysThenArgs: (string | number)[]) => Promise<unknown>;

/** defineScript for a variable number of keys (same EVALSHA fallback, same harmless redefinition). */
export function defineVariadicScript(redis: Redis, name: string, lua: string): VariadicScript {
  const commands = redis as unknown as Record<string, VariadicScript | undefined>;
  if (typeof commands[name] !== "function") redis.defineCommand(name, { lua });
  return commands[name]!.bind(redis);
}
