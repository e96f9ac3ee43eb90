// The sandbox payment gateway: a small PG that lives in the binary, for offline use, demos,
// benchmarks and tests. It keeps its own ledger (the shop_sandbox_* tables, named from when it
// was part of the shop), honours Idempotency-Key (a repeated key gets the first answer, kept
// 12 h; keys are scoped per partner user, see scopedKey) and injects faults the way a real PG fails:
//   - latency before every call;
//   - errors: 503 before anything is processed (nothing happened);
//   - timeouts: the call IS processed, then the answer is held back for hangMs — the caller
//     times out not knowing the outcome (only the idempotency key saves it from paying twice);
//   - declines: the payment method refuses (approve and recurring charges).
// Two HTTP faces speak to it (routes/): the native API and a KakaoPay-shaped facade.
import type { Database } from "bun:sqlite";
import { createHash } from "node:crypto";
import type { Clock } from "../../platform/clock";
import type { GroupCommitWriter } from "../../platform/db/sqlite";
import type { Logger } from "../../platform/logger";
import { sandboxPgErrors as errors, type SandboxPgErrorCode } from "./errors";
import { ledgerStatements, type PaymentRow, view } from "./ledger";

export interface SandboxFaults {
  errorPct: number;
  timeoutPct: number;
  declinePct: number;
  latencyMs: number;
  hangMs: number;
  /** partner_user_ids whose approvals and charges are always declined. */
  declineUsers: string[];
}

export type PaymentKind = "ONETIME" | "SUBSCRIPTION_FIRST" | "RECURRING";

export interface SandboxPayment {
  tid: string;
  kind: PaymentKind;
  status: "READY" | "AUTHORIZED" | "APPROVED" | "DECLINED" | "ABORTED" | "CANCELLED" | "PART_CANCELLED";
  partnerOrderId: string;
  partnerUserId: string;
  itemName: string;
  quantity: number;
  amount: number;
  cancelledAmount: number;
  sid: string | null;
  aid: string | null;
  createdAt: string;
  approvedAt: string | null;
}

export type Failure = { ok: false; kind: "declined" | "rejected" | "not_found"; code: SandboxPgErrorCode; message: string };
export type Outcome<T> = { ok: true; value: T } | Failure;
/** What a face renders: an outcome, or an injected outage (503, nothing processed). */
export type Reply<T> = Outcome<T> | { ok: false; kind: "unavailable"; code: typeof errors.unavailable; message: string };

const idempotencyTtlMs = 12 * 3_600_000;

const fail = (kind: Failure["kind"], code: SandboxPgErrorCode, message: string): Failure => ({ ok: false, kind, code, message });

function randomId(prefix: string): string {
  const bytes = new Uint8Array(10);
  crypto.getRandomValues(bytes);
  return prefix + Buffer.from(bytes).toString("hex").toUpperCase();
}

export interface ReadyParams {
  partnerOrderId: string;
  partnerUserId: string;
  itemName: string;
  quantity: number;
  amount: number;
  recurring: boolean;
  approvalUrl: string;
  cancelUrl: string;
  failUrl: string;
}

export interface ChargeParams {
  sid: string;
  partnerOrderId: string;
  partnerUserId: string;
  itemName: string;
  quantity: number;
  amount: number;
}

export class SandboxPg {
  faults: SandboxFaults;
  private readonly merchant: string;
  private readonly q;
  private lastSweep = 0;

  constructor(
    db: Database,
    private readonly writer: GroupCommitWriter,
    /**
     * The shop's public URL: the checkout page is <publicUrl>/sandbox-pg/checkout/<tid>, and the
     * only place the page sends a buyer back to (no data:, no other site).
     */
    private readonly publicUrl: string,
    faults: Omit<SandboxFaults, "declineUsers">,
    private readonly clock: Clock,
    private readonly logger: Logger,
    /** The merchant key: stored idempotency keys are scoped by its digest (a new key replays nothing of the old). */
    merchantKey: string,
  ) {
    // Only the faults: what is logged and served on a change (the config they come with holds secrets).
    const { errorPct, timeoutPct, declinePct, latencyMs, hangMs } = faults;
    this.faults = { errorPct, timeoutPct, declinePct, latencyMs, hangMs, declineUsers: [] };
    this.merchant = createHash("sha256").update(merchantKey).digest("hex").slice(0, 32);
    this.q = ledgerStatements(db);
  }

