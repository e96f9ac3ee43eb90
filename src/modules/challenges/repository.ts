// What the challenges service needs from storage, and its SQLite implementation.
// Reads use prepared statements directly; writes are synchronous functions the service runs
// inside GroupCommitWriter.write() so they commit (with their outbox rows) as one unit.
import type { Database, Statement } from "bun:sqlite";

export interface ChallengeRow {
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

/** A challenge as seen by one viewer: with its member count and whether the viewer joined. */
export interface ChallengeViewRow extends ChallengeRow {
  member_count: number;
  joined: number;
}

export interface ProfileRow {
  user_id: string;
  nickname: string | null;
  created_at: number;
  deleted_at: number | null;
}

export interface LogRow {
  id: string;
  challenge_id: string;
  user_id: string;
  day: string;
  created_at: number;
}

export interface StandingRow {
  user_id: string;
  nickname: string | null;
  log_count: number;
}

export interface ListFilter {
  viewerId: string;
  /** Only challenges running on this UTC day (YYYY-MM-DD). */
  activeOn?: string;
  mine?: boolean;
  joined?: boolean;
  /** Exclusive: ids below this one (pages go newest first). */
  beforeId?: string;
  limit: number;
}

const viewColumns = `c.*,
  (SELECT COUNT(*) FROM challenge_members m WHERE m.challenge_id = c.id) AS member_count,
  EXISTS (SELECT 1 FROM challenge_members m WHERE m.challenge_id = c.id AND m.user_id = ?) AS joined`;

export class ChallengesRepository {
  private readonly q;
  /** The list query has one shape per filter combination; each is prepared once. */
  private readonly listQueries = new Map<string, Statement<ChallengeViewRow, string[] | (string | number)[]>>();

  constructor(private readonly db: Database) {
    this.q = {
      profile: db.query<ProfileRow, [string]>("SELECT * FROM challenge_profiles WHERE user_id = ?"),
      ensureProfile: db.query<unknown, [string, number]>(
        "INSERT INTO challenge_profiles (user_id, nickname, created_at) VALUES (?, NULL, ?) ON CONFLICT (user_id) DO NOTHING",
      ),
      // A tombstone wins: a user.registered that arrives after user.deleted changes nothing.
      upsertProfile: db.query<unknown, [string, string, number]>(
        `INSERT INTO challenge_profiles (user_id, nickname, created_at) VALUES (?, ?, ?)
         ON CONFLICT (user_id) DO UPDATE SET nickname = excluded.nickname WHERE challenge_profiles.deleted_at IS NULL`,
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
      standings: db.query<StandingRow, [string, number]>(
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

  profile(userId: string): ProfileRow | null {
    return this.q.profile.get(userId);
  }
  /** Creates an empty profile if there is none (see ChallengesService.ensureProfile). */
  ensureProfile(userId: string, now: number): ProfileRow {
    this.q.ensureProfile.run(userId, now);
    return this.q.profile.get(userId)!;
  }
  upsertProfile(userId: string, nickname: string, createdAt: number): void {
    this.q.upsertProfile.run(userId, nickname, createdAt);
  }
  tombstoneProfile(userId: string, now: number): void {
    this.q.tombstoneProfile.run(userId, now, now);
  }

  challenge(id: string): ChallengeRow | null {
    return this.q.challenge.get(id);
  }
  challengeView(id: string, viewerId: string): ChallengeViewRow | null {
    return this.q.challengeView.get(viewerId, id);
  }
  titleTaken(ownerId: string, titleKey: string, exceptId = ""): boolean {
    return this.q.titleTaken.get(ownerId, titleKey, exceptId) !== null;
  }
  insertChallenge(row: ChallengeRow): void {
    this.q.insertChallenge.run({ ...row });
  }
  updateChallenge(row: ChallengeRow): void {
    const { owner_id: _owner, created_at: _created, ...fields } = row;
    this.q.updateChallenge.run(fields);
  }
  deleteChallenge(id: string): boolean {
    return this.q.deleteChallenge.run(id).changes === 1;
  }

  list(f: ListFilter): ChallengeViewRow[] {
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
      stmt = this.db.query(
        `SELECT ${viewColumns} FROM challenges c ${where.length ? `WHERE ${shape}` : ""} ORDER BY c.id DESC LIMIT ?`,
      );
      this.listQueries.set(shape, stmt);
    }
    return stmt.all(...args);
  }

  /** False when already a member. */
  insertMember(challengeId: string, userId: string, now: number): boolean {
    return this.q.insertMember.run(challengeId, userId, now).changes === 1;
  }
  isMember(challengeId: string, userId: string): boolean {
    return this.q.isMember.get(challengeId, userId) !== null;
  }
  /** Removes the membership and, by cascade, its logs. False when not a member. */
  deleteMember(challengeId: string, userId: string): boolean {
    return this.q.deleteMember.run(challengeId, userId).changes === 1;
  }
  memberIds(challengeId: string): string[] {
    return this.q.memberIds.all(challengeId).map((r) => r.user_id);
  }
  membershipsOf(userId: string): string[] {
    return this.q.membershipsOf.all(userId).map((r) => r.challenge_id);
  }
  deleteMembershipsOf(userId: string): number {
    return this.q.deleteMembershipsOf.run(userId).changes;
  }

  /** False when the member already logged this challenge on that day. */
  insertLog(row: LogRow): boolean {
    return this.q.insertLog.run({ ...row }).changes === 1;
  }
  logCount(challengeId: string, userId: string): number {
    return this.q.logCount.get(challengeId, userId)?.n ?? 0;
  }
  userLogs(userId: string, limit: number): Array<{ challenge_id: string; created_at: number }> {
    return this.q.userLogs.all(userId, limit);
  }
  /** Members ranked by log count; limit -1 = all of them. */
  standings(challengeId: string, limit: number): StandingRow[] {
    return this.q.standings.all(challengeId, limit);
  }
  /** Nicknames of those of userIds that are members of the challenge (non-members are left out). */
  membersNamed(challengeId: string, userIds: string[]): Map<string, string | null> {
    const rows = this.q.membersNamed.all(challengeId, JSON.stringify(userIds));
    return new Map(rows.map((r) => [r.user_id, r.nickname]));
  }
}
