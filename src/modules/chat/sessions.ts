// Sockets belong to sessions. Each socket carries the session and expiry of the access token it
// was opened (or last re-authenticated) with, and is closed when either ends:
//
//   session ended (logout, logout-all, password change, refresh-token reuse, account deletion)
//     accounts emits session.revoked / user.deleted in the revoking transaction → the bus hands
//     it to one consumer of the group (chat-session-ends, on one instance) → that instance closes
//     its sockets of those sessions (4001) and broadcasts the end over the fanout, where every
//     other instance closes its own. A session that ended while a socket of it was opening is
//     remembered for a minute, so the socket is closed as it registers.
//   token expired
//     a sweep by the injected clock closes a socket at its token's exp (4002) unless the client
//     sent a fresh token of the same user with the `auth` op first.
//   backstop
//     every 30 s each socket's token is checked again against its session, for an end whose
//     broadcast was lost (NATS down at that moment, or roles split without NATS).
//
// Why the fanout and not a consumer per instance: the bus's consumers are durable groups (one
// JetStream durable per name, shared by the instances), so a per-instance consumer would need a
// durable per instance id, left behind by every restart. Live, replay-free delivery to every
// instance is what the fanout already does for room events.
//
// It also caps sockets per user and per client IP on this instance: an upgrade past a cap is
// refused (429 too_many_sockets), so a leaked token cannot open hundreds of rate buckets and the
// user's existing sockets are never the ones sacrificed.
import type { Clock } from "../../platform/clock";
import { defineConsumer, isEvent, type ConsumerSpec } from "../../platform/events";
import { HttpProblem, problems } from "../../platform/http/problem";
import type { Logger } from "../../platform/logger";
import { accountEvents, accountsErrors, type AccountsService, type Principal } from "../accounts";
import { chatErrors } from "./errors";
import type { Fanout, Rename, SessionEnd } from "./fanout";
import type { Conn, Hub } from "./hub";
import { closeCodes } from "./model";

/** What an access token proved: whose it is, its session, and when it expires (epoch ms). */
export interface TokenAuth extends Principal {
  expiresAt: number;
}

export interface SocketLimits {
  maxPerUser: number;
  maxPerIp: number;
}

/** A socket slot taken at the upgrade, before the socket opens (which it may never do). */
export interface Reservation {
  readonly userId: string;
  readonly ip: string | null;
  readonly at: number;
  claimed: boolean;
  released: boolean;
}

/** How often expiry is checked: a socket is closed within this of its token's exp. */
const expiryTickMs = 250;
/** How often every socket's session is checked again (the backstop). */
const revalidateEveryMs = 30_000;
/** An unclaimed reservation is dropped after this (the client went away mid-upgrade). */
const reservationTtlMs = 10_000;
/** How long an ended session is remembered for sockets that were opening as it ended. */
const rememberEndedMs = 60_000;

/** The `exp` of a token accounts has just verified (the claims are trusted, not re-checked). */
function tokenExpiry(token: string): number {
  const claims = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as { exp?: unknown };
  return typeof claims.exp === "number" ? claims.exp * 1000 : 0;
}

const sessionEndedReason = "session_ended";
const tokenExpiredReason = "token_expired";

export class SocketSessions {
  private readonly bySession = new Map<string, Set<Conn>>();
  private readonly byUser = new Map<string, Set<Conn>>();
  /** Live sockets plus open reservations, per user and per client IP. */
  private readonly perUser = new Map<string, number>();
  private readonly perIp = new Map<string, number>();
  private readonly pending = new Set<Reservation>();
  /** Ended sessions (and users, for "all") → when this instance learnt it (monotonic ms). */
  private readonly endedSessions = new Map<string, number>();
  private readonly endedUsers = new Map<string, number>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private lastRevalidation = performance.now();
  private revalidating = false;
  private fanout: Fanout | null = null;