  configure(patch: Partial<SandboxFaults>): SandboxFaults {
    this.faults = { ...this.faults, ...patch };
    this.logger.info("sandbox PG faults changed", { ...this.faults });
    return this.faults;
  }

  /** The ledger, as the PG sees it: every payment of a partner order (or all). */
  payments(partnerOrderId?: string): SandboxPayment[] {
    return (partnerOrderId === undefined ? this.q.all.all() : this.q.byOrder.all(partnerOrderId)).map(view);
  }

  payment(tid: string): SandboxPayment | null {
    const row = this.q.payment.get(tid);
    return row ? view(row) : null;
  }

  // -------------------------------------------------------------------------------------------
  // Operations. Each runs through `run`: latency, injected outage, then the change and its
  // idempotency record in one transaction, then maybe a held-back answer.

  ready(p: ReadyParams, key: string | null): Promise<Reply<SandboxPayment & { redirectUrl: string }>> {
    return this.run("ready", key, p, p.partnerUserId, () => {
      if (!Number.isSafeInteger(p.amount) || p.amount <= 0)
        return fail("rejected", errors.invalidAmount, "amount must be a positive integer");
      const foreign = [p.approvalUrl, p.cancelUrl, p.failUrl].find((url) => !this.returnsToShop(url));
      if (foreign !== undefined) return this.foreignUrl(foreign);
      const now = this.clock.now();
      const row: Omit<PaymentRow, "pg_token" | "cancelled_amount"> = {
        tid: randomId("T"),
        kind: p.recurring ? "SUBSCRIPTION_FIRST" : "ONETIME",
        status: "READY",
        partner_order_id: p.partnerOrderId,
        partner_user_id: p.partnerUserId,
        item_name: p.itemName,
        quantity: p.quantity,
        amount: p.amount,
        sid: null,
        aid: null,
        approval_url: p.approvalUrl,
        cancel_url: p.cancelUrl,
        fail_url: p.failUrl,
        created_at: now,
        approved_at: null,
        updated_at: now,
      };
      this.q.insert.run(row);
      return {
        ok: true,
        value: {
          ...view({ ...row, pg_token: null, cancelled_amount: 0 }),
          redirectUrl: `${this.publicUrl}/sandbox-pg/checkout/${row.tid}`,
        },
      };
    });
  }

  /**
   * The buyer's browser at the checkout page: approving gives a pg_token and sends them to the
   * approval URL; cancelling or failing sends them to those URLs. No faults here (it's the
   * buyer's side). Returns where to redirect, or null for an unknown tid.
   */
  async checkout(tid: string, action: "approve" | "cancel" | "fail"): Promise<{ location: string } | Failure> {
    return this.writer.write(() => {
      const row = this.q.payment.get(tid);
      if (!row) return fail("not_found", errors.paymentNotFound, "no such payment");
      if (row.status !== "READY") return fail("rejected", errors.notReady, `the payment is ${row.status}`);
      // Rows from before the check: where it would go is checked again, nothing changes if refused.
      const target = action === "approve" ? row.approval_url! : action === "cancel" ? row.cancel_url! : row.fail_url!;
      if (!this.returnsToShop(target)) return this.foreignUrl(target);
      const now = this.clock.now();
      if (action === "approve") {
        const token = randomId("").toLowerCase();
        this.q.authorize.run(token, now, tid);
        const url = new URL(row.approval_url!);
        url.searchParams.set("pg_token", token);
        return { location: url.toString() };
      }
      this.q.abort.run(now, tid);
      return { location: action === "cancel" ? row.cancel_url! : row.fail_url! };
    });
  }

