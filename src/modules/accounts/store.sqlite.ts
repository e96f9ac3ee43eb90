// The SQLite accounts store. Reads are prepared statements off the writer; each write is one
// function run inside GroupCommitWriter.write(), so it commits (with its outbox row) as a unit.
// The auth state of live sessions and live accounts are served from memory while no commit
// anywhere moved their counters (store.sqlite.cache.ts).
import type { Database } from "bun:sqlite";
import type { GroupCommitWriter } from "../../platform/db/sqlite";
import { accountEvents, type AccountsEventSink, type RevokeReason, type UserDeleted, type UserRegistered } from "./events";
import { EpochCaches } from "./store.sqlite.cache";
import type { Role } from "./model";
import type {
  AccountsStore,
  ProfilePatch,
  ProfileUpdate,
  RefreshRotation,
  SessionAuthState,
  SessionRecord,
  SessionView,
  TakenField,
  UserRecord,
} from "./store";

interface UserRow {
  id: string;
  email: string;
  nickname: string;
  nickname_key: string;
  phone: string | null;
  password_hash: string;
  password_set: number;
  role: Role;
  created_at: number;
  updated_at: number;
  password_changed_at: number;
  deleted_at: number | null;
}

interface SessionRow {
  id: string;
  user_id: string;
  expires_at: number;
  revoked_at: number | null;
}

const toUser = (r: UserRow): UserRecord => ({
  id: r.id,
  email: r.email,
  nickname: r.nickname,
  nicknameKey: r.nickname_key,
  phone: r.phone,
  passwordHash: r.password_hash,
  passwordSet: r.password_set === 1,
  role: r.role,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  passwordChangedAt: r.password_changed_at,
  deletedAt: r.deleted_at,
});

/** How many live sessions' auth states, and how many live accounts, are kept in memory. */
const cachedEntries = 50_000;

export class SqliteAccountsStore implements AccountsStore {
  private readonly q;
  /** Public for tests: how often the counters were read and the caches dropped. */
  readonly caches: EpochCaches<{ userId: string; state: SessionAuthState }, UserRecord>;

