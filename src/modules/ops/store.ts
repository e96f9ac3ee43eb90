// The port the ops module's use cases need: instance heartbeats, the audit trail, stream tickets.
// All times epoch ms.

export interface InstanceRecord {
  id: string;
  role: string;
  pid: number;
  hostname: string;
  port: number;
  startedAt: number;
  lastSeenAt: number;
}

export interface AuditRecord {
  id: string;
  at: number;
  actorUserId: string;
  instanceId: string;
  action: "dead_letter.retry" | "dead_letter.discard";
  consumer: string;
  eventId: string;
  subject: string | null;
  outcome: "processed" | "duplicate" | "dead" | "discarded";
  detail: string | null;
}

export interface TicketOwner {
  userId: string;
  sessionId: string;
}

export interface OpsStore {
  /** Inserts or refreshes this instance's row; deletes rows not seen since `forgetBefore`. */
  heartbeat(instance: InstanceRecord, forgetBefore: number): Promise<void>;
  removeInstance(id: string): Promise<void>;
  /** Every instance row, most recently seen first. */
  instances(): Promise<InstanceRecord[]>;
  recordAudit(entry: AuditRecord): Promise<void>;
  /** Newest first. */
  audit(limit: number): Promise<AuditRecord[]>;
  /** Stores a ticket by its hash; deletes expired ones. */
  saveTicket(hash: string, owner: TicketOwner, expiresAt: number, now: number): Promise<void>;
  /** Deletes the ticket and returns its owner, if it exists and has not expired: a ticket works once. */
  takeTicket(hash: string, now: number): Promise<TicketOwner | null>;
}
