// Environment → typed, validated configuration. No variable set means the embedded mode:
// SQLite under ./data, memory cache, in-process locks, rate limits and event delivery.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";

export type Role = "serve" | "worker" | "all";

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  role: Role;
  redisUrl: string | null;
  natsUrl: string | null;
  mongoUrl: string | null;
  jwtSecret: string;
  /**
   * Where the JWT secret came from: the environment, a file named by HOMEBASE_JWT_SECRET_FILE
   * (systemd LoadCredential=) or the generated file in the data dir.
   */
  jwtSecretSource: "env" | "secret-file" | "file";
  accessTokenTtlSec: number;
  refreshTokenTtlSec: number;
  sqliteSynchronous: "FULL" | "NORMAL";
  logLevel: "debug" | "info" | "warn" | "error" | "silent";
  bodyLimitBytes: number;
  corsOrigins: string[];
  /** Login attempts allowed per account and per IP in `loginWindowSec` before 429. */
  loginMaxAttempts: number;
  loginWindowSec: number;
  loginBlockSec: number;
  /** Attempts before an event goes to the dead letters. */
  eventMaxDeliver: number;
  /** First retry delay of a failed event delivery; doubles per attempt (capped at 30 s). */
  eventRetryMs: number;
  /** Prefix of the JetStream stream, subjects and durable names, so several installs (or tests) share one NATS. */
  eventNamespace: string;
  shutdownGraceMs: number;
  /** SIGTERM: how long to keep serving (readiness 503, Connection: close) before the listener closes. */
  drainMs: number;
  /** TTL of the cached GET /challenges/logs/:userId answers; 0 turns that cache off (benchmarks). */
  challengeLogsTtlMs: number;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly expected: string,
    readonly got: string,
  ) {
    super(`${variable}: expected ${expected}, got ${JSON.stringify(got)}`);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string, fallback: string): string {
  const v = env[name];
  return v === undefined || v === "" ? fallback : v;
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(name, `an integer from ${min} to ${max}`, raw);
  }
  return n;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!allowed.includes(raw as T)) throw new ConfigError(name, `one of ${allowed.join(", ")}`, raw);
  return raw as T;
}

function url(env: Env, name: string, protocols: string[]): string | null {
  const raw = env[name];
  if (raw === undefined || raw === "") return null;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, `a URL (${protocols.join(" or ")})`, raw);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `a URL with scheme ${protocols.join(" or ")}`, raw);
  }
  return raw;
}

function host(env: Env): string {
  const raw = str(env, "HOMEBASE_HOST", "127.0.0.1");
  const ipv4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
  const hostname = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;
  if (!ipv4.test(raw) && !hostname.test(raw) && !/^[0-9a-fA-F:]+$/.test(raw)) {
    throw new ConfigError("HOMEBASE_HOST", "an IP address or host name (e.g. the wg0 address)", raw);
  }
  return raw;
}

function namespace(env: Env): string {
  const raw = str(env, "HOMEBASE_EVENT_NAMESPACE", "");
  if (raw !== "" && !/^[a-z][a-z0-9_]{0,31}$/.test(raw)) {
    throw new ConfigError("HOMEBASE_EVENT_NAMESPACE", "empty or 1-32 of a-z, 0-9, _ starting with a letter", raw);
  }
  return raw;
}

