// Events accounts emits through the outbox. Other modules subscribe to these definitions;
// the payloads are the contract (add fields, never rename or remove).
import { t } from "elysia";
import { defineEvent, type EventEmitter, type EventPayload } from "../../platform/events";

export const accountEvents = {
  userRegistered: defineEvent(
    "homebase.accounts.user.registered",
    t.Object({
      userId: t.String(),
      email: t.String(),
      nickname: t.String(),
      registeredAt: t.String({ description: "UTC ISO-8601" }),
    }),
  ),
  /**
   * A live account's public profile changed (today: its nickname, by PATCH /me), in the
   * transaction that changed it. Modules that keep a copy of the nickname (challenges'
   * leaderboard, chat's participants) update it. Personal data (email, phone) is never in it.
   */
  userUpdated: defineEvent(
    "homebase.accounts.user.updated",
    t.Object({
      userId: t.String(),
      nickname: t.String({ description: "The new nickname, NFC-normalised" }),
      updatedAt: t.String({ description: "UTC ISO-8601" }),
    }),
  ),
  userDeleted: defineEvent(
    "homebase.accounts.user.deleted",
    t.Object({ userId: t.String(), deletedAt: t.String({ description: "UTC ISO-8601" }) }),
  ),
  /**
   * Sessions of one user revoked, in the transaction that revoked them: whatever still holds one
   * (chat's sockets) lets go. Not emitted for expiry (each holder knows it) nor for an account's
   * deletion (user.deleted ends every session of the account). `session_revoked`: the user
   * revoked this one session from their session list (DELETE /me/sessions/:id).
   */
  sessionRevoked: defineEvent(
    "homebase.accounts.session.revoked",
    t.Object({
      userId: t.String(),
      sessionIds: t.Array(t.String(), { minItems: 1 }),
      reason: t.UnionEnum(["logout", "logout_all", "password_changed", "refresh_token_reused", "session_revoked"]),
      revokedAt: t.String({ description: "UTC ISO-8601" }),
    }),
  ),
} as const;

export type UserRegistered = EventPayload<typeof accountEvents.userRegistered>;
export type UserUpdated = EventPayload<typeof accountEvents.userUpdated>;
export type UserDeleted = EventPayload<typeof accountEvents.userDeleted>;
export type SessionRevoked = EventPayload<typeof accountEvents.sessionRevoked>;
export type RevokeReason = SessionRevoked["reason"];

/** What the service needs from the event bus: an outbox insert in the current transaction. */
export type AccountsEventSink = EventEmitter;
