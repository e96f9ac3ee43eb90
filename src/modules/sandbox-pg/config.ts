// The sandbox PG's environment variables: whether it is mounted, its secret key and its injected
// faults. Three of the shop's variables are read here too (declared the same way as in the
// shop, which the tests check), so that the defaults stay what they were when the sandbox was
// part of the shop: it is mounted when the shop pays through it, its checkout page lives at the
// shop's public URL, and its control routes are open to the shop's internal network.
import { t, type Static } from "elysia";
import { cidrListCheck, env } from "../../platform/config";
import { dataDirSecret, type InternalCredential, internalCredential } from "../../platform/http/internal";
import type { PlatformConfig } from "../../platform";

export const sandboxPgConfigSchema = t.Object({
  HOMEBASE_SANDBOX_PG: env.optionalOneOf(["on", "off"], {
    description: "Mount the built-in sandbox PG at /sandbox-pg (default: on when HOMEBASE_SHOP_PG=sandbox).",
  }),
  HOMEBASE_SANDBOX_PG_SECRET_KEY: env.optionalString({
    description:
      "The sandbox PG's secret key (its API asks for it; the shop's sandbox adapter sends it); unset = generated into the data dir (sandbox-pg.secret, mode 0600). Set it on both sides when the shop pays through another server's sandbox.",
    secret: true,
  }),
  HOMEBASE_SANDBOX_PG_ERROR_PCT: env.integer({
    default: 0,
    min: 0,
    max: 100,
    description: "Sandbox fault: % of calls answered 503 before processing.",
  }),
  HOMEBASE_SANDBOX_PG_TIMEOUT_PCT: env.integer({
    default: 0,
    min: 0,
    max: 100,
    description: "Sandbox fault: % of calls that hang after processing.",
  }),
  HOMEBASE_SANDBOX_PG_DECLINE_PCT: env.integer({ default: 0, min: 0, max: 100, description: "Sandbox fault: % of card declines." }),
  HOMEBASE_SANDBOX_PG_LATENCY_MS: env.integer({ default: 0, min: 0, max: 60_000, description: "Sandbox: added latency per call." }),
  HOMEBASE_SANDBOX_PG_HANG_MS: env.integer({
    default: 10_000,
    min: 0,
    max: 600_000,
    description: "Sandbox: how long an injected timeout holds the response.",
  }),
  // The shop's, read for the defaults above (same declarations as in src/modules/shop/config.ts).
  HOMEBASE_SHOP_PG: env.oneOf(["sandbox", "kakaopay"], { default: "sandbox", description: "Which payment gateway adapter the shop uses." }),
  HOMEBASE_SHOP_PUBLIC_URL: env.url(["http:", "https:"], {
    description: "Base URL the gateway redirects the buyer back to (default: this server).",
  }),
  HOMEBASE_SHOP_INTERNAL_ALLOW: env.list({
    default: "127.0.0.0/8,::1/128",
    description:
      "CIDRs allowed to call /internal/* and the sandbox PG's control routes (with the internal token, HOMEBASE_INTERNAL_TOKEN_FILE). Loopback by default: the WireGuard subnet means every user's device.",
    check: cidrListCheck("127.0.0.0/8,::1/128"),
  }),
});

export interface SandboxPgConfig {
  /** Mounted at /sandbox-pg: HOMEBASE_SANDBOX_PG, else whether the shop pays through it. */
  enabled: boolean;
  /** The merchant key its API asks for: HOMEBASE_SANDBOX_PG_SECRET_KEY, or generated into the data dir. */
  secretKey: string;
  /** Where the key came from; `file` is the generated one's path. */
  secretSource: { kind: "env" } | { kind: "file"; file: string };
  /** Base of the buyer's checkout page: <publicUrl>/sandbox-pg/checkout/<tid>. */
  publicUrl: string;
  /** CIDRs allowed to use the control routes (loopback by default). */
  controlAllow: string[];
  /** The bearer token the control routes ask for besides the allowlist (the platform's internal credential). */
  internal: InternalCredential;
  /** Injected faults, in percent of calls: 503 before processing, a hang after processing, a card decline. */
  errorPct: number;
  timeoutPct: number;
  declinePct: number;
  latencyMs: number;
  /** How long an injected timeout holds the response (longer than the client's timeout). */
  hangMs: number;
}

/** The name of the generated key's file in the data dir (the shop's config reads the same file). */
export const sandboxSecretFileName = "sandbox-pg.secret";

/**
 * No default key anyone could read in the README: unset, one is generated into the data dir
 * (only when the sandbox is mounted; the shop in the same data dir reads the same file).
 */
function sandboxSecretKey(
  given: string | undefined,
  enabled: boolean,
  dataDir: string,
): Pick<SandboxPgConfig, "secretKey"> & { source: SandboxPgConfig["secretSource"] } {
  if (given !== undefined) return { secretKey: given, source: { kind: "env" } };
  if (!enabled) return { secretKey: "", source: { kind: "env" } };
  const { secret, file } = dataDirSecret(dataDir, sandboxSecretFileName, "HOMEBASE_SANDBOX_PG_SECRET_KEY");
  return { secretKey: secret, source: { kind: "file", file } };
}

export function resolveSandboxPgConfig(v: Static<typeof sandboxPgConfigSchema>, platform: PlatformConfig): SandboxPgConfig {
  const { host, port } = platform;
  // The server's own address as seen from itself: a wildcard listen address is reached on loopback.
  const self = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "[::1]" : host.includes(":") ? `[${host}]` : host;
  const enabled = v.HOMEBASE_SANDBOX_PG === undefined ? v.HOMEBASE_SHOP_PG === "sandbox" : v.HOMEBASE_SANDBOX_PG === "on";
  const key = sandboxSecretKey(v.HOMEBASE_SANDBOX_PG_SECRET_KEY, enabled, platform.dataDir);
  return {
    enabled,
    secretKey: key.secretKey,
    secretSource: key.source,
    publicUrl: (v.HOMEBASE_SHOP_PUBLIC_URL ?? `http://${self}:${port}`).replace(/\/+$/, ""),
    controlAllow: v.HOMEBASE_SHOP_INTERNAL_ALLOW,
    internal: internalCredential(platform),
    errorPct: v.HOMEBASE_SANDBOX_PG_ERROR_PCT,
    timeoutPct: v.HOMEBASE_SANDBOX_PG_TIMEOUT_PCT,
    declinePct: v.HOMEBASE_SANDBOX_PG_DECLINE_PCT,
    latencyMs: v.HOMEBASE_SANDBOX_PG_LATENCY_MS,
    hangMs: v.HOMEBASE_SANDBOX_PG_HANG_MS,
  };
}