  constructor(
    db: Database,
    private readonly writer: GroupCommitWriter,
    private readonly events: AccountsEventSink,
  ) {
    this.caches = new EpochCaches(db, cachedEntries);
    this.q = {
      userById: db.query<UserRow, [string]>("SELECT * FROM users WHERE id = ? AND deleted_at IS NULL"),
      userByEmail: db.query<UserRow, [string]>("SELECT * FROM users WHERE email = ? AND deleted_at IS NULL"),
      emailTaken: db.query<{ n: number }, [string]>("SELECT 1 AS n FROM users WHERE email = ? AND deleted_at IS NULL"),
      nicknameTaken: db.query<{ n: number }, [string, string]>(
        "SELECT 1 AS n FROM users WHERE nickname_key = ? AND deleted_at IS NULL AND id <> ?",
      ),
      phoneTaken: db.query<{ n: number }, [string, string]>("SELECT 1 AS n FROM users WHERE phone = ? AND deleted_at IS NULL AND id <> ?"),
      insertUser: db.query(
        `INSERT INTO users (id, email, nickname, nickname_key, phone, password_hash, password_set, role, created_at, updated_at, password_changed_at)
         VALUES ($id, $email, $nickname, $nickname_key, $phone, $password_hash, $password_set, $role, $created_at, $updated_at, $password_changed_at)`,
      ),
      updatePhone: db.query<unknown, [string | null, number, string]>(
        "UPDATE users SET phone = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL",
      ),
      updateNickname: db.query<unknown, [string, string, number, string]>(
        "UPDATE users SET nickname = ?, nickname_key = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL",
      ),
      updatePassword: db.query<unknown, [string, number, number, string]>(
        "UPDATE users SET password_hash = ?, password_set = 1, password_changed_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL",
      ),
      updateRole: db.query<unknown, [string, number, string]>(
        "UPDATE users SET role = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL",
      ),
      // The phone number is personal data the deleted account no longer needs.
      softDelete: db.query<unknown, [number, number, string]>(
        "UPDATE users SET deleted_at = ?, updated_at = ?, phone = NULL WHERE id = ? AND deleted_at IS NULL",
      ),
      listUsers: db.query<UserRow, [number, number, string, number]>(
        `SELECT * FROM users WHERE deleted_at IS NULL AND (created_at > ? OR (created_at = ? AND id > ?))
         ORDER BY created_at, id LIMIT ?`,
      ),
      insertSession: db.query(
        `INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip)
         VALUES ($id, $user_id, $created_at, $created_at, $expires_at, $user_agent, $ip)`,
      ),
      // The partial index sessions_user holds exactly the unrevoked sessions.
      liveSessionFrom: db.query<{ n: number }, [string, string, number]>(
        "SELECT 1 AS n FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND ip = ? AND expires_at > ? LIMIT 1",
      ),
      liveSessions: db.query<
        { id: string; created_at: number; last_used_at: number; expires_at: number; user_agent: string | null; ip: string | null },
        [string, number, number]
      >(
        `SELECT id, created_at, last_used_at, expires_at, user_agent, ip FROM sessions
         WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? ORDER BY last_used_at DESC, id DESC LIMIT ?`,
      ),
      liveSessionCount: db.query<{ n: number }, [string, number]>(
        "SELECT count(*) AS n FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?",
      ),
      revokeOwnSession: db.query<{ id: string }, [number, string, string, string, number]>(
        "UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL AND expires_at > ? RETURNING id",
      ),
      sessionOpenedAt: db.query<{ created_at: number }, [string]>("SELECT created_at FROM sessions WHERE id = ?"),
      sessionById: db.query<SessionRow, [string]>("SELECT id, user_id, expires_at, revoked_at FROM sessions WHERE id = ?"),
      // Two primary-key reads: about half the cost of the equivalent join (measured, every
      // authenticated request pays it).
      sessionAuthState: db.query<{ revoked_at: number | null; expires_at: number; user_id: string }, [string]>(
        "SELECT revoked_at, expires_at, user_id FROM sessions WHERE id = ?",
      ),
      userAuthState: db.query<{ deleted_at: number | null; role: Role }, [string]>("SELECT deleted_at, role FROM users WHERE id = ?"),
      touchSession: db.query<unknown, [number, number, string]>(
        "UPDATE sessions SET last_used_at = ?, expires_at = ? WHERE id = ? AND revoked_at IS NULL",
      ),
      // RETURNING: the revoked sessions go into the session.revoked event of the same transaction.
      revokeSession: db.query<{ user_id: string }, [number, string, string]>(
        "UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE id = ? AND revoked_at IS NULL RETURNING user_id",
      ),
      revokeUserSessions: db.query<{ id: string }, [number, string, string, string]>(
        "UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE user_id = ? AND id <> ? AND revoked_at IS NULL RETURNING id",
      ),
      insertRefresh: db.query<unknown, [string, string, number]>(
        "INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES (?, ?, ?)",
      ),
      refreshByHash: db.query<{ session_id: string; used_at: number | null }, [string]>(
        "SELECT session_id, used_at FROM refresh_tokens WHERE token_hash = ?",
      ),
      // Compare-and-set: only one concurrent refresh of the same token can win.
      useRefresh: db.query<unknown, [number, string]>("UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL"),
    };
  }

  async user(id: string, authCheckMark?: number): Promise<UserRecord | null> {
    return this.userNow(id, authCheckMark);
  }

  userNow(id: string, authCheckMark?: number): UserRecord | null {
    this.caches.syncUnless(authCheckMark);
    const cached = this.caches.user(id);
    if (cached !== undefined) return cached;
    const row = this.q.userById.get(id);
    if (!row) return null;
    const user = Object.freeze(toUser(row));
    this.caches.putUser(id, user);
    return user;
  }

  /** Before the connection closes (the module's close). */
  close(): void {
    this.caches.close();
  }

  async userByEmail(email: string): Promise<UserRecord | null> {
    const row = this.q.userByEmail.get(email);
    return row ? toUser(row) : null;
  }

  async taken(email: string | null, nicknameKey: string, exceptUserId = "", phone: string | null = null): Promise<TakenField | null> {
    return this.takenNow(email, nicknameKey, exceptUserId, phone);
  }

  async listUsers(after: { createdAt: number; id: string } | null, limit: number): Promise<UserRecord[]> {
    return this.q.listUsers.all(after?.createdAt ?? -1, after?.createdAt ?? -1, after?.id ?? "", limit).map(toUser);
  }

