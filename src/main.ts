#!/usr/bin/env bun
// CLI entry point of the homebase binary.
import { join } from "node:path";
import { createApp, createModules, migrationSets, version } from "./app";
import { ConfigError, loadConfig, redactedConfig, unknownVariableWarnings, type Config, type Role } from "./config";
import { modules as moduleList } from "./modules";
import { createPlatform } from "./platform";
import { BackupError, restoreDatabase } from "./platform/db/backup";
import { manualBackup } from "./platform/db/backup-schedule";
import { migrate, openDatabase } from "./platform/db/sqlite";
import { formatChecks, runDoctor } from "./platform/doctor";
import { startMetricsListener } from "./platform/http/ops";

const usage = `homebase ${version}

Usage: homebase [command]

Commands:
  all              HTTP API and background worker in one process (default)
  serve            HTTP API only
  worker           background worker only (outbox relay, event consumers)
  migrate          apply database migrations and exit
  config           print the effective configuration (secrets redacted)
  promote <email>  grant the admin role to an existing account
  seed <domain>    create demo and benchmark data (homebase seed --list)
  backup <file>    write a consistent, verified copy of the database while serving
                   (scheduled backups: HOMEBASE_BACKUP_CRON, run by the worker)
  restore <file> [--force]
                   replace the (stopped) data dir's database with a backup
  doctor           check config, data dir, SQLite, backends, clocks, limits, listen address
  version          print the version
  help             this text

Configuration comes from environment variables (HOMEBASE_HOST, HOMEBASE_PORT,
HOMEBASE_DATA_DIR, HOMEBASE_ROLE, REDIS_URL, NATS_URL, MONGO_URL, HOMEBASE_JWT_SECRET, …);
see README.md.`;

function fail(message: string, code = 2): never {
  process.stderr.write(`homebase: ${message}\n`);
  process.exit(code);
}

function readConfig(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) fail(`invalid configuration: ${err.message}`);
    throw err;
  }
}

