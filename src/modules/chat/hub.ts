// The connection hub of one instance: which local sockets are in which room, delivery to them
// with backpressure checks, presence transitions, and the bridge to other instances (fanout).
//
// Delivery walks the room's local sockets instead of Bun's topic publish: it lets an event
// skip some users (read receipts) and it sees each socket's send status, so a slow reader
// is closed (4008) the moment its buffer passes the bound instead of slowing the room down.
import type { Logger } from "../../platform/logger";
import type { ChatMetrics } from "./metrics";
import type { Envelope, Fanout } from "./fanout";
import { closeCodes } from "./model";
import type { PresenceStore } from "./presence";
import type { Reservation } from "./sessions";

/** The part of Bun's ServerWebSocket the hub uses (getBufferedAmount is missing from the types). */
export interface Socket {
  send(data: string): number;
  close(code?: number, reason?: string): void;
  getBufferedAmount(): number;
  readonly readyState: number;
}

/** Who a socket is for, as its token proved it. */
export interface ConnAuth {
  userId: string;
  sessionId: string;
  nickname: string;
  /** The access token it was opened (or last re-authenticated) with. */
  token: string;
  /** That token's exp, epoch ms. */
  expiresAt: number;
  ip: string | null;
}

export class Conn {
  readonly id = Bun.randomUUIDv7();
  readonly userId: string;
  /** Follows the account's renames (accounts' user.updated). */
  nickname: string;
  readonly ip: string | null;
  /** These three change when the client re-authenticates (the `auth` op). */
  sessionId: string;
  token: string;
  expiresAt: number;
  /** The slot it holds under the per-user and per-IP socket caps. */
  reservation: Reservation | null = null;
  readonly rooms = new Set<string>();
  closed = false;
  /** Token bucket of the per-connection message rate limit. */
  tokens: number;
  refilledAt = performance.now();
  /** Refused messages in the current second; past a bound the connection is closed. */
  strikes = 0;
  strikesSince = 0;
  /** Ops of this connection run one after another, in arrival order. */
  queue: Promise<void> = Promise.resolve();
  queued = 0;

  constructor(
    readonly socket: Socket,
    auth: ConnAuth,
    burst: number,
  ) {
    ({ userId: this.userId, sessionId: this.sessionId, nickname: this.nickname, token: this.token, expiresAt: this.expiresAt, ip: this.ip } = auth);
    this.tokens = burst;
  }
}

export interface HubSettings {
  instanceId: string;
  /** Close a socket whose unsent bytes pass this. */
  maxBufferedBytes: number;
  presenceTtlMs: number;
}

type ServerEvent = { event: string; [key: string]: unknown };

/**
 * The socket op a room event answers: its connection gets the event with the op's `ref` (and
 * gets it even when it is not subscribed to the room); everyone else gets it without.
 */
export interface ReplyTo {
  conn: Conn;
  ref: string | undefined;
}

