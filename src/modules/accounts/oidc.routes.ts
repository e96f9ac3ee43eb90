// OpenID Connect sign-in routes (the use cases: oidc.ts). A browser follows
//   GET /auth/oidc/:provider/start → the provider → GET /auth/oidc/:provider/callback → returnTo,
// whose page calls POST /auth/oidc/exchange (same origin) for the token pair. The state and the
// one-time login code travel in HttpOnly cookies scoped to the path that reads them; no token
// ever appears in a URL.
import { Elysia, t } from "elysia";
import type { ClientIpResolver } from "../../platform/http/client-ip";
import { platformErrors as P } from "../../platform/http/errors";
import { problemResponses } from "../../platform/http/problem";
import { accountsErrors as E } from "./errors";
import { TokenPair } from "./model";
import { type OidcSignIn, oidcFlowTtlSec, oidcLoginCodeTtlSec } from "./oidc";
import { oidcErrors as O } from "./oidc.errors";
import { OidcCallbackQuery, OidcProviderList, OidcProviderParams, OidcStartQuery } from "./oidc.model";
import type { ClientInfo } from "./service";

const tags = ["accounts"];
const requestFailures = { 411: [P.lengthRequired], 413: [P.bodyTooLarge] } as const;
const bodyFailures = { ...requestFailures, 400: [P.malformedBody, P.bodyTooDeep] } as const;

export const stateCookie = "homebase_oidc_state";
export const loginCookie = "homebase_oidc_login";

/** One cookie's value from the request's Cookie header (read from the request: see DESIGN.md's traps). */
export function cookieValue(request: Request, name: string): string | null {
  for (const part of (request.headers.get("cookie") ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

export function oidcController(oidc: OidcSignIn, clientIp: ClientIpResolver) {
  const clientInfo = (request: Request): ClientInfo => ({
    ip: clientIp(request),
    userAgent: request.headers.get("user-agent"),
  });
  const cookie = (name: string, value: string, path: string, maxAgeSec: number) =>
    `${name}=${value}; Path=${oidc.basePath}${path}; Max-Age=${maxAgeSec}; HttpOnly; SameSite=Lax${oidc.secureCookies ? "; Secure" : ""}`;

  return new Elysia({ name: "homebase.accounts.oidc" })
    .get(
      "/auth/oidc/providers",
      () => ({ providers: oidc.list().map((p) => ({ ...p, start: `${oidc.basePath}/auth/oidc/${p.name}/start` })) }),
      {
        response: { 200: OidcProviderList, ...problemResponses(requestFailures) },
        detail: {
          tags,
          summary: "OpenID Connect providers to sign in with",
          description: "Those of HOMEBASE_OIDC_PROVIDERS; none configured = an empty list.",
        },
      },
    )
    .get(
      "/auth/oidc/:provider/start",
      async ({ params, query }) => {
        const { location, state } = await oidc.start(params.provider, query.returnTo ?? "/");
        const headers = new Headers({ location, "cache-control": "no-store" });
        headers.append("set-cookie", cookie(stateCookie, state, `/auth/oidc/${params.provider}/callback`, oidcFlowTtlSec));
        return new Response(null, { status: 302, headers });
      },
      {
        params: OidcProviderParams,
        query: OidcStartQuery,
        response: {
          302: t.Void({ description: "To the provider's authorization endpoint; sets the state cookie (HttpOnly, 10 minutes)" }),
          ...problemResponses({
            ...requestFailures,
            404: [O.oidcProviderUnknown],
            422: [P.validationFailed],
            502: [O.oidcProviderUnavailable],
          }),
        },
        detail: {
          tags,
          summary: "Start signing in with an OpenID provider",
          description:
            "Authorization code flow with PKCE (S256), state and nonce: redirects the browser to the provider. The state is bound to this browser by an HttpOnly cookie and is good for one callback within 10 minutes. A provider that cannot be reached answers 502 oidc_provider_unavailable and nothing is stored.",
        },
      },
    )
    .get(
      "/auth/oidc/:provider/callback",
      async ({ params, request }) => {
        const search = new URL(request.url).searchParams;
        const done = await oidc.callback(params.provider, search, cookieValue(request, stateCookie), clientInfo(request));
        const headers = new Headers({ location: `${oidc.basePath}${done.returnTo}`, "cache-control": "no-store" });
        headers.append("set-cookie", cookie(stateCookie, "", `/auth/oidc/${params.provider}/callback`, 0));
        headers.append("set-cookie", cookie(loginCookie, done.loginCode, "/auth/oidc/exchange", oidcLoginCodeTtlSec));
        return new Response(null, { status: 303, headers });
      },
      {
        params: OidcProviderParams,
        query: OidcCallbackQuery,
        response: {
          303: t.Void({
            description: "To returnTo, with the one-time login code in an HttpOnly cookie for POST /auth/oidc/exchange (2 minutes)",
          }),
          ...problemResponses({
            ...requestFailures,
            400: [O.oidcStateMismatch, O.oidcStateInvalid, O.oidcCallbackInvalid],
            401: [O.oidcSignInDenied, O.oidcCodeRejected, O.oidcIdTokenInvalid],
            403: [O.oidcEmailUnverified],
            404: [O.oidcProviderUnknown, E.userNotFound],
            409: [E.nicknameTaken],
            422: [P.validationFailed],
            429: [E.signupRateLimited],
            502: [O.oidcProviderUnavailable],
          }),
        },
        detail: {
          tags,
          summary: "The provider's redirect back (OpenID Connect callback)",
          description:
            "Checks the state against this browser's cookie (used once), exchanges the code with the PKCE verifier, verifies the ID token (signature against the provider's JWKS, issuer, audience, expiry, nonce). The account: the one this identity (provider, sub) signed in to before, whatever its email now; else the account whose email equals the provider's verified email (email_verified true), which gets linked; else a new account with that email and a nickname from the provider's name (a new account counts against the signup limit). An email the provider does not call verified links and creates nothing (403 oidc_email_unverified).",
        },
      },
    )
    .post(
      "/auth/oidc/exchange",
      async ({ request, set }) => {
        const tokens = await oidc.exchange(cookieValue(request, loginCookie), clientInfo(request));
        set.headers["set-cookie"] = cookie(loginCookie, "", "/auth/oidc/exchange", 0);
        set.headers["cache-control"] = "no-store";
        return tokens;
      },
      {
        response: {
          200: TokenPair,
          ...problemResponses({ ...bodyFailures, 401: [O.oidcLoginCodeInvalid], 404: [E.userNotFound] }),
        },
        detail: {
          tags,
          summary: "Finish an OpenID Connect sign-in: the token pair",
          description:
            "Called by the page the callback sent the browser to (same origin, credentials included): the one-time login code in the HttpOnly cookie becomes a session, with the same tokens POST /auth/login returns. Used once, within 2 minutes.",
        },
      },
    );
}
