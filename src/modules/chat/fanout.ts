// Live fanout between instances over NATS core pub/sub (not JetStream: live events are not
// replayed; history is the store's job). One subject per room, subscribed only while this
// instance has a connection in the room. Every envelope carries the sender's instance id:
// an instance delivers its own events locally and drops their echo, so each connected
// member gets each event exactly once.
//
// Besides the rooms, one subject every instance listens on from start-up: ended sessions
// (`…sessions.ended`). The event bus hands an accounts revocation to one consumer of the
// group, on one instance; that instance closes its own sockets and broadcasts the end here so
// every other instance closes theirs (see sessions.ts).
import { connect, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { natsConnectionOptions } from "../../platform/events/jetstream";
import type { Logger } from "../../platform/logger";

export interface Envelope {
  /** Origin instance id. */
  o: string;
  /** Room id. */
  r: string;
  /** The event, already serialized for the sockets. */
  e: string;
  /** Skip the connections of this user (e.g. a read receipt goes to the others only). */
  x?: string;
  /** After delivering, drop this user's connections from the room (they left it). */
  u?: string;
}

export type RemoteHandler = (envelope: Envelope) => void;

/** Sessions that ended: their sockets are closed on every instance. */
export interface SessionEnd {
  userId: string;
  /** The ended sessions; "all": every session of the user (the account was deleted). */
  sessionIds: string[] | "all";
}

export type SessionEndHandler = (end: SessionEnd) => void;

/** An account's new nickname: every instance's sockets of that user carry it from then on. */
export interface Rename {
  userId: string;
  nickname: string;
}

export type RenameHandler = (rename: Rename) => void;

export interface Fanout {
  readonly kind: "nats" | "local";
  publish(envelope: Envelope): void;
  watch(roomId: string): void;
  unwatch(roomId: string): void;
  /** Resolves once events published anywhere for the room reach this instance. */
  watching(roomId: string): Promise<void>;
  /** To every other instance (this one already acted on it). */
  publishSessionEnd(end: SessionEnd): void;
  /** To every other instance (this one already acted on it). */
  publishRename(rename: Rename): void;
  /** Starts listening for other instances' session ends and renames (retried until it works). */
  listen(): void;
  close(): Promise<void>;
}

/** One instance: everything is local already. */
export class LocalFanout implements Fanout {
  readonly kind = "local" as const;
  publish(): void {}
  watch(): void {}
  unwatch(): void {}
  async watching(): Promise<void> {}
  publishSessionEnd(): void {}
  publishRename(): void {}
  listen(): void {}
  async close(): Promise<void> {}
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class NatsFanout implements Fanout {
  readonly kind = "nats" as const;
  private nc: Promise<NatsConnection> | null = null;
  private readonly subs = new Map<string, Subscription | Promise<Subscription | null>>();
  private sessionSub: Promise<Subscription | null> | null = null;
  private closed = false;

  constructor(
    private readonly url: string,
    /** Outside the JetStream stream's `homebase.>` so live traffic is never stored. */
    private readonly subjectPrefix: string,
    private readonly instanceId: string,
    private readonly onRemote: RemoteHandler,
    private readonly logger: Logger,
    private readonly onSessionEnd: SessionEndHandler = () => {},
    private readonly onRename: RenameHandler = () => {},
  ) {}

  private connection(): Promise<NatsConnection> {
    // Credentials travel as connect options: nats.js drops them from a server URL.
    this.nc ??= connect({ ...natsConnectionOptions(this.url), name: `homebase-chat-${this.instanceId}`, maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: 5000 }).catch(
      (err: unknown) => {
        // Retry on next use rather than remembering the failure forever.
        this.nc = null;
        throw err;
      },
    );
    return this.nc;
  }

  subject(roomId: string): string {
    return `${this.subjectPrefix}.room.${roomId}`;
  }

  private get sessionSubject(): string {
    return `${this.subjectPrefix}.sessions.ended`;
  }

  private get renameSubject(): string {
    return `${this.subjectPrefix}.users.renamed`;
  }

  publishSessionEnd(end: SessionEnd): void {
    if (this.closed) return;
    const message = encoder.encode(JSON.stringify({ o: this.instanceId, ...end }));
    this.connection()
      .then((nc) => nc.publish(this.sessionSubject, message))
      .catch((err: unknown) => this.logger.warn("chat fanout: session end not published (sockets elsewhere close at the next check)", { err: String(err) }));
  }

  publishRename(rename: Rename): void {
    if (this.closed) return;
    const message = encoder.encode(JSON.stringify({ o: this.instanceId, userId: rename.userId, nickname: rename.nickname }));
    this.connection()
      .then((nc) => nc.publish(this.renameSubject, message))
      .catch((err: unknown) => this.logger.warn("chat fanout: rename not published (sockets elsewhere keep the old nickname until they reconnect)", { err: String(err) }));
  }

  listen(): void {
    if (this.closed || this.sessionSub) return;
    this.sessionSub = this.connection()
      .then((nc) => {
        nc.subscribe(this.renameSubject, {
          callback: (err, msg) => {
            if (err) return;
            try {
              const { o, userId, nickname } = JSON.parse(decoder.decode(msg.data)) as Rename & { o: string };
              if (o !== this.instanceId && typeof userId === "string" && typeof nickname === "string") this.onRename({ userId, nickname });
            } catch {
              // Not ours: ignored.
            }
          },
        });
        return nc.subscribe(this.sessionSubject, {
          callback: (err, msg) => {
            if (err) return;
            try {
              const { o, userId, sessionIds } = JSON.parse(decoder.decode(msg.data)) as SessionEnd & { o: string };
              if (o !== this.instanceId && typeof userId === "string" && (sessionIds === "all" || Array.isArray(sessionIds))) this.onSessionEnd({ userId, sessionIds });
            } catch {
              // Not ours: ignored.
            }
          },
        });
      })
      .catch((err: unknown) => {
        this.logger.warn("chat fanout: cannot listen for session ends yet; retrying", { err: String(err) });
        this.sessionSub = null;
        setTimeout(() => this.listen(), 1000).unref?.();
        return null;
      });
  }

  publish(envelope: Envelope): void {
    if (this.closed) return;
    this.connection()
      .then((nc) => nc.publish(this.subject(envelope.r), encoder.encode(JSON.stringify(envelope))))
      .catch((err: unknown) => this.logger.warn("chat fanout publish failed", { err: String(err) }));
  }

  watch(roomId: string): void {
    if (this.closed || this.subs.has(roomId)) return;
    const pending = this.connection()
      .then((nc) => {
        // Unwatched (or closed) while connecting.
        if (this.subs.get(roomId) !== pending) return null;
        const sub = nc.subscribe(this.subject(roomId), {
          callback: (err, msg) => {
            if (err) return;
            let envelope: Envelope;
            try {
              envelope = JSON.parse(decoder.decode(msg.data)) as Envelope;
            } catch {
              return;
            }
            if (envelope.o !== this.instanceId) this.onRemote(envelope);
          },
        });
        this.subs.set(roomId, sub);
        return sub;
      })
      .catch((err: unknown) => {
        if (this.subs.get(roomId) === pending) this.subs.delete(roomId);
        this.logger.warn("chat fanout subscribe failed", { roomId, err: String(err) });
        return null;
      });
    this.subs.set(roomId, pending);
  }

  unwatch(roomId: string): void {
    const sub = this.subs.get(roomId);
    this.subs.delete(roomId);
    if (!sub) return;
    if (sub instanceof Promise) void sub.then((s) => s?.unsubscribe());
    else sub.unsubscribe();
  }

  /** Resolves once the room's subscription is registered with the server (tests, join replies). */
  async watching(roomId: string): Promise<void> {
    const sub = this.subs.get(roomId);
    if (sub instanceof Promise) await sub;
    const nc = await this.connection();
    await nc.flush();
  }

  async close(): Promise<void> {
    this.closed = true;
    const nc = this.nc;
    this.nc = null;
    this.subs.clear();
    this.sessionSub = null;
    if (nc) await nc.then((c) => c.drain()).catch(() => undefined);
  }
}
