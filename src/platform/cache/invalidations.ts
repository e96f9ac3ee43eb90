// Cache invalidations between instances over NATS core pub/sub (not JetStream: an invalidation
// is only worth something now). Every message carries the sender's instance id so a process
// ignores its own echo. Each instance announces itself every couple of seconds on
// `<subject>.peers`; a write's invalidation is a request that waits for an acknowledgement from
// every peer seen lately (each answers after it dropped the keys), within a bound.
// Delivery is still best effort, so the two-level cache bounds what a missed
// message can cost: a local entry lives at most its local TTL, and the whole local level is
// dropped whenever this connection is down or comes back (messages may have been missed).
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { natsConnectionOptions } from "../events/jetstream";
import type { Logger } from "../logger";

/** keys: drop these; all: drop everything (another instance lost its messages, e.g. a flush). */
export type Invalidation = { keys: string[] } | { all: true };

export interface InvalidationBus {
  /** True while the subscription is live: only then may a local level serve. */
  readonly connected: boolean;
  /** Other instances heard from lately. */
  livePeers(): number;
  /** Tells every other instance; with flush, resolves once each live one applied it (or after the bound). */
  publish(invalidation: Invalidation, options?: { flush?: boolean }): Promise<void>;
  close(): Promise<void>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** A write waits at most this long for the other instances' acknowledgements. */
const ackBoundMs = 500;
/** How often an instance announces itself; a peer not heard from for 3 periods is gone. */
const announceMs = 2_000;

export class NatsInvalidations implements InvalidationBus {
  private nc: NatsConnection | null = null;
  private live = false;
  private closed = false;
  private retry: ReturnType<typeof setTimeout> | null = null;
  private announcer: ReturnType<typeof setInterval> | null = null;
  /** Other instances by id → when last heard from (performance.now()). */
  private readonly peers = new Map<string, number>();

  constructor(
    private readonly url: string,
    /** Outside the JetStream stream's `homebase.>` so invalidations are never stored. */
    readonly subject: string,
    private readonly instanceId: string,
    /** Another instance's invalidation. */
    private readonly onMessage: (invalidation: Invalidation) => void,
    /** The subscription went down or came back: either way local data may have missed messages. */
    private readonly onReset: (connected: boolean) => void,
    private readonly logger: Logger,
  ) {}

  get connected(): boolean {
    return this.live;
  }

  /** Other instances heard from lately: the acknowledgements a write waits for. */
  livePeers(): number {
    const cutoff = performance.now() - 3 * announceMs;
    for (const [id, seen] of this.peers) if (seen < cutoff) this.peers.delete(id);
    return this.peers.size;
  }

  private get peerSubject(): string {
    return `${this.subject}.peers`;
  }

  private announce(bye = false): void {
    if (!this.nc || this.nc.isClosed()) return;
    this.nc.publish(this.peerSubject, encoder.encode(JSON.stringify(bye ? { o: this.instanceId, bye: true } : { o: this.instanceId })));
  }

  start(): void {
    if (this.closed || this.nc) return;
    void this.open();
  }

  private async open(): Promise<void> {
    let nc: NatsConnection;
    try {
      nc = await connect({ ...natsConnectionOptions(this.url), name: `homebase-cache-${this.instanceId}`, maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: 5_000 });
    } catch (err) {
      this.logger.warn("cache invalidations: NATS unavailable; the local cache level is off until it connects", { err: String(err) });
      if (!this.closed) {
        this.retry = setTimeout(() => void this.open(), 1_000);
        this.retry.unref?.();
      }
      return;
    }
    if (this.closed) {
      await nc.close();
      return;
    }
    this.nc = nc;
    nc.subscribe(this.subject, {
      callback: (err, msg) => {
        if (err) return;
        let parsed: { o?: unknown; k?: unknown; all?: unknown };
        try {
          parsed = JSON.parse(decoder.decode(msg.data)) as typeof parsed;
        } catch {
          return;
        }
        if (parsed.o === this.instanceId || typeof parsed.o !== "string") return;
        this.peers.set(parsed.o, performance.now());
        if (parsed.all === true) this.onMessage({ all: true });
        else if (Array.isArray(parsed.k) && parsed.k.every((k) => typeof k === "string")) this.onMessage({ keys: parsed.k as string[] });
        else return;
        // Applied (the callback is synchronous): the writer may go on.
        if (msg.reply) msg.respond();
      },
    });
    nc.subscribe(this.peerSubject, {
      callback: (err, msg) => {
        if (err) return;
        try {
          const { o, bye } = JSON.parse(decoder.decode(msg.data)) as { o?: unknown; bye?: unknown };
          if (typeof o !== "string" || o === this.instanceId) return;
          if (bye === true) {
            this.peers.delete(o);
            return;
          }
          const known = this.peers.has(o);
          this.peers.set(o, performance.now());
          // A newcomer hears of us now rather than at our next announcement.
          if (!known) this.announce();
        } catch {
          // Not ours: ignored.
        }
      },
    });
    this.announce();
    this.announcer = setInterval(() => this.announce(), announceMs);
    this.announcer.unref?.();
    // Live once the server has the subscription: from then on no invalidation is missed.
    await nc.flush().catch(() => undefined);
    if (this.closed) return;
    this.setLive(true);
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === "disconnect") this.setLive(false);
        // nats.js re-sends the subscription before it reports the reconnect.
        else if (status.type === "reconnect") this.setLive(true);
      }
    })().catch(() => undefined);
  }

  private setLive(live: boolean): void {
    // Reset on both edges: going down, entries may go stale unseen; coming back, they may be.
    if (!live && !this.live) return;
    this.live = live;
    if (!live) this.logger.warn("cache invalidations: NATS connection lost; the local cache level is off until it is back");
    this.onReset(live);
  }

  async publish(invalidation: Invalidation, { flush = false }: { flush?: boolean } = {}): Promise<void> {
    const nc = this.nc;
    if (!nc || this.closed || nc.isClosed()) return;
    const body = "all" in invalidation ? { o: this.instanceId, all: true } : { o: this.instanceId, k: invalidation.keys };
    const data = encoder.encode(JSON.stringify(body));
    try {
      const peers = this.livePeers();
      if (!flush || peers === 0) {
        nc.publish(this.subject, data);
        return;
      }
      // One acknowledgement per live peer, each sent after it dropped the keys. Bounded: a dead
      // or slow instance must not hold writes (its local TTL bounds what it may serve).
      const replies = await nc.requestMany(this.subject, data, { strategy: "count", maxMessages: peers, maxWait: ackBoundMs });
      let acks = 0;
      for await (const _ of replies) acks++;
      if (acks < peers) this.logger.debug("cache invalidation: fewer acknowledgements than peers", { acks, peers });
    } catch (err) {
      this.logger.warn("cache invalidation not published (other instances' local copies expire by their TTL)", { err: String(err) });
    }
  }

  async close(): Promise<void> {
    if (!this.closed) this.announce(true);
    this.closed = true;
    this.live = false;
    if (this.retry) clearTimeout(this.retry);
    if (this.announcer) clearInterval(this.announcer);
    const nc = this.nc;
    this.nc = null;
    if (nc && !nc.isClosed()) await nc.drain().catch(() => nc.close());
  }
}
