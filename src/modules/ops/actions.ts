// The operator's actions: dead letters listed, retried and discarded (each audited: a log line
// with the admin's user id and a row in ops_audit), and the one-time tickets of the live stream.
import { randomBytes } from "node:crypto";
import type { Static } from "elysia";
import type { Clock } from "../../platform/clock";
import type { DeadLetter as PlatformDeadLetter, DeadLetters } from "../../platform/events";
import { problems } from "../../platform/http/problem";
import { decodeCursor, encodeCursor } from "../../platform/http/paging";
import type { Logger } from "../../platform/logger";
import type { Principal } from "../accounts";
import { opsErrors } from "./errors";
import type { AuditEntry, DeadLetter, DeadLetterPage, RetryOutcome, Ticket } from "./model";
import type { AuditRecord, OpsStore, TicketOwner } from "./store";

export const ticketTtlMs = 30_000;

const sha256 = (text: string) => new Bun.CryptoHasher("sha256").update(text).digest("hex");

function wireLetter(l: PlatformDeadLetter): Static<typeof DeadLetter> {
  return {
    consumer: l.consumer,
    eventId: l.eventId,
    subject: l.subject,
    payload: l.payload,
    error: l.error,
    attempts: l.attempts,
    failedAt: new Date(l.failedAt).toISOString(),
    occurredAt: new Date(l.occurredAt).toISOString(),
  };
}

export class OpsActions {
  constructor(
    private readonly deadLetters: DeadLetters,
    private readonly store: OpsStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly instanceId: string,
  ) {}

  listDeadLetters(limit: number, cursor?: string): Static<typeof DeadLetterPage> {
    const after = cursor ? decodeCursor(cursor, ["number", "string", "string"] as const) : undefined;
    const rows = this.deadLetters.list(limit + 1, after && { failedAt: after[0], consumer: after[1], eventId: after[2] });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      items: page.map(wireLetter),
      nextCursor: rows.length > limit && last ? encodeCursor([last.failedAt, last.consumer, last.eventId]) : null,
      total: this.deadLetters.count(),
    };
  }

  async retry(actor: Principal, consumer: string, eventId: string): Promise<Static<typeof RetryOutcome>> {
    const result = await this.deadLetters.retry(consumer, eventId);
    if (result.status === "not_found") throw problems.notFound(opsErrors.deadLetterNotFound, `no dead letter of ${consumer} for event ${eventId}`);
    if (result.status === "no_consumer") {
      throw problems.conflict(opsErrors.consumerNotRegistered, `consumer ${consumer} is not registered in this process; discard the dead letter or retry on an instance that runs it`);
    }
    const error = result.status === "dead" ? result.error : null;
    await this.audit(actor, "dead_letter.retry", result.letter, result.status, error);
    return { outcome: result.status, error, attempts: result.status === "dead" ? result.attempts : null };
  }

  async discard(actor: Principal, consumer: string, eventId: string): Promise<void> {
    const letter = await this.deadLetters.discard(consumer, eventId);
    if (!letter) throw problems.notFound(opsErrors.deadLetterNotFound, `no dead letter of ${consumer} for event ${eventId}`);
    await this.audit(actor, "dead_letter.discard", letter, "discarded", null);
  }

  async auditTrail(limit: number): Promise<Array<Static<typeof AuditEntry>>> {
    return (await this.store.audit(limit)).map((e) => ({ ...e, at: new Date(e.at).toISOString() }));
  }

  private async audit(actor: Principal, action: AuditRecord["action"], letter: PlatformDeadLetter, outcome: AuditRecord["outcome"], detail: string | null) {
    const entry: AuditRecord = {
      id: Bun.randomUUIDv7(),
      at: this.clock.now(),
      actorUserId: actor.userId,
      instanceId: this.instanceId,
      action,
      consumer: letter.consumer,
      eventId: letter.eventId,
      subject: letter.subject,
      outcome,
      detail,
    };
    this.logger.info("ops audit", { action, actorUserId: actor.userId, consumer: letter.consumer, eventId: letter.eventId, subject: letter.subject, outcome });
    await this.store.recordAudit(entry);
  }

  /** A ticket for one GET /ops/api/stream: 32 random bytes, kept as their sha256 for 30 s. */
  async issueTicket(actor: Principal): Promise<Static<typeof Ticket>> {
    const ticket = randomBytes(32).toString("base64url");
    const now = this.clock.now();
    await this.store.saveTicket(sha256(ticket), { userId: actor.userId, sessionId: actor.sessionId }, now + ticketTtlMs, now);
    return { ticket, expiresAt: new Date(now + ticketTtlMs).toISOString() };
  }

  /** The ticket's owner, once; a missing, unknown, used or expired ticket is 401 invalid_ticket. */
  async redeemTicket(ticket: string | undefined): Promise<TicketOwner> {
    const owner = ticket ? await this.store.takeTicket(sha256(ticket), this.clock.now()) : null;
    if (!owner) throw problems.unauthorized(opsErrors.invalidTicket, "get a ticket from POST /ops/api/stream-ticket (admin) and use it once, within 30 s");
    return owner;
  }
}
