// Sign in with OpenID Connect: the authorization code flow with PKCE (S256) against any standard
// provider, through oauth4webapi (discovery, the authorization response, the code exchange and
// its ID token claims, nonce included) and jose (the ID token's signature against the provider's
// JWKS, issuer, audience, expiry and nonce, on the injected clock).
//
//   start     → a flow row (state hash, verifier, nonce; 10 min, one use) and the provider's URL;
//               the state goes to the browser in an HttpOnly cookie (routes: oidc.routes.ts).
//   callback  → the state must equal the cookie's and take the flow; the code is exchanged, the
//               ID token verified, the account found (identity, else verified email, else a new
//               account) and a one-time login code (2 min) handed to the browser in a cookie.
//   exchange  → the login code becomes the same token pair POST /auth/login returns.
// Tokens never travel in a URL.
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from "jose";
import * as oauth from "oauth4webapi";
import type { Clock } from "../../platform/clock";
import { secretEquals } from "../../platform/http/internal";
import { HttpProblem, problems } from "../../platform/http/problem";
import type { Logger } from "../../platform/logger";
import { accountsErrors as E } from "./errors";
import type { TokenPair } from "./model";
import { type OidcClaims, OidcAccounts } from "./oidc.accounts";
import type { OidcConfig, OidcProviderConfig } from "./oidc.config";
import { oidcErrors as O } from "./oidc.errors";
import type { OidcStore } from "./oidc.store";
import type { AccountsService, ClientInfo } from "./service";
import type { AccountsStore } from "./store";

const flowTtlMs = 10 * 60 * 1000;
const loginCodeTtlMs = 2 * 60 * 1000;
/** Discovery documents are re-read after this long (keys rotate through the JWKS, cached apart). */
const metadataTtlMs = 60 * 60 * 1000;
const requestTimeoutMs = 5000;

export const oidcFlowTtlSec = flowTtlMs / 1000;
export const oidcLoginCodeTtlSec = loginCodeTtlMs / 1000;

export interface OidcProviderView {
  name: string;
  label: string;
}

function sha256(text: string): string {
  return new Bun.CryptoHasher("sha256").update(text).digest("base64url");
}

function randomToken(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
}

const unavailable = (provider: string, what: string) =>
  new HttpProblem(502, O.oidcProviderUnavailable, `provider ${provider}: ${what}; nothing was changed, try again later`);

interface ProviderState {
  config: OidcProviderConfig;
  client: oauth.Client;
  auth: oauth.ClientAuth;
  insecure: boolean;
  metadata?: { as: oauth.AuthorizationServer; readAt: number };
  jwks?: { uri: string; keys: ReturnType<typeof createRemoteJWKSet> };
}

export class OidcSignIn {
  private readonly providers = new Map<string, ProviderState>();
  private readonly linking: OidcAccounts;

  constructor(
    private readonly config: OidcConfig,
    private readonly store: OidcStore,
    private readonly accountsStore: AccountsStore,
    private readonly accounts: AccountsService,
    private readonly clock: Clock,
    logger: Logger,
  ) {
    this.linking = new OidcAccounts(store, accountsStore, accounts, clock, logger);
    for (const p of config.providers) {
      this.providers.set(p.name, {
        config: p,
        client: { client_id: p.clientId },
        auth: oauth.ClientSecretBasic(p.clientSecret),
        insecure: new URL(p.issuer).protocol === "http:",
      });
    }
  }

  list(): OidcProviderView[] {
    return this.config.providers.map((p) => ({ name: p.name, label: p.label }));
  }

  /** The public URL's path ("" at the root): the cookies' paths start with it. */
  get basePath(): string {
    return new URL(this.config.publicUrl).pathname.replace(/\/+$/, "");
  }

  get secureCookies(): boolean {
    return this.config.publicUrl.startsWith("https:");
  }

  private provider(name: string): ProviderState {
    const p = this.providers.get(name);
    if (!p)
      throw problems.notFound(O.oidcProviderUnknown, `no OpenID provider "${name}" is configured (GET /auth/oidc/providers lists them)`);
    return p;
  }

  /** The options of every request to the provider: a timeout, http only for loopback issuers. */
  private http(p: ProviderState) {
    return { signal: AbortSignal.timeout(requestTimeoutMs), [oauth.allowInsecureRequests]: p.insecure };
  }

