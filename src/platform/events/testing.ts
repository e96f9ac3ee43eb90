// What the event bus tests share: a bus on a fresh SQLite file, in-process or on the test
// nats-server, and small probes (a recording consumer, metric sums, a logger that keeps lines).
import type { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { natsConnectionOptions } from "./jetstream";
import type { Clock } from "../clock";
import { GroupCommitWriter, migrate, openDatabase } from "../db/sqlite";
import { createLogger, type Logger } from "../logger";
import { Metrics } from "../metrics";
import { platformMigrations } from "../migrations";
import type { Mode } from "../../testing/modes";
import { startRealBackends } from "../../testing/servers";
import { type ConsumerSpec, EventBus, type EventBusOptions, type EventEnvelope } from "./bus";

export interface Harness {
  db: Database;
  writer: GroupCommitWriter;
  metrics: Metrics;
  bus: EventBus;
  dir: string;
  namespace: string;
  natsUrl: string | null;
}

export interface HarnessOptions {
  /** Reopen the data dir (and NATS namespace) of an earlier harness: a restart. */
  reuse?: { dir: string; namespace: string };
  maxDeliver?: number;
  clock?: Clock;
  logger?: Logger;
  retention?: EventBusOptions["retention"];
}

const open: Harness[] = [];

export async function harness(mode: Mode, consumers: ConsumerSpec[], options: HarnessOptions = {}): Promise<Harness> {
  const { reuse, maxDeliver = 3 } = options;
  const dir = reuse?.dir ?? mkdtempSync(join(tmpdir(), "homebase-bus-"));
  const namespace = reuse?.namespace ?? `b${Bun.randomUUIDv7().replaceAll("-", "").slice(-12)}`;
  const natsUrl = mode === "real" ? (await startRealBackends()).natsUrl : null;
  const db = openDatabase(join(dir, "bus.sqlite"), { synchronous: "NORMAL" });
  migrate(db, [platformMigrations]);
  const writer = new GroupCommitWriter(db);
  const metrics = new Metrics();
  const logger = options.logger ?? createLogger("silent");
  const bus = new EventBus({
    db,
    writer,
    metrics,
    logger,
    natsUrl,
    maxDeliver,
    retryMs: 10,
    namespace,
    clock: options.clock,
    retention: options.retention,
  });
  for (const c of consumers) bus.register(c);
  await bus.start();
  const h = { db, writer, metrics, bus, dir, namespace, natsUrl };
  open.push(h);
  return h;
}

export async function shutdown(h: Harness): Promise<void> {
  const i = open.indexOf(h);
  if (i < 0) return;
  open.splice(i, 1);
  await h.bus.close();
  await h.writer.close();
  h.metrics.close();
  h.db.close();
}

/** For afterEach: closes every open harness and removes their data dirs. */
export async function shutdownAll(): Promise<void> {
  const dirs = new Set(open.map((h) => h.dir));
  for (const h of [...open]) await shutdown(h);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}

/** A consumer that records every apply, by event id. */
export function recorder(name: string, subjects = ["homebase.test.>"]) {
  const applied: EventEnvelope[] = [];
  const spec: ConsumerSpec = { name, subjects, apply: (e) => void applied.push(e) };
  const times = (id: string) => applied.filter((e) => e.id === id).length;
  return { spec, applied, times };
}

type CounterName = "consumerDeliveries" | "consumerRedeliveries" | "eventsPublished" | "deadLetters" | "eventsPruned";

/** The sum of a counter's series whose labels include `labels`. */
export async function metric(metrics: Metrics, name: CounterName, labels: Record<string, string>): Promise<number> {
  const { values } = await metrics[name].get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => (v.labels as Record<string, unknown>)[k] === want))
    .reduce((sum, v) => sum + v.value, 0);
}

/** Emits through the deprecated string form: how a producer with no definition (or a bad payload) writes. */
export const emit = (h: Harness, subject: string, payload: unknown) => h.writer.write(() => h.bus.emit(subject, payload));

/** Delivers an already handled event once more: a copy on JetStream (as after its duplicate window), or its outbox row unsent again. */
export async function redeliver(h: Harness, event: EventEnvelope): Promise<void> {
  if (h.natsUrl) {
    const nc = await connect(natsConnectionOptions(h.natsUrl));
    try {
      // No Nats-Msg-Id: the stream stores it again.
      await jetstream(nc).publish(`${h.namespace}.${event.subject}`, JSON.stringify(event));
    } finally {
      await nc.drain();
    }
    return;
  }
  // A commit wakes the relay, which finds the row due again.
  await h.writer.write(() => h.db.query("UPDATE outbox SET sent_at = NULL WHERE id = ?").run(event.id));
}

export interface LogLine {
  level: "debug" | "info" | "warn" | "error";
  msg: string;
  fields: Record<string, unknown>;
}

/** A logger that keeps what it is told, for asserting on it. */
export function capturingLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const make = (base: Record<string, unknown>): Logger => {
    const at =
      (level: LogLine["level"]) =>
      (msg: string, fields: Record<string, unknown> = {}) =>
        void lines.push({ level, msg, fields: { ...base, ...fields } });
    return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error"), child: (fields) => make({ ...base, ...fields }) };
  };
  return Object.assign(make({}), { lines });
}