  approve(
    tid: string,
    p: { pgToken: string; partnerOrderId: string; partnerUserId: string },
    key: string | null,
  ): Promise<Reply<SandboxPayment>> {
    return this.run("approve", key, { tid, ...p }, p.partnerUserId, () => {
      const row = this.q.payment.get(tid);
      if (!row) return fail("not_found", errors.paymentNotFound, "no such payment");
      if (row.partner_order_id !== p.partnerOrderId || row.partner_user_id !== p.partnerUserId) {
        return fail("rejected", errors.partnerMismatch, "partner order or user does not match the payment");
      }
      if (row.status === "READY") return fail("rejected", errors.notAuthorized, "the buyer has not approved this payment yet");
      if (row.status !== "AUTHORIZED") return fail("rejected", errors.invalidStatus, `the payment is ${row.status}`);
      if (row.pg_token !== p.pgToken) return fail("rejected", errors.invalidPgToken, "pg_token does not match");
      const now = this.clock.now();
      if (this.declines(row.partner_user_id)) {
        this.q.settle.run("DECLINED", null, null, null, now, tid);
        return fail("declined", errors.cardDeclined, "the payment method was declined (sandbox)");
      }
      let sid: string | null = null;
      if (row.kind === "SUBSCRIPTION_FIRST") {
        sid = randomId("S");
        this.q.insertSid.run(sid, row.partner_user_id, now);
      }
      const aid = randomId("A");
      this.q.settle.run("APPROVED", aid, sid, now, now, tid);
      return { ok: true, value: view({ ...row, status: "APPROVED", aid, sid, approved_at: now, updated_at: now }) };
    });
  }

  charge(p: ChargeParams, key: string | null): Promise<Reply<SandboxPayment>> {
    return this.run("charge", key, p, p.partnerUserId, () => {
      if (!Number.isSafeInteger(p.amount) || p.amount <= 0)
        return fail("rejected", errors.invalidAmount, "amount must be a positive integer");
      const sid = this.q.sid.get(p.sid);
      if (!sid) return fail("not_found", errors.sidNotFound, "no such SID");
      if (sid.partner_user_id !== p.partnerUserId) return fail("rejected", errors.partnerMismatch, "the SID belongs to another user");
      if (sid.status !== "ACTIVE") return fail("rejected", errors.sidInactive, "the SID is inactive");
      const now = this.clock.now();
      const declined = this.declines(p.partnerUserId);
      const aid = declined ? null : randomId("A");
      const row: Omit<PaymentRow, "pg_token" | "cancelled_amount"> = {
        tid: randomId("T"),
        kind: "RECURRING",
        status: declined ? "DECLINED" : "APPROVED",
        partner_order_id: p.partnerOrderId,
        partner_user_id: p.partnerUserId,
        item_name: p.itemName,
        quantity: p.quantity,
        amount: p.amount,
        sid: p.sid,
        aid,
        approval_url: null,
        cancel_url: null,
        fail_url: null,
        created_at: now,
        approved_at: declined ? null : now,
        updated_at: now,
      };
      this.q.insert.run(row);
      if (declined) return fail("declined", errors.cardDeclined, "the payment method was declined (sandbox)");
      return { ok: true, value: view({ ...row, pg_token: null, cancelled_amount: 0 }) };
    });
  }

  cancel(tid: string, amount: number, key: string | null): Promise<Reply<SandboxPayment & { cancelledNow: number }>> {
    // Scoped by the payment's user (it never changes: read before the transaction).
    const user = this.q.payment.get(tid)?.partner_user_id ?? "";
    return this.run("cancel", key, { tid, amount }, user, () => {
      const row = this.q.payment.get(tid);
      if (!row) return fail("not_found", errors.paymentNotFound, "no such payment");
      if (row.status !== "APPROVED" && row.status !== "PART_CANCELLED")
        return fail("rejected", errors.invalidStatus, `the payment is ${row.status}`);
      const remaining = row.amount - row.cancelled_amount;
      if (!Number.isSafeInteger(amount) || amount <= 0 || amount > remaining) {
        return fail("rejected", errors.invalidCancelAmount, `cancel amount must be 1 to ${remaining}`);
      }
      const status = amount === remaining ? "CANCELLED" : "PART_CANCELLED";
      const now = this.clock.now();
      this.q.cancel.run(amount, status, now, tid);
      return {
        ok: true,
        value: { ...view({ ...row, status, cancelled_amount: row.cancelled_amount + amount, updated_at: now }), cancelledNow: amount },
      };
    });
  }

