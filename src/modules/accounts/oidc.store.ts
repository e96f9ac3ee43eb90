// The port OpenID Connect sign-in (oidc.ts) needs besides the accounts store: started flows and
// finished sign-ins (both one-time and short-lived, taken with a compare-and-set) and the
// identities linked to accounts. SQLite: oidc.store.sqlite.ts (migration 0003_oidc.sql).

export interface OidcFlowRecord {
  /** SHA-256 (base64url) of the state; the state itself lives only in the browser's cookie. */
  stateHash: string;
  provider: string;
  codeVerifier: string;
  nonce: string;
  /** A path on this server the browser goes to once signed in. */
  returnTo: string;
  createdAt: number;
  expiresAt: number;
}

export interface OidcStore {
  /** Stores a started flow; rows that expired a while ago are pruned in the same transaction. */
  createFlow(flow: OidcFlowRecord): Promise<void>;
  /** Uses the flow up: null when unknown, of another provider, expired at `at` or already used. */
  takeFlow(stateHash: string, provider: string, at: number): Promise<OidcFlowRecord | null>;
  /** The live account an identity signs in to; null when none is linked or it was deleted. */
  identityUser(provider: string, subject: string): Promise<string | null>;
  /**
   * Links an identity to an account: inserted, or — when its account was deleted — moved to this
   * one; an identity linked to a live account keeps it. Returns the live account it signs in to.
   */
  linkIdentity(link: { provider: string; subject: string; userId: string; email: string | null; at: number }): Promise<string | null>;
  /** A later sign-in by the identity: when, and the email the provider says now (when verified). */
  touchIdentity(provider: string, subject: string, email: string | null, at: number): Promise<void>;
  createLogin(login: { codeHash: string; userId: string; provider: string; createdAt: number; expiresAt: number }): Promise<void>;
  /** Uses the one-time code up: the account's id, or null when unknown, expired or used. */
  takeLogin(codeHash: string, at: number): Promise<string | null>;
}
