// The shop's environment variables: payment gateway, resilience, billing schedule and internal
// endpoints. The built-in sandbox PG is a module of its own (src/modules/sandbox-pg); the shop
// only sends its secret key, and the sandbox reads the gateway choice, the public URL and the
// internal allowlist below. Such shared variables are declared by both modules, the same way.
import { Cron } from "croner";
import { t, type Static } from "elysia";
import { cidrListCheck, ConfigError, env } from "../../platform/config";
import { dataDirSecret, type InternalCredential, internalCredential } from "../../platform/http/internal";
import type { PlatformConfig } from "../../platform";

const cronCheck = (expr: string): string | undefined => {
  try {
    new Cron(expr, { paused: true, timezone: "UTC" }).stop();
    return undefined;
  } catch {
    return 'a cron expression (e.g. "0 4 * * *")';
  }
};

export const shopConfigSchema = t.Object({
  HOMEBASE_SHOP_PG: env.oneOf(["sandbox", "kakaopay"], { default: "sandbox", description: "Which payment gateway adapter the shop uses." }),
  HOMEBASE_SHOP_PG_URL: env.url(["http:", "https:"], {
    description: "Base URL of the gateway's API (default: this server's /sandbox-pg, or KakaoPay's open API).",
  }),
  HOMEBASE_SHOP_PUBLIC_URL: env.url(["http:", "https:"], {
    description: "Base URL the gateway redirects the buyer back to (default: this server).",
  }),
  HOMEBASE_KAKAOPAY_SECRET_KEY: env.optionalString({
    description: "KakaoPay secret key (needed with HOMEBASE_SHOP_PG=kakaopay).",
    secret: true,
  }),
  HOMEBASE_KAKAOPAY_CID: env.string({ default: "TC0ONETIME", description: "KakaoPay merchant id for one-time payments." }),
  HOMEBASE_KAKAOPAY_SUBSCRIPTION_CID: env.string({ default: "TCSUBSCRIP", description: "KakaoPay merchant id for subscriptions." }),
  HOMEBASE_SHOP_PG_TIMEOUT_MS: env.integer({
    default: 3_000,
    min: 10,
    max: 120_000,
    description: "Per gateway call; a timeout is a transient failure.",
  }),
  HOMEBASE_SHOP_PG_RETRIES: env.integer({
    default: 3,
    min: 0,
    max: 10,
    description: "Retries of a transient failure after the first attempt.",
  }),
  HOMEBASE_SHOP_PG_BACKOFF_MS: env.integer({ default: 1_000, min: 1, max: 60_000, description: "First retry delay (exponential)." }),
  HOMEBASE_SHOP_PG_BACKOFF_MAX_MS: env.integer({ default: 300_000, min: 1, max: 3_600_000, description: "Largest retry delay." }),
  HOMEBASE_SHOP_BREAKER_WINDOW: env.integer({
    default: 40,
    min: 2,
    max: 10_000,
    description: "Circuit breaker: calls in the counting window.",
  }),
  HOMEBASE_SHOP_BREAKER_MIN_CALLS: env.integer({
    default: 20,
    min: 1,
    max: 10_000,
    description: "Circuit breaker: calls before it may open.",
  }),
  HOMEBASE_SHOP_BREAKER_FAILURE_PCT: env.integer({
    default: 60,
    min: 1,
    max: 100,
    description: "Circuit breaker: failure percentage that opens it.",
  }),
  HOMEBASE_SHOP_BREAKER_OPEN_MS: env.integer({
    default: 10_000,
    min: 10,
    max: 3_600_000,
    description: "Circuit breaker: how long it stays open.",
  }),
  HOMEBASE_SHOP_BREAKER_HALF_OPEN_CALLS: env.integer({
    default: 10,
    min: 1,
    max: 1_000,
    description: "Circuit breaker: trial calls while half-open.",
  }),
  HOMEBASE_SHOP_BILLING_CRON: env.string({
    default: "0 4 * * *",
    description: "Cron expression (UTC) of the daily recurring-billing run.",
    check: cronCheck,
  }),
  HOMEBASE_SHOP_CHARGE_NOTICE_DAYS: env.integer({
    default: 3,
    min: 0,
    max: 30,
    description:
      "Days before a recurring charge that its notice (homebase.shop.subscription.charge_upcoming, once per cycle) goes out, from the daily billing job; 0 = on the day, before the charge.",
  }),
  HOMEBASE_SHOP_BILLING_CHUNK: env.integer({ default: 20, min: 1, max: 1_000, description: "Subscriptions billed per chunk." }),
  HOMEBASE_SHOP_INTERNAL_ALLOW: env.list({
    default: "127.0.0.0/8,::1/128",
    description:
      "CIDRs allowed to call /internal/* and the sandbox PG's control routes (with the internal token, HOMEBASE_INTERNAL_TOKEN_FILE). Loopback by default: the WireGuard subnet means every user's device.",
    check: cidrListCheck("127.0.0.0/8,::1/128"),
  }),
  HOMEBASE_SHOP_MAIN_TTL_MS: env.integer({ default: 60_000, min: 0, max: 86_400_000, description: "TTL of the cached GET /items/main." }),
  HOMEBASE_SHOP_ORDER_TTL_MIN: env.integer({
    default: 30,
    min: 1,
    max: 10_080,
    description: "Unpaid orders older than this are cancelled and their stock released.",
  }),
  HOMEBASE_SHOP_UNPAID_ORDERS_MAX: env.integer({
    default: 5,
    min: 0,
    max: 10_000,
    description:
      "Unpaid orders one user may hold at once (each reserves its stock until paid, cancelled or expired); beyond, 409 unpaid_order_limit; 0 = no cap.",
  }),
  HOMEBASE_SHOP_UNPAID_UNITS_MAX: env.integer({
    default: 100,
    min: 0,
    max: 1_000_000,
    description: "Units of stock one user's unpaid orders may reserve in all; beyond, 409 unpaid_quantity_limit; 0 = no cap.",
  }),
  // Shared with the sandbox-pg module, which declares it the same way: the key its API asks for.
  HOMEBASE_SANDBOX_PG_SECRET_KEY: env.optionalString({
    description:
      "The sandbox PG's secret key (its API asks for it; the shop's sandbox adapter sends it); unset = generated into the data dir (sandbox-pg.secret, mode 0600). Set it on both sides when the shop pays through another server's sandbox.",
    secret: true,
  }),
});

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
  /** Days before a recurring charge that its notice goes out. */
  chargeNoticeDays: number;
  /** CIDRs allowed to call /internal/* (loopback by default). */
  internalAllow: string[];
  /** The bearer token /internal/* asks for besides the allowlist (the platform's internal credential). */
  internal: InternalCredential;
  /** TTL of the cached GET /items/main. */
  mainTtlMs: number;
  /** Unpaid (REQUEST) orders older than this are cancelled and their stock released. */
  orderTtlMin: number;
  /** Per user: unpaid orders held at once, and units they reserve in all (0 = no cap). */
  unpaidOrdersMax: number;
  unpaidUnitsMax: number;
  /**
   * The key the sandbox adapter sends: HOMEBASE_SANDBOX_PG_SECRET_KEY, or the one the sandbox-pg
   * module generated into the data dir (sandbox-pg.secret); "" when the shop pays through KakaoPay.
   */
  sandboxSecretKey: string;
}

