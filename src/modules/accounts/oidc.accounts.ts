// Which account an OpenID identity signs in to (oidc.ts): the one it is linked to, else the live
// account with the provider's verified email, else a new one made through signup. An email the
// provider does not call verified never links and never creates anything.
import type { Clock } from "../../platform/clock";
import { HttpProblem, problems } from "../../platform/http/problem";
import type { Logger } from "../../platform/logger";
import { accountsErrors as E } from "./errors";
import { oidcErrors as O } from "./oidc.errors";
import type { OidcStore } from "./oidc.store";
import type { AccountsService, ClientInfo } from "./service";
import type { AccountsStore } from "./store";

/** The claims of a verified ID token (and userinfo) this file reads. */
export interface OidcClaims {
  sub: string;
  email?: unknown;
  email_verified?: unknown;
  name?: unknown;
  preferred_username?: unknown;
}

function randomToken(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
}

/** The email as accounts store it, when the provider says it is verified (a boolean, or "true" as some send). */
export function verifiedEmail(claims: OidcClaims): string | null {
  if (typeof claims.email !== "string" || claims.email.trim() === "") return null;
  if (claims.email_verified !== true && claims.email_verified !== "true") return null;
  return claims.email.trim().toLowerCase();
}

/** Nickname candidates from the provider's claims, best first; the last one always fits the rules. */
export function nicknameCandidates(claims: OidcClaims): string[] {
  const out: string[] = [];
  const add = (v: unknown) => {
    if (typeof v !== "string") return;
    const trimmed = v.trim().slice(0, 30);
    if (trimmed.length >= 2 && !out.includes(trimmed)) out.push(trimmed);
    // The same in the characters every nickname rule accepts.
    const ascii = trimmed
      .replace(/\s+/g, ".")
      .replace(/[^A-Za-z0-9_.-]/g, "")
      .slice(0, 30);
    if (ascii.length >= 2 && !out.includes(ascii)) out.push(ascii);
  };
  add(claims.preferred_username);
  add(claims.name);
  if (typeof claims.email === "string") add(claims.email.split("@")[0]);
  out.push(
    `user-${randomToken()
      .replace(/[^A-Za-z0-9]/g, "")
      .slice(0, 8)
      .toLowerCase()}`,
  );
  return out;
}

export class OidcAccounts {
  constructor(
    private readonly store: OidcStore,
    private readonly accountsStore: AccountsStore,
    private readonly accounts: AccountsService,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /**
   * The account an identity signs in to: the one it is linked to; else the live account with the
   * provider's verified email (linked now); else a new account with that email. An email the
   * provider does not call verified never links nor creates anything.
   */
  async account(provider: string, claims: OidcClaims, client: ClientInfo): Promise<string> {
    const now = this.clock.now();
    const email = verifiedEmail(claims);
    const linked = await this.store.identityUser(provider, claims.sub);
    if (linked) {
      await this.store.touchIdentity(provider, claims.sub, email, now);
      this.logger.info("oidc sign-in", { provider, userId: linked, by: "identity" });
      return linked;
    }
    if (!email) {
      throw problems.forbidden(
        O.oidcEmailUnverified,
        `provider ${provider} did not say this account's email is verified: nothing was linked or created (verify the email at the provider, then sign in again)`,
      );
    }
    const existing = await this.accountsStore.userByEmail(email);
    const userId = existing?.id ?? (await this.createAccount(email, claims, client));
    const signedIn = await this.store.linkIdentity({ provider, subject: claims.sub, userId, email, at: now });
    // Null only when the account was deleted in between: nothing to sign in to.
    if (!signedIn) throw problems.notFound(E.userNotFound, "the account no longer exists");
    this.logger.info("oidc sign-in", { provider, userId: signedIn, by: existing ? "verified email (linked)" : "new account" });
    return signedIn;
  }

  /**
   * A new account through signup (its rules, limits and user.registered event): the provider's
   * name as nickname (made unique), a random password nobody knows. Linked right after; a crash
   * in between leaves an account with that verified email, which the next sign-in links.
   */
  private async createAccount(email: string, claims: OidcClaims, client: ClientInfo): Promise<string> {
    const candidates = nicknameCandidates(claims);
    for (let i = 0; i < candidates.length; i++) {
      const base = candidates[i]!;
      for (let attempt = 0; attempt < 4; attempt++) {
        const nickname =
          attempt === 0
            ? base
            : `${base.slice(0, 25)}-${
                randomToken()
                  .replace(/[^a-z0-9]/g, "")
                  .slice(0, 4) || "x1"
              }`;
        try {
          return (await this.accounts.signup({ email, password: randomToken(), nickname }, client, { passwordKnown: false })).id;
        } catch (err) {
          if (!(err instanceof HttpProblem)) throw err;
          // Another sign-in created it a moment ago: link that one.
          if (err.code === E.emailTaken) {
            const now = await this.accountsStore.userByEmail(email);
            if (now) return now.id;
          }
          if (err.code === E.nicknameTaken) continue;
          // Not a nickname the rules accept: the next candidate.
          if (err.status === 422) break;
          throw err;
        }
      }
    }
    throw problems.conflict(
      E.nicknameTaken,
      "no free nickname could be made from the provider's name; sign up with a nickname, then sign in with the provider",
    );
  }
}
