// Event definitions: declared once, emitted type-checked, validated at the consumer's boundary.
import { afterEach, describe, expect, test } from "bun:test";
import { t } from "elysia";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { natsConnectionOptions } from "./jetstream";
import { modes } from "../../testing/modes";
import { waitFor } from "../../testing/wait";
import { createLogger } from "../logger";
import { EventBus, type EventEnvelope } from "./bus";
import { type EventEmitter, type EventPayload, defineConsumer, defineEvent, integer, isEvent, payloadProblem } from "./index";
import { emit, harness, metric, shutdownAll } from "./testing";

afterEach(shutdownAll);

const itemCounted = defineEvent(
  "homebase.deftest.item.counted",
  t.Object({ itemId: t.String(), count: integer(), tags: t.Array(t.String()) }),
);
const itemDropped = defineEvent(
  "homebase.deftest.item.dropped",
  t.Object({ itemId: t.String(), reason: t.Union([t.Literal("sold"), t.Literal("lost")]) }),
);

// Compile-time checks: tsc fails on an unused @ts-expect-error, so each line below must stay an error.
export function emitIsTypeChecked(events: EventEmitter): void {
  events.emit(itemCounted, { itemId: "a", count: 1, tags: [] });
  // @ts-expect-error count must be a number
  events.emit(itemCounted, { itemId: "a", count: "1", tags: [] });
  // @ts-expect-error tags is required
  events.emit(itemCounted, { itemId: "a", count: 1 });
  // @ts-expect-error no such field in the contract
  events.emit(itemDropped, { itemId: "a", reason: "sold", extra: true });
  // @ts-expect-error not one of the reasons
  events.emit(itemDropped, { itemId: "a", reason: "stolen" });
  // The deprecated form: a bare subject takes anything.
  events.emit("homebase.deftest.untyped", { whatever: 1 });
  const dropped: EventPayload<typeof itemDropped> = { itemId: "a", reason: "lost" };
  events.emit(itemDropped, dropped);
}

describe("event definitions", () => {
  test("a definition is its subject, so it works wherever a subject string did", () => {
    expect(itemCounted as string).toBe("homebase.deftest.item.counted");
    const subject: string = itemCounted;
    expect([itemCounted, itemDropped].includes(subject as typeof itemCounted)).toBe(true);
  });

  test("a subject is defined once, and must be homebase.<domain>.<event>", () => {
    expect(() => defineEvent("homebase.deftest.item.counted", t.Object({}))).toThrow(/defined twice/);
    expect(() => defineEvent("deftest.item", t.Object({}))).toThrow(/homebase\.<domain>\.<event>/);
  });

  test("payloadProblem names each bad field and what it expected", () => {
    expect(payloadProblem(itemCounted, { itemId: "a", count: 2, tags: ["x"], added: "fields are fine" })).toBeNull();
    expect(payloadProblem(itemCounted, { itemId: "a", count: 2.5, tags: ["x", 3] })).toBe(
      "invalid payload for homebase.deftest.item.counted: /count: expected an integer, got 2.5; /tags/1: expected a string, got 3",
    );
    expect(payloadProblem(itemCounted, { count: "2" })).toBe(
      'invalid payload for homebase.deftest.item.counted: /itemId: missing, expected a string; /tags: missing, expected an array; /count: expected an integer, got "2"',
    );
    expect(payloadProblem(itemDropped, { itemId: "a", reason: "stolen" })).toBe(
      'invalid payload for homebase.deftest.item.dropped: /reason: expected one of "sold", "lost", got "stolen"',
    );
    expect(payloadProblem("homebase.deftest.undefined", { anything: true })).toBeNull();
  });

  test("a consumer must subscribe to what it declares, and declare only defined events", async () => {
    const h = await harness("embedded", []);
    // Not started: register() is what is under test.
    const bus = new EventBus({
      db: h.db,
      writer: h.writer,
      metrics: h.metrics,
      logger: createLogger("silent"),
      natsUrl: null,
      maxDeliver: 1,
    });
    const handler = { name: "deftest-sloppy", apply: () => undefined };
    expect(() => bus.register({ ...handler, subjects: ["homebase.deftest.other"], events: [itemCounted] })).toThrow(
      /does not subscribe to it/,
    );
    const undefinedEvent = "homebase.deftest.never.defined" as typeof itemCounted;
    expect(() => bus.register({ ...handler, subjects: [undefinedEvent], events: [undefinedEvent] })).toThrow(/no defineEvent declares/);
    expect(() => bus.register(defineConsumer({ ...handler, events: [itemCounted] }))).not.toThrow();
  });
});