  createUser(user: UserRecord, registered: UserRegistered): Promise<{ kind: "created" } | { kind: "taken"; field: TakenField }> {
    return this.writer.write(() => {
      // Checked again in the transaction: the caller's pre-check ran before Argon2, unlocked.
      const field = this.takenNow(user.email, user.nicknameKey, "", user.phone ?? null);
      if (field) return { kind: "taken" as const, field };
      this.q.insertUser.run({
        id: user.id,
        email: user.email,
        nickname: user.nickname,
        nickname_key: user.nicknameKey,
        phone: user.phone ?? null,
        password_hash: user.passwordHash,
        password_set: user.passwordSet ? 1 : 0,
        role: user.role,
        created_at: user.createdAt,
        updated_at: user.updatedAt,
        password_changed_at: user.passwordChangedAt,
      });
      this.events.emit(accountEvents.userRegistered, registered);
      return { kind: "created" as const };
    });
  }

  updateProfile(userId: string, patch: ProfilePatch, at: number): Promise<ProfileUpdate> {
    return this.writer.write((): ProfileUpdate => {
      const current = this.q.userById.get(userId);
      if (!current) return "user_not_found";
      if (patch.nickname && this.q.nicknameTaken.get(patch.nickname.key, userId) !== null) return "nickname_taken";
      if (patch.phone && this.q.phoneTaken.get(patch.phone, userId) !== null) return "phone_taken";
      // Same nickname: nothing changes, nothing to tell (a case-only change is a change).
      const nickname = patch.nickname && patch.nickname.nickname !== current.nickname ? patch.nickname : null;
      if (nickname) {
        this.q.updateNickname.run(nickname.nickname, nickname.key, at, userId);
        this.events.emit(accountEvents.userUpdated, { userId, nickname: nickname.nickname, updatedAt: new Date(at).toISOString() });
      }
      if (patch.phone !== undefined && patch.phone !== current.phone) this.q.updatePhone.run(patch.phone, at, userId);
      return "updated";
    });
  }

  changePassword(userId: string, passwordHash: string, at: number, keepSessionId: string): Promise<number | null> {
    return this.writer.write(() => {
      if (this.q.updatePassword.run(passwordHash, at, at, userId).changes !== 1) return null;
      return this.revokeAllNow(userId, "password_changed", at, keepSessionId);
    });
  }

  async sessionOpenedAt(sessionId: string): Promise<number | null> {
    return this.q.sessionOpenedAt.get(sessionId)?.created_at ?? null;
  }

  deleteUser(userId: string, at: number, deleted: UserDeleted): Promise<boolean> {
    return this.writer.write(() => {
      if (this.q.softDelete.run(at, at, userId).changes !== 1) return false;
      // user.deleted tells the holders of its sessions (no session.revoked besides).
      this.q.revokeUserSessions.run(at, "account_deleted", userId, "");
      this.events.emit(accountEvents.userDeleted, deleted);
      return true;
    });
  }

  setRole(userId: string, role: Role, at: number): Promise<UserRecord | null> {
    return this.writer.write(() => {
      if (this.q.updateRole.run(role, at, userId).changes !== 1) return null;
      const row = this.q.userById.get(userId);
      return row ? toUser(row) : null;
    });
  }

  async hasLiveSessionFrom(userId: string, ip: string, at: number): Promise<boolean> {
    return this.q.liveSessionFrom.get(userId, ip, at) !== null;
  }

  openSession(session: SessionRecord, refreshTokenHash: string): Promise<void> {
    return this.writer.write(() => {
      this.q.insertSession.run({
        id: session.id,
        user_id: session.userId,
        created_at: session.createdAt,
        expires_at: session.expiresAt,
        user_agent: session.userAgent,
        ip: session.ip,
      });
      this.q.insertRefresh.run(refreshTokenHash, session.id, session.createdAt);
    });
  }

  rotateRefreshToken({
    presentedHash,
    nextHash,
    at,
    expiresAt,
  }: {
    presentedHash: string;
    nextHash: string;
    at: number;
    expiresAt: number;
  }): Promise<RefreshRotation> {
    return this.writer.write((): RefreshRotation => {
      const token = this.q.refreshByHash.get(presentedHash);
      if (!token) return { kind: "invalid" };
      const session = this.q.sessionById.get(token.session_id);
      if (!session || session.revoked_at !== null || session.expires_at <= at) return { kind: "invalid" };
      if (token.used_at !== null || this.q.useRefresh.run(at, presentedHash).changes !== 1) {
        this.revokeNow(session.id, "refresh_token_reused", at);
        return { kind: "reused", sessionId: session.id, userId: session.user_id };
      }
      const user = this.q.userById.get(session.user_id);
      if (!user) return { kind: "invalid" };
      this.q.insertRefresh.run(nextHash, session.id, at);
      this.q.touchSession.run(at, expiresAt, session.id);
      return { kind: "rotated", user: toUser(user), sessionId: session.id };
    });
  }

