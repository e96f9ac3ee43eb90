// Accounts' environment variables: token lifetimes, the JWT secret, login and signup limits.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { t, type Static } from "elysia";
import { ConfigError, env } from "../../platform/config";
import type { PlatformConfig } from "../../platform";
import { type OidcConfig, oidcVariables, resolveOidcConfig } from "./oidc.config";

export const accountsConfigSchema = t.Object({
  HOMEBASE_JWT_SECRET: env.optionalString({ description: "HS256 key of access tokens (≥ 32 characters); unset = generated into the data dir.", secret: true }),
  HOMEBASE_JWT_SECRET_FILE: env.optionalString({ description: "A file holding the JWT secret (systemd LoadCredential=); excludes HOMEBASE_JWT_SECRET." }),
  HOMEBASE_ACCESS_TTL_SEC: env.integer({ default: 900, min: 10, max: 86_400, description: "Access token lifetime." }),
  HOMEBASE_REFRESH_TTL_SEC: env.integer({ default: 7 * 86_400, min: 60, max: 90 * 86_400, description: "Refresh token (session) lifetime." }),
  HOMEBASE_LOGIN_MAX_ATTEMPTS: env.integer({
    default: 5,
    min: 1,
    max: 1000,
    description: "Failed logins per (account, client IP) in the window before that address gets 429 for that account (×4 per client IP across accounts); also the password re-checks of /me per account.",
  }),
  HOMEBASE_LOGIN_WINDOW_SEC: env.integer({ default: 300, min: 1, max: 86_400, description: "Window of the login limits." }),
  HOMEBASE_LOGIN_BLOCK_SEC: env.integer({ default: 900, min: 0, max: 86_400, description: "How long a tripped login limit blocks." }),
  HOMEBASE_LOGIN_ACCOUNT_MAX_ATTEMPTS: env.integer({
    default: 50,
    min: 0,
    max: 1_000_000,
    description: "Failed logins per account from all addresses per hour; past it only addresses with a live session of the account may try (the owner is never locked out from their own device); 0 = off.",
  }),
  HOMEBASE_SIGNUP_PER_IP: env.integer({ default: 60, min: 0, max: 1_000_000, description: "Signup attempts per client IP per signup window before 429; 0 = off." }),
  HOMEBASE_SIGNUP_WINDOW_SEC: env.integer({ default: 3600, min: 1, max: 86_400, description: "Window of the signup limit." }),
  ...oidcVariables,
});

export interface AccountsConfig {
  jwtSecret: string;
  /**
   * Where the JWT secret came from: the environment, a file named by HOMEBASE_JWT_SECRET_FILE
   * (systemd LoadCredential=) or the generated file in the data dir.
   */
  jwtSecretSource: "env" | "secret-file" | "file";
  /** The generated secret's file in the data dir (used when the source is "file"). */
  jwtSecretFile: string;
  accessTokenTtlSec: number;
  refreshTokenTtlSec: number;
  /** Failed logins per (account, client IP) in `loginWindowSec` before 429 (×4 per client IP). */
  loginMaxAttempts: number;
  loginWindowSec: number;
  loginBlockSec: number;
  /** Failed logins per account from all addresses per hour (0 = off); see limits.ts. */
  loginAccountMaxAttempts: number;
  /** Signup attempts per client IP per `signupWindowSec` (0 = off). */
  signupPerIp: number;
  signupWindowSec: number;
  /** OpenID Connect sign-in (oidc.config.ts). */
  oidc: OidcConfig;
}

/** The JWT secret is generated once and kept in the data dir so tokens survive restarts. */
function jwtSecret(v: Static<typeof accountsConfigSchema>, dataDir: string): { secret: string; source: AccountsConfig["jwtSecretSource"] } {
  const raw = v.HOMEBASE_JWT_SECRET;
  const path = v.HOMEBASE_JWT_SECRET_FILE;
  // A file keeps the secret out of the environment (/proc/<pid>/environ, `systemctl show`):
  // the units hand it over with LoadCredential= and point this at $CREDENTIALS_DIRECTORY.
  if (path !== undefined) {
    const name = "HOMEBASE_JWT_SECRET_FILE";
    if (raw !== undefined) throw new ConfigError(name, "to be unset when HOMEBASE_JWT_SECRET is set (use one of them)", path);
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
  if (raw !== undefined) {
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
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return { secret, source: "file" };
}

export function resolveAccountsConfig(v: Static<typeof accountsConfigSchema> & Record<string, unknown>, platform: PlatformConfig): AccountsConfig {
  const { secret, source } = jwtSecret(v, platform.dataDir);
  return {
    jwtSecret: secret,
    jwtSecretSource: source,
    jwtSecretFile: join(platform.dataDir, "jwt.secret"),
    accessTokenTtlSec: v.HOMEBASE_ACCESS_TTL_SEC,
    refreshTokenTtlSec: v.HOMEBASE_REFRESH_TTL_SEC,
    loginMaxAttempts: v.HOMEBASE_LOGIN_MAX_ATTEMPTS,
    loginWindowSec: v.HOMEBASE_LOGIN_WINDOW_SEC,
    loginBlockSec: v.HOMEBASE_LOGIN_BLOCK_SEC,
    loginAccountMaxAttempts: v.HOMEBASE_LOGIN_ACCOUNT_MAX_ATTEMPTS,
    signupPerIp: v.HOMEBASE_SIGNUP_PER_IP,
    signupWindowSec: v.HOMEBASE_SIGNUP_WINDOW_SEC,
    oidc: resolveOidcConfig(v, platform),
  };
}
