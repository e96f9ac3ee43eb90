// Events challenges emits through the outbox, and the consumers it registers on the bus.
// Payloads are the contract (add fields, never rename or remove).
import { t } from "elysia";
import { type ConsumerSpec, defineConsumer, defineEvent, type EventEmitter, type EventPayload, isEvent } from "../../platform/events";
import { accountEvents, type UserDeleted, type UserRegistered, type UserUpdated } from "../accounts";

const challenge = t.Object({
  challengeId: t.String(),
  ownerId: t.String(),
  title: t.String(),
  startDate: t.String({ description: "YYYY-MM-DD (UTC)" }),
  endDate: t.String({ description: "YYYY-MM-DD (UTC)" }),
});

export const challengeEvents = {
  challengeCreated: defineEvent("homebase.challenges.challenge.created", challenge),
  challengeUpdated: defineEvent("homebase.challenges.challenge.updated", challenge),
  challengeDeleted: defineEvent(
    "homebase.challenges.challenge.deleted",
    t.Object({
      challengeId: t.String(),
      ownerId: t.String(),
      /** Members at deletion: their logs went with the challenge. */
      memberIds: t.Array(t.String()),
    }),
  ),
  memberJoined: defineEvent(
    "homebase.challenges.member.joined",
    t.Object({ challengeId: t.String(), userId: t.String(), joinedAt: t.String() }),
  ),
  memberLeft: defineEvent(
    "homebase.challenges.member.left",
    t.Object({
      challengeId: t.String(),
      userId: t.String(),
      /** "left": the member left; "user_deleted": the account was deleted. Their logs there are gone. */
      reason: t.Union([t.Literal("left"), t.Literal("user_deleted")]),
    }),
  ),
  logRecorded: defineEvent(
    "homebase.challenges.log.recorded",
    t.Object({
      logId: t.String(),
      challengeId: t.String(),
      userId: t.String(),
      day: t.String({ description: "YYYY-MM-DD (UTC)" }),
      createdAt: t.String(),
    }),
  ),
} as const;

export type ChallengeCreated = EventPayload<typeof challengeEvents.challengeCreated>;
export type ChallengeUpdated = ChallengeCreated;
export type ChallengeDeleted = EventPayload<typeof challengeEvents.challengeDeleted>;
export type MemberJoined = EventPayload<typeof challengeEvents.memberJoined>;
export type MemberLeft = EventPayload<typeof challengeEvents.memberLeft>;
export type LogRecorded = EventPayload<typeof challengeEvents.logRecorded>;

/** What the service needs from the event bus: an outbox insert in the current transaction. */
export type ChallengesEventSink = EventEmitter;

/** What the consumers call; implemented by ChallengesService. */
export interface ChallengesEventHandlers {
  /** In the consumer's transaction: create (or name) the member's profile. */
  applyUserRegistered(event: UserRegistered): void;
  /** In the consumer's transaction: the new nickname of a rename (PATCH /me). */
  applyUserUpdated(event: UserUpdated): void;
  /** In the consumer's transaction: remove the user from every challenge (emits member.left for each). */
  applyUserDeleted(event: UserDeleted): void;
  /** After the change committed: invalidate cached reads and update the Redis leaderboard. Idempotent. */
  refreshViews(subject: string, payload: unknown): Promise<void>;
}

/** Consumers, registered in the module's wiring (before the bus starts). */
export function challengeConsumers(handlers: ChallengesEventHandlers): ConsumerSpec[] {
  return [
    defineConsumer({
      // Profile lifecycle from accounts. Order-independent: user.deleted leaves a tombstone, and
      // a nickname older than the one the profile holds is ignored.
      name: "challenges-profiles",
      events: [accountEvents.userRegistered, accountEvents.userUpdated, accountEvents.userDeleted],
      apply(event) {
        if (isEvent(event, accountEvents.userRegistered)) handlers.applyUserRegistered(event.payload);
        else if (isEvent(event, accountEvents.userUpdated)) handlers.applyUserUpdated(event.payload);
        else handlers.applyUserDeleted(event.payload);
      },
    }),
    defineConsumer({
      // Our own changes, after they committed: the durable repeat of the request's inline
      // leaderboard update, and the cache invalidation of changes made by consumers
      // (user.deleted). Throws while Redis is unreachable, so the bus retries it.
      name: "challenges-views",
      events: [challengeEvents.logRecorded, challengeEvents.memberJoined, challengeEvents.memberLeft, challengeEvents.challengeDeleted],
      effect: (event) => handlers.refreshViews(event.subject, event.payload),
    }),
  ];
}
