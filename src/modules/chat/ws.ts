// The /ws protocol: typed JSON ops in, `{event, ...}` out. Each connection is authenticated
// before the upgrade and belongs to its token's session until that ends or the token expires
// (sessions.ts; the `auth` op brings a fresh token), is rate limited (token bucket; persistent
// flooding closes it with 4029), and runs its ops one at a time in arrival order (so a
// client's sends keep their order).
// Flooding = more refused frames within a second than the rate itself: about twice the
// allowed rate sustained past the burst.
import { getSchemaValidator } from "elysia";
import type { Clock } from "../../platform/clock";
import { HttpProblem, problems } from "../../platform/http/problem";
import type { Logger } from "../../platform/logger";
import type { ChatMetrics } from "./metrics";
import { Conn, type ConnAuth, type Hub, type Socket } from "./hub";
import { chatErrors } from "./errors";
import { ClientOps, closeCodes, SendOps, type ClientOp, type OpName } from "./model";
import type { Actor, ChatService } from "./service";
import type { Reservation, SocketSessions } from "./sessions";

export interface SocketSettings {
  ratePerSec: number;
}

/** What the upgrade hook found out about the caller, and the socket slot it took. */
export interface SocketAuth extends ConnAuth {
  reservation: Reservation;
}

const iso = (ms: number) => new Date(ms).toISOString();

type Validator = { Check(value: unknown): boolean; Errors(value: unknown): Iterable<{ path: string; message: string }> };

const validatorOf = (schema: Parameters<typeof getSchemaValidator>[0]) => getSchemaValidator(schema, {}) as unknown as Validator;
const validators = Object.fromEntries(Object.entries(ClientOps).map(([op, schema]) => [op, validatorOf(schema)])) as Record<OpName, Validator>;
// `send` is a union (text | file): checked against the shape its kind names, so the errors name
// the fields (a union's own errors only say "Expected union value").
const sendValidators = { text: validatorOf(SendOps.text), file: validatorOf(SendOps.file) };

function validatorFor(op: OpName, frame: object): Validator {
  if (op !== "send") return validators[op];
  return (frame as { kind?: unknown }).kind === "file" ? sendValidators.file : sendValidators.text;
}

/** Ops a single connection may have waiting; more means the client ignores our pace. */
const maxQueued = 64;

export class ChatSockets {
  private readonly burst: number;
  /** Refused messages within a second before the connection is closed. */
  private readonly maxStrikes: number;

  constructor(
    private readonly service: ChatService,
    private readonly hub: Hub,
    private readonly sessions: SocketSessions,
    private readonly settings: SocketSettings,
    private readonly metrics: ChatMetrics,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.burst = settings.ratePerSec * 2;
    this.maxStrikes = settings.ratePerSec + 10;
  }

  open(socket: Socket, auth: SocketAuth): Conn {
    const conn = new Conn(socket, auth, this.burst);
    this.hub.add(conn);
    // Closes it at once when its session ended while it was opening.
    this.sessions.track(conn, auth.reservation);
    if (!conn.closed) this.hub.send(conn, { event: "ready", userId: auth.userId, nickname: auth.nickname, connectionId: conn.id, expiresAt: iso(conn.expiresAt) });
    return conn;
  }

  close(conn: Conn): Promise<void> {
    this.sessions.untrack(conn);
    return this.hub.remove(conn);
  }

  // The rate limit measures the socket's real traffic: monotonic time, not the injected clock.
  private takeToken(conn: Conn): boolean {
    const now = performance.now();
    conn.tokens = Math.min(this.burst, conn.tokens + ((now - conn.refilledAt) / 1000) * this.settings.ratePerSec);
    conn.refilledAt = now;
    if (conn.tokens < 1) return false;
    conn.tokens -= 1;
    return true;
  }

  private error(conn: Conn, code: string, detail: string, extra: Record<string, unknown> = {}): void {
    this.hub.send(conn, { event: "error", code, detail, ...extra });
  }

