// Account use cases: signup, login with rotating refresh tokens, profile, password, roles.
// No Elysia types here; errors are HttpProblems the HTTP layer renders as problem+json.
// "Now" comes from the injected clock, token expiry included (jose is handed the same time).
import type { Clock } from "../../platform/clock";
import { decodeCursor, encodeCursor } from "../../platform/http/paging";
import { platformErrors as P } from "../../platform/http/errors";
import { problems } from "../../platform/http/problem";
import type { Logger } from "../../platform/logger";
import type { RateLimiter } from "../../platform/ratelimit/port";
import { checkDisplayName, textKey } from "../../platform/text";
import { accountsErrors as E } from "./errors";
import { type AttemptSettings, AttemptLimits } from "./limits";
import { nicknameChars, type Role, type Session, type TokenPair, type User } from "./model";
import type { AccountsStore, ProfilePatch, SessionAuthState, TakenField, UserRecord } from "./store";
import { AccessTokens } from "./tokens";

export interface AccountsSettings extends AttemptSettings {
  jwtSecret: string;
  accessTokenTtlSec: number;
  refreshTokenTtlSec: number;
}

/** What the auth macro puts on the request context. */
export interface Principal {
  userId: string;
  sessionId: string;
  role: Role;
  /** The store's read mark right after this request's auth check (GET /me reuses its look). */
  authCheckMark?: number;
}

export interface ClientInfo {
  ip: string | null;
  userAgent: string | null;
}

const reservedNicknames = new Set(["admin", "root", "system"]);
// Argon2id at OWASP's minimum (19 MiB, t=2): login cost dominates auth throughput, so we
// stay at the recommended floor rather than Bun's heavier default.
const argon2 = { algorithm: "argon2id", memoryCost: 19_456, timeCost: 2 } as const;

const iso = (ms: number) => new Date(ms).toISOString();
/** How fresh a sign-in stands in for the password an OpenID sign-in's account does not have. */
const recentSignInMs = 10 * 60_000;

export function toUser(user: UserRecord): User {
  return {
    id: user.id,
    email: user.email,
    nickname: user.nickname,
    phone: user.phone ?? null,
    hasPassword: user.passwordSet,
    role: user.role,
    createdAt: iso(user.createdAt),
    updatedAt: iso(user.updatedAt),
  };
}

function sha256(text: string): string {
  return new Bun.CryptoHasher("sha256").update(text).digest("base64url");
}

function randomToken(): string {
  const bytes = new Uint8Array(32);
  crypto.getRandomValues(bytes);
  return Buffer.from(bytes).toString("base64url");
}

const userGone = () => problems.notFound(E.userNotFound, "the account no longer exists");

function takenProblem(field: TakenField) {
  if (field === "email") return problems.conflict(E.emailTaken, "an account with this email already exists");
  if (field === "phone") return problems.conflict(E.phoneTaken, "another account has this phone number");
  return problems.conflict(E.nicknameTaken, "this nickname is taken (nicknames compare case-insensitively, after NFC)");
}

/** The most sessions GET /me/sessions lists (the most recently used); `total` counts them all. */
export const sessionListCap = 100;

/**
 * The nickname as stored (trimmed, NFC) and its key (textKey: what uniqueness compares);
 * invalid characters or lengths, and reserved names, are refused.
 */
function checkedNickname(raw: string): { nickname: string; key: string } {
  const checked = checkDisplayName(raw, nicknameChars);
  if (!checked.ok) {
    throw problems.unprocessable(P.validationFailed, `the nickname ${checked.reason}`, [{ field: "/nickname", message: checked.reason }]);
  }
  const nickname = checked.name;
  const key = textKey(nickname);
  if (reservedNicknames.has(key)) {
    throw problems.unprocessable(E.nicknameReserved, `the nickname "${nickname}" is reserved`, [
      { field: "/nickname", message: "reserved" },
    ]);
  }
  return { nickname, key };
}

/** 01X-XXXX-XXXX from either accepted spelling (the schema has checked the digits). */
export function normalizePhone(raw: string): string {
  const digits = raw.replaceAll("-", "");
  return `${digits.slice(0, 3)}-${digits.slice(3, 7)}-${digits.slice(7)}`;
}

export class AccountsService {
  private readonly tokens: AccessTokens;
  private readonly limits: AttemptLimits;
  /** Verified against when the email is unknown, so timing doesn't reveal which emails exist. */
  private readonly dummyHash: Promise<string>;
  /** GET /me's body per cached account record (store.sqlite.cache.ts): its two dates formatted once. */
  private readonly rendered = new WeakMap<UserRecord, User>();

