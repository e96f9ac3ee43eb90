// The port the account use cases need from storage: async, one method per use-case unit, each
// write one transaction inside the port (with the outbox event of the same change). The use
// cases decide (reserved nicknames, passwords, who may change a role); the store reads the state
// they decide on and writes atomically what must not race: uniqueness of live emails and
// nicknames, and the single use of a refresh token. SQLite: store.sqlite.ts.
import type { RevokeReason, UserDeleted, UserRegistered } from "./events";
import type { Role } from "./model";

export interface UserRecord {
  id: string;
  /** Lower-cased. */
  email: string;
  nickname: string;
  /** textKey(nickname) (NFC + lower-cased, src/platform/text.ts): unique among live accounts. */
  nicknameKey: string;
  /** Korean mobile number as 01X-XXXX-XXXX, unique among live accounts; absent = none. */
  phone?: string | null;
  /** Argon2id (Bun.password). */
  passwordHash: string;
  /** False for an account an OpenID sign-in created: its random password is known to nobody. */
  passwordSet: boolean;
  role: Role;
  createdAt: number;
  updatedAt: number;
  passwordChangedAt: number;
  /** Soft delete: a deleted account frees its email and nickname. */
  deletedAt: number | null;
}

/** One login: the family of refresh tokens rotated one after another. */
export interface SessionRecord {
  id: string;
  userId: string;
  createdAt: number;
  expiresAt: number;
  userAgent: string | null;
  ip: string | null;
}

/** The state the auth macro checks on every authenticated request. */
export interface SessionAuthState {
  revokedAt: number | null;
  expiresAt: number;
  userDeletedAt: number | null;
  role: Role;
}

/** A live session as its owner sees it in their session list. */
export interface SessionView {
  id: string;
  createdAt: number;
  /** Opened or last refreshed (not touched by ordinary requests). */
  lastUsedAt: number;
  expiresAt: number;
  userAgent: string | null;
  ip: string | null;
}

/** What PATCH /me changes: a field left out stays as it is; phone null removes it. */
export interface ProfilePatch {
  nickname?: { nickname: string; key: string };
  phone?: string | null;
}

export type ProfileUpdate = "updated" | "nickname_taken" | "phone_taken" | "user_not_found";

/** Which unique value of a live account a write collided with. */
export type TakenField = "email" | "nickname" | "phone";

export type RefreshRotation =
  /** Unknown token, or its session is revoked, expired or its account gone. */
  | { kind: "invalid" }
  /** The token was already rotated: the session is now revoked. */
  | { kind: "reused"; sessionId: string; userId: string }
  | { kind: "rotated"; user: UserRecord; sessionId: string };

export interface AccountsStore {
  /** A live account. */
  /**
   * authCheckMark: readMark() as the request's auth check left it, from a request that wrote
   * nothing since; the read may then reuse that check's look at what changed.
   */
  user(id: string, authCheckMark?: number): Promise<UserRecord | null>;
  /** user() answered without waiting, for stores that can (see sessionAuthStateNow). */
  userNow?(id: string, authCheckMark?: number): UserRecord | null;
  userByEmail(email: string): Promise<UserRecord | null>;
  /** Which of the values a live account (other than `exceptUserId`) holds; email/phone null = not checked. */
  taken(email: string | null, nicknameKey: string, exceptUserId?: string, phone?: string | null): Promise<TakenField | null>;
  /** Live accounts oldest first, strictly after the (createdAt, id) key. */
  listUsers(after: { createdAt: number; id: string } | null, limit: number): Promise<UserRecord[]>;

  /** One transaction: the email, nickname (and phone) are free, the user is inserted, user.registered emitted. */
  createUser(user: UserRecord, registered: UserRegistered): Promise<{ kind: "created" } | { kind: "taken"; field: TakenField }>;
  /**
   * One transaction: the new nickname and phone are free, the profile updated, and when the
   * nickname changed (in any way, case included) user.updated emitted.
   */
  updateProfile(userId: string, patch: ProfilePatch, at: number): Promise<ProfileUpdate>;
  /**
   * Sets the password and revokes every other session: how many (null when the account is gone).
   * Every revocation here (this, a reused refresh token, revokeSession/UserSessions) emits
   * session.revoked with the sessions' ids in its transaction; deleteUser emits user.deleted.
   */
  changePassword(userId: string, passwordHash: string, at: number, keepSessionId: string): Promise<number | null>;
  /** When the session was opened (a sign-in), or null when there is no such session. */
  sessionOpenedAt(sessionId: string): Promise<number | null>;
  /** Soft delete, every session revoked, user.deleted emitted; false when already gone. */
  deleteUser(userId: string, at: number, deleted: UserDeleted): Promise<boolean>;
  /** The account with its new role; null when there is no such live account. */
  setRole(userId: string, role: Role, at: number): Promise<UserRecord | null>;

  openSession(session: SessionRecord, refreshTokenHash: string): Promise<void>;
  /** Whether the user has a session opened from this IP that is neither revoked nor expired at `at`. */
  hasLiveSessionFrom(userId: string, ip: string, at: number): Promise<boolean>;
  /**
   * One transaction: the presented token is used up (compare-and-set, so of concurrent refreshes
   * exactly one wins) and the next one stored, the session prolonged to `expiresAt`; a token
   * used before revokes its whole session (reuse detection).
   */
  rotateRefreshToken(r: { presentedHash: string; nextHash: string; at: number; expiresAt: number }): Promise<RefreshRotation>;
  /**
   * Null when the session is unknown or belongs to another user. Exact at `at` (the caller's
   * now): revocations, deletions and role changes committed by any process are seen at once,
   * though a live session's state may be served from memory (store.sqlite.cache.ts).
   */
  sessionAuthState(sessionId: string, userId: string, at: number): Promise<SessionAuthState | null>;
  /**
   * sessionAuthState answered without waiting, for stores that can (SQLite: every read is
   * synchronous): the auth check of a known token then costs no promise. Same contract.
   */
  sessionAuthStateNow?(sessionId: string, userId: string, at: number): SessionAuthState | null;
  /** A mark of what the reads so far have seen (see user()). */
  readMark(): number;
  revokeSession(sessionId: string, reason: RevokeReason, at: number): Promise<boolean>;
  /** The user's sessions neither revoked nor expired at `at`, most recently used first, at most `limit`; and how many there are. */
  liveSessions(userId: string, at: number, limit: number): Promise<{ sessions: SessionView[]; total: number }>;
  /** Revokes one live session of this user (session.revoked, reason session_revoked); false when it is not one. */
  revokeOwnSession(userId: string, sessionId: string, at: number): Promise<boolean>;
  /** Revokes every live session of the user: how many. */
  revokeUserSessions(userId: string, reason: RevokeReason, at: number): Promise<number>;
}