export class Hub {
  private readonly conns = new Set<Conn>();
  private readonly rooms = new Map<string, Set<Conn>>();
  /** Local connections per (room, user): presence changes on the first and the last. */
  private readonly local = new Map<string, Map<string, number>>();
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private draining: (() => boolean) | null = null;
  private drainTimer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly fanout: Fanout,
    private readonly presence: PresenceStore,
    private readonly metrics: ChatMetrics,
    private readonly settings: HubSettings,
    private readonly logger: Logger,
  ) {}

  get size(): number {
    return this.conns.size;
  }

  /**
   * Graceful shutdown drains HTTP for a while, then stops the listener, which waits for open
   * sockets: while connections exist, poll the drain flag and close them all (1001) once set.
   */
  watchDraining(isDraining: () => boolean): void {
    this.draining = isDraining;
  }

  add(conn: Conn): void {
    this.conns.add(conn);
    this.metrics.wsConnections.set(this.conns.size);
    if (this.draining && !this.drainTimer) {
      this.drainTimer = setInterval(() => {
        if (this.draining?.()) this.closeAll("server draining");
        if (this.conns.size === 0 && this.drainTimer) {
          clearInterval(this.drainTimer);
          this.drainTimer = null;
        }
      }, 200);
      this.drainTimer.unref?.();
    }
    if (!this.heartbeat && this.presence.kind === "redis") {
      this.heartbeat = setInterval(() => void this.beat(), Math.max(100, Math.floor(this.settings.presenceTtlMs / 3)));
      this.heartbeat.unref?.();
    }
  }

  /** The socket closed: leave every room (presence), forget the connection. */
  async remove(conn: Conn): Promise<void> {
    if (!this.conns.delete(conn)) return;
    conn.closed = true;
    this.metrics.wsConnections.set(this.conns.size);
    await Promise.all([...conn.rooms].map((roomId) => this.part(conn, roomId)));
  }

  isIn(conn: Conn, roomId: string): boolean {
    return conn.rooms.has(roomId);
  }

  /** Subscribes the connection to the room's live events; presence goes online on the user's first. */
  /** The users with a socket in the room on this instance (presence without Redis). */
  localOnline(roomId: string): Set<string> {
    return new Set(this.local.get(roomId)?.keys() ?? []);
  }

  async enter(conn: Conn, roomId: string): Promise<void> {
    if (conn.closed || conn.rooms.has(roomId)) return;
    conn.rooms.add(roomId);
    let set = this.rooms.get(roomId);
    if (!set) {
      this.rooms.set(roomId, (set = new Set()));
      this.fanout.watch(roomId);
    }
    set.add(conn);
    let users = this.local.get(roomId);
    if (!users) this.local.set(roomId, (users = new Map()));
    const n = (users.get(conn.userId) ?? 0) + 1;
    users.set(conn.userId, n);
    // Degrade rather than fail the join: without NATS or Redis the room still works locally.
    await this.fanout.watching(roomId).catch((err: unknown) => this.logger.warn("chat fanout unavailable", { err: String(err) }));
    const online =
      n === 1 &&
      (await this.presence.enter(roomId, conn.userId).catch((err: unknown) => {
        this.logger.warn("presence enter failed", { err: String(err) });
        return false;
      }));
    if (online) {
      this.broadcast(roomId, { event: "presence", roomId, userId: conn.userId, nickname: conn.nickname, online: true });
    }
  }

  /** Unsubscribes the connection; presence goes offline after the user's last connection anywhere. */
  async part(conn: Conn, roomId: string): Promise<void> {
    if (!conn.rooms.delete(roomId)) return;
    const set = this.rooms.get(roomId);
    set?.delete(conn);
    if (set && set.size === 0) {
      this.rooms.delete(roomId);
      this.fanout.unwatch(roomId);
    }
    const users = this.local.get(roomId);
    const n = (users?.get(conn.userId) ?? 1) - 1;
    if (n > 0) {
      users!.set(conn.userId, n);
      return;
    }
    users?.delete(conn.userId);
    if (users?.size === 0) this.local.delete(roomId);
    const offline = await this.presence.exit(roomId, conn.userId).catch((err: unknown) => {
      this.logger.warn("presence exit failed", { err: String(err) });
      return false;
    });
    if (offline) this.broadcast(roomId, { event: "presence", roomId, userId: conn.userId, nickname: conn.nickname, online: false });
  }

  /** To every member connected anywhere (except `except`'s connections). */
  broadcast(roomId: string, event: ServerEvent, options: { except?: string; unsubscribe?: string; replyTo?: ReplyTo } = {}): void {
    const json = JSON.stringify(event);
    const { replyTo } = options;
    if (replyTo) {
      // The origin is local: its copy carries the ref, and the room's delivery skips it.
      this.send(replyTo.conn, replyTo.ref === undefined ? event : { ...event, ref: replyTo.ref });
      this.deliver(roomId, json, options.except, options.unsubscribe, replyTo.conn);
    } else this.deliver(roomId, json, options.except, options.unsubscribe);
    const envelope: Envelope = { o: this.settings.instanceId, r: roomId, e: json };
    if (options.except) envelope.x = options.except;
    if (options.unsubscribe) envelope.u = options.unsubscribe;
    this.fanout.publish(envelope);
  }

  /** An event from another instance. */
  remote(envelope: Envelope): void {
    this.metrics.chatFanout.inc({ direction: "in" });
    this.deliver(envelope.r, envelope.e, envelope.x, envelope.u);
  }

  /** To one connection only (replies, errors). */
  send(conn: Conn, event: ServerEvent): void {
    this.write(conn, JSON.stringify(event));
  }

  private deliver(roomId: string, json: string, except?: string, unsubscribe?: string, skip?: Conn): void {
    const set = this.rooms.get(roomId);
    if (!set) return;
    for (const conn of set) if (conn.userId !== except && conn !== skip) this.write(conn, json);
    if (unsubscribe) {
      for (const conn of [...set]) if (conn.userId === unsubscribe) void this.part(conn, roomId);
    }
  }

  private write(conn: Conn, json: string): void {
    if (conn.closed) return;
    const status = conn.socket.send(json);
    this.metrics.wsMessages.inc({ direction: "out" });
    // -1: queued behind backpressure; 0: dropped (Bun's backpressure limit, or closing).
    if (status > 0) return;
    if (status === 0 || conn.socket.getBufferedAmount() > this.settings.maxBufferedBytes) {
      if (conn.socket.readyState !== 1) return;
      this.logger.info("closing a slow websocket consumer", { userId: conn.userId, buffered: conn.socket.getBufferedAmount() });
      this.close(conn, closeCodes.slowConsumer, "slow consumer", "slow_consumer");
    }
  }

  close(conn: Conn, code: number, reason: string, metricReason: string): void {
    if (conn.closed) return;
    conn.closed = true;
    this.metrics.wsClosed.inc({ reason: metricReason });
    conn.socket.close(code, reason);
  }

  /** Shutdown: every socket gets 1001 so clients reconnect elsewhere. */
  closeAll(reason = "server shutting down"): void {
    for (const conn of this.conns) this.close(conn, closeCodes.goingAway, reason, "shutdown");
  }

  private async beat(): Promise<void> {
    const entries: Array<{ roomId: string; userId: string }> = [];
    for (const [roomId, users] of this.local) for (const userId of users.keys()) entries.push({ roomId, userId });
    if (entries.length === 0) return;
    try {
      const gone = await this.presence.heartbeat(entries);
      for (const { roomId, userId } of gone) this.broadcast(roomId, { event: "presence", roomId, userId, online: false });
    } catch (err) {
      this.logger.warn("presence heartbeat failed", { err: String(err) });
    }
  }

  async shutdown(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.drainTimer) clearInterval(this.drainTimer);
    this.heartbeat = null;
    this.drainTimer = null;
    this.closeAll();
    await this.fanout.close();
  }
}
