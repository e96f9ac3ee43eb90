// `homebase doctor`: one pass/warn/fail line per thing an operator would check by hand.
// Every probe is bounded in time; nothing here writes to the database or the backends.
import { Database } from "bun:sqlite";
import { accessSync, constants, existsSync, readFileSync, statSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect as natsConnect } from "@nats-io/transport-node";
import Redis from "ioredis";
import { MongoClient } from "mongodb";
import { type Config, ConfigError, loadConfig, moduleConfig, unknownVariableWarnings } from "./config";
import { recentBackupRuns } from "./db/backup-runs";
import { appliedMigrations, type MigrationSet } from "./db/sqlite";
import { type NatsConnectionOptions, natsConnectionOptions } from "./events/jetstream";
import { type AnyModule, migrationSets } from "./module";

export type CheckStatus = "pass" | "warn" | "fail";

export interface Check {
  status: CheckStatus;
  name: string;
  detail: string;
}

/** Clock differences beyond this make token expiry and event timestamps disagree. */
const maxSkewMs = 2_000;
const probeTimeoutMs = 2_000;

const check = (status: CheckStatus, name: string, detail: string): Check => ({ status, name, detail });

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function skewCheck(name: string, remoteMs: number, before: number, after: number): Check {
  // The remote clock was read somewhere between before and after: compare with the midpoint.
  const skew = remoteMs - (before + after) / 2;
  const detail = `clock skew ${skew >= 0 ? "+" : ""}${Math.round(skew)} ms against ${name}`;
  return check(Math.abs(skew) > maxSkewMs ? "warn" : "pass", `clock/${name}`, detail);
}

/** A directory only this user should reach (the data dir, the backups): readable, writable, 0700. */
function privateDirCheck(name: string, dir: string): Check {
  try {
    accessSync(dir, constants.W_OK | constants.R_OK);
  } catch {
    return check("fail", name, `${dir} is not readable and writable by this user`);
  }
  const mode = statSync(dir).mode & 0o777;
  return mode & 0o077
    ? check("warn", name, `${dir} is accessible to ${mode & 0o007 ? "other users" : "its group"} (mode ${mode.toString(8)}); chmod 700`)
    : check("pass", name, `${dir} (mode ${mode.toString(8)})`);
}

function dataDirChecks(config: Config): Check[] {
  const dir = config.dataDir;
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [check("fail", "data dir", `${dir} is not a directory`)];
  const access = privateDirCheck("data dir", dir);
  return access.status === "fail" ? [access] : [access, databaseFilesCheck(dir)];
}

/**
 * The database and its WAL hold every user's data: world-readable is a failure, group access a
 * warning. homebase makes them 0600 itself; a looser mode means someone changed it (or the
 * files belong to another user, which homebase does not chmod).
 */
function databaseFilesCheck(dir: string): Check {
  const files = ["homebase.sqlite", "homebase.sqlite-wal", "homebase.sqlite-shm"].filter((name) => existsSync(join(dir, name)));
  if (files.length === 0) return check("pass", "database files", "none yet (created 0600 on first start)");
  const modes = files.map((name) => ({ name, mode: statSync(join(dir, name)).mode & 0o777 }));
  const list = (picked: typeof modes) => picked.map((f) => `${f.name} (mode ${f.mode.toString(8)})`).join(", ");
  const world = modes.filter((f) => f.mode & 0o007);
  if (world.length > 0) return check("fail", "database files", `readable or writable by every user: ${list(world)}; chmod 600`);
  const group = modes.filter((f) => f.mode & 0o070);
  if (group.length > 0) return check("warn", "database files", `accessible to their group: ${list(group)}; chmod 600`);
  return check("pass", "database files", `${list(modes)}`);
}