  constructor(
    private readonly store: AccountsStore,
    limiter: RateLimiter,
    private readonly clock: Clock,
    private readonly settings: AccountsSettings,
    private readonly logger: Logger,
  ) {
    this.tokens = new AccessTokens(settings.jwtSecret, settings.accessTokenTtlSec);
    this.limits = new AttemptLimits(limiter, settings);
    this.dummyHash = Bun.password.hash(randomToken(), argon2);
  }

  /** `passwordKnown: false`: an OpenID sign-in's account, whose random password nobody knows. */
  async signup(
    body: { email: string; password: string; nickname: string; phone?: string },
    client: ClientInfo,
    { passwordKnown = true }: { passwordKnown?: boolean } = {},
  ): Promise<User> {
    await this.limits.signup(client.ip);
    const email = body.email.trim().toLowerCase();
    const { nickname, key } = checkedNickname(body.nickname);
    const phone = body.phone === undefined ? null : normalizePhone(body.phone);
    // A cheap pre-check before paying for Argon2; the store checks again in its transaction.
    const taken = await this.store.taken(email, key, undefined, phone);
    if (taken) throw takenProblem(taken);
    const passwordHash = await Bun.password.hash(body.password, argon2);
    const now = this.clock.now();
    const user: UserRecord = {
      id: Bun.randomUUIDv7(),
      email,
      nickname,
      nicknameKey: key,
      phone,
      passwordHash,
      passwordSet: passwordKnown,
      role: "user",
      createdAt: now,
      updatedAt: now,
      passwordChangedAt: now,
      deletedAt: null,
    };
    const created = await this.store.createUser(user, { userId: user.id, email, nickname, registeredAt: iso(now) });
    if (created.kind === "taken") throw takenProblem(created.field);
    this.logger.info("user registered", { userId: user.id });
    return toUser(user);
  }

  async login(body: { email: string; password: string }, client: ClientInfo): Promise<TokenPair> {
    const email = body.email.trim().toLowerCase();
    const user = await this.store.userByEmail(email);
    // The owner's own devices hold live sessions from their address (limits.ts).
    const ownAddress = user !== null && client.ip !== null && (await this.store.hasLiveSessionFrom(user.id, client.ip, this.clock.now()));
    // Taken before the hash is verified: attempts past the limit never reach Argon2.
    const attempt = await this.limits.login(email, client.ip, ownAddress);
    const ok = await Bun.password.verify(body.password, user?.passwordHash ?? (await this.dummyHash));
    if (!user || !ok) throw problems.unauthorized(E.invalidCredentials, "email or password is wrong");
    await attempt.succeeded();
    return this.openSession(user, client);
  }

  /** A new session of the account and its tokens: login's, and OIDC sign-in's (oidc.ts). */
  async openSession(user: UserRecord, client: ClientInfo): Promise<TokenPair> {
    const now = this.clock.now();
    const sessionId = Bun.randomUUIDv7();
    const refreshToken = `${sessionId}.${randomToken()}`;
    await this.store.openSession(
      {
        id: sessionId,
        userId: user.id,
        createdAt: now,
        expiresAt: now + this.settings.refreshTokenTtlSec * 1000,
        userAgent: client.userAgent?.slice(0, 256) ?? null,
        ip: client.ip,
      },
      sha256(refreshToken),
    );
    return this.tokenPair(user.id, user.role, sessionId, refreshToken);
  }

  private async tokenPair(userId: string, role: Role, sessionId: string, refreshToken: string): Promise<TokenPair> {
    const accessToken = await this.tokens.sign(userId, role, sessionId, this.clock.now());
    return {
      tokenType: "Bearer",
      accessToken,
      expiresIn: this.settings.accessTokenTtlSec,
      refreshToken,
      refreshExpiresIn: this.settings.refreshTokenTtlSec,
      sessionId,
    };
  }

