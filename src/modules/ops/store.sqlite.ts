// The ops store on the shared SQLite file: every instance on this data dir sees the same rows.
import type { Database, Statement } from "bun:sqlite";
import type { GroupCommitWriter } from "../../platform/db/sqlite";
import type { AuditRecord, InstanceRecord, OpsStore, TicketOwner } from "./store";

interface InstanceRow {
  id: string;
  role: string;
  pid: number;
  hostname: string;
  port: number;
  started_at: number;
  last_seen_at: number;
}

interface AuditRow {
  id: string;
  at: number;
  actor_user_id: string;
  instance_id: string;
  action: AuditRecord["action"];
  consumer: string;
  event_id: string;
  subject: string | null;
  outcome: AuditRecord["outcome"];
  detail: string | null;
}

export class SqliteOpsStore implements OpsStore {
  private readonly upsertInstance: Statement;
  private readonly forgetInstances: Statement;
  private readonly deleteInstance: Statement;
  private readonly selectInstances: Statement<InstanceRow, []>;
  private readonly insertAudit: Statement;
  private readonly selectAudit: Statement<AuditRow, [number]>;
  private readonly insertTicket: Statement;
  private readonly pruneTickets: Statement;
  private readonly deleteTicket: Statement<{ user_id: string; session_id: string; expires_at: number }, [string]>;

  constructor(
    db: Database,
    private readonly writer: GroupCommitWriter,
  ) {
    this.upsertInstance = db.prepare(
      "INSERT INTO ops_instances (id, role, pid, hostname, port, started_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?) " +
        "ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at",
    );
    this.forgetInstances = db.prepare("DELETE FROM ops_instances WHERE last_seen_at < ?");
    this.deleteInstance = db.prepare("DELETE FROM ops_instances WHERE id = ?");
    this.selectInstances = db.prepare("SELECT id, role, pid, hostname, port, started_at, last_seen_at FROM ops_instances ORDER BY last_seen_at DESC, id");
    this.insertAudit = db.prepare(
      "INSERT INTO ops_audit (id, at, actor_user_id, instance_id, action, consumer, event_id, subject, outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    this.selectAudit = db.prepare(
      "SELECT id, at, actor_user_id, instance_id, action, consumer, event_id, subject, outcome, detail FROM ops_audit ORDER BY at DESC, id DESC LIMIT ?",
    );
    this.insertTicket = db.prepare("INSERT INTO ops_tickets (hash, user_id, session_id, expires_at) VALUES (?, ?, ?, ?)");
    this.pruneTickets = db.prepare("DELETE FROM ops_tickets WHERE expires_at <= ?");
    this.deleteTicket = db.prepare("DELETE FROM ops_tickets WHERE hash = ? RETURNING user_id, session_id, expires_at");
  }

  async heartbeat(i: InstanceRecord, forgetBefore: number): Promise<void> {
    await this.writer.write(() => {
      this.upsertInstance.run(i.id, i.role, i.pid, i.hostname, i.port, i.startedAt, i.lastSeenAt);
      this.forgetInstances.run(forgetBefore);
    });
  }

  async removeInstance(id: string): Promise<void> {
    await this.writer.write(() => this.deleteInstance.run(id));
  }

  async instances(): Promise<InstanceRecord[]> {
    return this.selectInstances.all().map((r) => ({
      id: r.id,
      role: r.role,
      pid: r.pid,
      hostname: r.hostname,
      port: r.port,
      startedAt: r.started_at,
      lastSeenAt: r.last_seen_at,
    }));
  }

  async recordAudit(e: AuditRecord): Promise<void> {
    await this.writer.write(() =>
      this.insertAudit.run(e.id, e.at, e.actorUserId, e.instanceId, e.action, e.consumer, e.eventId, e.subject, e.outcome, e.detail),
    );
  }

  async audit(limit: number): Promise<AuditRecord[]> {
    return this.selectAudit.all(limit).map((r) => ({
      id: r.id,
      at: r.at,
      actorUserId: r.actor_user_id,
      instanceId: r.instance_id,
      action: r.action,
      consumer: r.consumer,
      eventId: r.event_id,
      subject: r.subject,
      outcome: r.outcome,
      detail: r.detail,
    }));
  }

  async saveTicket(hash: string, owner: TicketOwner, expiresAt: number, now: number): Promise<void> {
    await this.writer.write(() => {
      this.pruneTickets.run(now);
      this.insertTicket.run(hash, owner.userId, owner.sessionId, expiresAt);
    });
  }

  async takeTicket(hash: string, now: number): Promise<TicketOwner | null> {
    const row = await this.writer.write(() => this.deleteTicket.get(hash));
    if (!row || row.expires_at <= now) return null;
    return { userId: row.user_id, sessionId: row.session_id };
  }
}