/** The JWT secret is generated once and kept in the data dir so tokens survive restarts. */
function jwtSecret(env: Env, dataDir: string): { secret: string; source: Config["jwtSecretSource"] } {
  const raw = env.HOMEBASE_JWT_SECRET;
  const path = env.HOMEBASE_JWT_SECRET_FILE;
  // A file keeps the secret out of the environment (/proc/<pid>/environ, `systemctl show`):
  // the units hand it over with LoadCredential= and point this at $CREDENTIALS_DIRECTORY.
  if (path !== undefined && path !== "") {
    const name = "HOMEBASE_JWT_SECRET_FILE";
    if (raw !== undefined && raw !== "") throw new ConfigError(name, "to be unset when HOMEBASE_JWT_SECRET is set (use one of them)", path);
    let content: string;
    try {
      content = readFileSync(path, "utf8");
    } catch {
      throw new ConfigError(name, "a readable file holding the secret", path);
    }
    const secret = content.trim();
    if (secret.length < 32) throw new ConfigError(name, "a file holding at least 32 characters", path);
    return { secret, source: "secret-file" };
  }
  if (raw !== undefined && raw !== "") {
    if (raw.length < 32) throw new ConfigError("HOMEBASE_JWT_SECRET", "at least 32 characters", "<redacted>");
    return { secret: raw, source: "env" };
  }
  const file = join(dataDir, "jwt.secret");
  if (existsSync(file)) {
    const secret = readFileSync(file, "utf8").trim();
    if (secret.length >= 32) return { secret, source: "file" };
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const secret = randomBytes(48).toString("base64url");
  writeFileSync(file, secret + "\n", { mode: 0o600 });
  return { secret, source: "file" };
}

export function loadConfig(env: Env = process.env): Config {
  const dataDir = resolve(str(env, "HOMEBASE_DATA_DIR", "./data"));
  const cors = str(env, "HOMEBASE_CORS_ORIGINS", "");
  const base = {
    host: host(env),
    port: int(env, "HOMEBASE_PORT", 3000, 0, 65535),
    dataDir,
    role: oneOf(env, "HOMEBASE_ROLE", ["serve", "worker", "all"] as const, "all"),
    redisUrl: url(env, "REDIS_URL", ["redis:", "rediss:"]),
    natsUrl: url(env, "NATS_URL", ["nats:", "tls:"]),
    mongoUrl: url(env, "MONGO_URL", ["mongodb:", "mongodb+srv:"]),
    accessTokenTtlSec: int(env, "HOMEBASE_ACCESS_TTL_SEC", 900, 10, 86_400),
    refreshTokenTtlSec: int(env, "HOMEBASE_REFRESH_TTL_SEC", 7 * 86_400, 60, 90 * 86_400),
    sqliteSynchronous: oneOf(env, "HOMEBASE_SQLITE_SYNCHRONOUS", ["FULL", "NORMAL"] as const, "FULL"),
    logLevel: oneOf(env, "HOMEBASE_LOG_LEVEL", ["debug", "info", "warn", "error", "silent"] as const, "info"),
    bodyLimitBytes: int(env, "HOMEBASE_BODY_LIMIT_BYTES", 1_048_576, 1024, 64 * 1_048_576),
    corsOrigins: cors === "" ? [] : cors.split(",").map((s) => s.trim()).filter(Boolean),
    loginMaxAttempts: int(env, "HOMEBASE_LOGIN_MAX_ATTEMPTS", 5, 1, 1000),
    loginWindowSec: int(env, "HOMEBASE_LOGIN_WINDOW_SEC", 300, 1, 86_400),
    loginBlockSec: int(env, "HOMEBASE_LOGIN_BLOCK_SEC", 900, 0, 86_400),
    eventMaxDeliver: int(env, "HOMEBASE_EVENT_MAX_DELIVER", 5, 1, 100),
    eventRetryMs: int(env, "HOMEBASE_EVENT_RETRY_MS", 1000, 1, 60_000),
    eventNamespace: namespace(env),
    shutdownGraceMs: int(env, "HOMEBASE_SHUTDOWN_GRACE_MS", 10_000, 0, 300_000),
    drainMs: int(env, "HOMEBASE_DRAIN_MS", 1_000, 0, 60_000),
    challengeLogsTtlMs: int(env, "HOMEBASE_CHALLENGE_LOGS_TTL_MS", 30_000, 0, 86_400_000),
  };
  const { secret, source } = jwtSecret(env, dataDir);
  return { ...base, jwtSecret: secret, jwtSecretSource: source };
}

/** The effective configuration with secrets and URL credentials redacted, for `homebase config`. */
export function redactedConfig(config: Config): Record<string, unknown> {
  const redactUrl = (u: string | null) => {
    if (u === null) return null;
    const parsed = new URL(u);
    if (parsed.password) parsed.password = "redacted";
    return parsed.toString();
  };
  return {
    ...config,
    jwtSecret: `<redacted, from ${config.jwtSecretSource}>`,
    redisUrl: redactUrl(config.redisUrl),
    natsUrl: redactUrl(config.natsUrl),
    mongoUrl: redactUrl(config.mongoUrl),
  };
}