  constructor(
    private readonly accounts: AccountsService,
    private readonly hub: Hub,
    private readonly limits: SocketLimits,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /** The fanout that carries ends to the other instances (set once both exist). */
  broadcastVia(fanout: Fanout): void {
    this.fanout = fanout;
    fanout.listen();
  }

  /** Verifies a token (signature, expiry, live session) and reads its expiry. */
  async authenticate(token: string): Promise<TokenAuth> {
    return { ...(await this.accounts.authenticate(token)), expiresAt: tokenExpiry(token) };
  }

  /** Takes a socket slot for the upgrade, or refuses it (429) past a cap. */
  reserve(userId: string, ip: string | null): Reservation {
    this.dropStaleReservations();
    if ((this.perUser.get(userId) ?? 0) >= this.limits.maxPerUser) {
      throw problems.tooManyRequests(chatErrors.tooManySockets, 5_000, `at most ${this.limits.maxPerUser} sockets per user; close one first`);
    }
    if (ip !== null && (this.perIp.get(ip) ?? 0) >= this.limits.maxPerIp) {
      throw problems.tooManyRequests(chatErrors.tooManySockets, 5_000, `at most ${this.limits.maxPerIp} sockets per client address`);
    }
    const reservation: Reservation = { userId, ip, at: performance.now(), claimed: false, released: false };
    bump(this.perUser, userId, 1);
    if (ip !== null) bump(this.perIp, ip, 1);
    this.pending.add(reservation);
    this.start();
    return reservation;
  }

  /** The upgraded socket opened: it holds the reservation's slot until it closes. */
  track(conn: Conn, reservation: Reservation): void {
    this.pending.delete(reservation);
    if (reservation.released) {
      // Dropped as stale before the socket opened: take the slot again (past the cap at worst by one).
      reservation.released = false;
      bump(this.perUser, reservation.userId, 1);
      if (reservation.ip !== null) bump(this.perIp, reservation.ip, 1);
    }
    reservation.claimed = true;
    conn.reservation = reservation;
    add(this.byUser, conn.userId, conn);
    add(this.bySession, conn.sessionId, conn);
    // Ended while the socket was opening: the broadcast found no socket to close.
    if (this.endedSessions.has(conn.sessionId) || this.endedUsers.has(conn.userId)) this.closeEnded(conn);
  }

  /** The socket closed: forget it, free its slot. */
  untrack(conn: Conn): void {
    remove(this.byUser, conn.userId, conn);
    remove(this.bySession, conn.sessionId, conn);
    if (conn.reservation) this.release(conn.reservation);
  }

  /** A fresh token for the socket (the `auth` op): same user, any live session of theirs. */
  async reauthenticate(conn: Conn, token: string): Promise<TokenAuth> {
    const auth = await this.authenticate(token);
    if (auth.userId !== conn.userId) throw problems.forbidden(chatErrors.authUserMismatch, "the token belongs to another user; open a socket with it instead");
    if (conn.closed) return auth;
    remove(this.bySession, conn.sessionId, conn);
    conn.sessionId = auth.sessionId;
    conn.token = token;
    conn.expiresAt = auth.expiresAt;
    add(this.bySession, conn.sessionId, conn);
    if (this.endedSessions.has(conn.sessionId)) this.closeEnded(conn);
    return auth;
  }

  /**
   * Sessions ended: close this instance's sockets of them (4001). From the bus's consumer,
   * `broadcast` also tells every other instance.
   */
  /** The user's sockets on this instance carry the new nickname (`broadcast`: and everywhere else's). */
  rename(rename: Rename, { broadcast }: { broadcast: boolean }): void {
    for (const conn of this.byUser.get(rename.userId) ?? []) conn.nickname = rename.nickname;
    if (broadcast) this.fanout?.publishRename(rename);
  }

  end(end: SessionEnd, { broadcast }: { broadcast: boolean }): void {
    const now = performance.now();
    this.forgetOldEnds(now);
    if (end.sessionIds === "all") {
      remember(this.endedUsers, end.userId, now);
      for (const conn of [...(this.byUser.get(end.userId) ?? [])]) this.closeEnded(conn);
    } else {
      for (const sessionId of end.sessionIds) {
        remember(this.endedSessions, sessionId, now);
        for (const conn of [...(this.bySession.get(sessionId) ?? [])]) this.closeEnded(conn);
      }
    }
    if (broadcast) this.fanout?.publishSessionEnd(end);
  }

  /** Closes the socket (4002) if its token has expired by now; true when it did. */
  closeIfExpired(conn: Conn): boolean {
    if (conn.expiresAt > this.clock.now()) return false;
    this.hub.close(conn, closeCodes.tokenExpired, tokenExpiredReason, tokenExpiredReason);
    return true;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private closeEnded(conn: Conn): void {
    this.hub.close(conn, closeCodes.sessionEnded, sessionEndedReason, sessionEndedReason);
  }

  private start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), expiryTickMs);
    this.timer.unref?.();
  }

  private tick(): void {
    const now = this.clock.now();
    for (const conns of this.byUser.values()) {
      for (const conn of conns) if (conn.expiresAt <= now) this.hub.close(conn, closeCodes.tokenExpired, tokenExpiredReason, tokenExpiredReason);
    }
    this.dropStaleReservations();
    if (performance.now() - this.lastRevalidation >= revalidateEveryMs && !this.revalidating) void this.revalidate();
    if (this.byUser.size === 0 && this.pending.size === 0) this.stop();
  }

  /** The backstop (every 30 s; tests call it): each socket's token against its session, one at a time. */
  async revalidate(): Promise<void> {
    this.revalidating = true;
    this.lastRevalidation = performance.now();
    try {
      for (const conns of [...this.byUser.values()]) {
        for (const conn of [...conns]) {
          if (conn.closed) continue;
          try {
            await this.accounts.authenticate(conn.token);
          } catch (err) {
            if (!(err instanceof HttpProblem) || err.status !== 401) continue;
            if (err.code === accountsErrors.tokenExpired) this.hub.close(conn, closeCodes.tokenExpired, tokenExpiredReason, tokenExpiredReason);
            else this.closeEnded(conn);
          }
        }
      }
    } catch (err) {
      this.logger.warn("socket session check failed", { err: String(err) });
    } finally {
      this.revalidating = false;
    }
  }

  private release(reservation: Reservation): void {
    if (reservation.released) return;
    reservation.released = true;
    bump(this.perUser, reservation.userId, -1);
    if (reservation.ip !== null) bump(this.perIp, reservation.ip, -1);
  }

  private dropStaleReservations(): void {
    const now = performance.now();
    for (const r of this.pending) {
      if (now - r.at < reservationTtlMs) continue;
      this.pending.delete(r);
      this.release(r);
    }
  }

  private forgetOldEnds(now: number): void {
    for (const map of [this.endedSessions, this.endedUsers]) {
      for (const [key, at] of map) {
        if (now - at < rememberEndedMs) break; // insertion order is time order
        map.delete(key);
      }
    }
  }
}