/** Scheduled backups: configured? their directory private and writable? the newest run good? */
function backupChecks(config: Config): Check[] {
  const { cron, dir } = config.backup;
  if (!cron) return [check("warn", "backups", "none scheduled (HOMEBASE_BACKUP_CRON unset): take them with homebase backup <file>")];
  const out: Check[] = [];
  out.push(existsSync(dir) ? privateDirCheck("backup dir", dir) : check("pass", "backup dir", `${dir} (created 0700 by the first backup)`));
  const path = join(config.dataDir, "homebase.sqlite");
  if (!existsSync(path)) return [...out, check("warn", "last backup", "no database yet")];
  try {
    const db = new Database(path, { readonly: true, strict: true });
    try {
      const [last] = recentBackupRuns(db, 1);
      if (!last) out.push(check("warn", "last backup", `none yet (schedule ${cron}, UTC)`));
      else if (!last.ok) out.push(check("fail", "last backup", `failed at ${last.startedAt}: ${last.error}`));
      else out.push(check("pass", "last backup", `${last.finishedAt}, ${last.bytes} bytes, sha256 ${last.sha256?.slice(0, 12)}…`));
    } finally {
      db.close();
    }
  } catch (err) {
    out.push(check("warn", "last backup", `no record of backups readable: ${errorText(err)} (pending migrations? run homebase migrate)`));
  }
  return out;
}

function sqliteCheck(config: Config, sets: readonly MigrationSet[]): Check {
  const path = join(config.dataDir, "homebase.sqlite");
  if (!existsSync(path)) return check("warn", "sqlite", `${path} does not exist yet (created on first start)`);
  try {
    const db = new Database(path, { readonly: true, strict: true });
    try {
      const result = db.query<{ quick_check: string }, []>("PRAGMA quick_check").all();
      if (result[0]?.quick_check !== "ok") return check("fail", "sqlite", `quick_check: ${result.map((r) => r.quick_check).join("; ")}`);
      const known = sets.flatMap((set) => set.migrations.map((m) => `${set.module}@${m.version}`));
      const applied = appliedMigrations(db);
      const pending = known.filter((m) => !applied.includes(m));
      const unknown = applied.filter((m) => !known.includes(m));
      if (unknown.length > 0) return check("fail", "sqlite", `migrations ${unknown.join(", ")} are newer than this binary knows: downgrade?`);
      if (pending.length > 0) return check("warn", "sqlite", `integrity ok; pending migrations ${pending.join(", ")} (run homebase migrate)`);
      return check("pass", "sqlite", `integrity ok, ${applied.length} migrations applied, ${(statSync(path).size / 1048576).toFixed(1)} MiB`);
    } finally {
      db.close();
    }
  } catch (err) {
    return check("fail", "sqlite", errorText(err));
  }
}

function redisClient(url: string): Redis {
  return new Redis(url, { lazyConnect: true, connectTimeout: probeTimeoutMs, commandTimeout: probeTimeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null, enableReadyCheck: false });
}

/** The URL without its user and password: what any other local process could connect with. */
function anonymous(url: string): string {
  const parsed = new URL(url);
  parsed.username = "";
  parsed.password = "";
  return parsed.toString();
}

const isAuthError = (text: string) => /NOAUTH|WRONGPASS|NOPERM|invalid password|Authorization Violation|authentication/i.test(text);

async function redisChecks(url: string): Promise<Check[]> {
  const redis = redisClient(url);
  let lastError: unknown = null;
  redis.on("error", (err: unknown) => void (lastError = err));
  const user = new URL(url);
  const withPassword = user.password !== "";
  try {
    await redis.connect();
    const before = Date.now();
    const [seconds, micros] = await redis.time();
    const after = Date.now();
    const info = await redis.info("server");
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? "?";
    const as = withPassword ? `, authenticated as ${decodeURIComponent(user.username) || "default"}` : "";
    return [check("pass", "redis", `reachable, redis ${version}${as}`), skewCheck("redis", Number(seconds) * 1000 + Number(micros) / 1000, before, after), await redisAuthCheck(url, withPassword)];
  } catch (err) {
    const text = errorText(lastError ?? err);
    if (isAuthError(text)) {
      const hint = withPassword ? "check REDIS_URL's user and REDIS_PASSWORD_FILE against the server's ACL" : "the server asks for a password: set REDIS_PASSWORD_FILE";
      return [check("fail", "redis", `authentication failed: ${text} (${hint})`)];
    }
    return [check("fail", "redis", `unreachable: ${text}`)];
  } finally {
    redis.disconnect();
  }
}

