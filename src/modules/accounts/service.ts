// Account use cases: signup, login with rotating refresh tokens, profile, password, roles.
// No Elysia types here; errors are HttpProblems the HTTP layer renders as problem+json.
import { SignJWT, jwtVerify, errors as joseErrors } from "jose";
import { LRUCache } from "lru-cache";
import type { GroupCommitWriter } from "../../platform/db/sqlite";
import { problems } from "../../platform/http/problem";
import type { Logger } from "../../platform/logger";
import type { RateLimiter, RateLimitRule } from "../../platform/ratelimit/port";
import type { Role, TokenPair, User } from "./model";
import type { AccountsRepository, UserRow } from "./repository";
import { accountEvents, type AccountsEventSink } from "./events";

export interface AccountsSettings {
  jwtSecret: string;
  accessTokenTtlSec: number;
  refreshTokenTtlSec: number;
  loginMaxAttempts: number;
  loginWindowSec: number;
  loginBlockSec: number;
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

export function toUser(row: UserRow): User {
  return {
    id: row.id,
    email: row.email,
    nickname: row.nickname,
    role: row.role,
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
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

export class AccountsService {
  private readonly key: Uint8Array;
  private readonly accountRule: RateLimitRule;
  private readonly ipRule: RateLimitRule;
  /** Verified against when the email is unknown, so timing doesn't reveal which emails exist. */
  private readonly dummyHash: Promise<string>;
  /**
   * Access tokens whose signature already checked out, keyed by the whole token: a client
   * reuses its token for many requests, and verifying with jose costs ~65 µs each time.
   * Revocation is still checked against the session on every request.
   */
  private readonly verified = new LRUCache<string, { sub: string; sid: string; expMs: number }>({ max: 20_000 });

  constructor(
    private readonly repo: AccountsRepository,
    private readonly writer: GroupCommitWriter,
    private readonly events: AccountsEventSink,
    private readonly limiter: RateLimiter,
    private readonly settings: AccountsSettings,
    private readonly logger: Logger,
  ) {
    this.key = new TextEncoder().encode(settings.jwtSecret);
    const windowMs = settings.loginWindowSec * 1000;
    const blockMs = settings.loginBlockSec > 0 ? settings.loginBlockSec * 1000 : undefined;
    this.accountRule = { name: "login", limit: settings.loginMaxAttempts, windowMs, blockMs };
    // One address may mistype several accounts' passwords; brute force across accounts may not.
    this.ipRule = { name: "login", limit: settings.loginMaxAttempts * 4, windowMs, blockMs };
    this.dummyHash = Bun.password.hash(randomToken(), argon2);
  }

  async signup(body: { email: string; password: string; nickname: string }): Promise<User> {
    const email = body.email.trim().toLowerCase();
    const nickname = body.nickname.trim();
    const nicknameKey = nickname.toLowerCase();
    if (reservedNicknames.has(nicknameKey)) {
      throw problems.unprocessable("nickname_reserved", `the nickname "${nickname}" is reserved`, [
        { field: "/nickname", message: "reserved" },
      ]);
    }
    // Cheap pre-checks before paying for Argon2; the unique indexes decide under races.
    this.assertAvailable(email, nicknameKey);
    const passwordHash = await Bun.password.hash(body.password, argon2);
    const now = Date.now();
    const row: Omit<UserRow, "deleted_at"> = {
      id: Bun.randomUUIDv7(),
      email,
      nickname,
      nickname_key: nicknameKey,
      password_hash: passwordHash,
      role: "user",
      created_at: now,
      updated_at: now,
      password_changed_at: now,
    };
    await this.writer.write(() => {
      this.assertAvailable(email, nicknameKey);
      this.repo.insertUser(row);
      this.events.emit(accountEvents.userRegistered, {
        userId: row.id,
        email: row.email,
        nickname: row.nickname,
        registeredAt: new Date(now).toISOString(),
      });
    });
    this.logger.info("user registered", { userId: row.id });
    return toUser({ ...row, deleted_at: null });
  }

  private assertAvailable(email: string, nicknameKey: string, exceptUserId = ""): void {
    if (email !== "" && this.repo.emailTaken(email)) {
      throw problems.conflict("email_taken", "an account with this email already exists");
    }
    if (this.repo.nicknameTaken(nicknameKey, exceptUserId)) {
      throw problems.conflict("nickname_taken", "this nickname is taken");
    }
  }

  async login(body: { email: string; password: string }, client: ClientInfo): Promise<TokenPair> {
    const email = body.email.trim().toLowerCase();
    const accountKey = `login:account:${email}`;
    const ipKey = `login:ip:${client.ip ?? "unknown"}`;
    let [byAccount, byIp] = await Promise.all([
      this.limiter.peek(accountKey, this.accountRule),
      this.limiter.peek(ipKey, this.ipRule),
    ]);
    if (!byAccount.allowed || !byIp.allowed) {
      // The attempt past the limit counts, which arms the block period on the limited key.
      const armed = await Promise.all([
        byAccount.allowed ? byAccount : this.limiter.hit(accountKey, this.accountRule),
        byIp.allowed ? byIp : this.limiter.hit(ipKey, this.ipRule),
      ]);
      [byAccount, byIp] = armed;
      const retry = Math.max(byAccount.allowed ? 0 : byAccount.retryAfterMs, byIp.allowed ? 0 : byIp.retryAfterMs);
      throw problems.tooManyRequests("login_rate_limited", retry, "too many failed logins; try again later");
    }
    const user = this.repo.userByEmail(email);
    const ok = await Bun.password.verify(body.password, user?.password_hash ?? (await this.dummyHash));
    if (!user || !ok) {
      await Promise.all([this.limiter.hit(accountKey, this.accountRule), this.limiter.hit(ipKey, this.ipRule)]);
      throw problems.unauthorized("invalid_credentials", "email or password is wrong");
    }
    await this.limiter.reset(accountKey);
    return this.openSession(user, client);
  }

  private async openSession(user: UserRow, client: ClientInfo): Promise<TokenPair> {
    const now = Date.now();
    const sessionId = Bun.randomUUIDv7();
    const refreshToken = `${sessionId}.${randomToken()}`;
    await this.writer.write(() => {
      this.repo.insertSession({
        id: sessionId,
        user_id: user.id,
        created_at: now,
        expires_at: now + this.settings.refreshTokenTtlSec * 1000,
        user_agent: client.userAgent?.slice(0, 256) ?? null,
        ip: client.ip,
      });
      this.repo.insertRefreshToken(sha256(refreshToken), sessionId, now);
    });
    return this.tokenPair(user.id, user.role, sessionId, refreshToken);
  }

  private async tokenPair(userId: string, role: Role, sessionId: string, refreshToken: string): Promise<TokenPair> {
    const accessToken = await new SignJWT({ sid: sessionId, role })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(userId)
      .setIssuer(issuer)
      .setIssuedAt()
      .setJti(Bun.randomUUIDv7())
      .setExpirationTime(`${this.settings.accessTokenTtlSec}s`)
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
    const hash = sha256(refreshToken);
    const now = Date.now();
    const next = `${refreshToken.split(".")[0]}.${randomToken()}`;
    const outcome = await this.writer.write(() => {
      const token = this.repo.refreshTokenByHash(hash);
      if (!token) return { kind: "invalid" as const };
      const session = this.repo.sessionById(token.session_id);
      if (!session || session.revoked_at !== null || session.expires_at <= now) return { kind: "invalid" as const };
      if (token.used_at !== null || !this.repo.markRefreshTokenUsed(hash, now)) {
        this.repo.revokeSession(session.id, "refresh_token_reused", now);
        return { kind: "reused" as const, sessionId: session.id, userId: session.user_id };
      }
      const user = this.repo.userById(session.user_id);
      if (!user) return { kind: "invalid" as const };
      this.repo.insertRefreshToken(sha256(next), session.id, now);
      this.repo.touchSession(session.id, now, now + this.settings.refreshTokenTtlSec * 1000);
      return { kind: "rotated" as const, user, sessionId: session.id };
    });
    if (outcome.kind === "invalid") {
      throw problems.unauthorized("invalid_refresh_token", "the refresh token is unknown, expired or revoked");
    }
    if (outcome.kind === "reused") {
      this.logger.warn("refresh token reuse: session revoked", { sessionId: outcome.sessionId, userId: outcome.userId });
      throw problems.unauthorized("refresh_token_reused", "this refresh token was already used; the session is revoked");
    }
    return this.tokenPair(outcome.user.id, outcome.user.role, outcome.sessionId, next);
  }

  /** Verifies an access token and that its session is still live. */
  async authenticate(token: string): Promise<Principal> {
    const { sub, sid } = await this.verifyAccessToken(token);
    const state = this.repo.sessionAuthState(sid, sub);
    if (!state || state.revoked_at !== null || state.user_deleted_at !== null || state.expires_at <= Date.now()) {
      throw problems.unauthorized("session_revoked", "the session has ended; log in again");
    }
    // The role comes from the store, not the token, so a demotion takes effect at once.
    return { userId: sub, sessionId: sid, role: state.role };
  }

  private async verifyAccessToken(token: string): Promise<{ sub: string; sid: string }> {
    const known = this.verified.get(token);
    if (known) {
      if (known.expMs > Date.now()) return known;
      this.verified.delete(token);
      throw problems.unauthorized("token_expired", "the access token has expired");
    }
    let sub: unknown;
    let sid: unknown;
    let exp: unknown;
    try {
      const { payload } = await jwtVerify(token, this.key, { issuer, algorithms: ["HS256"] });
      ({ sub, sid, exp } = payload);
    } catch (err) {
      const code = err instanceof joseErrors.JWTExpired ? "token_expired" : "invalid_token";
      throw problems.unauthorized(code, code === "token_expired" ? "the access token has expired" : "the access token is invalid");
    }
    if (typeof sub !== "string" || typeof sid !== "string" || typeof exp !== "number") {
      throw problems.unauthorized("invalid_token", "the access token is invalid");
    }
    const verified = { sub, sid, expMs: exp * 1000 };
    this.verified.set(token, verified);
    return verified;
  }

  async logout(principal: Principal): Promise<void> {
    await this.writer.write(() => this.repo.revokeSession(principal.sessionId, "logout", Date.now()));
  }

  async logoutAll(principal: Principal): Promise<number> {
    return this.writer.write(() => this.repo.revokeUserSessions(principal.userId, "logout_all", Date.now()));
  }

  me(principal: Principal): User {
    const row = this.repo.userById(principal.userId);
    if (!row) throw problems.notFound("user_not_found", "the account no longer exists");
    return toUser(row);
  }

  async updateMe(principal: Principal, patch: { nickname?: string }): Promise<User> {
    if (patch.nickname !== undefined) {
      const nickname = patch.nickname.trim();
      const key = nickname.toLowerCase();
      if (reservedNicknames.has(key)) {
        throw problems.unprocessable("nickname_reserved", `the nickname "${nickname}" is reserved`, [
          { field: "/nickname", message: "reserved" },
        ]);
      }
      await this.writer.write(() => {
        this.assertAvailable("", key, principal.userId);
        if (!this.repo.updateNickname(principal.userId, nickname, key, Date.now())) {
          throw problems.notFound("user_not_found", "the account no longer exists");
        }
      });
    }
    return this.me(principal);
  }

  async changePassword(principal: Principal, body: { currentPassword: string; newPassword: string }): Promise<number> {
    const row = this.repo.userById(principal.userId);
    if (!row) throw problems.notFound("user_not_found", "the account no longer exists");
    if (!(await Bun.password.verify(body.currentPassword, row.password_hash))) {
      throw problems.forbidden("wrong_password", "the current password is wrong");
    }
    if (body.currentPassword === body.newPassword) {
      throw problems.unprocessable("password_unchanged", "the new password must differ from the current one", [
        { field: "/newPassword", message: "same as the current password" },
      ]);
    }
    const hash = await Bun.password.hash(body.newPassword, argon2);
    return this.writer.write(() => {
      const now = Date.now();
      this.repo.updatePassword(principal.userId, hash, now);
      return this.repo.revokeUserSessions(principal.userId, "password_changed", now, principal.sessionId);
    });
  }

  async deleteMe(principal: Principal, password: string): Promise<void> {
    const row = this.repo.userById(principal.userId);
    if (!row) throw problems.notFound("user_not_found", "the account no longer exists");
    if (!(await Bun.password.verify(password, row.password_hash))) {
      throw problems.forbidden("wrong_password", "the password is wrong");
    }
    await this.writer.write(() => {
      const now = Date.now();
      if (!this.repo.softDelete(principal.userId, now)) return;
      this.repo.revokeUserSessions(principal.userId, "account_deleted", now);
      this.events.emit(accountEvents.userDeleted, { userId: principal.userId, deletedAt: new Date(now).toISOString() });
    });
    this.logger.info("user deleted", { userId: principal.userId });
  }

  listUsers(limit: number, cursor: string | undefined): { items: User[]; nextCursor: string | null } {
    let after: { createdAt: number; id: string } | null = null;
    if (cursor !== undefined) {
      const [ms, id] = Buffer.from(cursor, "base64url").toString("utf8").split("|");
      const createdAt = Number(ms);
      if (!id || !Number.isSafeInteger(createdAt)) {
        throw problems.badRequest("invalid_cursor", "the cursor is not one this server issued");
      }
      after = { createdAt, id };
    }
    const rows = this.repo.listUsers(after, limit + 1);
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    const nextCursor =
      rows.length > limit && last ? Buffer.from(`${last.created_at}|${last.id}`).toString("base64url") : null;
    return { items: page.map(toUser), nextCursor };
  }

  async setRole(actor: Principal, userId: string, role: Role): Promise<User> {
    if (actor.userId === userId && role !== "admin") {
      throw problems.conflict("cannot_demote_self", "an admin cannot remove their own admin role");
    }
    const changed = await this.writer.write(() => this.repo.updateRole(userId, role, Date.now()));
    if (!changed) throw problems.notFound("user_not_found", "no such user");
    const row = this.repo.userById(userId);
    if (!row) throw problems.notFound("user_not_found", "no such user");
    return toUser(row);
  }

  /** For the CLI (`homebase promote <email>`): grant the admin role to an existing account. */
  async promoteByEmail(email: string): Promise<User> {
    const row = this.repo.userByEmail(email.trim().toLowerCase());
    if (!row) throw problems.notFound("user_not_found", `no account with email ${email}`);
    await this.writer.write(() => this.repo.updateRole(row.id, "admin", Date.now()));
    return toUser({ ...row, role: "admin" });
  }
}
