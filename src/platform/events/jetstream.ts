// The NATS JetStream side of the event bus: one stream for events, one for dead letters,
// and one durable pull consumer (explicit ack) per consumer subject.
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  StorageType,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import { connect, nanos, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "../logger";

/** The wire form of an event; also what consumers receive. */
export interface EventEnvelope<P = unknown> {
  id: string;
  subject: string;
  occurredAt: string;
  payload: P;
}

/** What a delivery came to; decides ack, nak (with delay) or term. */
export type DeliveryOutcome = "processed" | "duplicate" | "dead" | "retry";

export type DeliveryHandler = (event: EventEnvelope, deliveryCount: number) => Promise<DeliveryOutcome>;

/** What nats.js's connect() needs for a NATS_URL: its server, and its credentials as options. */
export interface NatsConnectionOptions {
  servers: string;
  user?: string;
  pass?: string;
  token?: string;
}

/**
 * nats.js ignores credentials inside a server URL (it keeps host and port only), so they move to
 * connect options: nats://user:password@host → user and pass; nats://token@host → token.
 */
export function natsConnectionOptions(url: string): NatsConnectionOptions {
  const parsed = new URL(url);
  const user = decodeURIComponent(parsed.username);
  const pass = decodeURIComponent(parsed.password);
  parsed.username = "";
  parsed.password = "";
  const servers = parsed.toString();
  if (pass !== "") return { servers, user, pass };
  if (user !== "") return { servers, token: user };
  return { servers };
}

export class JetStreamTransport {
  private readonly loops: Array<{ messages: ConsumerMessages; done: Promise<void> }> = [];
  readonly stream: string;
  readonly deadLetterStream: string;
  private readonly prefix: string;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly namespace: string,
    private readonly logger: Logger,
    private readonly retryDelayMs: (deliveryCount: number) => number,
  ) {
    this.stream = namespace ? `HOMEBASE_${namespace.toUpperCase()}` : "HOMEBASE";
    this.deadLetterStream = `${this.stream}_DLQ`;
    this.prefix = namespace ? `${namespace}.` : "";
  }

  static async connect(
    url: string,
    namespace: string,
    logger: Logger,
    retryDelayMs: (deliveryCount: number) => number,
  ): Promise<JetStreamTransport> {
    const nc = await connect({
      ...natsConnectionOptions(url),
      name: "homebase",
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      timeout: 5000,
    });
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === "disconnect" || status.type === "reconnect") logger.warn("nats connection", { status: status.type });
      }
    })().catch(() => {});
    const transport = new JetStreamTransport(nc, jetstream(nc, { timeout: 5000 }), await jetstreamManager(nc), namespace, logger, retryDelayMs);
    await transport.ensureStreams();
    return transport;
  }

  private async ensureStreams(): Promise<void> {
    await this.ensureStream(this.stream, `${this.prefix}homebase.>`);
    await this.ensureStream(this.deadLetterStream, `${this.prefix}homebase_dlq.>`);
  }

  private async ensureStream(name: string, subject: string): Promise<void> {
    try {
      await this.jsm.streams.info(name);
      await this.jsm.streams.update(name, { subjects: [subject] });
    } catch {
      // Two minutes of Nats-Msg-Id memory: a relay retry inside it is acknowledged as `duplicate`.
      await this.jsm.streams.add({ name, subjects: [subject], storage: StorageType.File, duplicate_window: nanos(120_000) });
    }
  }

  /** Publishes one outbox row with its id as Nats-Msg-Id; a duplicate ack means it was already stored. */
  async publish(event: EventEnvelope): Promise<"sent" | "duplicate"> {
    const ack = await this.js.publish(this.prefix + event.subject, JSON.stringify(event), { msgID: event.id });
    return ack.duplicate ? "duplicate" : "sent";
  }

  async publishDeadLetter(consumer: string, event: EventEnvelope, error: string, attempts: number): Promise<void> {
    const body = JSON.stringify({ consumer, error, attempts, event });
    await this.js.publish(`${this.prefix}homebase_dlq.${consumer}`, body, { msgID: `${consumer}:${event.id}` });
  }

  /**
   * Starts a durable pull consumer per subject (NATS 2.9 filters one subject per consumer).
   * Messages of one consumer are handled `concurrency` at a time (1: in stream order).
   */
  async subscribe(name: string, subjects: string[], concurrency: number, handle: DeliveryHandler): Promise<void> {
    for (const [i, subject] of subjects.entries()) {
      const durable = `${this.namespace ? `${this.namespace}_` : ""}${name}${subjects.length > 1 ? `_${i}` : ""}`;
      const config = {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        filter_subject: this.prefix + subject,
        ack_wait: nanos(30_000),
        max_ack_pending: 256,
      };
      try {
        await this.jsm.consumers.add(this.stream, config);
      } catch {
        await this.jsm.consumers.update(this.stream, durable, { filter_subject: config.filter_subject, ack_wait: config.ack_wait });
      }
      const consumer = await this.js.consumers.get(this.stream, durable);
      const messages = await consumer.consume({ max_messages: 64 });
      const done = (async () => {
        // Up to `concurrency` messages in hand; with 1, strictly one at a time in stream order.
        const inFlight = new Set<Promise<void>>();
        for await (const msg of messages) {
          const p = this.handleMessage(name, msg, handle).finally(() => inFlight.delete(p));
          inFlight.add(p);
          if (inFlight.size >= concurrency) await Promise.race(inFlight);
        }
        await Promise.all(inFlight);
      })().catch((err: unknown) => this.logger.error("event consumer stopped", { consumer: durable, err }));
      this.loops.push({ messages, done });
    }
  }

  private async handleMessage(consumer: string, msg: JsMsg, handle: DeliveryHandler): Promise<void> {
    let event: EventEnvelope;
    try {
      event = msg.json<EventEnvelope>();
      if (typeof event.id !== "string" || typeof event.subject !== "string") throw new Error("not an event envelope");
    } catch (err) {
      this.logger.error("unreadable event dropped", { consumer, seq: msg.seq, err });
      msg.term("unreadable");
      return;
    }
    const count = msg.info.deliveryCount;
    const outcome = await handle(event, count).catch((err: unknown) => {
      this.logger.error("event handler crashed", { consumer, eventId: event.id, err });
      return "retry" as const;
    });
    if (outcome === "retry") msg.nak(this.retryDelayMs(count));
    else if (outcome === "dead") msg.term("dead-lettered");
    else msg.ack();
  }

  /** Pending plus unacknowledged messages of each durable consumer of `name`. */
  async pending(name: string, subjects: number): Promise<number> {
    let total = 0;
    for (let i = 0; i < subjects; i++) {
      const durable = `${this.namespace ? `${this.namespace}_` : ""}${name}${subjects > 1 ? `_${i}` : ""}`;
      const info = await this.jsm.consumers.info(this.stream, durable);
      total += info.num_pending + info.num_ack_pending;
    }
    return total;
  }

  async ping(): Promise<boolean> {
    if (this.nc.isClosed()) return false;
    await this.nc.rtt();
    return true;
  }

  /** Stops the consumers, letting the message in hand finish; publishing goes on. */
  async stopConsumers(): Promise<void> {
    await Promise.allSettled(this.loops.map((l) => l.messages.close()));
    await Promise.allSettled(this.loops.map((l) => l.done));
  }

  /** Stops the consumers, then drains the connection. */
  async close(): Promise<void> {
    await this.stopConsumers();
    if (!this.nc.isClosed()) await this.nc.drain().catch(() => this.nc.close());
  }
}
