// The SQLite challenges store. Reads are prepared statements off the writer; each write is one
// function run inside GroupCommitWriter.write(), so it commits (with its outbox rows) as a unit.
import type { Database, Statement } from "bun:sqlite";
import type { GroupCommitWriter } from "../../platform/db/sqlite";
import {
  challengeEvents,
  type ChallengeCreated,
  type ChallengeDeleted,
  type ChallengesEventSink,
  type ChallengeUpdated,
  type LogRecorded,
  type MemberJoined,
  type MemberLeft,
} from "./events";
import type { ChallengeListFilter, ChallengeRecord, ChallengesStore, ChallengeView, LogRecord, ProfileRefusal, Standing } from "./store";

interface ChallengeRow {
  id: string;
  owner_id: string;
  title: string;
  title_key: string;
  description: string;
  start_date: string;
  end_date: string;
  created_at: number;
  updated_at: number;
}

interface ChallengeViewRow extends ChallengeRow {
  member_count: number;
  joined: number;
}

const toChallenge = (r: ChallengeRow): ChallengeRecord => ({
  id: r.id,
  ownerId: r.owner_id,
  title: r.title,
  titleKey: r.title_key,
  description: r.description,
  startDate: r.start_date,
  endDate: r.end_date,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const toView = (r: ChallengeViewRow): ChallengeView => ({ ...toChallenge(r), memberCount: r.member_count, joined: r.joined === 1 });

const viewColumns = `c.*,
  (SELECT COUNT(*) FROM challenge_members m WHERE m.challenge_id = c.id) AS member_count,
  EXISTS (SELECT 1 FROM challenge_members m WHERE m.challenge_id = c.id AND m.user_id = ?) AS joined`;

export class SqliteChallengesStore implements ChallengesStore {
  private readonly q;
  /** The list query has one shape per filter combination; each is prepared once. */
  private readonly listQueries = new Map<string, Statement<ChallengeViewRow, (string | number)[]>>();

  constructor(
    private readonly db: Database,
    private readonly writer: GroupCommitWriter,
    private readonly events: ChallengesEventSink,
  ) {
    this.q = {
      profileDeleted: db.query<{ deleted_at: number | null }, [string]>("SELECT deleted_at FROM challenge_profiles WHERE user_id = ?"),
      ensureProfile: db.query<unknown, [string, number]>(
        "INSERT INTO challenge_profiles (user_id, nickname, created_at) VALUES (?, NULL, ?) ON CONFLICT (user_id) DO NOTHING",
      ),
      // A tombstone wins: a user.registered (or .updated) that arrives after user.deleted changes
      // nothing; and a newer nickname wins over an older one, whichever event arrives first.
      upsertProfile: db.query<unknown, [string, string, number, number]>(
        `INSERT INTO challenge_profiles (user_id, nickname, created_at, nickname_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (user_id) DO UPDATE SET nickname = excluded.nickname, nickname_at = excluded.nickname_at
         WHERE challenge_profiles.deleted_at IS NULL
           AND (challenge_profiles.nickname_at IS NULL OR challenge_profiles.nickname_at <= excluded.nickname_at)`,
      ),
      tombstoneProfile: db.query<unknown, [string, number, number]>(
        `INSERT INTO challenge_profiles (user_id, nickname, created_at, deleted_at) VALUES (?, NULL, ?, ?)
         ON CONFLICT (user_id) DO UPDATE SET nickname = NULL, deleted_at = excluded.deleted_at
         WHERE challenge_profiles.deleted_at IS NULL`,
      ),
      challenge: db.query<ChallengeRow, [string]>("SELECT * FROM challenges WHERE id = ?"),
      challengeView: db.query<ChallengeViewRow, [string, string]>(`SELECT ${viewColumns} FROM challenges c WHERE c.id = ?`),
      titleTaken: db.query<{ one: number }, [string, string, string]>(
        "SELECT 1 AS one FROM challenges WHERE owner_id = ? AND title_key = ? AND id <> ?",
      ),
      insertChallenge: db.query(
        `INSERT INTO challenges (id, owner_id, title, title_key, description, start_date, end_date, created_at, updated_at)
         VALUES ($id, $owner_id, $title, $title_key, $description, $start_date, $end_date, $created_at, $updated_at)`,
      ),
      updateChallenge: db.query(
        `UPDATE challenges SET title = $title, title_key = $title_key, description = $description,
           start_date = $start_date, end_date = $end_date, updated_at = $updated_at
         WHERE id = $id`,
      ),
      deleteChallenge: db.query<unknown, [string]>("DELETE FROM challenges WHERE id = ?"),
      insertMember: db.query<unknown, [string, string, number]>(
        "INSERT INTO challenge_members (challenge_id, user_id, joined_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
      ),
      isMember: db.query<{ one: number }, [string, string]>(
        "SELECT 1 AS one FROM challenge_members WHERE challenge_id = ? AND user_id = ?",
      ),
      deleteMember: db.query<unknown, [string, string]>("DELETE FROM challenge_members WHERE challenge_id = ? AND user_id = ?"),
      memberIds: db.query<{ user_id: string }, [string]>("SELECT user_id FROM challenge_members WHERE challenge_id = ?"),
      membershipsOf: db.query<{ challenge_id: string }, [string]>("SELECT challenge_id FROM challenge_members WHERE user_id = ?"),
      deleteMembershipsOf: db.query<unknown, [string]>("DELETE FROM challenge_members WHERE user_id = ?"),
      insertLog: db.query(
        `INSERT INTO challenge_logs (id, challenge_id, user_id, day, created_at) VALUES ($id, $challenge_id, $user_id, $day, $created_at)
         ON CONFLICT (challenge_id, user_id, day) DO NOTHING`,
      ),
      logCount: db.query<{ n: number }, [string, string]>(
        "SELECT COUNT(*) AS n FROM challenge_logs WHERE challenge_id = ? AND user_id = ?",
      ),
      userLogs: db.query<{ challenge_id: string; created_at: number }, [string, number]>(
        "SELECT challenge_id, created_at FROM challenge_logs WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT ?",
      ),
      // Every member, with zero-log members too; ties ordered by user id (the Redis order too).
      standings: db.query<{ user_id: string; nickname: string | null; log_count: number }, [string, number]>(
        `SELECT m.user_id, p.nickname,
           (SELECT COUNT(*) FROM challenge_logs l WHERE l.challenge_id = m.challenge_id AND l.user_id = m.user_id) AS log_count
         FROM challenge_members m LEFT JOIN challenge_profiles p ON p.user_id = m.user_id
         WHERE m.challenge_id = ?
         ORDER BY log_count DESC, m.user_id ASC LIMIT ?`,
      ),
      membersNamed: db.query<{ user_id: string; nickname: string | null }, [string, string]>(
        `SELECT m.user_id, p.nickname FROM challenge_members m LEFT JOIN challenge_profiles p ON p.user_id = m.user_id
         WHERE m.challenge_id = ? AND m.user_id IN (SELECT value FROM json_each(?))`,
      ),
    };
  }

  async challenge(id: string): Promise<ChallengeRecord | null> {
    const row = this.q.challenge.get(id);
    return row ? toChallenge(row) : null;
  }

  async challengeView(id: string, viewerId: string): Promise<ChallengeView | null> {
    const row = this.q.challengeView.get(viewerId, id);
    return row ? toView(row) : null;
  }

  async listChallenges(f: ChallengeListFilter): Promise<ChallengeView[]> {
    const where: string[] = [];
    const args: (string | number)[] = [f.viewerId];
    if (f.beforeId !== undefined) {
      where.push("c.id < ?");
      args.push(f.beforeId);
    }
    if (f.activeOn !== undefined) {
      where.push("c.start_date <= ? AND c.end_date >= ?");
      args.push(f.activeOn, f.activeOn);
    }
    if (f.mine) {
      where.push("c.owner_id = ?");
      args.push(f.viewerId);
    }
    if (f.joined) {
      where.push("c.id IN (SELECT challenge_id FROM challenge_members WHERE user_id = ?)");
      args.push(f.viewerId);
    }
    args.push(f.limit);
    const shape = where.join(" AND ");
    let stmt = this.listQueries.get(shape);
    if (!stmt) {
      stmt = this.db.query(`SELECT ${viewColumns} FROM challenges c ${where.length ? `WHERE ${shape}` : ""} ORDER BY c.id DESC LIMIT ?`);
      this.listQueries.set(shape, stmt);
    }
    return stmt.all(...args).map(toView);
  }

  createChallenge(
    c: ChallengeRecord,
    events: { created: ChallengeCreated; ownerJoined: MemberJoined },
  ): Promise<"created" | "title_taken" | ProfileRefusal> {
    return this.writer.write(() => {
      if (this.q.titleTaken.get(c.ownerId, c.titleKey, "") !== null) return "title_taken";
      if (!this.ensureProfile(c.ownerId, c.createdAt)) return "profile_deleted";
      this.q.insertChallenge.run(this.challengeParams(c));
      // The owner takes part in their own challenge (and may leave it like anyone else).
      this.q.insertMember.run(c.id, c.ownerId, c.createdAt);
      this.events.emit(challengeEvents.challengeCreated, events.created);
      this.events.emit(challengeEvents.memberJoined, events.ownerJoined);
      return "created";
    });
  }

  updateChallenge(
    id: string,
    decide: (current: ChallengeRecord | null) => { next: ChallengeRecord; event: ChallengeUpdated },
  ): Promise<"updated" | "title_taken"> {
    return this.writer.write(() => {
      const row = this.q.challenge.get(id);
      const { next, event } = decide(row ? toChallenge(row) : null);
      if (next.titleKey !== row?.title_key && this.q.titleTaken.get(next.ownerId, next.titleKey, id) !== null) return "title_taken";
      const { owner_id: _owner, created_at: _created, ...fields } = this.challengeParams(next);
      this.q.updateChallenge.run(fields);
      this.events.emit(challengeEvents.challengeUpdated, event);
      return "updated";
    });
  }

  deleteChallenge(id: string, decide: (current: ChallengeRecord | null, memberIds: string[]) => ChallengeDeleted): Promise<string[]> {
    return this.writer.write(() => {
      const row = this.q.challenge.get(id);
      const memberIds = row ? this.q.memberIds.all(id).map((r) => r.user_id) : [];
      const event = decide(row ? toChallenge(row) : null, memberIds);
      this.q.deleteChallenge.run(id); // memberships and logs go by cascade
      this.events.emit(challengeEvents.challengeDeleted, event);
      return memberIds;
    });
  }

  join(
    member: { challengeId: string; userId: string; joinedAt: number },
    decide: (challenge: ChallengeRecord | null) => MemberJoined,
  ): Promise<"joined" | "already_member" | ProfileRefusal> {
    return this.writer.write(() => {
      const row = this.q.challenge.get(member.challengeId);
      const event = decide(row ? toChallenge(row) : null);
      if (!this.ensureProfile(member.userId, member.joinedAt)) return "profile_deleted";
      if (this.q.insertMember.run(member.challengeId, member.userId, member.joinedAt).changes !== 1) return "already_member";
      this.events.emit(challengeEvents.memberJoined, event);
      return "joined";
    });
  }

  leave(challengeId: string, userId: string, left: MemberLeft): Promise<"left" | "challenge_not_found" | "not_member"> {
    return this.writer.write(() => {
      if (!this.q.challenge.get(challengeId)) return "challenge_not_found";
      // Its logs go by cascade.
      if (this.q.deleteMember.run(challengeId, userId).changes !== 1) return "not_member";
      this.events.emit(challengeEvents.memberLeft, left);
      return "left";
    });
  }

  recordLog(
    log: LogRecord,
    decide: (challenge: ChallengeRecord | null, isMember: boolean) => LogRecorded,
  ): Promise<"recorded" | "already_logged"> {
    return this.writer.write(() => {
      const row = this.q.challenge.get(log.challengeId);
      const event = decide(row ? toChallenge(row) : null, this.q.isMember.get(log.challengeId, log.userId) !== null);
      const inserted = this.q.insertLog.run({
        id: log.id,
        challenge_id: log.challengeId,
        user_id: log.userId,
        day: log.day,
        created_at: log.createdAt,
      });
      if (inserted.changes !== 1) return "already_logged";
      this.events.emit(challengeEvents.logRecorded, event);
      return "recorded";
    });
  }

  async userLogs(userId: string, limit: number): Promise<Array<{ challengeId: string; createdAt: number }>> {
    return this.q.userLogs.all(userId, limit).map((r) => ({ challengeId: r.challenge_id, createdAt: r.created_at }));
  }

  async standings(challengeId: string, limit: number): Promise<Standing[]> {
    return this.q.standings.all(challengeId, limit).map((r) => ({ userId: r.user_id, nickname: r.nickname, logCount: r.log_count }));
  }

  async membersNamed(challengeId: string, userIds: string[]): Promise<Map<string, string | null>> {
    const rows = this.q.membersNamed.all(challengeId, JSON.stringify(userIds));
    return new Map(rows.map((r) => [r.user_id, r.nickname]));
  }

  async memberLogCount(challengeId: string, userId: string): Promise<number | null> {
    if (this.q.isMember.get(challengeId, userId) === null) return null;
    return this.q.logCount.get(challengeId, userId)?.n ?? 0;
  }

  saveProfileSync(userId: string, nickname: string, nicknameAt: number): void {
    this.q.upsertProfile.run(userId, nickname, nicknameAt, nicknameAt);
  }

  removeUserSync(userId: string, at: number, left: (challengeId: string) => MemberLeft): void {
    for (const { challenge_id } of this.q.membershipsOf.all(userId)) this.events.emit(challengeEvents.memberLeft, left(challenge_id));
    this.q.deleteMembershipsOf.run(userId); // their logs go by cascade
    this.q.tombstoneProfile.run(userId, at, at);
  }

  /** The caller's profile, created empty when missing; false when it is a tombstone. */
  private ensureProfile(userId: string, at: number): boolean {
    this.q.ensureProfile.run(userId, at);
    return this.q.profileDeleted.get(userId)?.deleted_at === null;
  }

  /** Named parameters (strict mode: without the $ of the SQL). */
  private challengeParams(c: ChallengeRecord) {
    return {
      id: c.id,
      owner_id: c.ownerId,
      title: c.title,
      title_key: c.titleKey,
      description: c.description,
      start_date: c.startDate,
      end_date: c.endDate,
      created_at: c.createdAt,
      updated_at: c.updatedAt,
    };
  }
}
