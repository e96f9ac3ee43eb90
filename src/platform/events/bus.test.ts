// The outbox → relay → consumer path, embedded and on a real nats-server with JetStream.
import { afterEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { natsConnectionOptions } from "./jetstream";
import { modes } from "../../testing/modes";
import { startNats, stopNats } from "../../testing/servers";
import { waitFor } from "../../testing/wait";
import { subjectMatches, type EventEnvelope } from "./bus";
import { capturingLogger, emit, harness, metric, recorder, redeliver, shutdown, shutdownAll } from "./testing";

afterEach(shutdownAll);

test("subject patterns follow NATS wildcards", () => {
  expect(subjectMatches("homebase.accounts.>", "homebase.accounts.user.registered")).toBe(true);
  expect(subjectMatches("homebase.accounts.>", "homebase.accounts")).toBe(false);
  expect(subjectMatches("homebase.*.user.deleted", "homebase.accounts.user.deleted")).toBe(true);
  expect(subjectMatches("homebase.*.user.deleted", "homebase.accounts.user.registered")).toBe(false);
  expect(subjectMatches("homebase.a.b", "homebase.a.b.c")).toBe(false);
});

describe.each(modes)("event bus (%s)", (mode) => {
  test("emit outside a write transaction is refused: an event never commits without its domain change", async () => {
    const h = await harness(mode, []);
    expect(() => h.bus.emit("homebase.test.thing", {})).toThrow(/inside a write transaction/);
    await expect(emit(h, "not-a-subject", {})).rejects.toThrow(/homebase\.<domain>\.<event>/);
  });

  test("a rolled-back domain write emits nothing", async () => {
    const seen = recorder("rollback-observer");
    const h = await harness(mode, [seen.spec]);
    h.db.exec("CREATE TABLE things (id TEXT PRIMARY KEY)");
    const failing = h.writer.write(() => {
      h.db.query("INSERT INTO things (id) VALUES ('a')").run();
      h.bus.emit("homebase.test.thing_created", { id: "a" });
      throw new Error("domain rule violated");
    });
    await expect(failing).rejects.toThrow("domain rule violated");
    // A committed write after it proves the relay ran past the point where the rolled-back one would be.
    const id = await h.writer.write(() => {
      h.db.query("INSERT INTO things (id) VALUES ('b')").run();
      return h.bus.emit("homebase.test.thing_created", { id: "b" });
    });
    await waitFor(() => seen.times(id) === 1, { what: "the committed event" });
    await h.bus.flush();
    expect(h.db.query("SELECT id FROM things").all()).toEqual([{ id: "b" }]);
    expect(seen.applied.map((e) => e.payload)).toEqual([{ id: "b" }]);
    expect(h.db.query("SELECT COUNT(*) AS n FROM outbox").get()).toEqual({ n: 1 });
  });

  test("a committed event reaches each matching consumer exactly once, with its envelope", async () => {
    const a = recorder("consumer-a");
    const b = recorder("consumer-b", ["homebase.test.order.*"]);
    const other = recorder("consumer-other", ["homebase.elsewhere.>"]);
    const h = await harness(mode, [a.spec, b.spec, other.spec]);
    const ids = await Promise.all(Array.from({ length: 50 }, (_, i) => emit(h, "homebase.test.order.placed", { n: i })));
    await waitFor(() => a.applied.length === 50 && b.applied.length === 50, { what: "50 events at both consumers" });
    await h.bus.flush();
    await Bun.sleep(100); // would let a stray duplicate arrive
    for (const id of ids) {
      expect(a.times(id)).toBe(1);
      expect(b.times(id)).toBe(1);
    }
    expect(other.applied).toHaveLength(0);
    const first = a.applied.find((e) => e.id === ids[0])!;
    expect(first.subject).toBe("homebase.test.order.placed");
    expect(first.payload).toEqual({ n: 0 });
    expect(Number.isNaN(Date.parse(first.occurredAt))).toBe(false);
    expect(h.bus.backlog()).toBe(0);
    const processed = h.db.query("SELECT COUNT(*) AS n FROM processed_events WHERE consumer IN ('consumer-a','consumer-b')").get();
    expect(processed).toEqual({ n: 100 });
  });

  test("relay dies between publish and mark: the event goes out again, consumers still apply it once", async () => {
    const seen = recorder("crash-observer");
    const first = await harness(mode, [seen.spec]);
    const id = await emit(first, "homebase.test.crash", { v: 1 });
    await waitFor(() => seen.times(id) === 1, { what: "first delivery" });
    await first.bus.flush();
    // The state a crash right after publish/delivery leaves behind: the row is not marked sent.
    first.db.query("UPDATE outbox SET sent_at = NULL WHERE id = ?").run(id);
    const reuse = { dir: first.dir, namespace: first.namespace };
    await shutdown(first);

    const second = await harness(mode, [seen.spec], { reuse });
    await second.bus.flush();
    if (mode === "real") {
      // JetStream remembered the Nats-Msg-Id: the re-publish was acknowledged as a duplicate.
      expect(await metric(second.metrics, "eventsPublished", { outcome: "duplicate" })).toBe(1);
    } else {
      await waitFor(async () => (await metric(second.metrics, "consumerDeliveries", { outcome: "duplicate" })) === 1, { what: "the redelivery" });
    }
    await Bun.sleep(200);
    expect(seen.times(id)).toBe(1);
    expect(second.bus.backlog()).toBe(0);
  });

  test("a handler that fails is retried with backoff and then succeeds, once", async () => {
    let calls = 0;
    const applied: string[] = [];
    const h = await harness(mode, [
      {
        name: "flaky",
        subjects: ["homebase.test.>"],
        apply: (e) => {
          if (++calls < 3) throw new Error(`transient failure ${calls}`);
          applied.push(e.id);
        },
      },
    ]);
    const id = await emit(h, "homebase.test.flaky", {});
    await waitFor(() => applied.length === 1, { what: "the third attempt" });
    await h.bus.flush();
    expect(applied).toEqual([id]);
    expect(calls).toBe(3);
    expect(await metric(h.metrics, "consumerDeliveries", { consumer: "flaky", outcome: "failed" })).toBe(2);
    expect(h.db.query("SELECT COUNT(*) AS n FROM dead_letters").get()).toEqual({ n: 0 });
  });

  test("concurrency: a slow consumer handles up to N events at once; the default handles one at a time", async () => {
    const track = () => {
      const state = { inFlight: 0, max: 0, done: new Set<string>() };
      const effect = async (e: EventEnvelope) => {
        state.max = Math.max(state.max, ++state.inFlight);
        await Bun.sleep(30);
        state.inFlight--;
        state.done.add(e.id);
      };
      return { state, effect };
    };
    const wide = track();
    const narrow = track();
    const h = await harness(mode, [
      { name: "wide", subjects: ["homebase.test.>"], concurrency: 4, effect: wide.effect },
      { name: "narrow", subjects: ["homebase.test.>"], effect: narrow.effect },
    ]);
    const ids = await h.writer.write(() => Array.from({ length: 12 }, (_, i) => h.bus.emit("homebase.test.slow", { i })));
    await waitFor(() => ids.every((id) => wide.state.done.has(id) && narrow.state.done.has(id)), { what: "both consumers", timeoutMs: 20_000 });
    expect(wide.state.max).toBe(4);
    expect(narrow.state.max).toBe(1);
  }, 30_000);

  test("homebase_consumer_pending shows an event a consumer has not processed yet, and 0 once it has", async () => {
    let open = false;
    const applied: string[] = [];
    const h = await harness(mode, [
      {
        name: "gated",
        subjects: ["homebase.test.>"],
        apply: (e) => {
          if (!open) throw new Error("not yet");
          applied.push(e.id);
        },
      },
    ], { maxDeliver: 100 });
    const pending = async () => {
      await h.bus.refreshConsumerLag();
      const { values } = await h.metrics.consumerPending.get();
      return values.find((v) => v.labels.consumer === "gated")?.value ?? -1;
    };
    const id = await emit(h, "homebase.test.gated", {});
    await waitFor(async () => (await pending()) === 1, { what: "one pending event" });
    open = true;
    await waitFor(() => applied.includes(id), { what: "the event once the gate opens", timeoutMs: 20_000 });
    await waitFor(async () => (await pending()) === 0, { what: "nothing pending" });
  }, 30_000);

  test("an effect that keeps failing is dead-lettered after maxDeliver attempts, and the rest flows on", async () => {
    let effects = 0;
    const healthy = recorder("healthy-neighbour");
    const h = await harness(mode, [
      {
        name: "broken",
        subjects: ["homebase.test.poison"],
        effect: async () => {
          effects++;
          throw new Error("cannot handle this");
        },
        apply: () => {
          throw new Error("apply must not run after a failed effect");
        },
      },
      healthy.spec,
    ]);
    const poison = await emit(h, "homebase.test.poison", { bad: true });
    const fine = await emit(h, "homebase.test.fine", {});
    await waitFor(() => h.db.query("SELECT 1 FROM dead_letters").get() !== null, { what: "the dead letter" });
    const letter = h.db.query("SELECT consumer, event_id, subject, payload, error, attempts FROM dead_letters").get();
    expect(letter).toEqual({
      consumer: "broken",
      event_id: poison,
      subject: "homebase.test.poison",
      payload: JSON.stringify({ bad: true }),
      error: "Error: cannot handle this",
      attempts: 3,
    });
    expect(effects).toBe(3);
    await waitFor(() => healthy.times(fine) === 1 && healthy.times(poison) === 1, { what: "the healthy consumer" });
    await h.bus.flush();
    expect(await metric(h.metrics, "deadLetters", { consumer: "broken" })).toBe(1);
    if (mode === "real") {
      const nc = await connect(natsConnectionOptions(h.natsUrl!));
      try {
        const info = await (await jetstreamManager(nc)).streams.info(`HOMEBASE_${h.namespace.toUpperCase()}_DLQ`);
        expect(info.state.messages).toBe(1);
      } finally {
        await nc.close();
      }
    }
  });

  test("events emitted while the relay is stopped stay in the outbox and go out on the next start", async () => {
    const seen = recorder("late-observer");
    const first = await harness(mode, []);
    await first.bus.close(); // a serve-only process: nothing relays
    const ids = await Promise.all(Array.from({ length: 10 }, (_, i) => emit(first, "homebase.test.late", { i })));
    expect(first.bus.backlog()).toBe(10);
    const reuse = { dir: first.dir, namespace: first.namespace };
    await shutdown(first);
    const second = await harness(mode, [seen.spec], { reuse });
    await waitFor(() => ids.every((id) => seen.times(id) === 1), { what: "the backlog" });
    await second.bus.flush();
    expect(seen.applied).toHaveLength(10);
  });
});

describe.each(modes)("after-commit step (%s)", (mode) => {
  test("runs once the transaction committed, with what apply returned", async () => {
    let h!: Awaited<ReturnType<typeof harness>>;
    const seen: Array<{ id: string; applied: unknown; inTransaction: boolean; committed: unknown }> = [];
    h = await harness(mode, [
      {
        name: "after-commit",
        subjects: ["homebase.test.>"],
        apply: (e) => {
          h.db.query("INSERT INTO notes (event_id) VALUES (?)").run(e.id);
          return { note: e.id, n: (e.payload as { n: number }).n };
        },
        afterCommit: (e, applied) => {
          // Another connection sees only committed data: apply's row and the processed-event record.
          const reader = new Database(join(h.dir, "bus.sqlite"), { readonly: true });
          try {
            const committed = reader
              .query("SELECT (SELECT COUNT(*) FROM notes WHERE event_id = ?1) AS notes, (SELECT COUNT(*) FROM processed_events WHERE consumer = 'after-commit' AND event_id = ?1) AS processed")
              .get(e.id);
            seen.push({ id: e.id, applied, inTransaction: h.db.inTransaction, committed });
          } finally {
            reader.close();
          }
        },
      },
    ]);
    h.db.exec("CREATE TABLE notes (event_id TEXT PRIMARY KEY)");
    const id = await emit(h, "homebase.test.noted", { n: 7 });
    await waitFor(() => seen.length === 1, { what: "the after-commit step" });
    expect(seen).toEqual([{ id, applied: { note: id, n: 7 }, inTransaction: false, committed: { notes: 1, processed: 1 } }]);
  });

  test("does not run for a duplicate delivery", async () => {
    const applied: EventEnvelope[] = [];
    const afterCommits: string[] = [];
    const h = await harness(mode, [
      { name: "after-commit-dup", subjects: ["homebase.test.>"], apply: (e) => void applied.push(e), afterCommit: (e) => void afterCommits.push(e.id) },
    ]);
    const id = await emit(h, "homebase.test.once", {});
    await waitFor(() => afterCommits.length === 1, { what: "the first delivery's after-commit step" });
    await redeliver(h, applied[0]!);
    await waitFor(async () => (await metric(h.metrics, "consumerDeliveries", { consumer: "after-commit-dup", outcome: "duplicate" })) === 1, {
      what: "the redelivery to be seen as a duplicate",
    });
    expect(afterCommits).toEqual([id]);
    expect(applied).toHaveLength(1);
  });

  test("does not run when apply threw (its transaction rolled back); runs for the attempt that committed", async () => {
    let h!: Awaited<ReturnType<typeof harness>>;
    let attempts = 0;
    const afterCommits: Array<{ id: string; applied: unknown }> = [];
    h = await harness(mode, [
      {
        name: "after-commit-flaky",
        subjects: ["homebase.test.flaky"],
        apply: (e) => {
          attempts++;
          h.db.query("INSERT INTO notes (event_id, attempt) VALUES (?, ?)").run(e.id, attempts);
          if (attempts === 1) throw new Error("first attempt fails after writing");
          return attempts;
        },
        afterCommit: (e, applied) => void afterCommits.push({ id: e.id, applied }),
      },
      {
        name: "after-commit-broken",
        subjects: ["homebase.test.broken"],
        apply: () => {
          throw new Error("always fails");
        },
        afterCommit: (e) => void afterCommits.push({ id: e.id, applied: "must not run" }),
      },
    ]);
    h.db.exec("CREATE TABLE notes (event_id TEXT NOT NULL, attempt INTEGER NOT NULL)");
    const flaky = await emit(h, "homebase.test.flaky", {});
    const broken = await emit(h, "homebase.test.broken", {});
    await waitFor(() => afterCommits.length === 1, { what: "the second attempt's after-commit step" });
    await waitFor(() => h.db.query("SELECT 1 FROM dead_letters WHERE event_id = ?").get(broken) !== null, { what: "the broken event's dead letter" });
    await h.bus.flush();
    expect(afterCommits).toEqual([{ id: flaky, applied: 2 }]);
    // The first attempt's insert went with its transaction.
    expect(h.db.query("SELECT event_id, attempt FROM notes").all()).toEqual([{ event_id: flaky, attempt: 2 }]);
  });

  test("a failing after-commit step is logged; the event stays processed and is not retried", async () => {
    const logger = capturingLogger();
    let applies = 0;
    const h = await harness(
      mode,
      [
        {
          name: "after-commit-fails",
          subjects: ["homebase.test.>"],
          apply: () => void applies++,
          afterCommit: () => {
            throw new Error("cache unreachable");
          },
        },
      ],
      { logger },
    );
    const id = await emit(h, "homebase.test.logged", {});
    await waitFor(() => logger.lines.some((l) => l.msg.startsWith("after-commit step failed")), { what: "the warning" });
    const warning = logger.lines.find((l) => l.msg.startsWith("after-commit step failed"))!;
    expect(warning.level).toBe("warn");
    expect(warning.fields).toMatchObject({ consumer: "after-commit-fails", eventId: id, subject: "homebase.test.logged" });
    expect(String(warning.fields.err)).toContain("cache unreachable");
    // Handled for good: acknowledged (nothing pending), recorded, counted once, never retried.
    await h.bus.flush();
    const pending = async () => {
      await h.bus.refreshConsumerLag();
      return (await h.metrics.consumerPending.get()).values.find((v) => v.labels.consumer === "after-commit-fails")?.value;
    };
    await waitFor(async () => (await pending()) === 0, { what: "nothing pending" });
    expect(h.db.query("SELECT COUNT(*) AS n FROM processed_events WHERE consumer = 'after-commit-fails' AND event_id = ?").get(id)).toEqual({ n: 1 });
    expect(await metric(h.metrics, "consumerDeliveries", { consumer: "after-commit-fails", outcome: "processed" })).toBe(1);
    expect(await metric(h.metrics, "consumerDeliveries", { consumer: "after-commit-fails", outcome: "failed" })).toBe(0);
    expect(await metric(h.metrics, "consumerRedeliveries", { consumer: "after-commit-fails" })).toBe(0);
    expect(h.db.query("SELECT COUNT(*) AS n FROM dead_letters").get()).toEqual({ n: 0 });
    expect(applies).toBe(1);
  });
});

describe.if(modes.includes("real"))("event bus on JetStream", () => {
  test("the same event published twice (outside the dedupe window) is applied once", async () => {
    const seen = recorder("twice-observer");
    const h = await harness("real", [seen.spec]);
    const id = await emit(h, "homebase.test.twice", { x: 1 });
    await waitFor(() => seen.times(id) === 1, { what: "first delivery" });
    const event = seen.applied[0]!;
    const nc = await connect(natsConnectionOptions(h.natsUrl!));
    try {
      // No Nats-Msg-Id: the stream stores it again, as after the duplicate window has passed.
      await jetstream(nc).publish(`${h.namespace}.${event.subject}`, JSON.stringify(event));
    } finally {
      await nc.drain();
    }
    await waitFor(async () => (await metric(h.metrics, "consumerDeliveries", { consumer: "twice-observer", outcome: "duplicate" })) === 1, {
      what: "the second copy to be seen and skipped",
    });
    expect(seen.times(id)).toBe(1);
  });

  test("NATS down: writes still commit, the outbox holds the events, and they arrive once after it returns", async () => {
    const seen = recorder("outage-observer");
    const h = await harness("real", [seen.spec]);
    const before = await emit(h, "homebase.test.outage", { phase: "before" });
    await waitFor(() => seen.times(before) === 1, { what: "the first event" });
    await stopNats();
    let ids: string[] = [];
    try {
      ids = await Promise.all(Array.from({ length: 20 }, (_, i) => emit(h, "homebase.test.outage", { i })));
      await Bun.sleep(300);
      expect(h.bus.backlog()).toBe(20);
      expect(await h.bus.ping().catch(() => false)).toBe(false);
    } finally {
      await startNats();
    }
    await waitFor(() => ids.every((id) => seen.times(id) === 1), { what: "the backlog after NATS returned", timeoutMs: 30_000 });
    await h.bus.flush(10_000);
    await Bun.sleep(200);
    for (const id of [before, ...ids]) expect(seen.times(id)).toBe(1);
    expect(await h.bus.ping()).toBe(true);
  }, 60_000);
});
