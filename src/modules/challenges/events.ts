// Events challenges emits through the outbox, and the consumers it registers on the bus.
// Payloads are the contract (add fields, never rename or remove).
import type { ConsumerSpec, EventEnvelope } from "../../platform/events/bus";
import { accountEvents, type UserDeleted, type UserRegistered } from "../accounts";

export const challengeEvents = {
  challengeCreated: "homebase.challenges.challenge.created",
  challengeUpdated: "homebase.challenges.challenge.updated",
  challengeDeleted: "homebase.challenges.challenge.deleted",
  memberJoined: "homebase.challenges.member.joined",
  memberLeft: "homebase.challenges.member.left",
  logRecorded: "homebase.challenges.log.recorded",
} as const;

export interface ChallengeCreated {
  challengeId: string;
  ownerId: string;
  title: string;
  startDate: string;
  endDate: string;
}
export type ChallengeUpdated = ChallengeCreated;

export interface ChallengeDeleted {
  challengeId: string;
  ownerId: string;
  /** Members at deletion: their logs went with the challenge. */
  memberIds: string[];
}

export interface MemberJoined {
  challengeId: string;
  userId: string;
  joinedAt: string;
}

export interface MemberLeft {
  challengeId: string;
  userId: string;
  /** "left": the member left; "user_deleted": the account was deleted. Their logs there are gone. */
  reason: "left" | "user_deleted";
}

export interface LogRecorded {
  logId: string;
  challengeId: string;
  userId: string;
  day: string;
  createdAt: string;
}

/** The one capability the service needs from the event bus: an outbox insert in the current transaction. */
export interface ChallengesEventSink {
  emit(subject: string, payload: unknown): string;
}

/** What the consumers call; implemented by ChallengesService. */
export interface ChallengesEventHandlers {
  /** In the consumer's transaction: create (or name) the member's profile. */
  applyUserRegistered(event: UserRegistered): void;
  /** In the consumer's transaction: remove the user from every challenge (emits member.left for each). */
  applyUserDeleted(event: UserDeleted): void;
  /** After the change committed: invalidate cached reads and update the Redis leaderboard. Idempotent. */
  refreshViews(subject: string, payload: unknown): Promise<void>;
}

/** Consumers, registered in the module's wiring (before the bus starts). */
export function challengeConsumers(handlers: ChallengesEventHandlers): ConsumerSpec[] {
  return [
    {
      // Profile lifecycle from accounts. Order-independent: user.deleted leaves a tombstone.
      name: "challenges-profiles",
      subjects: [accountEvents.userRegistered, accountEvents.userDeleted],
      apply(event: EventEnvelope) {
        if (event.subject === accountEvents.userRegistered) handlers.applyUserRegistered(event.payload as UserRegistered);
        else handlers.applyUserDeleted(event.payload as UserDeleted);
      },
    },
    {
      // Our own changes, after they committed: the durable repeat of the request's inline
      // leaderboard update, and the cache invalidation of changes made by consumers
      // (user.deleted). Throws while Redis is unreachable, so the bus retries it.
      name: "challenges-views",
      subjects: [challengeEvents.logRecorded, challengeEvents.memberJoined, challengeEvents.memberLeft, challengeEvents.challengeDeleted],
      effect: (event: EventEnvelope) => handlers.refreshViews(event.subject, event.payload),
    },
  ];
}