/** Whether a client without credentials gets in: then any local process can forge locks and limits. */
async function redisAuthCheck(url: string, withPassword: boolean): Promise<Check> {
  const open = "the server answers clients without a password: any local process can read and forge cache, locks, rate limits and presence (deploy/redis.conf's ACL, REDIS_PASSWORD_FILE)";
  if (!withPassword) return check("warn", "redis auth", open);
  const probe = redisClient(anonymous(url));
  probe.on("error", () => {});
  try {
    await probe.connect();
    await probe.ping();
    return check("warn", "redis auth", open);
  } catch (err) {
    return isAuthError(errorText(err)) ? check("pass", "redis auth", "clients without the password are refused") : check("warn", "redis auth", `could not tell whether clients without a password are refused: ${errorText(err)}`);
  } finally {
    probe.disconnect();
  }
}

async function natsChecks(url: string, namespace: string): Promise<Check[]> {
  const options = natsConnectionOptions(url);
  const withCredentials = options.pass !== undefined || options.token !== undefined;
  let nc: Awaited<ReturnType<typeof natsConnect>>;
  try {
    nc = await natsConnect({ ...options, timeout: probeTimeoutMs, maxReconnectAttempts: 0 });
  } catch (err) {
    const text = errorText(err);
    if (isAuthError(text)) {
      const hint = withCredentials ? "check NATS_URL's user and NATS_PASSWORD_FILE against the server's authorization block" : "the server asks for credentials: set NATS_PASSWORD_FILE";
      return [check("fail", "nats", `authentication failed: ${text} (${hint})`)];
    }
    return [check("fail", "nats", `unreachable: ${text}`)];
  }
  try {
    const as = options.pass !== undefined ? `, authenticated as ${options.user}` : options.token !== undefined ? ", authenticated by token" : "";
    const out = [check("pass", "nats", `reachable, server ${nc.info?.version ?? "?"}${as}`)];
    out.push(await natsAuthCheck(options, withCredentials));
    const stream = namespace ? `HOMEBASE_${namespace.toUpperCase()}` : "HOMEBASE";
    try {
      const jsm = await jetstreamManager(nc, { timeout: probeTimeoutMs });
      const info = await jsm.streams.info(stream);
      const consumers: string[] = [];
      for await (const c of jsm.consumers.list(stream)) consumers.push(`${c.name} (${c.num_pending} pending, ${c.num_ack_pending} unacked)`);
      out.push(check("pass", "jetstream", `stream ${stream}: ${info.state.messages} messages; consumers: ${consumers.join(", ") || "none"}`));
    } catch (err) {
      out.push(check("warn", "jetstream", `stream ${stream} not found (created when a worker starts): ${errorText(err)}`));
    }
    return out;
  } finally {
    await nc.close();
  }
}

/** Whether a client without credentials gets in: then any local process can publish events. */
async function natsAuthCheck(options: NatsConnectionOptions, withCredentials: boolean): Promise<Check> {
  const open = "the server accepts clients without credentials: any local process can publish and consume events and chat fanout (deploy/nats.conf's authorization, NATS_PASSWORD_FILE)";
  if (!withCredentials) return check("warn", "nats auth", open);
  try {
    const probe = await natsConnect({ servers: options.servers, timeout: probeTimeoutMs, maxReconnectAttempts: 0 });
    await probe.close();
    return check("warn", "nats auth", open);
  } catch (err) {
    return isAuthError(errorText(err)) ? check("pass", "nats auth", "clients without credentials are refused") : check("warn", "nats auth", `could not tell whether clients without credentials are refused: ${errorText(err)}`);
  }
}

async function mongoChecks(url: string): Promise<Check[]> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: probeTimeoutMs, connectTimeoutMS: probeTimeoutMs });
  try {
    await client.connect();
    const admin = client.db("admin");
    const before = Date.now();
    // `hello` on MongoDB ≥ 4.4 (and FerretDB); older servers know only isMaster.
    const hello = (await admin.command({ hello: 1 }).catch(() => admin.command({ isMaster: 1 }))) as { localTime?: Date };
    const after = Date.now();
    const out = [check("pass", "mongo", "reachable")];
    if (hello.localTime instanceof Date) out.push(skewCheck("mongo", hello.localTime.getTime(), before, after));
    return out;
  } catch (err) {
    return [check("fail", "mongo", `unreachable: ${errorText(err)}`)];
  } finally {
    await client.close().catch(() => {});
  }
}