  readMark(): number {
    return this.caches.mark;
  }

  async sessionAuthState(sessionId: string, userId: string, at: number): Promise<SessionAuthState | null> {
    return this.sessionAuthStateNow(sessionId, userId, at);
  }

  sessionAuthStateNow(sessionId: string, userId: string, at: number): SessionAuthState | null {
    this.caches.sync();
    const cached = this.caches.authState(sessionId);
    // A cached expiry that has passed is read again: another instance may have prolonged it.
    if (cached !== undefined && cached.userId === userId && cached.state.expiresAt > at) return cached.state;
    const session = this.q.sessionAuthState.get(sessionId);
    if (!session || session.user_id !== userId) return null;
    const user = this.q.userAuthState.get(userId);
    if (!user) return null;
    const state = { revokedAt: session.revoked_at, expiresAt: session.expires_at, userDeletedAt: user.deleted_at, role: user.role };
    // Only live sessions: anything else is refused, and a refusal reads again (it is rare).
    if (state.revokedAt === null && state.userDeletedAt === null && state.expiresAt > at) {
      this.caches.putAuthState(sessionId, { userId, state: Object.freeze(state) });
    }
    return state;
  }

  revokeSession(sessionId: string, reason: RevokeReason, at: number): Promise<boolean> {
    return this.writer.write(() => this.revokeNow(sessionId, reason, at));
  }

  async liveSessions(userId: string, at: number, limit: number): Promise<{ sessions: SessionView[]; total: number }> {
    const sessions = this.q.liveSessions.all(userId, at, limit).map((r) => ({
      id: r.id,
      createdAt: r.created_at,
      lastUsedAt: r.last_used_at,
      expiresAt: r.expires_at,
      userAgent: r.user_agent,
      ip: r.ip,
    }));
    // The count only when the page is full: a short page is all of them.
    const total = sessions.length < limit ? sessions.length : (this.q.liveSessionCount.get(userId, at)?.n ?? sessions.length);
    return { sessions, total };
  }

  revokeOwnSession(userId: string, sessionId: string, at: number): Promise<boolean> {
    return this.writer.write(() => {
      if (!this.q.revokeOwnSession.get(at, "session_revoked", sessionId, userId, at)) return false;
      this.emitRevoked(userId, [sessionId], "session_revoked", at);
      return true;
    });
  }

  revokeUserSessions(userId: string, reason: RevokeReason, at: number): Promise<number> {
    return this.writer.write(() => this.revokeAllNow(userId, reason, at, ""));
  }

  /** In the caller's transaction: revokes one live session and emits session.revoked. */
  private revokeNow(sessionId: string, reason: RevokeReason, at: number): boolean {
    const row = this.q.revokeSession.get(at, reason, sessionId);
    if (!row) return false;
    this.emitRevoked(row.user_id, [sessionId], reason, at);
    return true;
  }

  /** In the caller's transaction: revokes the user's live sessions but one, emits session.revoked; how many. */
  private revokeAllNow(userId: string, reason: RevokeReason, at: number, keepSessionId: string): number {
    const ids = this.q.revokeUserSessions.all(at, reason, userId, keepSessionId).map((r) => r.id);
    if (ids.length > 0) this.emitRevoked(userId, ids, reason, at);
    return ids.length;
  }

  private emitRevoked(userId: string, sessionIds: string[], reason: RevokeReason, at: number): void {
    this.events.emit(accountEvents.sessionRevoked, { userId, sessionIds, reason, revokedAt: new Date(at).toISOString() });
  }

  private takenNow(email: string | null, nicknameKey: string, exceptUserId: string, phone: string | null = null): TakenField | null {
    if (email !== null && this.q.emailTaken.get(email) !== null) return "email";
    if (this.q.nicknameTaken.get(nicknameKey, exceptUserId) !== null) return "nickname";
    if (phone !== null && this.q.phoneTaken.get(phone, exceptUserId) !== null) return "phone";
    return null;
  }
}
