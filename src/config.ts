// Environment → typed, validated configuration. No variable set means the embedded mode:
// SQLite under ./data, memory cache, in-process locks, rate limits and event delivery.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { parseTrustedProxies } from "./platform/http/client-ip";
import { Cron } from "croner";

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
  /** The shop: payment gateway, resilience, billing schedule, internal endpoints (HOMEBASE_SHOP_*, HOMEBASE_KAKAOPAY_*, HOMEBASE_SANDBOX_PG_*). */
  shop: ShopConfig;
  /** Todos writes: `direct` (applied in the request's transaction) or `async` (write-behind through the outbox, 202). */
  todosWriteMode: "direct" | "async";
  /** Peers whose X-Forwarded-For is believed (IPs or CIDR blocks); see src/platform/http/client-ip.ts. */
  trustedProxies: string[];
  /** Movie reservations: list cache, rate limits, notifier (HOMEBASE_MOVIES_*, HOMEBASE_BOOKING_*, HOMEBASE_NOTIFIER_*). */
  reservations: ReservationsConfig;
  /** Chat: WebSocket limits, read-state flushing, file storage (HOMEBASE_CHAT_*). */
  chat: ChatConfig;
}

export interface ChatConfig {
  /** Messages a socket may send per second (token bucket, bursts of twice that). */
  wsRatePerSec: number;
  /** A socket whose unsent bytes pass this is closed with 4008 (slow consumer). */
  wsMaxBufferedBytes: number;
  /** Largest frame a client may send; bigger ones close the socket with 1009. */
  wsMaxPayloadBytes: number;
  /** Seconds without traffic (pings answered count) before a socket is closed. */
  wsIdleSec: number;
  /** How often read marks move from Redis / memory to the store (through the event bus). */
  readFlushMs: number;
  /** GET /rooms per client IP per minute. */
  roomListPerMin: number;
  /** S3-compatible storage for uploads; null = files under <data dir>/chat-files. */
  s3: { bucket: string; endpoint: string | null; region: string | null; accessKeyId: string | null; secretAccessKey: string | null } | null;
}

function chatConfig(env: Env): ChatConfig {
  const bucket = str(env, "HOMEBASE_CHAT_S3_BUCKET", "");
  const opt = (name: string) => {
    const v = str(env, name, "");
    return v === "" ? null : v;
  };
  const endpoint = url(env, "HOMEBASE_CHAT_S3_ENDPOINT", ["http:", "https:"]);
  if (bucket === "" && endpoint !== null) throw new ConfigError("HOMEBASE_CHAT_S3_BUCKET", "a bucket name when HOMEBASE_CHAT_S3_ENDPOINT is set", "");
  return {
    wsRatePerSec: int(env, "HOMEBASE_CHAT_WS_RATE", 20, 1, 100_000),
    wsMaxBufferedBytes: int(env, "HOMEBASE_CHAT_WS_MAX_BUFFERED_BYTES", 1_048_576, 16_384, 256 * 1_048_576),
    wsMaxPayloadBytes: int(env, "HOMEBASE_CHAT_WS_MAX_PAYLOAD_BYTES", 65_536, 1024, 1_048_576),
    wsIdleSec: int(env, "HOMEBASE_CHAT_WS_IDLE_SEC", 60, 8, 960),
    readFlushMs: int(env, "HOMEBASE_CHAT_READ_FLUSH_MS", 1000, 10, 60_000),
    roomListPerMin: int(env, "HOMEBASE_CHAT_ROOM_LIST_PER_MIN", 600, 1, 1_000_000),
    s3:
      bucket === ""
        ? null
        : {
            bucket,
            endpoint,
            region: opt("HOMEBASE_CHAT_S3_REGION"),
            accessKeyId: opt("HOMEBASE_CHAT_S3_ACCESS_KEY_ID"),
            secretAccessKey: opt("HOMEBASE_CHAT_S3_SECRET_ACCESS_KEY"),
          },
  };
}

