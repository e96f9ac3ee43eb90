// Retention: sent outbox rows, processed-event records and dead letters go after their
// retention, driven by the injected clock; unsent rows and newer ones stay.
import { afterEach, describe, expect, test } from "bun:test";
import { t } from "elysia";
import { ManualClock } from "../clock";
import { modes } from "../../testing/modes";
import { waitFor } from "../../testing/wait";
import { defineConsumer, defineEvent } from "./index";
import { uuidv7Floor } from "./retention";
import { emit, harness, metric, recorder, shutdownAll } from "./testing";

afterEach(shutdownAll);

const day = 86_400_000;
const strictEvent = defineEvent("homebase.retentiontest.thing.done", t.Object({ thingId: t.String() }));

test("uuidv7Floor sorts below every id of its millisecond and above every earlier one", () => {
  const ms = Date.parse("2026-12-01T04:00:00Z");
  const floor = uuidv7Floor(ms);
  expect(Bun.randomUUIDv7("hex", ms - 1) < floor).toBe(true);
  expect(Bun.randomUUIDv7("hex", ms) > floor).toBe(true);
  expect(uuidv7Floor(0)).toBe("00000000-0000-0000-0000-000000000000");
});

describe.each(modes)("event retention (%s)", (mode) => {
  test("prunes what is older than its retention, in batches; newer rows and unsent rows stay", async () => {
    const clock = new ManualClock(Date.parse("2026-12-01T00:00:00Z"));
    const keeper = recorder("retention-keeper", ["homebase.retentiontest.>"]);
    const strict = defineConsumer({ name: "retention-strict", events: [strictEvent], apply: () => undefined });
    // Batches of 2, so three old outbox rows take two transactions.
    const h = await harness(mode, [keeper.spec, strict], {
      clock,
      retention: { eventsMs: 7 * day, deadLettersMs: 30 * day, batchSize: 2 },
    });
    const rows = (sql: string) =>
      h.db
        .query<{ id: string }, []>(sql)
        .all()
        .map((r) => r.id);
    const outbox = () => rows("SELECT id FROM outbox ORDER BY id");
    const processed = () => rows("SELECT event_id AS id FROM processed_events ORDER BY event_id, consumer");

    // Day 0: two events, and one with a bad payload (the strict consumer dead-letters it).
    const old = [await emit(h, "homebase.retentiontest.old", { n: 1 }), await emit(h, "homebase.retentiontest.old", { n: 2 })];
    const poisoned = await emit(h, strictEvent, { thingId: 42 });
    await waitFor(() => keeper.applied.length === 3 && h.db.query("SELECT 1 FROM dead_letters").get() !== null, { what: "day 0's events" });
    await h.bus.flush();
    // A row the relay has not sent yet (in backoff after a failed round): never pruned.
    const unsent = Bun.randomUUIDv7("hex", clock.now());
    h.db
      .query(
        "INSERT INTO outbox (id, subject, payload, created_at, next_attempt_at) VALUES (?, 'homebase.retentiontest.unsent', '{}', ?, ?)",
      )
      .run(unsent, clock.now(), Date.now() + 3_600_000);

    // Day 7 and a minute: day 0 is past the event retention, not past the dead-letter one.
    clock.advance(7 * day + 60_000);
    const fresh = await emit(h, "homebase.retentiontest.new", { n: 3 });
    const sent = (id: string) =>
      h.db.query<{ sent_at: number | null }, [string]>("SELECT sent_at FROM outbox WHERE id = ?").get(id)?.sent_at != null;
    await waitFor(() => keeper.times(fresh) === 1 && sent(fresh), { what: "the new event" });
    // A record of an old event processed just now (a replay) outlives its event's age.
    h.db
      .query("INSERT INTO processed_events (consumer, event_id, processed_at) VALUES ('retention-replayer', ?, ?)")
      .run(old[0]!, clock.now());

    expect(await h.bus.prune()).toEqual({ outbox: 3, processed_events: 4, dead_letters: 0 });
    expect(outbox()).toEqual([unsent, fresh]);
    expect(processed()).toEqual([old[0]!, fresh]);
    expect(h.db.query("SELECT event_id FROM dead_letters").all()).toEqual([{ event_id: poisoned }]);
    expect(await metric(h.metrics, "eventsPruned", { table: "outbox" })).toBe(3);
    expect(await metric(h.metrics, "eventsPruned", { table: "processed_events" })).toBe(4);

    // Nothing more to do until time moves.
    expect(await h.bus.prune()).toEqual({ outbox: 0, processed_events: 0, dead_letters: 0 });

    // Day 31: the dead letter goes, and so does everything sent or processed on day 7.
    clock.advance(24 * day);
    expect(await h.bus.prune()).toEqual({ outbox: 1, processed_events: 2, dead_letters: 1 });
    expect(outbox()).toEqual([unsent]);
    expect(processed()).toEqual([]);
    expect(h.db.query("SELECT COUNT(*) AS n FROM dead_letters").get()).toEqual({ n: 0 });
    expect(await metric(h.metrics, "eventsPruned", { table: "dead_letters" })).toBe(1);
  });
});