async function run(role: Role, config: Config): Promise<void> {
  const platform = await createPlatform(config);
  const { logger } = platform;
  for (const warning of unknownVariableWarnings(config)) logger.warn(warning);
  const modules = createModules(platform);
  const { state } = modules;
  const withHttp = role === "serve" || role === "all";
  const withWorker = role === "worker" || role === "all";

  if (withWorker) {
    await platform.events.start();
    // Scheduled jobs (recurring billing, sweeps, backups) belong to the worker roles.
    modules.startJobs();
    platform.backups.start();
  }
  platform.metrics.processInfo.set({ role, version, pid: String(process.pid) }, 1);
  // This process's own /metrics (and health), whatever its role: per-instance scrapes.
  const metricsListener = config.metrics.port > 0 ? startMetricsListener(platform, { ...config.metrics, isDraining: () => state.draining }) : null;
  const app = withHttp ? createApp(platform, modules).listen({ hostname: config.host, port: config.port }) : null;
  logger.info("homebase started", {
    version,
    role,
    url: app?.server ? `http://${config.host}:${app.server.port}` : null,
    metricsUrl: metricsListener ? `http://${config.metrics.host}:${metricsListener.port}/metrics` : null,
    backends: {
      cache: platform.cacheStore.kind,
      locks: platform.locks.kind,
      rateLimits: platform.limiter.kind,
      events: config.natsUrl ? "nats" : "in-process",
      mongo: platform.mongo ? "mongodb" : null,
    },
  });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    state.draining = true;
    logger.info("shutting down", { signal });
    const timer = setTimeout(() => {
      logger.error("graceful shutdown timed out; exiting", { graceMs: config.shutdownGraceMs });
      process.exit(1);
    }, config.shutdownGraceMs);
    try {
      // Drain: readiness answers 503 and every response closes its connection, so clients
      // reconnect — to a sibling on the same port (SO_REUSEPORT) once this listener is gone.
      if (app?.server && config.drainMs > 0) await Bun.sleep(config.drainMs);
      // Stop accepting, let in-flight requests finish.
      await app?.server?.stop(false);
      // Consumers stop, jobs stop, then modules close (sockets, last writes to the outbox) before
      // the relay flushes: what they write waits in the stream for the next instance.
      await platform.events.stopConsuming();
      await modules.close();
      await platform.events.flush(config.shutdownGraceMs / 2).catch((err: unknown) => logger.warn("relay flush", { err }));
      await metricsListener?.stop();
      await platform.close();
      clearTimeout(timer);
      logger.info("stopped", { signal });
      process.exit(0);
    } catch (err) {
      logger.error("shutdown failed", { err });
      process.exit(1);
    }
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

async function main(argv: string[]): Promise<void> {
  const [command = "all", ...rest] = argv;
  switch (command) {
    case "version":
    case "--version":
      process.stdout.write(`homebase ${version} (bun ${Bun.version})\n`);
      return;
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(usage + "\n");
      return;
    case "config":
      process.stdout.write(JSON.stringify(redactedConfig(readConfig()), null, 2) + "\n");
      return;
    case "migrate": {
      const config = readConfig();
      const db = openDatabase(join(config.dataDir, "homebase.sqlite"), { synchronous: config.sqliteSynchronous });
      const ran = migrate(db, migrationSets());
      db.close();
      process.stdout.write(ran.length > 0 ? `applied migrations ${ran.join(", ")}\n` : "schema is up to date\n");
      return;
    }
    case "promote": {
      const email = rest[0];
      if (!email) fail("usage: homebase promote <email>");
      const platform = await createPlatform(readConfig());
      try {
        const user = await createModules(platform).apis.accounts.promoteByEmail(email);
        process.stdout.write(`${user.email} is now an admin\n`);
      } catch (err) {
        fail(err instanceof Error ? err.message : String(err), 1);
      } finally {
        await platform.close();
      }
      return;
    }
    case "seed": {
      const domain = rest[0];
      const seeders = moduleList.flatMap((m) => Object.entries(m.seeders ?? {}).map(([name, seeder]) => ({ name, seeder, module: m.name })));
      if (!domain || domain === "--list") {
        const names = seeders.map((s) => `  ${s.name.padEnd(12)} ${s.seeder.describe}`);
        process.stdout.write(names.length > 0 ? `${names.join("\n")}\n` : "no seeders yet\n");
        if (!domain) process.exit(2);
        return;
      }
      const found = seeders.find((s) => s.name === domain);
      if (!found) fail(`unknown seed "${domain}"; known: ${seeders.map((s) => s.name).join(", ") || "none"}`);
      const platform = await createPlatform(readConfig());
      try {
        // The worker part runs too, so events the seed emits are delivered before exit.
        const modules = createModules(platform);
        await platform.events.start();
        const api = (modules.apis as Record<string, unknown>)[found.module];
        process.stdout.write(`${await found.seeder.run(api as never, rest.slice(1))}\n`);
        await platform.events.flush(60_000).catch(() => undefined);
      } finally {
        await platform.close();
      }
      return;
    }
    case "backup": {
      const file = rest[0];
      if (!file) fail("usage: homebase backup <file>");
      const config = readConfig();
      try {
        const { backup } = await manualBackup(join(config.dataDir, "homebase.sqlite"), file);
        process.stdout.write(JSON.stringify({ backup: backup.file, bytes: backup.bytes, sha256: backup.sha256, ...backup.summary }, null, 2) + "\n");
      } catch (err) {
        if (err instanceof BackupError) fail(err.message, 1);
        throw err;
      }
      return;
    }
    case "restore": {
      const file = rest.find((a) => !a.startsWith("--"));
      if (!file) fail("usage: homebase restore <file> [--force]");
      const config = readConfig();
      try {
        const summary = restoreDatabase(file, config.dataDir, rest.includes("--force"));
        process.stdout.write(JSON.stringify({ restored: file, dataDir: config.dataDir, ...summary }, null, 2) + "\n");
      } catch (err) {
        if (err instanceof BackupError) fail(err.message, 1);
        throw err;
      }
      return;
    }
    case "doctor": {
      const checks = await runDoctor(process.env, moduleList);
      process.stdout.write(formatChecks(checks) + "\n");
      if (checks.some((c) => c.status === "fail")) process.exit(1);
      return;
    }
    case "all":
    case "serve":
    case "worker": {
      const config = readConfig();
      // An explicit command wins over HOMEBASE_ROLE; `homebase` alone follows HOMEBASE_ROLE.
      const role: Role = argv.length === 0 ? config.role : command;
      await run(role, config);
      return;
    }
    default:
      fail(`unknown command "${command}"\n\n${usage}`);
  }
}

await main(process.argv.slice(2));