export interface ReservationsConfig {
  /** TTL of the cached now-showing lists (also cut at the next UTC midnight); 0 turns the cache off. */
  moviesCacheTtlMs: number;
  /** GET /movies per client IP: more than `moviesRateLimit` in `moviesRateWindowMs` blocks the IP for `moviesRateBlockMs`; limit 0 = off. */
  moviesRateLimit: number;
  moviesRateWindowMs: number;
  moviesRateBlockMs: number;
  /** Successful bookings per user per screening in `bookingRateWindowMs`; 0 = off. */
  bookingRateLimit: number;
  bookingRateWindowMs: number;
  /** How long the default (log) notifier takes per confirmation, like the reference's push service. */
  notifierLatencyMs: number;
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

function trustedProxies(env: Env): string[] {
  const raw = str(env, "HOMEBASE_TRUSTED_PROXIES", "");
  try {
    return parseTrustedProxies(raw);
  } catch (err) {
    throw new ConfigError("HOMEBASE_TRUSTED_PROXIES", `a comma list of IP addresses or CIDR blocks (${(err as Error).message})`, raw);
  }
}

function reservationsConfig(env: Env): ReservationsConfig {
  return {
    moviesCacheTtlMs: int(env, "HOMEBASE_MOVIES_CACHE_TTL_MS", 3_600_000, 0, 86_400_000),
    moviesRateLimit: int(env, "HOMEBASE_MOVIES_RATE_LIMIT", 50, 0, 1_000_000_000),
    moviesRateWindowMs: int(env, "HOMEBASE_MOVIES_RATE_WINDOW_MS", 60_000, 1, 86_400_000),
    moviesRateBlockMs: int(env, "HOMEBASE_MOVIES_RATE_BLOCK_MS", 3_600_000, 0, 7 * 86_400_000),
    bookingRateLimit: int(env, "HOMEBASE_BOOKING_RATE_LIMIT", 1, 0, 1_000_000),
    bookingRateWindowMs: int(env, "HOMEBASE_BOOKING_RATE_WINDOW_MS", 300_000, 1, 86_400_000),
    notifierLatencyMs: int(env, "HOMEBASE_NOTIFIER_LATENCY_MS", 500, 0, 60_000),
  };
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

export interface ShopConfig {
  /** Which PaymentGateway adapter the shop uses. */
  pg: "sandbox" | "kakaopay";
  /** Base URL of that gateway's API (default: this server's /sandbox-pg, or KakaoPay's open API). */
  pgUrl: string;
  /** Base URL the gateway redirects the buyer back to (approval/cancel/fail URLs). */
  publicUrl: string;
  kakaopaySecretKey: string | null;
  kakaopayCid: string;
  kakaopaySubscriptionCid: string;
  /** Per gateway call; a timeout is a transient failure. */
  pgTimeoutMs: number;
  /** Retries of a transient failure (after the first attempt), exponential backoff from pgBackoffMs up to pgBackoffMaxMs. */
  pgRetries: number;
  pgBackoffMs: number;
  pgBackoffMaxMs: number;
  /** Circuit breaker over the last `breakerWindow` calls: opens at breakerFailurePct % failures once breakerMinCalls were made. */
  breakerWindow: number;
  breakerMinCalls: number;
  breakerFailurePct: number;
  breakerOpenMs: number;
  breakerHalfOpenCalls: number;
  /** Cron expression (croner, UTC) of the daily recurring-billing run. */
  billingCron: string;
  billingChunk: number;
  /** CIDRs allowed to call /internal/* and the sandbox's control routes. */
  internalAllow: string[];
  /** TTL of the cached GET /items/main. */
  mainTtlMs: number;
  /** Unpaid (REQUEST) orders older than this are cancelled and their stock released. */
  orderTtlMin: number;
  sandbox: {
    /** Mount /sandbox-pg (default: on when pg = sandbox). */
    enabled: boolean;
    secretKey: string;
    /** Injected faults, in percent of calls: 503 before processing, a hang after processing, a card decline. */
    errorPct: number;
    timeoutPct: number;
    declinePct: number;
    latencyMs: number;
    /** How long an injected timeout holds the response (longer than the client's timeout). */
    hangMs: number;
  };
}

function cidrList(env: Env, name: string, fallback: string): string[] {
  const raw = str(env, name, fallback);
  try {
    return parseTrustedProxies(raw);
  } catch (err) {
    throw new ConfigError(name, `a comma list of IP addresses or CIDR blocks, e.g. 127.0.0.0/8,::1/128,10.44.0.0/24 (${(err as Error).message})`, raw);
  }
}

function cron(env: Env, name: string, fallback: string): string {
  const expr = str(env, name, fallback);
  try {
    new Cron(expr, { paused: true, timezone: "UTC" }).stop();
  } catch {
    throw new ConfigError(name, "a cron expression (e.g. \"0 4 * * *\")", expr);
  }
  return expr;
}

function shopConfig(env: Env, host: string, port: number): ShopConfig {
  const pg = oneOf(env, "HOMEBASE_SHOP_PG", ["sandbox", "kakaopay"] as const, "sandbox");
  // The server's own address as seen from itself: a wildcard listen address is reached on loopback.
  const self = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "[::1]" : host.includes(":") ? `[${host}]` : host;
  const publicUrl = (url(env, "HOMEBASE_SHOP_PUBLIC_URL", ["http:", "https:"]) ?? `http://${self}:${port}`).replace(/\/+$/, "");
  const pgUrl = (url(env, "HOMEBASE_SHOP_PG_URL", ["http:", "https:"]) ?? (pg === "sandbox" ? `http://${self}:${port}/sandbox-pg` : "https://open-api.kakaopay.com")).replace(/\/+$/, "");
  const secret = str(env, "HOMEBASE_KAKAOPAY_SECRET_KEY", "");
  if (pg === "kakaopay" && secret === "") throw new ConfigError("HOMEBASE_KAKAOPAY_SECRET_KEY", "the KakaoPay secret key when HOMEBASE_SHOP_PG=kakaopay", "");
  const sandboxSwitch = oneOf(env, "HOMEBASE_SANDBOX_PG", ["on", "off"] as const, pg === "sandbox" ? "on" : "off");
  return {
    pg,
    pgUrl,
    publicUrl,
    kakaopaySecretKey: secret === "" ? null : secret,
    kakaopayCid: str(env, "HOMEBASE_KAKAOPAY_CID", "TC0ONETIME"),
    kakaopaySubscriptionCid: str(env, "HOMEBASE_KAKAOPAY_SUBSCRIPTION_CID", "TCSUBSCRIP"),
    pgTimeoutMs: int(env, "HOMEBASE_SHOP_PG_TIMEOUT_MS", 3_000, 10, 120_000),
    pgRetries: int(env, "HOMEBASE_SHOP_PG_RETRIES", 3, 0, 10),
    pgBackoffMs: int(env, "HOMEBASE_SHOP_PG_BACKOFF_MS", 1_000, 1, 60_000),
    pgBackoffMaxMs: int(env, "HOMEBASE_SHOP_PG_BACKOFF_MAX_MS", 300_000, 1, 3_600_000),
    breakerWindow: int(env, "HOMEBASE_SHOP_BREAKER_WINDOW", 40, 2, 10_000),
    breakerMinCalls: int(env, "HOMEBASE_SHOP_BREAKER_MIN_CALLS", 20, 1, 10_000),
    breakerFailurePct: int(env, "HOMEBASE_SHOP_BREAKER_FAILURE_PCT", 60, 1, 100),
    breakerOpenMs: int(env, "HOMEBASE_SHOP_BREAKER_OPEN_MS", 10_000, 10, 3_600_000),
    breakerHalfOpenCalls: int(env, "HOMEBASE_SHOP_BREAKER_HALF_OPEN_CALLS", 10, 1, 1_000),
    billingCron: cron(env, "HOMEBASE_SHOP_BILLING_CRON", "0 4 * * *"),
    billingChunk: int(env, "HOMEBASE_SHOP_BILLING_CHUNK", 20, 1, 1_000),
    internalAllow: cidrList(env, "HOMEBASE_SHOP_INTERNAL_ALLOW", "127.0.0.0/8,::1/128,10.44.0.0/24"),
    mainTtlMs: int(env, "HOMEBASE_SHOP_MAIN_TTL_MS", 60_000, 0, 86_400_000),
    orderTtlMin: int(env, "HOMEBASE_SHOP_ORDER_TTL_MIN", 30, 1, 10_080),
    sandbox: {
      enabled: sandboxSwitch === "on",
      secretKey: str(env, "HOMEBASE_SANDBOX_PG_SECRET_KEY", "DEV-SANDBOX-SECRET"),
      errorPct: int(env, "HOMEBASE_SANDBOX_PG_ERROR_PCT", 0, 0, 100),
      timeoutPct: int(env, "HOMEBASE_SANDBOX_PG_TIMEOUT_PCT", 0, 0, 100),
      declinePct: int(env, "HOMEBASE_SANDBOX_PG_DECLINE_PCT", 0, 0, 100),
      latencyMs: int(env, "HOMEBASE_SANDBOX_PG_LATENCY_MS", 0, 0, 60_000),
      hangMs: int(env, "HOMEBASE_SANDBOX_PG_HANG_MS", 10_000, 0, 600_000),
    },
  };
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
    todosWriteMode: oneOf(env, "HOMEBASE_TODOS_WRITE_MODE", ["direct", "async"] as const, "direct"),
    trustedProxies: trustedProxies(env),
    reservations: reservationsConfig(env),
    chat: chatConfig(env),
  };
  const { secret, source } = jwtSecret(env, dataDir);
  return { ...base, jwtSecret: secret, jwtSecretSource: source, shop: shopConfig(env, base.host, base.port) };
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
    shop: { ...config.shop, kakaopaySecretKey: config.shop.kakaopaySecretKey === null ? null : "<redacted>" },
    chat: { ...config.chat, s3: config.chat.s3 && { ...config.chat.s3, secretAccessKey: config.chat.s3.secretAccessKey === null ? null : "<redacted>" } },
  };
}
