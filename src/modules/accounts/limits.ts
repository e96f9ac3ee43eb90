// Attempt limits of accounts' password checks and signups. OWASP's rule: throttle the guesser,
// don't lock out the owner. Every check is taken from the limiter (all its limits in one atomic
// step) BEFORE the Argon2 hash is verified, so parallel attempts past a limit are refused
// without one; a success gives its attempt back.
//
// Login — a failed password counts against:
//   - the (account, client IP) pair: HOMEBASE_LOGIN_MAX_ATTEMPTS per window, then that address
//     is blocked for that account for HOMEBASE_LOGIN_BLOCK_SEC. Someone who knows an email blocks
//     only their own address; the owner from another address still gets in.
//   - the client IP: 4× that across accounts (one address guessing many accounts), same block.
//   - the account, from every address: HOMEBASE_LOGIN_ACCOUNT_MAX_ATTEMPTS per hour, against
//     distributed guessing (many addresses, each under its own limits). Past it, only addresses
//     holding a live session of the account may still try — the owner's own devices — so this
//     ceiling can't lock the owner out from their own address. An unknown email has no owner:
//     the ceiling applies to every address.
//   A success resets its pair and gives the IP and account counters their attempt back.
// Password re-checks of a logged-in user (POST /me/password, DELETE /me): per account,
//   HOMEBASE_LOGIN_MAX_ATTEMPTS per window and the same block (a stolen access token can't
//   guess the password to take the account over); a success resets it.
// Signup: HOMEBASE_SIGNUP_PER_IP per HOMEBASE_SIGNUP_WINDOW_SEC per client IP, every attempt
//   counted (each costs a hash, or tells whether an email is taken).
//
// A request without a peer address only happens in-process (app.handle: tests, never a socket):
// its login counts under the IP "unknown", its signup is not throttled.
import { problems } from "../../platform/http/problem";
import type { RateLimitCheck, RateLimiter, RateLimitRule } from "../../platform/ratelimit/port";
import type { AccountsConfig } from "./config";
import { type AccountsErrorCode, accountsErrors as E } from "./errors";

export type AttemptSettings = Pick<
  AccountsConfig,
  "loginMaxAttempts" | "loginWindowSec" | "loginBlockSec" | "loginAccountMaxAttempts" | "signupPerIp" | "signupWindowSec"
>;

/** A login attempt taken from the limits: settle it once the password is checked. */
export interface LoginAttempt {
  succeeded(): Promise<void>;
}

export class AttemptLimits {
  private readonly pairRule: RateLimitRule;
  private readonly ipRule: RateLimitRule;
  private readonly accountRule: RateLimitRule | null;
  private readonly passwordRule: RateLimitRule;
  private readonly signupRule: RateLimitRule | null;

  constructor(
    private readonly limiter: RateLimiter,
    settings: AttemptSettings,
  ) {
    const windowMs = settings.loginWindowSec * 1000;
    const blockMs = settings.loginBlockSec > 0 ? settings.loginBlockSec * 1000 : undefined;
    this.pairRule = { name: "login_pair", limit: settings.loginMaxAttempts, windowMs, blockMs };
    this.ipRule = { name: "login_ip", limit: settings.loginMaxAttempts * 4, windowMs, blockMs };
    this.accountRule = settings.loginAccountMaxAttempts > 0 ? { name: "login_account", limit: settings.loginAccountMaxAttempts, windowMs: 3_600_000 } : null;
    this.passwordRule = { name: "password_check", limit: settings.loginMaxAttempts, windowMs, blockMs };
    this.signupRule = settings.signupPerIp > 0 ? { name: "signup", limit: settings.signupPerIp, windowMs: settings.signupWindowSec * 1000 } : null;
  }

  /**
   * Takes a login attempt, or throws 429 login_rate_limited. `ownAddress`: the client IP holds a
   * live session of the account, which exempts it from the per-account ceiling.
   */
  async login(email: string, ip: string | null, ownAddress: boolean): Promise<LoginAttempt> {
    const address = ip ?? "unknown";
    // '|' never occurs in an IP address, so (address, email) pairs can't collide.
    const pair = { key: `login:pair:${address}|${email}`, rule: this.pairRule };
    const byIp = { key: `login:ip:${address}`, rule: this.ipRule };
    const byAccount = this.accountRule && !ownAddress ? { key: `login:account:${email}`, rule: this.accountRule } : null;
    await this.take([pair, byIp, ...(byAccount ? [byAccount] : [])], E.loginRateLimited, "too many failed logins; try again later");
    return {
      succeeded: async () => {
        await Promise.all([this.limiter.reset(pair.key), this.limiter.refund(byIp.key), byAccount ? this.limiter.refund(byAccount.key) : undefined]);
      },
    };
  }

  /** Takes a password re-check of a logged-in user, or throws 429 password_rate_limited. */
  async passwordCheck(userId: string): Promise<LoginAttempt> {
    const key = `password-check:${userId}`;
    await this.take([{ key, rule: this.passwordRule }], E.passwordRateLimited, "too many wrong passwords; try again later");
    return { succeeded: () => this.limiter.reset(key) };
  }

  /** Counts a signup attempt from the address, or throws 429 signup_rate_limited. */
  async signup(ip: string | null): Promise<void> {
    if (!this.signupRule || ip === null) return;
    await this.take([{ key: `signup:ip:${ip}`, rule: this.signupRule }], E.signupRateLimited, "too many signups from this address; try again later");
  }

  private async take(checks: RateLimitCheck[], code: AccountsErrorCode, detail: string): Promise<void> {
    const gate = await this.limiter.take(checks);
    if (!gate.allowed) throw problems.tooManyRequests(code, gate.retryAfterMs, detail);
  }
}