  /** oauth4webapi's "now" is the injected clock's. */
  private client(p: ProviderState): oauth.Client {
    return { ...p.client, [oauth.clockSkew]: Math.round((this.clock.now() - Date.now()) / 1000) };
  }

  private async metadata(p: ProviderState): Promise<oauth.AuthorizationServer> {
    const now = this.clock.now();
    if (p.metadata && now - p.metadata.readAt < metadataTtlMs) return p.metadata.as;
    const issuer = new URL(p.config.issuer);
    let response: Response;
    try {
      response = await oauth.discoveryRequest(issuer, this.http(p));
    } catch (err) {
      throw unavailable(p.config.name, `discovery at ${issuer.origin} failed (${(err as Error).message})`);
    }
    let as: oauth.AuthorizationServer;
    try {
      as = await oauth.processDiscoveryResponse(issuer, response);
    } catch (err) {
      throw unavailable(p.config.name, `its discovery document was refused (${(err as Error).message})`);
    }
    if (!as.authorization_endpoint || !as.token_endpoint || !as.jwks_uri)
      throw unavailable(p.config.name, "its discovery document lacks an endpoint");
    p.metadata = { as, readAt: now };
    return as;
  }

  private keys(p: ProviderState, as: oauth.AuthorizationServer) {
    const uri = as.jwks_uri as string;
    if (p.jwks?.uri !== uri) p.jwks = { uri, keys: createRemoteJWKSet(new URL(uri), { timeoutDuration: requestTimeoutMs }) };
    return p.jwks.keys;
  }

  /** Starts a sign-in: where to send the browser, and the state its cookie must hold. */
  async start(name: string, returnTo: string): Promise<{ location: string; state: string }> {
    const p = this.provider(name);
    // Discovery first: with the provider down nothing is stored.
    const as = await this.metadata(p);
    const state = oauth.generateRandomState();
    const nonce = oauth.generateRandomNonce();
    const codeVerifier = oauth.generateRandomCodeVerifier();
    const now = this.clock.now();
    await this.store.createFlow({
      stateHash: sha256(state),
      provider: name,
      codeVerifier,
      nonce,
      returnTo,
      createdAt: now,
      expiresAt: now + flowTtlMs,
    });
    const url = new URL(as.authorization_endpoint as string);
    url.searchParams.set("client_id", p.config.clientId);
    url.searchParams.set("redirect_uri", p.config.redirectUri);
    url.searchParams.set("response_type", "code");
    url.searchParams.set("scope", p.config.scopes);
    url.searchParams.set("state", state);
    url.searchParams.set("nonce", nonce);
    url.searchParams.set("code_challenge", await oauth.calculatePKCECodeChallenge(codeVerifier));
    url.searchParams.set("code_challenge_method", "S256");
    return { location: url.toString(), state };
  }

  /**
   * The provider sent the browser back: checks the state against the browser's cookie and takes
   * the flow (once), exchanges the code, verifies the ID token, finds or creates the account.
   */
  async callback(
    name: string,
    params: URLSearchParams,
    cookieState: string | null,
    client: ClientInfo,
  ): Promise<{ returnTo: string; loginCode: string }> {
    const p = this.provider(name);
    const state = params.get("state");
    if (!state || !cookieState || !secretEquals(state, cookieState)) {
      throw problems.badRequest(
        O.oidcStateMismatch,
        "this sign-in was not started in this browser (its state does not match the cookie); start again",
      );
    }
    const flow = await this.store.takeFlow(sha256(state), name, this.clock.now());
    if (!flow) throw problems.badRequest(O.oidcStateInvalid, "this sign-in is unknown, expired or already finished; start again");
    const as = await this.metadata(p);
    const oc = this.client(p);
    let callbackParams: URLSearchParams;
    try {
      callbackParams = oauth.validateAuthResponse(as, oc, params, state);
    } catch (err) {
      if (err instanceof oauth.AuthorizationResponseError) {
        throw problems.unauthorized(
          O.oidcSignInDenied,
          `provider ${name} answered ${err.error}${err.error_description ? `: ${err.error_description}` : ""}`,
        );
      }
      throw problems.badRequest(O.oidcCallbackInvalid, `the callback was refused: ${(err as Error).message}`);
    }
    let tokens: oauth.TokenEndpointResponse;
    try {
      const response = await oauth.authorizationCodeGrantRequest(
        as,
        oc,
        p.auth,
        callbackParams,
        p.config.redirectUri,
        flow.codeVerifier,
        this.http(p),
      );
      tokens = await oauth.processAuthorizationCodeResponse(as, oc, response, { expectedNonce: flow.nonce, requireIdToken: true });
    } catch (err) {
      throw this.exchangeProblem(name, err);
    }
    const claims = await this.verifyIdToken(p, as, tokens.id_token as string, flow.nonce);
    if (claims.email === undefined && as.userinfo_endpoint)
      Object.assign(claims, await this.userinfo(p, as, tokens.access_token, claims.sub));
    const userId = await this.linking.account(name, claims, client);
    const loginCode = randomToken();
    const now = this.clock.now();
    await this.store.createLogin({ codeHash: sha256(loginCode), userId, provider: name, createdAt: now, expiresAt: now + loginCodeTtlMs });
    return { returnTo: flow.returnTo, loginCode };
  }