  /** One frame from the client, already JSON-parsed by Elysia when it looked like JSON. */
  message(conn: Conn, raw: unknown): void {
    // An expired token is not served in the moments before the sweep closes its socket.
    if (conn.closed || this.sessions.closeIfExpired(conn)) return;
    this.metrics.wsMessages.inc({ direction: "in" });
    if (!this.takeToken(conn)) {
      // Refusals are counted per second: past the bound the client ignores our notices.
      const now = performance.now();
      if (now - conn.strikesSince > 1000) {
        conn.strikesSince = now;
        conn.strikes = 0;
      }
      conn.strikes++;
      this.metrics.chatMessages.inc({ outcome: "rejected" });
      if (conn.strikes > this.maxStrikes) {
        this.hub.close(conn, closeCodes.rateLimited, "rate limit", "rate_limited");
        return;
      }
      // One notice per burst of refusals is enough for a well-behaved client to slow down.
      if (conn.strikes === 1) this.error(conn, chatErrors.rateLimited, `at most ${this.settings.ratePerSec} messages per second`);
      return;
    }
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      this.error(conn, chatErrors.invalidMessage, "send a JSON object {op, ...}");
      return;
    }
    const op = (raw as { op?: unknown }).op;
    const ref = typeof (raw as { ref?: unknown }).ref === "string" ? (raw as { ref: string }).ref.slice(0, 64) : undefined;
    const validator = typeof op === "string" && Object.hasOwn(validators, op) ? validatorFor(op as OpName, raw) : undefined;
    if (!validator) {
      this.error(conn, chatErrors.unknownOp, `op must be one of ${Object.keys(ClientOps).join(", ")}`, { op: typeof op === "string" ? op.slice(0, 32) : null, ref });
      return;
    }
    if (!validator.Check(raw)) {
      const errors = [...validator.Errors(raw)].slice(0, 10).map((e) => ({ field: e.path || "/", message: e.message }));
      this.error(conn, chatErrors.validationFailed, `${String(op)} is invalid`, { op, ref, errors });
      return;
    }
    if (conn.queued >= maxQueued) {
      this.error(conn, chatErrors.busy, "too many operations in flight; wait for replies", { op, ref });
      return;
    }
    conn.queued++;
    const msg = raw as ClientOp;
    conn.queue = conn.queue
      .then(() => this.handle(conn, msg))
      .catch((err: unknown) => {
        if (conn.closed) return;
        if (err instanceof HttpProblem) {
          this.error(conn, err.code, err.detail ?? err.code, { status: err.status, op: msg.op, ref: msg.ref, ...err.extensions });
        } else {
          this.logger.error("websocket op failed", { op: msg.op, err: err instanceof Error ? err.message : String(err) });
          this.error(conn, chatErrors.internalError, "an unexpected error occurred", { op: msg.op, ref: msg.ref });
        }
      })
      .finally(() => void conn.queued--);
  }

  /** The answer of an op that has no reply of its own (read, typing): sent only when it carries a ref. */
  private ack(conn: Conn, msg: ClientOp & { roomId?: string }): void {
    if (msg.ref !== undefined) this.hub.send(conn, { event: "ack", op: msg.op, ...(msg.roomId ? { roomId: msg.roomId } : {}), ref: msg.ref });
  }

  // Every op answers its connection once, with its ref: its reply, the room event it caused
  // (send, delete, react, unreact: the connection's copy carries the ref), or an ack.
  private async handle(conn: Conn, msg: ClientOp): Promise<void> {
    if (conn.closed) return;
    const actor: Actor = { userId: conn.userId, nickname: conn.nickname };
    const replyTo = { conn, ref: msg.ref };
    const s = this.service;
    switch (msg.op) {
      case "join": {
        const room = await s.joinRoom(actor, msg.roomId, msg.password);
        // Subscribe first, then read: nothing falls between the page and the live events
        // (a message in both is the same id; clients keep one).
        await this.hub.enter(conn, msg.roomId);
        const [page, participants, reads] = await Promise.all([s.page(conn.userId, msg.roomId, undefined), s.participants(msg.roomId), s.reads(msg.roomId)]);
        this.hub.send(conn, { event: "joined", roomId: msg.roomId, room, participants, messages: page.items, hasMore: page.hasMore, reads, ref: msg.ref });
        return;
      }
      case "leave":
        await s.leaveRoom(actor, msg.roomId);
        await this.hub.part(conn, msg.roomId);
        this.hub.send(conn, { event: "left", roomId: msg.roomId, ref: msg.ref });
        return;
      case "send": {
        const inRoom = this.hub.isIn(conn, msg.roomId);
        const { message, duplicate } = await s.send(actor, msg, inRoom, replyTo);
        // The room broadcast is the acknowledgement (this connection's copy carries the ref, and
        // reaches it outside the room too); a re-send gets the stored message on this connection only.
        if (duplicate) this.hub.send(conn, { event: "message", roomId: msg.roomId, message, duplicate, ref: msg.ref });
        return;
      }
      case "history": {
        const page = this.hub.isIn(conn, msg.roomId)
          ? await s.page(conn.userId, msg.roomId, msg.before, msg.limit)
          : await s.history(conn.userId, msg.roomId, msg.before, msg.limit);
        this.hub.send(conn, { event: "history", roomId: msg.roomId, messages: page.items, hasMore: page.hasMore, ref: msg.ref });
        return;
      }
      case "read":
        await s.markRead(conn.userId, msg.roomId, msg.upToMessageId, this.hub.isIn(conn, msg.roomId));
        this.ack(conn, msg);
        return;
      case "delete":
        await s.deleteMessage(conn.userId, msg.messageId, replyTo);
        return;
      case "react":
        await s.reactions.react(actor, msg.roomId, msg.messageId, msg.kind, replyTo);
        return;
      case "unreact":
        await s.reactions.unreact(actor, msg.roomId, msg.messageId, msg.kind, replyTo);
        return;
      case "typing":
        if (!this.hub.isIn(conn, msg.roomId)) throw problems.forbidden(chatErrors.notMember, "join the room on this connection first");
        this.hub.broadcast(msg.roomId, { event: "typing", roomId: msg.roomId, userId: conn.userId, nickname: conn.nickname, typing: msg.typing ?? true }, { except: conn.userId });
        this.ack(conn, msg);
        return;
      case "ping":
        this.hub.send(conn, { event: "pong", t: msg.t ?? this.clock.now(), ref: msg.ref });
        return;
      case "auth": {
        const auth = await this.sessions.reauthenticate(conn, msg.token);
        this.hub.send(conn, { event: "authenticated", userId: auth.userId, expiresAt: iso(auth.expiresAt), ref: msg.ref });
        return;
      }
    }
  }
}