  /**
   * Rotates a refresh token. A token that was already rotated and is presented again means
   * it leaked (or a client raced itself): the whole session family is revoked.
   */
  async refresh(refreshToken: string): Promise<TokenPair> {
    const now = this.clock.now();
    const next = `${refreshToken.split(".")[0]}.${randomToken()}`;
    const outcome = await this.store.rotateRefreshToken({
      presentedHash: sha256(refreshToken),
      nextHash: sha256(next),
      at: now,
      expiresAt: now + this.settings.refreshTokenTtlSec * 1000,
    });
    if (outcome.kind === "invalid") {
      throw problems.unauthorized(E.invalidRefreshToken, "the refresh token is unknown, expired or revoked");
    }
    if (outcome.kind === "reused") {
      this.logger.warn("refresh token reuse: session revoked", { sessionId: outcome.sessionId, userId: outcome.userId });
      throw problems.unauthorized(E.refreshTokenReused, "this refresh token was already used; the session is revoked");
    }
    return this.tokenPair(outcome.user.id, outcome.user.role, outcome.sessionId, next);
  }

  /** Verifies an access token and that its session is still live. */
  async authenticate(token: string): Promise<Principal> {
    const now = this.clock.now();
    // A token seen before is checked without a pause: one await (the session's state) in all.
    const { sub, sid } = this.tokens.known(token, now) ?? (await this.tokens.verify(token, now));
    return this.principal(sub, sid, await this.store.sessionAuthState(sid, sub, now), now);
  }

  /** authenticate with no promise (a known token, a store that reads at once), same refusals; else undefined. */
  authenticateNow(token: string): Principal | undefined {
    const now = this.clock.now();
    const claims = this.store.sessionAuthStateNow && this.tokens.known(token, now);
    if (!claims) return undefined;
    return this.principal(claims.sub, claims.sid, this.store.sessionAuthStateNow!(claims.sid, claims.sub, now), now);
  }

  private principal(userId: string, sessionId: string, state: SessionAuthState | null, now: number): Principal {
    if (!state || state.revokedAt !== null || state.userDeletedAt !== null || state.expiresAt <= now) {
      throw problems.unauthorized(E.sessionRevoked, "the session has ended; log in again");
    }
    // The role comes from the store, not the token, so a demotion takes effect at once.
    return { userId, sessionId, role: state.role, authCheckMark: this.store.readMark() };
  }

  async logout(principal: Principal): Promise<void> {
    await this.store.revokeSession(principal.sessionId, "logout", this.clock.now());
  }

  logoutAll(principal: Principal): Promise<number> {
    return this.store.revokeUserSessions(principal.userId, "logout_all", this.clock.now());
  }

  /** reuseAuthCheck: from a request that wrote nothing since its auth check (GET /me). No promise where the store reads at once. */
  me(principal: Principal, { reuseAuthCheck = false } = {}): User | Promise<User> {
    const mark = reuseAuthCheck ? principal.authCheckMark : undefined;
    if (this.store.userNow !== undefined) return this.wireUser(this.store.userNow(principal.userId, mark));
    return this.store.user(principal.userId, mark).then((user) => this.wireUser(user));
  }

  private wireUser(user: UserRecord | null): User {
    if (!user) throw userGone();
    // A record the store serves from memory (frozen, one object while it holds) is rendered once.
    if (!Object.isFrozen(user)) return toUser(user);
    let wire = this.rendered.get(user);
    if (wire === undefined) this.rendered.set(user, (wire = Object.freeze(toUser(user))));
    return wire;
  }

  /** Nickname and phone in one transaction; a changed nickname emits user.updated. */
  async updateMe(principal: Principal, body: { nickname?: string; phone?: string | null }): Promise<User> {
    const patch: ProfilePatch = {};
    if (body.nickname !== undefined) patch.nickname = checkedNickname(body.nickname);
    if (body.phone !== undefined) patch.phone = body.phone === null ? null : normalizePhone(body.phone);
    const updated = await this.store.updateProfile(principal.userId, patch, this.clock.now());
    if (updated === "nickname_taken") throw takenProblem("nickname");
    if (updated === "phone_taken") throw takenProblem("phone");
    if (updated === "user_not_found") throw userGone();
    return this.me(principal);
  }

  /** The caller's live sessions, most recently used first (at most sessionListCap). */
  async sessions(principal: Principal): Promise<{ items: Session[]; total: number }> {
    const { sessions, total } = await this.store.liveSessions(principal.userId, this.clock.now(), sessionListCap);
    return {
      items: sessions.map((s) => ({
        id: s.id,
        userAgent: s.userAgent,
        ip: s.ip,
        createdAt: iso(s.createdAt),
        lastUsedAt: iso(s.lastUsedAt),
        expiresAt: iso(s.expiresAt),
        current: s.id === principal.sessionId,
      })),
      total,
    };
  }