export function resolveShopConfig(v: Static<typeof shopConfigSchema>, platform: PlatformConfig): ShopConfig {
  const { host, port } = platform;
  const pg = v.HOMEBASE_SHOP_PG;
  // The server's own address as seen from itself: a wildcard listen address is reached on loopback.
  const self = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "[::1]" : host.includes(":") ? `[${host}]` : host;
  const publicUrl = (v.HOMEBASE_SHOP_PUBLIC_URL ?? `http://${self}:${port}`).replace(/\/+$/, "");
  const pgUrl = (
    v.HOMEBASE_SHOP_PG_URL ?? (pg === "sandbox" ? `http://${self}:${port}/sandbox-pg` : "https://open-api.kakaopay.com")
  ).replace(/\/+$/, "");
  const secret = v.HOMEBASE_KAKAOPAY_SECRET_KEY;
  if (pg === "kakaopay" && secret === undefined)
    throw new ConfigError("HOMEBASE_KAKAOPAY_SECRET_KEY", "the KakaoPay secret key when HOMEBASE_SHOP_PG=kakaopay", "");
  return {
    pg,
    pgUrl,
    publicUrl,
    kakaopaySecretKey: secret ?? null,
    kakaopayCid: v.HOMEBASE_KAKAOPAY_CID,
    kakaopaySubscriptionCid: v.HOMEBASE_KAKAOPAY_SUBSCRIPTION_CID,
    pgTimeoutMs: v.HOMEBASE_SHOP_PG_TIMEOUT_MS,
    pgRetries: v.HOMEBASE_SHOP_PG_RETRIES,
    pgBackoffMs: v.HOMEBASE_SHOP_PG_BACKOFF_MS,
    pgBackoffMaxMs: v.HOMEBASE_SHOP_PG_BACKOFF_MAX_MS,
    breakerWindow: v.HOMEBASE_SHOP_BREAKER_WINDOW,
    breakerMinCalls: v.HOMEBASE_SHOP_BREAKER_MIN_CALLS,
    breakerFailurePct: v.HOMEBASE_SHOP_BREAKER_FAILURE_PCT,
    breakerOpenMs: v.HOMEBASE_SHOP_BREAKER_OPEN_MS,
    breakerHalfOpenCalls: v.HOMEBASE_SHOP_BREAKER_HALF_OPEN_CALLS,
    billingCron: v.HOMEBASE_SHOP_BILLING_CRON,
    billingChunk: v.HOMEBASE_SHOP_BILLING_CHUNK,
    chargeNoticeDays: v.HOMEBASE_SHOP_CHARGE_NOTICE_DAYS,
    internalAllow: v.HOMEBASE_SHOP_INTERNAL_ALLOW,
    internal: internalCredential(platform),
    mainTtlMs: v.HOMEBASE_SHOP_MAIN_TTL_MS,
    orderTtlMin: v.HOMEBASE_SHOP_ORDER_TTL_MIN,
    unpaidOrdersMax: v.HOMEBASE_SHOP_UNPAID_ORDERS_MAX,
    unpaidUnitsMax: v.HOMEBASE_SHOP_UNPAID_UNITS_MAX,
    sandboxSecretKey:
      v.HOMEBASE_SANDBOX_PG_SECRET_KEY ??
      // The sandbox-pg module's generated key (same file name there): the same data dir, the same key.
      (pg === "sandbox" ? dataDirSecret(platform.dataDir, "sandbox-pg.secret", "HOMEBASE_SANDBOX_PG_SECRET_KEY").secret : ""),
  };
}
