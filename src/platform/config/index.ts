// Environment → typed, validated configuration: the platform's variables plus those every listed
// module declares. No variable set means the embedded mode: SQLite under ./data, memory cache,
// in-process locks, rate limits and event delivery.
import { resolve } from "node:path";
import { t, type Static } from "elysia";
import { type BackupSettings, backupSettings, backupVariables } from "../db/backup-config";
import { parseTrustedProxies } from "../http/client-ip";
import type { ModuleDefinition } from "../module";
import { urlWithPasswordFile } from "./credentials";
import { ConfigError, type Env, type EnvObject, type EnvSchema, env, readEnv, redactValue, type UnknownVariable, unknownVariables } from "./env";

export { ConfigError, env, type Env, type EnvObject, type UnknownVariable, type VariableFamily } from "./env";

export type Role = "serve" | "worker" | "all";

const ipv4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const hostname = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

/** For list variables of IP addresses and CIDR blocks. */
export function cidrListCheck(example: string) {
  return (raw: string): string | undefined => {
    try {
      parseTrustedProxies(raw);
      return undefined;
    } catch (err) {
      return `a comma list of IP addresses or CIDR blocks${example ? `, e.g. ${example}` : ""} (${(err as Error).message})`;
    }
  };
}

export const platformSchema = t.Object({
  HOMEBASE_HOST: env.string({
    default: "127.0.0.1",
    description: "Listen address: set it to the wg0 address, never 0.0.0.0 by accident.",
    check: (raw) => (ipv4.test(raw) || hostname.test(raw) || /^[0-9a-fA-F:]+$/.test(raw) ? undefined : "an IP address or host name (e.g. the wg0 address)"),
  }),
  HOMEBASE_PORT: env.integer({ default: 3000, min: 0, max: 65535, description: "HTTP port (0 = any free port)." }),
  HOMEBASE_METRICS_PORT: env.integer({
    default: 0,
    min: 0,
    max: 65535,
    description:
      "This process's own port answering /metrics, /health/live and /health/ready (every role, the worker too), for per-instance scrapes when several instances share HOMEBASE_PORT; 0 = none (the API port still serves /metrics). systemd: 910%i for homebase-api@%i (instances 1-9), 9190 for the worker or the all-in-one unit; never set it in the shared env file.",
  }),
  HOMEBASE_METRICS_HOST: env.string({
    default: "127.0.0.1",
    description: "Listen address of HOMEBASE_METRICS_PORT: loopback, or the wg0 address for a Prometheus on another peer.",
    check: (raw) => (ipv4.test(raw) || hostname.test(raw) || /^[0-9a-fA-F:]+$/.test(raw) ? undefined : "an IP address or host name (e.g. 127.0.0.1 or the wg0 address)"),
  }),
  HOMEBASE_DATA_DIR: env.string({ default: "./data", description: "The SQLite file, the generated JWT secret, local chat files." }),
  HOMEBASE_ROLE: env.oneOf(["serve", "worker", "all"], { default: "all", description: "What runs when no command is given: HTTP (serve), background work (worker) or both (all)." }),
  REDIS_URL: env.url(["redis:", "rediss:"], { description: "redis://…: cache, locks and rate limits move to Redis; unset = in-process." }),
  NATS_URL: env.url(["nats:", "tls:"], { description: "nats://…: the outbox relays to the JetStream stream HOMEBASE; unset = in-process delivery." }),
  REDIS_PASSWORD_FILE: env.optionalString({
    description: "A file holding the Redis password (systemd LoadCredential=) of REDIS_URL's user (redis://homebase@…), or of the default user; read only when REDIS_URL is set, which then carries no password.",
  }),
  NATS_PASSWORD_FILE: env.optionalString({
    description: "A file holding the NATS password (systemd LoadCredential=) of NATS_URL's user (nats://homebase@…), or the token when NATS_URL names no user; read only when NATS_URL is set, which then carries no password.",
  }),
  HOMEBASE_CACHE: env.oneOf(["auto", "memory", "redis", "two-level"], {
    default: "auto",
    description:
      "Where cached reads live. two-level: an in-process level in front of Redis on each instance, invalidated on every instance over NATS (needs REDIS_URL and NATS_URL); redis: Redis only; memory: this process only (wrong for several instances); auto: two-level with REDIS_URL and NATS_URL, redis with REDIS_URL only, else memory.",
  }),
  HOMEBASE_CACHE_LOCAL_TTL_MS: env.integer({
    default: 5_000,
    min: 100,
    max: 60_000,
    description: "Two-level cache: the longest an in-process entry lives (never past its Redis TTL), which bounds how stale a lost NATS invalidation can leave a read.",
  }),
  MONGO_URL: env.url(["mongodb:", "mongodb+srv:"], { description: "mongodb://…: the stores that have a Mongo implementation (chat history) move there." }),
  HOMEBASE_SQLITE_SYNCHRONOUS: env.oneOf(["FULL", "NORMAL"], { default: "FULL", description: "NORMAL trades power-loss durability for speed; FULL keeps every acknowledged write." }),
  HOMEBASE_LOG_LEVEL: env.oneOf(["debug", "info", "warn", "error", "silent"], { default: "info", description: "JSON logs on stdout; debug adds one access-log line per request." }),
  HOMEBASE_BODY_LIMIT_BYTES: env.integer({ default: 1_048_576, min: 1024, max: 64 * 1_048_576, description: "Larger request bodies get 413 (uploads have their own limit)." }),
  HOMEBASE_CORS_ORIGINS: env.list({ default: "", description: "Comma-separated allowed browser origins; none = same-origin only." }),
  HOMEBASE_TRUSTED_PROXIES: env.list({
    default: "",
    description: "IPs / CIDR blocks of reverse proxies whose X-Forwarded-For is believed for the client IP (rate limits, login limits, internal routes); unset = the socket peer.",
    check: cidrListCheck(""),
  }),
  HOMEBASE_INTERNAL_TOKEN_FILE: env.optionalString({
    description: "A file holding the bearer token the internal routes ask for besides the IP allowlist (/internal/*, the sandbox PG's control; systemd LoadCredential=); unset = generated into the data dir (internal.token, mode 0600).",
  }),
  HOMEBASE_EVENT_MAX_DELIVER: env.integer({ default: 5, min: 1, max: 100, description: "Attempts per consumer before an event goes to the dead letters (table dead_letters; with NATS also stream HOMEBASE_DLQ)." }),
  HOMEBASE_EVENT_RETRY_MS: env.integer({ default: 1000, min: 1, max: 60_000, description: "First retry delay of a failed event handler; doubles per attempt, capped at 30 s." }),
  HOMEBASE_EVENT_NAMESPACE: env.string({
    default: "",
    description: "Prefix of the JetStream stream, subjects and durables, and of the rate-limit counters in Redis, so installs (or tests) share one NATS and one Redis.",
    check: (raw) => (raw === "" || /^[a-z][a-z0-9_]{0,31}$/.test(raw) ? undefined : "empty or 1-32 of a-z, 0-9, _ starting with a letter"),
  }),
  HOMEBASE_EVENT_RETENTION_HOURS: env.integer({
    default: 168,
    min: 1,
    max: 8760,
    description: "Sent outbox rows and processed-event records are deleted after this long; it must outlive JetStream's 2-minute duplicate window and any redelivery.",
  }),
  HOMEBASE_DEAD_LETTER_RETENTION_DAYS: env.integer({ default: 30, min: 1, max: 3650, description: "Dead letters are deleted after this long." }),
  HOMEBASE_SHUTDOWN_GRACE_MS: env.integer({ default: 10_000, min: 0, max: 300_000, description: "SIGTERM: stop accepting, finish in-flight requests, flush the relay, exit 0 — or exit 1 past this." }),
  HOMEBASE_DRAIN_MS: env.integer({ default: 1_000, min: 0, max: 60_000, description: "SIGTERM first drains this long: readiness 503 and Connection: close on every response, so a sibling on the same port takes over." }),
  ...backupVariables,
});

