// The platform: every piece of infrastructure a module may use, built from the config.
// Each port picks its real backend when its URL is set, its embedded one otherwise.
import type { Database } from "bun:sqlite";
import { join } from "node:path";
import type Redis from "ioredis";
import { type Clock, systemClock } from "./clock";
import type { Config } from "./config";
import { CacheAside, createCacheStore, invalidationSubject } from "./cache";
import type { CacheStore } from "./cache/port";
import { BackupScheduler } from "./db/backup-schedule";
import { connectMongo, type MongoHandle } from "./db/mongo";
import { GroupCommitWriter, type MigrationSet, migrate, openDatabase } from "./db/sqlite";
import { WalFileSync } from "./db/wal-sync";
import { EventBus } from "./events/bus";
import { createClientIp, type ClientIpResolver, ServerPeers } from "./http/client-ip";
import { platformMigrations } from "./migrations";
import { createLockManager } from "./lock";
import type { LockManager } from "./lock/port";
import { createLogger, type Logger } from "./logger";
import { WalCheckpointer } from "./db/checkpoint";
import { Metrics } from "./metrics";
import { createRateLimiter } from "./ratelimit";
import type { RateLimiter } from "./ratelimit/port";
import { createRedis } from "./redis";

export type { Config, PlatformConfig } from "./config";

export interface Platform {
  config: Config;
  /** The time every service reads (tests pass a ManualClock). */
  clock: Clock;
  /** The client's address for every module: the peer, or X-Forwarded-For through HOMEBASE_TRUSTED_PROXIES. */
  clientIp: ClientIpResolver;
  /** The servers clientIp finds a request's socket peer on: createApp attaches its app's. */
  peers: ServerPeers;
  logger: Logger;
  metrics: Metrics;
  db: Database;
  writer: GroupCommitWriter;
  redis: Redis | null;
  mongo: MongoHandle | null;
  cacheStore: CacheStore;
  cache: CacheAside;
  locks: LockManager;
  limiter: RateLimiter;
  events: EventBus;
  /** Scheduled backups (HOMEBASE_BACKUP_*): worker roles start them; the metrics are always there. */
  backups: BackupScheduler;
  /** Readiness of every configured backend and every added check, by name. */
  readiness(): Promise<Record<string, boolean>>;
  /** Adds a named readiness check (modules' own, e.g. a store's connection). */
  addReadiness(name: string, check: () => Promise<boolean>): void;
  /** Runs fn first when the platform closes (last added, first run), while the writer still works. */
  onClose(fn: () => Promise<void>): void;
  close(): Promise<void>;
}

export interface PlatformOptions {
  /** Tests pass a logger that stays quiet. */
  logger?: Logger;
  /** Tests pass a ManualClock. */
  clock?: Clock;
  /** The modules' migrations, applied after the platform's own, in list order. */
  migrations?: readonly MigrationSet[];
}

export async function createPlatform(config: Config, options: PlatformOptions = {}): Promise<Platform> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const metrics = new Metrics();
  const dbPath = join(config.dataDir, "homebase.sqlite");
  const db = openDatabase(dbPath, { synchronous: config.sqliteSynchronous });
  const applied = migrate(db, [platformMigrations, ...(options.migrations ?? [])]);
  if (applied.length > 0) logger.info("migrations applied", { versions: applied });
  // FULL: durable before a write is answered, the WAL's sync run off the event loop (wal-sync.ts).
  const writer = new GroupCommitWriter(db, { sync: config.sqliteSynchronous === "FULL" ? new WalFileSync(dbPath) : null });
  metrics.observeWriter(writer.stats);
  // ... and the WAL's checkpoints too (checkpoint.ts), after the commits.
  const checkpointer = config.sqliteSynchronous === "FULL" ? new WalCheckpointer(db, dbPath, writer, logger) : null;

  const redis = config.redisUrl ? createRedis(config.redisUrl, logger) : null;
  const mongo = config.mongoUrl ? await connectMongo(config.mongoUrl) : null;
  const twoLevel = config.cache === "two-level" && config.natsUrl ? { natsUrl: config.natsUrl, subject: invalidationSubject(config.eventNamespace), localTtlMs: config.cacheLocalTtlMs, metrics, logger } : null;
  const cacheStore = config.cache === "memory" ? createCacheStore({ redis: null }) : createCacheStore({ redis, twoLevel });
  const cache = new CacheAside(cacheStore, metrics, logger);
  const clock = options.clock ?? systemClock;
  const locks = createLockManager(redis, clock);
  const limiter = createRateLimiter(redis, metrics, clock, config.eventNamespace);
  // Worker roles (events.start()) also prune the event tables, on a timer.
  const events = new EventBus({
    db,
    writer,
    metrics,
    logger,
    natsUrl: config.natsUrl,
    maxDeliver: config.eventMaxDeliver,
    retryMs: config.eventRetryMs,
    namespace: config.eventNamespace,
    clock,
    retention: { eventsMs: config.eventRetentionHours * 3_600_000, deadLettersMs: config.deadLetterRetentionDays * 86_400_000 },
  });

  const backups = new BackupScheduler({ db, writer, dbPath, settings: config.backup, locks, clock, logger, registry: metrics.registry });

  const peers = new ServerPeers();
  let closed = false;
  const extraChecks = new Map<string, () => Promise<boolean>>();
  const closers: Array<() => Promise<void>> = [];
  return {
    config,
    clock,
    clientIp: createClientIp(config.trustedProxies, peers.addressOf),
    peers,
    logger,
    metrics,
    db,
    writer,
    redis,
    mongo,
    cacheStore,
    cache,
    locks,
    limiter,
    events,
    backups,
    async readiness() {
      const checks: Record<string, Promise<boolean>> = {
        sqlite: Promise.resolve().then(() => db.query("SELECT 1 AS ok").get() !== null),
      };
      if (redis) checks.redis = cacheStore.ping();
      // Only worker roles talk to NATS; a serve-only process writes events to the outbox.
      if (config.natsUrl && events.running) checks.nats = events.ping();
      if (mongo) checks.mongo = mongo.ping();
      for (const [name, check] of extraChecks) checks[name] = Promise.resolve().then(check);
      const out: Record<string, boolean> = {};
      for (const [name, check] of Object.entries(checks)) {
        out[name] = await check.catch(() => false);
      }
      return out;
    },
    addReadiness(name, check) {
      extraChecks.set(name, check);
    },
    onClose(fn) {
      closers.push(fn);
    },
    async close() {
      if (closed) return;
      closed = true;
      await backups.stop().catch((err: unknown) => logger.warn("stopping backups failed", { err: String(err) }));
      await events.stopConsuming().catch((err: unknown) => logger.warn("stopping consumers failed", { err: String(err) }));
      for (const fn of closers.reverse()) await fn().catch((err: unknown) => logger.warn("close hook failed", { err: String(err) }));
      await events.close();
      await writer.close();
      await checkpointer?.close();
      await Promise.allSettled([cacheStore.close(), locks.close(), limiter.close(), mongo?.close()]);
      if (redis) redis.disconnect();
      metrics.close();
      db.close();
    },
  };
}
