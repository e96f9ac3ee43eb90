// Challenge use cases: create, read, edit, delete, list. No Elysia types here; errors are
// HttpProblems. Challenges are public: anyone signed in may read one, only its owner may change it.
//
// Owned challenges outlive their owner's account (user.deleted removes the user's memberships
// and logs, not the challenges other members are taking part in); they just can't be edited.
import type { Clock } from "../../platform/clock";
import { decodeCursor, encodeCursor } from "../../platform/http/paging";
import { problems } from "../../platform/http/problem";
import { textKey } from "../../platform/text";
import type { Principal } from "../accounts";
import { challengesErrors as E } from "./errors";
import type { ChallengeCreated } from "./events";
import type { Challenge, ChallengeListQuery, ChallengePage, CreateChallengeBody, UpdateChallengeBody } from "./model";
import type { ChallengeReads } from "./reads";
import type { ChallengeRecord, ChallengesStore, ChallengeView } from "./store";

export const iso = (ms: number) => new Date(ms).toISOString();

export function utcDay(ms: number): string {
  return iso(ms).slice(0, 10);
}

export const challengeNotFound = () => problems.notFound(E.challengeNotFound, "no such challenge");
export const profileDeleted = () => problems.notFound(E.userNotFound, "the account no longer exists");
const titleTaken = () => problems.conflict(E.titleTaken, "you already have a challenge with this title");

function toChallenge(c: ChallengeView): Challenge {
  return {
    id: c.id,
    ownerId: c.ownerId,
    title: c.title,
    description: c.description,
    startDate: c.startDate,
    endDate: c.endDate,
    memberCount: c.memberCount,
    joined: c.joined,
    createdAt: iso(c.createdAt),
    updatedAt: iso(c.updatedAt),
  };
}

/** Case-insensitive, and one spelling of each accented letter (the platform's text key). */
const titleKey = textKey;

function checkRange(startDate: string, endDate: string): void {
  // YYYY-MM-DD strings compare like the dates they name.
  if (startDate > endDate) {
    throw problems.unprocessable(E.invalidDateRange, `startDate ${startDate} is after endDate ${endDate}`, [
      { field: "/endDate", message: "must not be before startDate" },
    ]);
  }
}

function eventOf(c: ChallengeRecord): ChallengeCreated {
  return { challengeId: c.id, ownerId: c.ownerId, title: c.title, startDate: c.startDate, endDate: c.endDate };
}

/** Only the owner may change a challenge: a non-owner's edit is 403 (anyone may read it), not 404. */
function owned(principal: Principal, c: ChallengeRecord | null): ChallengeRecord {
  if (!c) throw challengeNotFound();
  if (c.ownerId !== principal.userId) throw problems.forbidden(E.notOwner, "only the owner can change or delete this challenge");
  return c;
}

export class ChallengeCatalog {
  constructor(
    private readonly store: ChallengesStore,
    private readonly reads: ChallengeReads,
    private readonly clock: Clock,
  ) {}

  async create(principal: Principal, body: CreateChallengeBody): Promise<Challenge> {
    // The schema refuses blank titles; stored trimmed.
    const title = body.title.trim();
    checkRange(body.startDate, body.endDate);
    const now = this.clock.now();
    const challenge: ChallengeRecord = {
      id: Bun.randomUUIDv7(),
      ownerId: principal.userId,
      title,
      titleKey: titleKey(title),
      description: body.description ?? "",
      startDate: body.startDate,
      endDate: body.endDate,
      createdAt: now,
      updatedAt: now,
    };
    const created = await this.store.createChallenge(challenge, {
      created: eventOf(challenge),
      ownerJoined: { challengeId: challenge.id, userId: principal.userId, joinedAt: iso(now) },
    });
    if (created === "title_taken") throw titleTaken();
    if (created === "profile_deleted") throw profileDeleted();
    await this.reads.memberChanged(challenge.id, principal.userId, false);
    return this.get(principal, challenge.id);
  }

  async get(principal: Principal, id: string): Promise<Challenge> {
    const view = await this.store.challengeView(id, principal.userId);
    if (!view) throw challengeNotFound();
    return toChallenge(view);
  }

  async update(principal: Principal, id: string, patch: UpdateChallengeBody): Promise<Challenge> {
    const title = patch.title?.trim();
    const now = this.clock.now();
    const updated = await this.store.updateChallenge(id, (current) => {
      const c = owned(principal, current);
      const next: ChallengeRecord = {
        ...c,
        title: title ?? c.title,
        titleKey: title === undefined ? c.titleKey : titleKey(title),
        description: patch.description ?? c.description,
        startDate: patch.startDate ?? c.startDate,
        endDate: patch.endDate ?? c.endDate,
        updatedAt: now,
      };
      checkRange(next.startDate, next.endDate);
      return { next, event: eventOf(next) };
    });
    if (updated === "title_taken") throw titleTaken();
    return this.get(principal, id);
  }

  async remove(principal: Principal, id: string): Promise<void> {
    const memberIds = await this.store.deleteChallenge(id, (current, members) => {
      const c = owned(principal, current);
      return { challengeId: c.id, ownerId: c.ownerId, memberIds: members };
    });
    await this.reads.challengeDeleted(id, memberIds);
  }

  /**
   * Newest first, keyed by the UUIDv7 id alone: unique and totally ordered, so a page boundary
   * can neither repeat nor skip a challenge, whatever is created or deleted meanwhile.
   */
  async list(principal: Principal, query: ChallengeListQuery): Promise<ChallengePage> {
    const limit = query.limit ?? 20;
    const beforeId = query.cursor === undefined ? undefined : decodeCursor(query.cursor, ["string"])[0];
    const rows = await this.store.listChallenges({
      viewerId: principal.userId,
      activeOn: query.active ? utcDay(this.clock.now()) : undefined,
      mine: query.mine === true,
      joined: query.joined === true,
      beforeId,
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { items: page.map(toChallenge), nextCursor: rows.length > limit && last ? encodeCursor([last.id]) : null };
  }
}