function fileLimitCheck(): Check {
  try {
    const limits = readFileSync("/proc/self/limits", "utf8");
    const soft = /^Max open files\s+(\S+)/m.exec(limits)?.[1];
    if (!soft) return check("warn", "open files", "could not read the limit");
    if (soft === "unlimited" || Number(soft) >= 100_000) return check("pass", "open files", `limit ${soft}`);
    return check("warn", "open files", `limit ${soft} < 100000 sockets (systemd: LimitNOFILE=131072)`);
  } catch (err) {
    return check("warn", "open files", errorText(err));
  }
}

function isWireGuard(iface: string): boolean {
  try {
    return readFileSync(`/sys/class/net/${iface}/uevent`, "utf8").includes("DEVTYPE=wireguard");
  } catch {
    return false;
  }
}

function listenCheck(host: string): Check {
  if (host === "0.0.0.0" || host === "::") return check("fail", "listen address", `${host} listens on every interface, public ones included`);
  if (host === "127.0.0.1" || host === "::1" || host === "localhost") {
    return check("warn", "listen address", `${host}: reachable from this machine only (set HOMEBASE_HOST to the wg0 address)`);
  }
  for (const [name, addresses] of Object.entries(networkInterfaces())) {
    if (!addresses?.some((a) => a.address === host)) continue;
    return isWireGuard(name)
      ? check("pass", "listen address", `${host} on WireGuard interface ${name}`)
      : check("warn", "listen address", `${host} is on ${name}, which is not a WireGuard interface`);
  }
  return check("fail", "listen address", `${host} is not an address of any interface here`);
}

/** Runs every check for the configuration in `env`, with the modules' own checks. */
export async function runDoctor(env: Record<string, string | undefined>, modules: readonly AnyModule[]): Promise<Check[]> {
  let config: Config;
  try {
    config = loadConfig(env, modules);
  } catch (err) {
    return [check("fail", "config", err instanceof ConfigError ? err.message : errorText(err))];
  }
  const backends = [config.redisUrl && "redis", config.natsUrl && "nats", config.mongoUrl && "mongo"].filter(Boolean);
  const checks: Check[] = [check("pass", "config", `valid; backends: ${backends.join(", ") || "embedded"}`)];
  // A misspelt variable is ignored: say so, with the name it was probably meant to be.
  for (const warning of unknownVariableWarnings(config)) checks.push(check("warn", "config", warning));
  checks.push(...dataDirChecks(config), sqliteCheck(config, migrationSets(modules)), ...backupChecks(config));
  for (const m of modules) checks.push(...(m.doctor?.(moduleConfig(config, m)) ?? []));
  const probes = await Promise.all([
    config.redisUrl ? redisChecks(config.redisUrl) : [],
    config.natsUrl ? natsChecks(config.natsUrl, config.eventNamespace) : [],
    config.mongoUrl ? mongoChecks(config.mongoUrl) : [],
  ]);
  checks.push(...probes.flat(), fileLimitCheck(), listenCheck(config.host));
  return checks;
}

/**
 * The checks of a running process's loaded config, for the /ops page: data dir, backends (each
 * probe bounded by 2 s), open files, listen address. No config parsing, no migrations check.
 */
export async function liveChecks(config: Config): Promise<Check[]> {
  const probes = await Promise.all([
    config.redisUrl ? redisChecks(config.redisUrl) : [],
    config.natsUrl ? natsChecks(config.natsUrl, config.eventNamespace) : [],
    config.mongoUrl ? mongoChecks(config.mongoUrl) : [],
  ]);
  return [...dataDirChecks(config), ...backupChecks(config), ...probes.flat(), fileLimitCheck(), listenCheck(config.host)];
}

export function formatChecks(checks: Check[]): string {
  const width = Math.max(...checks.map((c) => c.name.length));
  return checks.map((c) => `${c.status.toUpperCase().padEnd(4)}  ${c.name.padEnd(width)}  ${c.detail}`).join("\n");
}
