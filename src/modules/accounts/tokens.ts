// Access tokens: short-lived HS256 JWTs naming the user (sub), the session (sid) and the role at
// issue. Verification is remembered per token: a client reuses its token for many requests, and
// verifying with jose costs ~65 µs each time (the session's state is still checked on every
// request, by the caller). "Now" is the caller's, from the injected clock; jose is handed it too.
import { SignJWT, jwtVerify, errors as joseErrors } from "jose";
import { LRUCache } from "lru-cache";
import { problems } from "../../platform/http/problem";
import { accountsErrors as E } from "./errors";
import type { Role } from "./model";

const issuer = "homebase";

export interface AccessClaims {
  sub: string;
  sid: string;
}

export class AccessTokens {
  private readonly key: Uint8Array;
  /** Tokens whose signature already checked out, keyed by the whole token. */
  private readonly verified = new LRUCache<string, AccessClaims & { expMs: number }>({ max: 20_000 });

  constructor(secret: string, private readonly ttlSec: number) {
    this.key = new TextEncoder().encode(secret);
  }

  sign(userId: string, role: Role, sessionId: string, nowMs: number): Promise<string> {
    const issuedAt = Math.floor(nowMs / 1000);
    return new SignJWT({ sid: sessionId, role })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(userId)
      .setIssuer(issuer)
      .setIssuedAt(issuedAt)
      .setJti(Bun.randomUUIDv7())
      .setExpirationTime(issuedAt + this.ttlSec)
      .sign(this.key);
  }

  /** The claims of a token seen before, without a pause; null when not seen (or evicted). 401 once expired. */
  known(token: string, now: number): AccessClaims | null {
    const known = this.verified.get(token);
    if (!known) return null;
    if (known.expMs > now) return known;
    this.verified.delete(token);
    throw problems.unauthorized(E.tokenExpired, "the access token has expired");
  }

  /** Checks signature, issuer and expiry at `now`; 401 invalid_token or token_expired. */
  async verify(token: string, now: number): Promise<AccessClaims> {
    let sub: unknown;
    let sid: unknown;
    let exp: unknown;
    try {
      const { payload } = await jwtVerify(token, this.key, { issuer, algorithms: ["HS256"], currentDate: new Date(now) });
      ({ sub, sid, exp } = payload);
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw problems.unauthorized(E.tokenExpired, "the access token has expired");
      throw problems.unauthorized(E.invalidToken, "the access token is invalid");
    }
    if (typeof sub !== "string" || typeof sid !== "string" || typeof exp !== "number") {
      throw problems.unauthorized(E.invalidToken, "the access token is invalid");
    }
    const verified = { sub, sid, expMs: exp * 1000 };
    this.verified.set(token, verified);
    return verified;
  }
}