export interface PlatformConfig {
  host: string;
  port: number;
  dataDir: string;
  /** This process's own metrics listener (HOMEBASE_METRICS_PORT); port 0 = none. */
  metrics: { host: string; port: number };
  role: Role;
  /** With its password (from the URL or REDIS_PASSWORD_FILE): print it only through redactUrl. */
  redisUrl: string | null;
  /** With its credentials (from the URL or NATS_PASSWORD_FILE); connect with natsConnectionOptions. */
  natsUrl: string | null;
  mongoUrl: string | null;
  /** The cache backend HOMEBASE_CACHE resolves to (auto decided by REDIS_URL and NATS_URL). */
  cache: "memory" | "redis" | "two-level";
  /** Two-level cache: the in-process level's TTL bound (HOMEBASE_CACHE_LOCAL_TTL_MS). */
  cacheLocalTtlMs: number;
  sqliteSynchronous: "FULL" | "NORMAL";
  logLevel: "debug" | "info" | "warn" | "error" | "silent";
  bodyLimitBytes: number;
  corsOrigins: string[];
  /** Peers whose X-Forwarded-For is believed (IPs or CIDR blocks); see src/platform/http/client-ip.ts. */
  trustedProxies: string[];
  /** The internal routes' bearer token file (HOMEBASE_INTERNAL_TOKEN_FILE); null = generated into the data dir (src/platform/http/internal.ts). */
  internalTokenFile: string | null;
  /** Attempts before an event goes to the dead letters. */
  eventMaxDeliver: number;
  /** First retry delay of a failed event delivery; doubles per attempt (capped at 30 s). */
  eventRetryMs: number;
  /** Prefix of the JetStream stream, subjects and durable names, so several installs (or tests) share one NATS. */
  eventNamespace: string;
  /** Sent outbox rows and processed-event records are deleted after this many hours. */
  eventRetentionHours: number;
  /** Dead letters are deleted after this many days. */
  deadLetterRetentionDays: number;
  shutdownGraceMs: number;
  /** SIGTERM: how long to keep serving (readiness 503, Connection: close) before the listener closes. */
  drainMs: number;
  /** Scheduled backups (HOMEBASE_BACKUP_*), taken by worker roles; see src/platform/db/backup-schedule.ts. */
  backup: BackupSettings;
}