  private exchangeProblem(name: string, err: unknown): HttpProblem {
    if (err instanceof oauth.ResponseBodyError) {
      if (err.status >= 500) return unavailable(name, `its token endpoint answered ${err.status}`);
      return problems.unauthorized(
        O.oidcCodeRejected,
        `provider ${name} refused the code: ${err.error}${err.error_description ? ` (${err.error_description})` : ""}`,
      );
    }
    if (
      err instanceof oauth.OperationProcessingError &&
      (err.code === oauth.JWT_CLAIM_COMPARISON || err.code === oauth.JWT_TIMESTAMP_CHECK || err.code === oauth.INVALID_RESPONSE)
    ) {
      return problems.unauthorized(O.oidcIdTokenInvalid, `the ID token from provider ${name} was refused: ${err.message}`);
    }
    return unavailable(name, `its token endpoint failed (${(err as Error).message})`);
  }

  /** Signature (the provider's JWKS), issuer, audience, expiry and nonce, on the injected clock. */
  private async verifyIdToken(
    p: ProviderState,
    as: oauth.AuthorizationServer,
    idToken: string,
    nonce: string,
  ): Promise<OidcClaims & JWTPayload> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(idToken, this.keys(p, as), {
        issuer: as.issuer,
        audience: p.config.clientId,
        currentDate: new Date(this.clock.now()),
        requiredClaims: ["sub", "exp", "iat"],
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWKSTimeout || err instanceof TypeError)
        throw unavailable(p.config.name, `its keys could not be read (${err.message})`);
      throw problems.unauthorized(
        O.oidcIdTokenInvalid,
        `the ID token from provider ${p.config.name} was refused: ${(err as Error).message}`,
      );
    }
    if (payload.nonce !== nonce)
      throw problems.unauthorized(O.oidcIdTokenInvalid, `the ID token from provider ${p.config.name} carries another nonce`);
    return payload as OidcClaims & JWTPayload;
  }

  /** Providers that keep the ID token small (OpenID Connect Core 5.4) say the email at userinfo. */
  private async userinfo(p: ProviderState, as: oauth.AuthorizationServer, accessToken: string, sub: string): Promise<Partial<OidcClaims>> {
    try {
      const response = await oauth.userInfoRequest(as, this.client(p), accessToken, this.http(p));
      const info = await oauth.processUserInfoResponse(as, this.client(p), sub, response);
      return { email: info.email, email_verified: info.email_verified, name: info.name, preferred_username: info.preferred_username };
    } catch (err) {
      throw unavailable(p.config.name, `its userinfo endpoint failed (${(err as Error).message})`);
    }
  }

  /** The browser's one-time login code → a session and its tokens, as POST /auth/login. */
  async exchange(code: string | null, client: ClientInfo): Promise<TokenPair> {
    const userId = code ? await this.store.takeLogin(sha256(code), this.clock.now()) : null;
    if (!userId)
      throw problems.unauthorized(
        O.oidcLoginCodeInvalid,
        "no sign-in is waiting for this browser (the one-time code is missing, expired or used); sign in again",
      );
    const user = await this.accountsStore.user(userId);
    if (!user) throw problems.notFound(E.userNotFound, "the account no longer exists");
    return this.accounts.openSession(user, client);
  }
}
