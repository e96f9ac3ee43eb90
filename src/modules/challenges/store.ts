// The port the challenge use cases need from storage: async, one method per use-case unit, each
// write one transaction inside the port (with the outbox events of the same change). The use
// cases decide (who may edit, the dates, who may log); where a decision needs the committed
// state, the port hands it to a `decide` callback inside the transaction, which returns the
// event to emit or throws to refuse (nothing is written then). The store enforces what must not
// race: a title per owner, one membership, one log per member and day, tombstoned profiles.
// SQLite: store.sqlite.ts.
import type { ChallengeCreated, ChallengeDeleted, ChallengeUpdated, LogRecorded, MemberJoined, MemberLeft } from "./events";

export interface ChallengeRecord {
  id: string;
  ownerId: string;
  title: string;
  /** The title after NFC + lower-casing: unique per owner. */
  titleKey: string;
  description: string;
  /** YYYY-MM-DD (UTC), inclusive. */
  startDate: string;
  endDate: string;
  createdAt: number;
  updatedAt: number;
}

/** A challenge as one viewer sees it. */
export interface ChallengeView extends ChallengeRecord {
  memberCount: number;
  /** Whether the viewer is a member. */
  joined: boolean;
}

export interface LogRecord {
  id: string;
  challengeId: string;
  userId: string;
  /** The UTC day the log counts for. */
  day: string;
  createdAt: number;
}

export interface Standing {
  userId: string;
  /** Null until the member's profile arrived from accounts. */
  nickname: string | null;
  logCount: number;
}

export interface ChallengeListFilter {
  viewerId: string;
  /** Only challenges running on this UTC day (YYYY-MM-DD). */
  activeOn?: string;
  mine?: boolean;
  joined?: boolean;
  /** Exclusive: ids below this one (pages go newest first). */
  beforeId?: string;
  limit: number;
}

/**
 * Joining or creating makes the member's profile (nickname null until user.registered fills it
 * in); a profile tombstoned by user.deleted refuses instead: "profile_deleted".
 */
export type ProfileRefusal = "profile_deleted";

export interface ChallengesStore {
  challenge(id: string): Promise<ChallengeRecord | null>;
  challengeView(id: string, viewerId: string): Promise<ChallengeView | null>;
  /** Newest first (by id, UUIDv7). */
  listChallenges(filter: ChallengeListFilter): Promise<ChallengeView[]>;

  /** The owner's title is free; the challenge goes in with its owner as the first member. */
  createChallenge(
    challenge: ChallengeRecord,
    events: { created: ChallengeCreated; ownerJoined: MemberJoined },
  ): Promise<"created" | "title_taken" | ProfileRefusal>;
  /** `decide` sees the challenge (null when unknown) and returns its next version; a title another challenge of the owner has refuses it. */
  updateChallenge(
    id: string,
    decide: (current: ChallengeRecord | null) => { next: ChallengeRecord; event: ChallengeUpdated },
  ): Promise<"updated" | "title_taken">;
  /** `decide` sees the challenge and its members; memberships and logs go with it. Returns the member ids. */
  deleteChallenge(id: string, decide: (current: ChallengeRecord | null, memberIds: string[]) => ChallengeDeleted): Promise<string[]>;

  /** `decide` sees the challenge (null when unknown). */
  join(
    member: { challengeId: string; userId: string; joinedAt: number },
    decide: (challenge: ChallengeRecord | null) => MemberJoined,
  ): Promise<"joined" | "already_member" | ProfileRefusal>;
  /** Removes the membership and the member's logs of the challenge. */
  leave(challengeId: string, userId: string, left: MemberLeft): Promise<"left" | "challenge_not_found" | "not_member">;
  /** `decide` sees the challenge (null when unknown) and whether the author is a member. */
  recordLog(
    log: LogRecord,
    decide: (challenge: ChallengeRecord | null, isMember: boolean) => LogRecorded,
  ): Promise<"recorded" | "already_logged">;

  /** A user's latest logs across challenges, newest first. */
  userLogs(userId: string, limit: number): Promise<Array<{ challengeId: string; createdAt: number }>>;
  /** Members ranked by log count, ties by user id (the Redis order too); limit -1 = all. */
  standings(challengeId: string, limit: number): Promise<Standing[]>;
  /** Nicknames of those of userIds that are members of the challenge (non-members are left out). */
  membersNamed(challengeId: string, userIds: string[]): Promise<Map<string, string | null>>;
  /** The member's log count; null when not a member. */
  memberLogCount(challengeId: string, userId: string): Promise<number | null>;

  // In the consumer's transaction (the bus runs apply synchronously inside its own write)
  /**
   * Creates or names the profile with the nickname it had at `nicknameAt` (epoch ms): a newer
   * nickname already held wins (profile events in any order), and so does a tombstone (a late
   * user.registered or user.updated changes nothing).
   */
  saveProfileSync(userId: string, nickname: string, nicknameAt: number): void;
  /** Removes the user from every challenge (logs too), emitting `left(challengeId)` for each, and tombstones the profile. */
  removeUserSync(userId: string, at: number, left: (challengeId: string) => MemberLeft): void;
}
