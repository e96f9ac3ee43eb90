// Account use cases: signup, login with rotating refresh tokens, profile, password, roles.
// No Elysia types here; errors are HttpProblems the HTTP layer renders as problem+json.
// "Now" comes from the injected clock, token expiry included (jose is handed the same time).
import { SignJWT, jwtVerify, errors as joseErrors } from "jose";
import { LRUCache } from "lru-cache";
import type { Clock } from "../../platform/clock";
import { decodeCursor, encodeCursor } from "../../platform/http/paging";
import { problems } from "../../platform/http/problem";
import type { Logger } from "../../platform/logger";
import type { RateLimiter } from "../../platform/ratelimit/port";
import { accountsErrors as E } from "./errors";
import { type AttemptSettings, AttemptLimits } from "./limits";
import type { Role, TokenPair, User } from "./model";
import type { AccountsStore, TakenField, UserRecord } from "./store";

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
}

export interface ClientInfo {
  ip: string | null;
  userAgent: string | null;
}

const reservedNicknames = new Set(["admin", "root", "system"]);
const issuer = "homebase";
// Argon2id at OWASP's minimum (19 MiB, t=2): login cost dominates auth throughput, so we
// stay at the recommended floor rather than Bun's heavier default.
const argon2 = { algorithm: "argon2id", memoryCost: 19_456, timeCost: 2 } as const;

const iso = (ms: number) => new Date(ms).toISOString();

