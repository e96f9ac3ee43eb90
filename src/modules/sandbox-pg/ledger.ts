// The sandbox PG's ledger in SQLite: payments, SIDs and stored idempotent answers (keyed by the
// digest of merchant, partner user and Idempotency-Key: engine.ts, scopedKey). The tables
// keep the names they had when the sandbox was part of the shop (shop_sandbox_*): data dirs
// from then keep their rows (see migrations/0001_sandbox_pg.sql).
import type { Database } from "bun:sqlite";
import type { PaymentKind, SandboxPayment } from "./engine";

export interface PaymentRow {
  tid: string;
  kind: PaymentKind;
  status: SandboxPayment["status"];
  partner_order_id: string;
  partner_user_id: string;
  item_name: string;
  quantity: number;
  amount: number;
  cancelled_amount: number;
  sid: string | null;
  aid: string | null;
  pg_token: string | null;
  approval_url: string | null;
  cancel_url: string | null;
  fail_url: string | null;
  created_at: number;
  approved_at: number | null;
  updated_at: number;
}

export function view(row: PaymentRow): SandboxPayment {
  return {
    tid: row.tid,
    kind: row.kind,
    status: row.status,
    partnerOrderId: row.partner_order_id,
    partnerUserId: row.partner_user_id,
    itemName: row.item_name,
    quantity: row.quantity,
    amount: row.amount,
    cancelledAmount: row.cancelled_amount,
    sid: row.sid,
    aid: row.aid,
    createdAt: new Date(row.created_at).toISOString(),
    approvedAt: row.approved_at === null ? null : new Date(row.approved_at).toISOString(),
  };
}

/** The prepared statements the engine runs (writes inside its writer transactions). */
export function ledgerStatements(db: Database) {
  return {
    payment: db.query<PaymentRow, [string]>("SELECT * FROM shop_sandbox_payments WHERE tid = ?"),
    byOrder: db.query<PaymentRow, [string]>("SELECT * FROM shop_sandbox_payments WHERE partner_order_id = ? ORDER BY created_at, tid"),
    all: db.query<PaymentRow, []>("SELECT * FROM shop_sandbox_payments ORDER BY created_at, tid"),
    insert: db.query(
      `INSERT INTO shop_sandbox_payments (tid, kind, status, partner_order_id, partner_user_id, item_name, quantity, amount, sid, aid,
         approval_url, cancel_url, fail_url, created_at, approved_at, updated_at)
       VALUES ($tid, $kind, $status, $partner_order_id, $partner_user_id, $item_name, $quantity, $amount, $sid, $aid,
         $approval_url, $cancel_url, $fail_url, $created_at, $approved_at, $updated_at)`,
    ),
    authorize: db.query<unknown, [string, number, string]>(
      "UPDATE shop_sandbox_payments SET status = 'AUTHORIZED', pg_token = ?, updated_at = ? WHERE tid = ? AND status = 'READY'",
    ),
    abort: db.query<unknown, [number, string]>(
      "UPDATE shop_sandbox_payments SET status = 'ABORTED', updated_at = ? WHERE tid = ? AND status = 'READY'",
    ),
    settle: db.query<unknown, [string, string | null, string | null, number | null, number, string]>(
      "UPDATE shop_sandbox_payments SET status = ?, aid = ?, sid = ?, approved_at = ?, updated_at = ? WHERE tid = ?",
    ),
    cancel: db.query<unknown, [number, string, number, string]>(
      "UPDATE shop_sandbox_payments SET cancelled_amount = cancelled_amount + ?, status = ?, updated_at = ? WHERE tid = ?",
    ),
    sid: db.query<{ sid: string; partner_user_id: string; status: string }, [string]>(
      "SELECT sid, partner_user_id, status FROM shop_sandbox_sids WHERE sid = ?",
    ),
    insertSid: db.query<unknown, [string, string, number]>(
      "INSERT INTO shop_sandbox_sids (sid, partner_user_id, status, created_at) VALUES (?, ?, 'ACTIVE', ?)",
    ),
    inactivateSid: db.query<unknown, [number, string]>(
      "UPDATE shop_sandbox_sids SET status = 'INACTIVE', inactivated_at = ? WHERE sid = ? AND status = 'ACTIVE'",
    ),
    idem: db.query<{ operation: string; fingerprint: string; body: string }, [string]>(
      "SELECT operation, fingerprint, body FROM shop_sandbox_idempotency WHERE key = ?",
    ),
    insertIdem: db.query<unknown, [string, string, string, number, string, number]>(
      "INSERT INTO shop_sandbox_idempotency (key, operation, fingerprint, status, body, created_at) VALUES (?, ?, ?, ?, ?, ?)",
    ),
    sweepIdem: db.query<unknown, [number]>("DELETE FROM shop_sandbox_idempotency WHERE created_at < ?"),
  };
}
