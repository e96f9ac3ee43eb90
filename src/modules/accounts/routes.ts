// Accounts controller (routes only) and the auth macro every module uses:
//   .use(authPlugin(accounts)).get("/x", ({ principal }) => …, { auth: true })
//   { admin: true } additionally requires the admin role.
import { Elysia, t } from "elysia";
import type { ClientIpResolver } from "../../platform/http/client-ip";
import { platformErrors as P } from "../../platform/http/errors";
import { problems, problemResponses } from "../../platform/http/problem";
import { accountsErrors as E, adminFailures, authFailures } from "./errors";
import {
  ChangePasswordBody,
  DeleteMeBody,
  LoginBody,
  RefreshBody,
  Revoked,
  RoleBody,
  SessionIdParams,
  SessionList,
  SignupBody,
  TokenPair,
  UpdateMeBody,
  User,
  UserIdParams,
  UserListQuery,
  UserPage,
} from "./model";
import type { AccountsService, ClientInfo, Principal } from "./service";

const bearerPrefix = /^Bearer\s+(.+)$/i;
const tags = ["accounts"];
const bearerSecurity = [{ bearerAuth: [] }];

// What the platform answers before a handler runs: to any request (a chunked or oversized body),
// and to any request but a GET (a body it cannot parse, even on a route that declares none).
const requestFailures = { 411: [P.lengthRequired], 413: [P.bodyTooLarge] } as const;
const bodyFailures = { ...requestFailures, 400: [P.malformedBody, P.bodyTooDeep] } as const;
const validation = [P.validationFailed] as const;

/** The token of an `Authorization: Bearer <token>` header (the scheme in any case); else 401. */
function bearerToken(authorization: string | null): string {
  // The common spelling without the expression; anything else through it.
  if (authorization === null) throw problems.unauthorized(E.missingToken, "send Authorization: Bearer <access token>");
  const token =
    authorization.startsWith("Bearer ") && authorization.charCodeAt(7) > 32 ? authorization.slice(7).trim() : bearerPrefix.exec(authorization)?.[1]?.trim();
  if (!token) throw problems.unauthorized(E.missingToken, "send Authorization: Bearer <access token>");
  return token;
}

/** Where the transform stage leaves the principal for resolve: on Elysia's per-request context. */
const principalKey = Symbol("homebase.principal");
type Carrier = { [principalKey]?: Principal };

export function authPlugin(accounts: AccountsService) {
  // request, not the headers object: Elysia infers `headers` from its hooks' source text (see
  // scripts/build.ts). A known token on a store that reads at once is checked with no promise.
  const principalOf = (request: Request): Principal | Promise<Principal> => {
    const token = bearerToken(request.headers.get("authorization"));
    return accounts.authenticateNow(token) ?? accounts.authenticate(token);
  };
  // Authentication runs in the transform stage, before body/query validation: an anonymous
  // caller learns nothing about a route's schema (401, not 422). resolve then hands it over.
  return new Elysia({ name: "homebase.auth" }).macro({
    auth: {
      detail: { security: bearerSecurity },
      async transform(ctx) {
        const principal = principalOf(ctx.request);
        (ctx as Carrier)[principalKey] = principal instanceof Promise ? await principal : principal;
      },
      resolve(ctx) {
        return { principal: (ctx as Carrier)[principalKey]! };
      },
    },
    admin: {
      detail: { security: bearerSecurity },
      async transform(ctx) {
        const checked = principalOf(ctx.request);
        const principal = checked instanceof Promise ? await checked : checked;
        if (principal.role !== "admin") throw problems.forbidden(E.adminOnly, "this operation needs the admin role");
        (ctx as Carrier)[principalKey] = principal;
      },
      resolve(ctx) {
        return { principal: (ctx as Carrier)[principalKey]! };
      },
    },
  });
}