export function toUser(user: UserRecord): User {
  return {
    id: user.id,
    email: user.email,
    nickname: user.nickname,
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
  return field === "email"
    ? problems.conflict(E.emailTaken, "an account with this email already exists")
    : problems.conflict(E.nicknameTaken, "this nickname is taken");
}

/** The nickname as stored and its case-insensitive key; reserved names are refused. */
function checkedNickname(raw: string): { nickname: string; key: string } {
  const nickname = raw.trim();
  const key = nickname.toLowerCase();
  if (reservedNicknames.has(key)) {
    throw problems.unprocessable(E.nicknameReserved, `the nickname "${nickname}" is reserved`, [
      { field: "/nickname", message: "reserved" },
    ]);
  }
  return { nickname, key };
}

export class AccountsService {
  private readonly key: Uint8Array;
  private readonly limits: AttemptLimits;
  /** Verified against when the email is unknown, so timing doesn't reveal which emails exist. */
  private readonly dummyHash: Promise<string>;
  /**
   * Access tokens whose signature already checked out, keyed by the whole token: a client
   * reuses its token for many requests, and verifying with jose costs ~65 µs each time.
   * Revocation is still checked against the session on every request.
   */
  private readonly verified = new LRUCache<string, { sub: string; sid: string; expMs: number }>({ max: 20_000 });

  constructor(
    private readonly store: AccountsStore,
    limiter: RateLimiter,
    private readonly clock: Clock,
    private readonly settings: AccountsSettings,
    private readonly logger: Logger,
  ) {
    this.key = new TextEncoder().encode(settings.jwtSecret);
    this.limits = new AttemptLimits(limiter, settings);
    this.dummyHash = Bun.password.hash(randomToken(), argon2);
  }

  async signup(body: { email: string; password: string; nickname: string }, client: ClientInfo): Promise<User> {
    await this.limits.signup(client.ip);
    const email = body.email.trim().toLowerCase();
    const { nickname, key } = checkedNickname(body.nickname);
    // A cheap pre-check before paying for Argon2; the store checks again in its transaction.
    const taken = await this.store.taken(email, key);
    if (taken) throw takenProblem(taken);
    const passwordHash = await Bun.password.hash(body.password, argon2);
    const now = this.clock.now();
    const user: UserRecord = {
      id: Bun.randomUUIDv7(),
      email,
      nickname,
      nicknameKey: key,
      passwordHash,
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

  private async openSession(user: UserRecord, client: ClientInfo): Promise<TokenPair> {
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
    const issuedAt = Math.floor(this.clock.now() / 1000);
    const accessToken = await new SignJWT({ sid: sessionId, role })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(userId)
      .setIssuer(issuer)
      .setIssuedAt(issuedAt)
      .setJti(Bun.randomUUIDv7())
      .setExpirationTime(issuedAt + this.settings.accessTokenTtlSec)
      .sign(this.key);
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
    const { sub, sid } = await this.verifyAccessToken(token);
    const state = await this.store.sessionAuthState(sid, sub);
    if (!state || state.revokedAt !== null || state.userDeletedAt !== null || state.expiresAt <= this.clock.now()) {
      throw problems.unauthorized(E.sessionRevoked, "the session has ended; log in again");
    }
    // The role comes from the store, not the token, so a demotion takes effect at once.
    return { userId: sub, sessionId: sid, role: state.role };
  }

  private async verifyAccessToken(token: string): Promise<{ sub: string; sid: string }> {
    const now = this.clock.now();
    const known = this.verified.get(token);
    if (known) {
      if (known.expMs > now) return known;
      this.verified.delete(token);
      throw problems.unauthorized(E.tokenExpired, "the access token has expired");
    }
    let sub: unknown;
    let sid: unknown;
    let exp: unknown;
    try {
      const { payload } = await jwtVerify(token, this.key, { issuer, algorithms: ["HS256"], currentDate: new Date(now) });
      ({ sub, sid, exp } = payload);
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw problems.unauthorized(E.tokenExpired, "the access token has expired");
      throw problems.unauthorized(E.invalidToken, "the access token is invalid");
    }
    if (typeof sub !== "string" || typeof sid !== "string" || typeof exp !== "number") {
      throw problems.unauthorized(E.invalidToken, "the access token is invalid");
    }
    const verified = { sub, sid, expMs: exp * 1000 };
    this.verified.set(token, verified);
    return verified;
  }

  async logout(principal: Principal): Promise<void> {
    await this.store.revokeSession(principal.sessionId, "logout", this.clock.now());
  }

  logoutAll(principal: Principal): Promise<number> {
    return this.store.revokeUserSessions(principal.userId, "logout_all", this.clock.now());
  }

  async me(principal: Principal): Promise<User> {
    const user = await this.store.user(principal.userId);
    if (!user) throw userGone();
    return toUser(user);
  }

  async updateMe(principal: Principal, patch: { nickname?: string }): Promise<User> {
    if (patch.nickname !== undefined) {
      const { nickname, key } = checkedNickname(patch.nickname);
      const renamed = await this.store.renameUser(principal.userId, nickname, key, this.clock.now());
      if (renamed === "nickname_taken") throw takenProblem("nickname");
      if (renamed === "user_not_found") throw userGone();
    }
    return this.me(principal);
  }

  async changePassword(principal: Principal, body: { currentPassword: string; newPassword: string }): Promise<number> {
    const user = await this.store.user(principal.userId);
    if (!user) throw userGone();
    const attempt = await this.limits.passwordCheck(user.id);
    if (!(await Bun.password.verify(body.currentPassword, user.passwordHash))) {
      throw problems.forbidden(E.wrongPassword, "the current password is wrong");
    }
    await attempt.succeeded();
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

  async deleteMe(principal: Principal, password: string): Promise<void> {
    const user = await this.store.user(principal.userId);
    if (!user) throw userGone();
    const attempt = await this.limits.passwordCheck(user.id);
    if (!(await Bun.password.verify(password, user.passwordHash))) {
      throw problems.forbidden(E.wrongPassword, "the password is wrong");
    }
    await attempt.succeeded();
    const now = this.clock.now();
    await this.store.deleteUser(principal.userId, now, { userId: principal.userId, deletedAt: iso(now) });
    this.logger.info("user deleted", { userId: principal.userId });
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