/** Re-inserted, so the map stays in time order (forgetOldEnds stops at the first young entry). */
function remember(ended: Map<string, number>, key: string, now: number): void {
  ended.delete(key);
  ended.set(key, now);
}

function bump(counts: Map<string, number>, key: string, by: number): void {
  const n = (counts.get(key) ?? 0) + by;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}

function add(index: Map<string, Set<Conn>>, key: string, conn: Conn): void {
  let set = index.get(key);
  if (!set) index.set(key, (set = new Set()));
  set.add(conn);
}

function remove(index: Map<string, Set<Conn>>, key: string, conn: Conn): void {
  const set = index.get(key);
  if (!set?.delete(conn)) return;
  if (set.size === 0) index.delete(key);
}

/**
 * The bus's consumer of session ends: closes this instance's sockets and broadcasts the end.
 * An effect (not apply): it changes no SQLite state, and running it twice closes nothing twice.
 */
export function sessionEndConsumer(sessions: SocketSessions): ConsumerSpec {
  return defineConsumer({
    name: "chat-session-ends",
    events: [accountEvents.sessionRevoked, accountEvents.userDeleted],
    effect: async (event) => {
      const end: SessionEnd = isEvent(event, accountEvents.sessionRevoked)
        ? { userId: event.payload.userId, sessionIds: event.payload.sessionIds }
        : { userId: event.payload.userId, sessionIds: "all" };
      sessions.end(end, { broadcast: true });
    },
  });
}