  /** Revokes one of the caller's live sessions (the current one too); 404 for any other id. */
  async revokeSession(principal: Principal, sessionId: string): Promise<void> {
    if (!(await this.store.revokeOwnSession(principal.userId, sessionId, this.clock.now()))) {
      throw problems.notFound(E.sessionNotFound, "you have no live session with this id");
    }
  }

  async changePassword(principal: Principal, body: { currentPassword?: string; newPassword: string }): Promise<number> {
    const user = await this.store.user(principal.userId);
    if (!user) throw userGone();
    if (!user.passwordSet) {
      // Nobody knows the password of an OpenID sign-in's account: a fresh sign-in stands for it.
      await this.requireRecentSignIn(principal, "set a password");
    } else {
      if (body.currentPassword === undefined) {
        throw problems.unprocessable(P.validationFailed, "/currentPassword is required", [{ field: "/currentPassword", message: "is required" }]);
      }
      const attempt = await this.limits.passwordCheck(user.id);
      if (!(await Bun.password.verify(body.currentPassword, user.passwordHash))) {
        throw problems.forbidden(E.wrongPassword, "the current password is wrong");
      }
      await attempt.succeeded();
    }
    if (body.currentPassword === body.newPassword) {
      throw problems.unprocessable(E.passwordUnchanged, "the new password must differ from the current one", [
        { field: "/newPassword", message: "same as the current password" },
      ]);
    }
    const hash = await Bun.password.hash(body.newPassword, argon2);
    const revoked = await this.store.changePassword(principal.userId, hash, this.clock.now(), principal.sessionId);
    if (revoked === null) throw userGone();
    return revoked;
  }

  async deleteMe(principal: Principal, password: string | undefined): Promise<void> {
    const user = await this.store.user(principal.userId);
    if (!user) throw userGone();
    if (!user.passwordSet) {
      await this.requireRecentSignIn(principal, "delete the account");
    } else {
      if (password === undefined) {
        throw problems.unprocessable(P.validationFailed, "/password is required", [{ field: "/password", message: "is required" }]);
      }
      const attempt = await this.limits.passwordCheck(user.id);
      if (!(await Bun.password.verify(password, user.passwordHash))) {
        throw problems.forbidden(E.wrongPassword, "the password is wrong");
      }
      await attempt.succeeded();
    }
    const now = this.clock.now();
    await this.store.deleteUser(principal.userId, now, { userId: principal.userId, deletedAt: iso(now) });
    this.logger.info("user deleted", { userId: principal.userId });
  }

  /** For an account without a known password: the caller's session was opened moments ago. */
  private async requireRecentSignIn(principal: Principal, what: string): Promise<void> {
    const openedAt = await this.store.sessionOpenedAt(principal.sessionId);
    if (openedAt !== null && this.clock.now() - openedAt <= recentSignInMs) return;
    throw problems.forbidden(
      E.recentSignInRequired,
      `this account has no password: sign in again with your provider, then ${what} within ${recentSignInMs / 60_000} minutes`,
    );
  }

  /** Oldest first, keyed by (createdAt, id): a page boundary neither repeats nor skips an account. */
  async listUsers(limit: number, cursor: string | undefined): Promise<{ items: User[]; nextCursor: string | null }> {
    let after: { createdAt: number; id: string } | null = null;
    if (cursor !== undefined) {
      const [createdAt, id] = decodeCursor(cursor, ["number", "string"]);
      after = { createdAt, id };
    }
    const rows = await this.store.listUsers(after, limit + 1);
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { items: page.map(toUser), nextCursor: rows.length > limit && last ? encodeCursor([last.createdAt, last.id]) : null };
  }

  async setRole(actor: Principal, userId: string, role: Role): Promise<User> {
    if (actor.userId === userId && role !== "admin") {
      throw problems.conflict(E.cannotDemoteSelf, "an admin cannot remove their own admin role");
    }
    const user = await this.store.setRole(userId, role, this.clock.now());
    if (!user) throw problems.notFound(E.userNotFound, "no such user");
    return toUser(user);
  }

  /** For the CLI (`homebase promote <email>`): grant the admin role to an existing account. */
  async promoteByEmail(email: string): Promise<User> {
    const found = await this.store.userByEmail(email.trim().toLowerCase());
    const user = found && (await this.store.setRole(found.id, "admin", this.clock.now()));
    if (!user) throw problems.notFound(E.userNotFound, `no account with email ${email}`);
    return toUser(user);
  }
}
