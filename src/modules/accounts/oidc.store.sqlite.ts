// The SQLite OIDC store: reads are prepared statements off the writer, each write one function
// in GroupCommitWriter.write(). One-time rows are taken with UPDATE … WHERE used_at IS NULL
// RETURNING, so of two concurrent callbacks with the same state exactly one gets the flow.
import type { Database } from "bun:sqlite";
import type { GroupCommitWriter } from "../../platform/db/sqlite";
import type { OidcFlowRecord, OidcStore } from "./oidc.store";

interface FlowRow {
  state_hash: string;
  provider: string;
  code_verifier: string;
  nonce: string;
  return_to: string;
  created_at: number;
  expires_at: number;
}

/** Used or expired one-time rows are kept this long (for a look after an incident), then pruned. */
const keepMs = 60 * 60 * 1000;

export class SqliteOidcStore implements OidcStore {
  private readonly q;

  constructor(
    db: Database,
    private readonly writer: GroupCommitWriter,
  ) {
    this.q = {
      insertFlow: db.query(
        `INSERT INTO oidc_flows (state_hash, provider, code_verifier, nonce, return_to, created_at, expires_at)
         VALUES ($state_hash, $provider, $code_verifier, $nonce, $return_to, $created_at, $expires_at)`,
      ),
      pruneFlows: db.query<unknown, [number]>("DELETE FROM oidc_flows WHERE expires_at < ?"),
      takeFlow: db.query<FlowRow, [number, string, string, number]>(
        `UPDATE oidc_flows SET used_at = ? WHERE state_hash = ? AND provider = ? AND used_at IS NULL AND expires_at > ?
         RETURNING state_hash, provider, code_verifier, nonce, return_to, created_at, expires_at`,
      ),
      identityUser: db.query<{ user_id: string }, [string, string]>(
        `SELECT i.user_id FROM oidc_identities i JOIN users u ON u.id = i.user_id
         WHERE i.provider = ? AND i.subject = ? AND u.deleted_at IS NULL`,
      ),
      // An identity whose account was deleted moves to the new one; one of a live account stays.
      linkIdentity: db.query(
        `INSERT INTO oidc_identities (provider, subject, user_id, email, created_at, last_login_at)
         VALUES ($provider, $subject, $user_id, $email, $at, $at)
         ON CONFLICT (provider, subject) DO UPDATE SET user_id = excluded.user_id, email = excluded.email, created_at = excluded.created_at, last_login_at = excluded.last_login_at
         WHERE (SELECT deleted_at FROM users WHERE id = oidc_identities.user_id) IS NOT NULL`,
      ),
      touchIdentity: db.query<unknown, [string | null, number, string, string]>(
        "UPDATE oidc_identities SET email = coalesce(?, email), last_login_at = ? WHERE provider = ? AND subject = ?",
      ),
      insertLogin: db.query(
        `INSERT INTO oidc_logins (code_hash, user_id, provider, created_at, expires_at)
         VALUES ($code_hash, $user_id, $provider, $created_at, $expires_at)`,
      ),
      pruneLogins: db.query<unknown, [number]>("DELETE FROM oidc_logins WHERE expires_at < ?"),
      takeLogin: db.query<{ user_id: string }, [number, string, number]>(
        "UPDATE oidc_logins SET used_at = ? WHERE code_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING user_id",
      ),
    };
  }

  createFlow(flow: OidcFlowRecord): Promise<void> {
    return this.writer.write(() => {
      this.q.pruneFlows.run(flow.createdAt - keepMs);
      this.q.insertFlow.run({
        state_hash: flow.stateHash,
        provider: flow.provider,
        code_verifier: flow.codeVerifier,
        nonce: flow.nonce,
        return_to: flow.returnTo,
        created_at: flow.createdAt,
        expires_at: flow.expiresAt,
      });
    });
  }

  takeFlow(stateHash: string, provider: string, at: number): Promise<OidcFlowRecord | null> {
    return this.writer.write(() => {
      const row = this.q.takeFlow.get(at, stateHash, provider, at);
      if (!row) return null;
      return {
        stateHash: row.state_hash,
        provider: row.provider,
        codeVerifier: row.code_verifier,
        nonce: row.nonce,
        returnTo: row.return_to,
        createdAt: row.created_at,
        expiresAt: row.expires_at,
      };
    });
  }

  async identityUser(provider: string, subject: string): Promise<string | null> {
    return this.q.identityUser.get(provider, subject)?.user_id ?? null;
  }

  linkIdentity(link: { provider: string; subject: string; userId: string; email: string | null; at: number }): Promise<string | null> {
    return this.writer.write(() => {
      this.q.linkIdentity.run({ provider: link.provider, subject: link.subject, user_id: link.userId, email: link.email, at: link.at });
      return this.q.identityUser.get(link.provider, link.subject)?.user_id ?? null;
    });
  }

  touchIdentity(provider: string, subject: string, email: string | null, at: number): Promise<void> {
    return this.writer.write(() => {
      this.q.touchIdentity.run(email, at, provider, subject);
    });
  }

  createLogin(login: { codeHash: string; userId: string; provider: string; createdAt: number; expiresAt: number }): Promise<void> {
    return this.writer.write(() => {
      this.q.pruneLogins.run(login.createdAt - keepMs);
      this.q.insertLogin.run({
        code_hash: login.codeHash,
        user_id: login.userId,
        provider: login.provider,
        created_at: login.createdAt,
        expires_at: login.expiresAt,
      });
    });
  }

  takeLogin(codeHash: string, at: number): Promise<string | null> {
    return this.writer.write(() => this.q.takeLogin.get(at, codeHash, at)?.user_id ?? null);
  }
}