function cacheKind(v: Static<typeof platformSchema>): PlatformConfig["cache"] {
  const choice = v.HOMEBASE_CACHE;
  if (choice === "auto") return v.REDIS_URL ? (v.NATS_URL ? "two-level" : "redis") : "memory";
  if (choice === "redis" && !v.REDIS_URL) throw new ConfigError("HOMEBASE_CACHE", "REDIS_URL set for the redis cache", choice);
  if (choice === "two-level" && !(v.REDIS_URL && v.NATS_URL)) throw new ConfigError("HOMEBASE_CACHE", "REDIS_URL and NATS_URL set for the two-level cache", choice);
  return choice;
}

function platformConfig(v: Static<typeof platformSchema>): PlatformConfig {
  return {
    host: v.HOMEBASE_HOST,
    port: v.HOMEBASE_PORT,
    dataDir: resolve(v.HOMEBASE_DATA_DIR),
    metrics: { host: v.HOMEBASE_METRICS_HOST, port: v.HOMEBASE_METRICS_PORT },
    role: v.HOMEBASE_ROLE,
    redisUrl: urlWithPasswordFile({ urlVariable: "REDIS_URL", fileVariable: "REDIS_PASSWORD_FILE", withoutUser: "password" }, v.REDIS_URL, v.REDIS_PASSWORD_FILE),
    natsUrl: urlWithPasswordFile({ urlVariable: "NATS_URL", fileVariable: "NATS_PASSWORD_FILE", withoutUser: "token" }, v.NATS_URL, v.NATS_PASSWORD_FILE),
    mongoUrl: v.MONGO_URL ?? null,
    cache: cacheKind(v),
    cacheLocalTtlMs: v.HOMEBASE_CACHE_LOCAL_TTL_MS,
    sqliteSynchronous: v.HOMEBASE_SQLITE_SYNCHRONOUS,
    logLevel: v.HOMEBASE_LOG_LEVEL,
    bodyLimitBytes: v.HOMEBASE_BODY_LIMIT_BYTES,
    corsOrigins: v.HOMEBASE_CORS_ORIGINS,
    trustedProxies: v.HOMEBASE_TRUSTED_PROXIES,
    internalTokenFile: v.HOMEBASE_INTERNAL_TOKEN_FILE ?? null,
    eventMaxDeliver: v.HOMEBASE_EVENT_MAX_DELIVER,
    eventRetryMs: v.HOMEBASE_EVENT_RETRY_MS,
    eventNamespace: v.HOMEBASE_EVENT_NAMESPACE,
    eventRetentionHours: v.HOMEBASE_EVENT_RETENTION_HOURS,
    deadLetterRetentionDays: v.HOMEBASE_DEAD_LETTER_RETENTION_DAYS,
    shutdownGraceMs: v.HOMEBASE_SHUTDOWN_GRACE_MS,
    drainMs: v.HOMEBASE_DRAIN_MS,
    backup: backupSettings(v, resolve(v.HOMEBASE_DATA_DIR)),
  };
}