describe.each(modes)("typed consumers (%s)", (mode) => {
  function strictConsumer() {
    const handled: EventEnvelope[] = [];
    let effects = 0;
    const spec = defineConsumer({
      name: "deftest-strict",
      events: [itemCounted, itemDropped],
      effect: async () => void effects++,
      apply(event) {
        handled.push(event);
        // The payload is typed by the definition it matched.
        return isEvent(event, itemCounted) ? event.payload.count : event.payload.reason;
      },
    });
    return { spec, handled, effects: () => effects };
  }

  test("valid payloads reach effect and apply, typed", async () => {
    const strict = strictConsumer();
    const h = await harness(mode, [strict.spec]);
    const counted = await h.writer.write(() => h.bus.emit(itemCounted, { itemId: "a", count: 3, tags: ["new"] }));
    const dropped = await h.writer.write(() => h.bus.emit(itemDropped, { itemId: "a", reason: "sold" }));
    await waitFor(() => strict.handled.length === 2, { what: "both events" });
    expect(strict.handled.map((e) => [e.id, e.subject, e.payload])).toEqual([
      [counted, itemCounted, { itemId: "a", count: 3, tags: ["new"] }],
      [dropped, itemDropped, { itemId: "a", reason: "sold" }],
    ]);
    expect(strict.effects()).toBe(2);
  });

  test("an invalid payload goes to the dead letters after one attempt, naming the field; the next event flows", async () => {
    const strict = strictConsumer();
    const h = await harness(mode, [strict.spec], { maxDeliver: 5 });
    // A producer on the raw string API with a payload that breaks the contract.
    const bad = await emit(h, itemCounted, { itemId: "a", count: "three", tags: [] });
    const good = await h.writer.write(() => h.bus.emit(itemCounted, { itemId: "b", count: 1, tags: [] }));
    await waitFor(() => strict.handled.some((e) => e.id === good), { what: "the valid event after the invalid one" });
    const letter = h.db.query("SELECT consumer, event_id, subject, error, attempts FROM dead_letters").get();
    expect(letter).toEqual({
      consumer: "deftest-strict",
      event_id: bad,
      subject: itemCounted,
      error: 'invalid payload for homebase.deftest.item.counted: /count: expected an integer, got "three"',
      attempts: 1,
    });
    await h.bus.flush();
    expect(strict.handled.map((e) => e.id)).toEqual([good]);
    expect(strict.effects()).toBe(1);
    expect(await metric(h.metrics, "consumerDeliveries", { consumer: "deftest-strict", outcome: "invalid" })).toBe(1);
    expect(await metric(h.metrics, "consumerDeliveries", { consumer: "deftest-strict", outcome: "failed" })).toBe(0);
    expect(await metric(h.metrics, "consumerRedeliveries", { consumer: "deftest-strict" })).toBe(0);
    expect(await metric(h.metrics, "deadLetters", { consumer: "deftest-strict" })).toBe(1);
  });

  test("validation is per consumer: one that takes the subject as a raw pattern gets the payload unchecked", async () => {
    const strict = strictConsumer();
    const raw: unknown[] = [];
    const h = await harness(mode, [
      strict.spec,
      { name: "deftest-raw", subjects: ["homebase.deftest.>"], apply: (e) => void raw.push(e.payload) },
    ]);
    await emit(h, itemDropped, { itemId: "a", reason: "stolen" });
    await waitFor(() => raw.length === 1 && h.db.query("SELECT 1 FROM dead_letters").get() !== null, { what: "both consumers" });
    expect(raw).toEqual([{ itemId: "a", reason: "stolen" }]);
    expect(h.db.query("SELECT consumer FROM dead_letters").all()).toEqual([{ consumer: "deftest-strict" }]);
  });
});

describe.if(modes.includes("real"))("typed consumers on JetStream", () => {
  test("an invalid payload published straight onto the stream is dead-lettered after one delivery", async () => {
    const handled: string[] = [];
    const h = await harness(
      "real",
      [defineConsumer({ name: "deftest-js", events: [itemDropped], apply: (e) => void handled.push(e.payload.itemId) })],
      {
        maxDeliver: 5,
      },
    );
    const event = { id: Bun.randomUUIDv7(), subject: itemDropped, occurredAt: new Date().toISOString(), payload: { reason: "sold" } };
    const nc = await connect(natsConnectionOptions(h.natsUrl!));
    try {
      await jetstream(nc).publish(`${h.namespace}.${event.subject}`, JSON.stringify(event), { msgID: event.id });
    } finally {
      await nc.drain();
    }
    await waitFor(() => h.db.query("SELECT 1 FROM dead_letters").get() !== null, { what: "the dead letter" });
    expect(h.db.query("SELECT event_id, error, attempts FROM dead_letters").get()).toEqual({
      event_id: event.id,
      error: "invalid payload for homebase.deftest.item.dropped: /itemId: missing, expected a string",
      attempts: 1,
    });
    expect(handled).toEqual([]);
    expect(await metric(h.metrics, "consumerRedeliveries", { consumer: "deftest-js" })).toBe(0);
  });
});