export function accountsController(accounts: AccountsService, clientIp: ClientIpResolver) {
  // Behind a trusted proxy the login and signup limits count the forwarded client, not the proxy.
  const clientInfo = (request: Request): ClientInfo => ({
    ip: clientIp(request),
    userAgent: request.headers.get("user-agent"),
  });

  return new Elysia({ name: "homebase.accounts" })
    .use(authPlugin(accounts))
    .post("/auth/signup", async ({ body, request, status }) => status(201, await accounts.signup(body, clientInfo(request))), {
      body: SignupBody,
      response: {
        201: User,
        ...problemResponses({
          ...bodyFailures,
          409: [E.emailTaken, E.nicknameTaken, E.phoneTaken],
          422: [P.validationFailed, E.nicknameReserved],
          429: [E.signupRateLimited],
        }),
      },
      detail: {
        tags,
        summary: "Create an account",
        description: "Emits homebase.accounts.user.registered. Attempts are limited per client IP (429 with Retry-After).",
      },
    })
    .post("/auth/login", ({ body, request }) => accounts.login(body, clientInfo(request)), {
      body: LoginBody,
      response: {
        200: TokenPair,
        ...problemResponses({ ...bodyFailures, 401: [E.invalidCredentials], 422: validation, 429: [E.loginRateLimited] }),
      },
      detail: {
        tags,
        summary: "Log in",
        description:
          "Returns a short-lived access JWT and a single-use refresh token. Failed attempts are limited per (account, client IP), per client IP, and per account for addresses without a live session of it (429 with Retry-After).",
      },
    })
    .post("/auth/refresh", ({ body }) => accounts.refresh(body.refreshToken), {
      body: RefreshBody,
      response: {
        200: TokenPair,
        ...problemResponses({ ...bodyFailures, 401: [E.invalidRefreshToken, E.refreshTokenReused], 422: validation }),
      },
      detail: {
        tags,
        summary: "Rotate a refresh token",
        description: "Presenting an already-rotated refresh token revokes its whole session (reuse detection).",
      },
    })
    .post(
      "/auth/logout",
      async ({ principal, status }) => {
        await accounts.logout(principal);
        return status(204, undefined);
      },
      {
        auth: true,
        response: { 204: t.Void(), ...problemResponses({ ...bodyFailures, 401: authFailures }) },
        detail: { tags, summary: "Revoke the current session" },
      },
    )
    .post("/auth/logout-all", async ({ principal }) => ({ revoked: await accounts.logoutAll(principal) }), {
      auth: true,
      response: { 200: Revoked, ...problemResponses({ ...bodyFailures, 401: authFailures }) },
      detail: { tags, summary: "Revoke every session of the caller, this one included" },
    })
    .get("/me", ({ principal }) => accounts.me(principal, { reuseAuthCheck: true }), {
      auth: true,
      response: { 200: User, ...problemResponses({ ...requestFailures, 401: authFailures, 404: [E.userNotFound] }) },
      detail: { tags, summary: "The caller's profile" },
    })
    .patch("/me", ({ principal, body }) => accounts.updateMe(principal, body), {
      auth: true,
      body: UpdateMeBody,
      response: {
        200: User,
        ...problemResponses({
          ...bodyFailures,
          401: authFailures,
          404: [E.userNotFound],
          409: [E.nicknameTaken, E.phoneTaken],
          422: [P.validationFailed, E.nicknameReserved],
        }),
      },
      detail: {
        tags,
        summary: "Update the caller's profile",
        description:
          "Nickname and/or phone (null removes it), in one transaction. A changed nickname emits homebase.accounts.user.updated, so the other modules' copies (leaderboards, chat participants) follow.",
      },
    })
    .get("/me/sessions", ({ principal }) => accounts.sessions(principal), {
      auth: true,
      response: { 200: SessionList, ...problemResponses({ ...requestFailures, 401: authFailures }) },
      detail: {
        tags,
        summary: "The caller's live sessions",
        description: "Each login is a session: device (user agent), IP, created, last used (login or refresh), and which one is asking. Most recently used first, at most 100.",
      },
    })
    .delete(
      "/me/sessions/:id",
      async ({ principal, params, status }) => {
        await accounts.revokeSession(principal, params.id);
        return status(204, undefined);
      },
      {
        auth: true,
        params: SessionIdParams,
        response: { 204: t.Void(), ...problemResponses({ ...bodyFailures, 401: authFailures, 404: [E.sessionNotFound], 422: validation }) },
        detail: {
          tags,
          summary: "Revoke one of the caller's sessions",
          description:
            "Its refresh token stops working and its access tokens are refused at once; emits homebase.accounts.session.revoked (reason session_revoked), which closes the session's chat sockets. 404 for an id that is not a live session of the caller.",
        },
      },
    )
    .post("/me/password", async ({ principal, body }) => ({ revoked: await accounts.changePassword(principal, body) }), {
      auth: true,
      body: ChangePasswordBody,
      response: {
        200: Revoked,
        ...problemResponses({
          ...bodyFailures,
          401: authFailures,
          403: [E.wrongPassword, E.recentSignInRequired],
          404: [E.userNotFound],
          422: [P.validationFailed, E.passwordUnchanged],
          429: [E.passwordRateLimited],
        }),
      },
      detail: {
        tags,
        summary: "Change password",
        description:
          "Needs the current password (an account an OpenID sign-in created, hasPassword false, needs a sign-in of the last 10 minutes instead: else 403 recent_sign_in_required); wrong ones are limited per account, with DELETE /me (429 with Retry-After). Every other session of the caller is revoked.",
      },
    })
    .delete(
      "/me",
      async ({ principal, body, status }) => {
        await accounts.deleteMe(principal, body.password);
        return status(204, undefined);
      },
      {
        auth: true,
        body: DeleteMeBody,
        response: {
          204: t.Void(),
          ...problemResponses({
            ...bodyFailures,
            401: authFailures,
            403: [E.wrongPassword, E.recentSignInRequired],
            404: [E.userNotFound],
            422: validation,
            429: [E.passwordRateLimited],
          }),
        },
        detail: {
          tags,
          summary: "Delete the caller's account",
          description:
            "Needs the password (an account without one, hasPassword false, needs a sign-in of the last 10 minutes instead: else 403 recent_sign_in_required); wrong ones are limited per account, with POST /me/password (429 with Retry-After). Soft delete: sessions are revoked, email and nickname become free. Emits homebase.accounts.user.deleted.",
        },
      },
    )
    .get("/users", ({ query }) => accounts.listUsers(query.limit ?? 20, query.cursor), {
      admin: true,
      query: UserListQuery,
      response: {
        200: UserPage,
        ...problemResponses({ ...requestFailures, 400: [P.invalidCursor], 401: authFailures, 403: adminFailures, 422: validation }),
      },
      detail: { tags, summary: "List users (admin)", description: "Oldest first; pass nextCursor to get the next page." },
    })
    .patch("/users/:id/role", ({ principal, params, body }) => accounts.setRole(principal, params.id, body.role), {
      admin: true,
      params: UserIdParams,
      body: RoleBody,
      response: {
        200: User,
        ...problemResponses({
          ...bodyFailures,
          401: authFailures,
          403: adminFailures,
          404: [E.userNotFound],
          409: [E.cannotDemoteSelf],
          422: validation,
        }),
      },
      detail: { tags, summary: "Grant or revoke the admin role (admin)" },
    });
}