export interface Config extends PlatformConfig {
  /** Each module's settings by module name (moduleConfig() reads one, typed). */
  modules: Record<string, unknown>;
  /** Every declared variable's typed value, for `homebase config`. */
  values: Record<string, unknown>;
  /** HOMEBASE_* variables no schema declares: probably misspelt. */
  unknown: UnknownVariable[];
  /** The schemas read, in order: the platform's, then the modules'. */
  schemas: Array<{ owner: string; schema: EnvObject }>;
}

/** Loads the platform's and every module's variables; throws ConfigError on the first bad one. */
export function loadConfig(source: Env, modules: readonly ModuleDefinition[]): Config {
  const schemas: Config["schemas"] = [{ owner: "platform", schema: platformSchema }];
  const raw = readEnv(platformSchema, source);
  const base = platformConfig(raw);
  const values: Record<string, unknown> = { ...raw };
  const settings: Record<string, unknown> = {};
  for (const m of modules) {
    if (!m.config) continue;
    schemas.push({ owner: m.name, schema: m.config.schema });
    const v = readEnv(m.config.schema, source) as Record<string, unknown>;
    for (const family of m.config.families ?? []) {
      for (const entry of (v[family.list] as string[] | undefined) ?? []) {
        const member = family.member(entry);
        schemas.push({ owner: m.name, schema: member });
        Object.assign(v, readEnv(member, source));
      }
    }
    Object.assign(values, v);
    settings[m.name] = m.config.resolve(v, base);
  }
  const known = schemas.flatMap((s) => Object.keys(s.schema.properties));
  return { ...base, modules: settings, values, unknown: unknownVariables(source, known), schemas };
}

/** One module's settings, typed by its definition. */
export function moduleConfig<C>(config: Config, module: ModuleDefinition<C, unknown, string>): C {
  if (!(module.name in config.modules)) throw new Error(`module ${module.name} has no configuration loaded`);
  return config.modules[module.name] as C;
}

/** Every declared variable with its effective value, secrets and URL credentials redacted. */
export function redactedConfig(config: Config): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const { owner, schema } of config.schemas) {
    const section: Record<string, unknown> = {};
    for (const [name, prop] of Object.entries(schema.properties) as unknown as Array<[string, EnvSchema]>) {
      section[name] = redactValue(prop, config.values[name]);
    }
    out[owner] = { ...out[owner], ...section };
  }
  return out;
}

/** `unknown variable` warnings, one line each. */
export function unknownVariableWarnings(config: Pick<Config, "unknown">): string[] {
  return config.unknown.map((u) => `${u.name} is not a homebase variable (did you mean ${u.closest}?); it is ignored`);
}

/** What a variable accepts, in words, for the configuration table. */
function accepts(prop: EnvSchema & { minimum?: number; maximum?: number; enum?: string[]; format?: string }): string {
  if (prop.enum) return prop.enum.map((v) => `\`${v}\``).join(", ");
  if (prop.minimum !== undefined) return `${prop.minimum}–${prop.maximum}`;
  if (prop["x-list"]) return "comma list";
  if (prop.format === "url") return "URL";
  return prop.secret ? "string (secret)" : "string";
}

/** The README's configuration table, generated from the schemas. */
export function configTable(schemas: Config["schemas"]): string {
  const rows = ["| variable | module | default | accepts | meaning |", "|---|---|---|---|---|"];
  for (const { owner, schema } of schemas) {
    for (const [name, prop] of Object.entries(schema.properties) as unknown as Array<[string, EnvSchema & { minimum?: number; maximum?: number; enum?: string[] }]>) {
      const fallback = prop.default === undefined || prop.default === "" ? "—" : `\`${String(prop.default)}\``;
      rows.push(`| \`${name}\` | ${owner} | ${fallback} | ${accepts(prop)} | ${(prop.description ?? "").replaceAll("|", "\\|")} |`);
    }
  }
  return rows.join("\n");
}
