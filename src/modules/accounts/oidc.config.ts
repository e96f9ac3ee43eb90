// OpenID Connect providers, one set of variables each (a variable family, see
// src/platform/config/env.ts): HOMEBASE_OIDC_PROVIDERS=google,corp and per provider
// HOMEBASE_OIDC_<NAME>_ISSUER, _CLIENT_ID, _CLIENT_SECRET_FILE, optional _SCOPES and _LABEL.
// The redirect URI registered at the provider is <HOMEBASE_PUBLIC_URL>/auth/oidc/<name>/callback.
import { readFileSync } from "node:fs";
import { t, type Static } from "elysia";
import type { PlatformConfig } from "../../platform";
import { ConfigError, env, type VariableFamily } from "../../platform/config";

const providerName = /^[a-z][a-z0-9-]{0,31}$/;

export const oidcVariables = {
  HOMEBASE_PUBLIC_URL: env.url(["http:", "https:"], {
    description:
      "The address browsers reach homebase at (scheme, host, port, path prefix): each OIDC provider's redirect URI is `<this>/auth/oidc/<name>/callback`; default `http://HOMEBASE_HOST:HOMEBASE_PORT`.",
  }),
  HOMEBASE_OIDC_PROVIDERS: env.list({
    default: "",
    description:
      "Comma list of OpenID Connect providers to sign in with (lower-case names, e.g. `google,corp`); each has the `HOMEBASE_OIDC_<NAME>_*` variables below.",
    check: (raw) => {
      const names = raw
        .split(",")
        .map((v) => v.trim())
        .filter(Boolean);
      const bad = names.find((n) => !providerName.test(n));
      if (bad !== undefined) return `a comma list of provider names (a-z, 0-9, '-', starting with a letter); not "${bad}"`;
      return new Set(names).size === names.length ? undefined : "a comma list of distinct provider names";
    },
  }),
};

/** The variables' prefix of one provider: corp → HOMEBASE_OIDC_CORP_, my-idp → HOMEBASE_OIDC_MY_IDP_. */
const prefixOf = (name: string) => `HOMEBASE_OIDC_${name.toUpperCase().replaceAll("-", "_")}_`;

export const oidcFamily: VariableFamily = {
  list: "HOMEBASE_OIDC_PROVIDERS",
  member(name) {
    const p = prefixOf(name);
    return t.Object({
      [`${p}ISSUER`]: env.url(["https:", "http:"], {
        description: "The provider's issuer URL (its /.well-known/openid-configuration is read); http only on a loopback address.",
      }),
      [`${p}CLIENT_ID`]: env.optionalString({ description: "The client ID homebase is registered with at the provider." }),
      [`${p}CLIENT_SECRET_FILE`]: env.optionalString({
        description: "A file holding the provider's client secret (systemd LoadCredential=).",
      }),
      [`${p}SCOPES`]: env.string({
        default: "openid email profile",
        description: "Scopes asked of the provider (space-separated); must include openid and email.",
      }),
      [`${p}LABEL`]: env.optionalString({
        description: "What a sign-in button says for the provider (GET /auth/oidc/providers); default its name.",
      }),
    });
  },
};

export interface OidcProviderConfig {
  /** As listed in HOMEBASE_OIDC_PROVIDERS: the path segment of its routes. */
  name: string;
  label: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
  scopes: string;
  /** <public URL>/auth/oidc/<name>/callback, as registered at the provider. */
  redirectUri: string;
}

export interface OidcConfig {
  /** Without a trailing slash. */
  publicUrl: string;
  providers: OidcProviderConfig[];
}

const loopback = new Set(["127.0.0.1", "localhost", "[::1]"]);

function readSecret(variable: string, path: string): string {
  let content: string;
  try {
    content = readFileSync(path, "utf8");
  } catch {
    throw new ConfigError(variable, "a readable file holding the client secret", path);
  }
  const secret = content.trim();
  if (secret === "" || /[\r\n]/.test(secret)) throw new ConfigError(variable, "a file holding the client secret on one line", path);
  return secret;
}

export function resolveOidcConfig(
  v: Static<ReturnType<typeof t.Object<typeof oidcVariables>>> & Record<string, unknown>,
  platform: PlatformConfig,
): OidcConfig {
  const self =
    platform.host === "0.0.0.0"
      ? "127.0.0.1"
      : platform.host === "::"
        ? "[::1]"
        : platform.host.includes(":")
          ? `[${platform.host}]`
          : platform.host;
  const publicUrl = (v.HOMEBASE_PUBLIC_URL ?? `http://${self}:${platform.port}`).replace(/\/+$/, "");
  const providers = v.HOMEBASE_OIDC_PROVIDERS.map((name): OidcProviderConfig => {
    const p = prefixOf(name);
    const required = (suffix: string, what: string): string => {
      const value = v[`${p}${suffix}`];
      if (typeof value !== "string")
        throw new ConfigError(`${p}${suffix}`, `${what} (provider ${name} is listed in HOMEBASE_OIDC_PROVIDERS)`, "");
      return value;
    };
    const issuer = required("ISSUER", "the provider's issuer URL");
    const url = new URL(issuer);
    if (url.protocol === "http:" && !loopback.has(url.hostname))
      throw new ConfigError(`${p}ISSUER`, "an https issuer URL (http only on a loopback address)", issuer);
    const scopes = v[`${p}SCOPES`] as string;
    const scopeSet = new Set(scopes.split(/\s+/));
    if (!scopeSet.has("openid") || !scopeSet.has("email"))
      throw new ConfigError(`${p}SCOPES`, "space-separated scopes including openid and email", scopes);
    return {
      name,
      label: (v[`${p}LABEL`] as string | undefined) ?? name,
      issuer,
      clientId: required("CLIENT_ID", "the client ID"),
      clientSecret: readSecret(`${p}CLIENT_SECRET_FILE`, required("CLIENT_SECRET_FILE", "a file holding the client secret")),
      scopes,
      redirectUri: `${publicUrl}/auth/oidc/${name}/callback`,
    };
  });
  return { publicUrl, providers };
}
