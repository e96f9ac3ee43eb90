// Membership use cases: join, leave, log today's progress; and the member profiles kept from
// accounts' events. No Elysia types here; errors are HttpProblems.
//
// Member profiles: a challenge profile (challenge_profiles) is created by accounts'
// user.registered event. Joining or creating a challenge does not wait for it: the profile is
// created lazily (nickname null) in the same transaction, and the event fills in the nickname
// when it arrives. Requiring the event first would make a fresh account's first request fail
// at random (the event is asynchronous, over NATS a few ms behind); the caller is already
// authenticated by accounts, so the account is known to exist. A profile tombstoned by
// user.deleted is never recreated.
import type { Clock } from "../../platform/clock";
import { problems } from "../../platform/http/problem";
import type { Principal, UserDeleted, UserRegistered, UserUpdated } from "../accounts";
import { challengeNotFound, iso, profileDeleted, utcDay } from "./challenges";
import { challengesErrors as E } from "./errors";
import type { LogEntry, Membership } from "./model";
import type { ChallengeReads } from "./reads";
import type { ChallengesStore } from "./store";

export class Memberships {
  constructor(
    private readonly store: ChallengesStore,
    private readonly reads: ChallengeReads,
    private readonly clock: Clock,
  ) {}

  async join(principal: Principal, challengeId: string): Promise<Membership> {
    const now = this.clock.now();
    const userId = principal.userId;
    const joinedAt = iso(now);
    const joined = await this.store.join({ challengeId, userId, joinedAt: now }, (challenge) => {
      if (!challenge) throw challengeNotFound();
      if (utcDay(now) > challenge.endDate) throw problems.conflict(E.challengeEnded, `the challenge ended on ${challenge.endDate}`);
      return { challengeId, userId, joinedAt };
    });
    if (joined === "already_member") throw problems.conflict(E.alreadyMember, "you already take part in this challenge");
    if (joined === "profile_deleted") throw profileDeleted();
    await this.reads.memberChanged(challengeId, userId, false);
    return { challengeId, userId, joinedAt };
  }

  /** Leaving removes the member's logs of this challenge too. */
  async leave(principal: Principal, challengeId: string): Promise<void> {
    const userId = principal.userId;
    const left = await this.store.leave(challengeId, userId, { challengeId, userId, reason: "left" });
    if (left === "challenge_not_found") throw challengeNotFound();
    if (left === "not_member") throw problems.notFound(E.notMember, "you do not take part in this challenge");
    await this.reads.memberChanged(challengeId, userId, true);
  }

  /** Members only, on a day (UTC) between the challenge's dates, once per day. */
  async recordLog(principal: Principal, challengeId: string): Promise<LogEntry> {
    const now = this.clock.now();
    const day = utcDay(now);
    const userId = principal.userId;
    const entry: LogEntry = { id: Bun.randomUUIDv7(), challengeId, userId, day, createdAt: iso(now) };
    const recorded = await this.store.recordLog({ id: entry.id, challengeId, userId, day, createdAt: now }, (challenge, isMember) => {
      if (!challenge) throw challengeNotFound();
      if (!isMember) throw problems.forbidden(E.notMember, "join the challenge before logging progress");
      if (day < challenge.startDate) throw problems.conflict(E.challengeNotStarted, `the challenge starts on ${challenge.startDate} (UTC)`);
      if (day > challenge.endDate) throw problems.conflict(E.challengeEnded, `the challenge ended on ${challenge.endDate} (UTC)`);
      return { logId: entry.id, challengeId, userId, day, createdAt: entry.createdAt };
    });
    if (recorded === "already_logged") throw problems.conflict(E.alreadyLoggedToday, `you already logged this challenge on ${day} (UTC)`);
    // Before answering: the caller's next read (logs or leaderboard) must show this log.
    await this.reads.memberChanged(challengeId, userId, true);
    return entry;
  }

  /** In the consumer's transaction: create (or name) the member's profile. */
  applyUserRegistered(event: UserRegistered): void {
    const registeredAt = Date.parse(event.registeredAt);
    this.store.saveProfileSync(event.userId, event.nickname, Number.isFinite(registeredAt) ? registeredAt : this.clock.now());
  }

  /** In the consumer's transaction: the renamed member's profile takes the new nickname (unless it knows a newer one). */
  applyUserUpdated(event: UserUpdated): void {
    const updatedAt = Date.parse(event.updatedAt);
    this.store.saveProfileSync(event.userId, event.nickname, Number.isFinite(updatedAt) ? updatedAt : this.clock.now());
  }

  /**
   * In the consumer's transaction: one member.left per membership, so the views consumer then
   * invalidates this user's cached logs and takes them off each leaderboard once this committed.
   */
  applyUserDeleted(event: UserDeleted): void {
    const userId = event.userId;
    this.store.removeUserSync(userId, this.clock.now(), (challengeId) => ({ challengeId, userId, reason: "user_deleted" }));
  }
}