  inactivate(sid: string, key: string | null): Promise<Reply<{ sid: string; status: "INACTIVE"; inactivatedAt: string }>> {
    return this.run("inactivate", key, { sid }, this.q.sid.get(sid)?.partner_user_id ?? "", () => {
      const row = this.q.sid.get(sid);
      if (!row) return fail("not_found", errors.sidNotFound, "no such SID");
      const now = this.clock.now();
      this.q.inactivateSid.run(now, sid);
      return { ok: true, value: { sid, status: "INACTIVE", inactivatedAt: new Date(now).toISOString() } };
    });
  }

  /** Whether a URL is on the shop's public URL (same origin, under its path): where a buyer may be sent. */
  private returnsToShop(raw: string): boolean {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return false;
    }
    const base = new URL(this.publicUrl);
    const path = base.pathname.replace(/\/+$/, "");
    return url.origin === base.origin && (url.pathname === path || url.pathname.startsWith(`${path}/`)) && !url.username && !url.password;
  }

  private foreignUrl(url: string): Failure {
    const shown = url.length > 60 ? `${url.slice(0, 60)}…` : url;
    return fail(
      "rejected",
      errors.invalidRedirectUrl,
      `${shown} is not on the shop's public URL (${this.publicUrl}); the buyer is only sent back there`,
    );
  }

  private declines(userId: string): boolean {
    return this.faults.declineUsers.includes(userId) || Math.random() * 100 < this.faults.declinePct;
  }

  /**
   * Idempotency-Key is scoped: stored as a digest of (merchant key, partner user, key), the user
   * being the request's or its payment's / SID's. One partner user's key neither replays nor
   * reveals another's (a reused key is another user's fresh request), and keys are not kept in clear.
   */
  private scopedKey(partnerUserId: string, key: string): string {
    return createHash("sha256")
      .update(JSON.stringify([this.merchant, partnerUserId, key]))
      .digest("hex");
  }

  private async run<T>(
    operation: string,
    key: string | null,
    params: unknown,
    partnerUserId: string,
    fn: () => Outcome<T>,
  ): Promise<Reply<T>> {
    const { latencyMs, errorPct, timeoutPct, hangMs } = this.faults;
    if (latencyMs > 0) await Bun.sleep(latencyMs);
    if (Math.random() * 100 < errorPct) {
      return { ok: false, kind: "unavailable", code: errors.unavailable, message: "the sandbox PG is unavailable (injected fault)" };
    }
    const fingerprint = JSON.stringify([operation, params]);
    const now = this.clock.now();
    const outcome = await this.writer.write((): Outcome<T> => {
      if (now - this.lastSweep > 600_000) {
        this.lastSweep = now;
        this.q.sweepIdem.run(now - idempotencyTtlMs);
      }
      const scoped = key === null ? null : this.scopedKey(partnerUserId, key);
      if (scoped !== null) {
        const seen = this.q.idem.get(scoped);
        if (seen) {
          if (seen.operation !== operation || seen.fingerprint !== fingerprint) {
            return fail("rejected", errors.idempotencyKeyReused, "this Idempotency-Key was used for a different request");
          }
          return JSON.parse(seen.body) as Outcome<T>;
        }
      }
      const result = fn();
      // Declines are stored too: repeating the same request must not turn a decline into a charge.
      if (scoped !== null && (result.ok || result.kind === "declined")) {
        this.q.insertIdem.run(scoped, operation, fingerprint, result.ok ? 200 : 402, JSON.stringify(result), now);
      }
      return result;
    });
    // Processed, but the caller will have given up by the time the answer arrives.
    if (hangMs > 0 && Math.random() * 100 < timeoutPct) await Bun.sleep(hangMs);
    return outcome;
  }
}
