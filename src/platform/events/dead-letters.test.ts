// Dead letters: a consumer that fails until it is fixed dead-letters an event; a retry hands it
// to that consumer again and it is handled exactly once; a discard drops it for good.
import { afterEach, describe, expect, test } from "bun:test";
import { modes } from "../../testing/modes";
import { waitFor } from "../../testing/wait";
import type { ConsumerSpec, EventEnvelope } from "./bus";
import { DeadLetters } from "./dead-letters";
import { emit, harness, metric, recorder, shutdownAll } from "./testing";

afterEach(shutdownAll);

/** A consumer whose handler throws while `broken` is set; counts every call and every apply. */
function flaky(name: string) {
  const state = { broken: true, calls: 0, applied: [] as EventEnvelope[] };
  const spec: ConsumerSpec = {
    name,
    subjects: ["homebase.test.>"],
    apply(event) {
      state.calls++;
      if (state.broken) throw new Error(`still broken (call ${state.calls})`);
      state.applied.push(event);
    },
  };
  return { spec, state };
}

describe.each(modes)("dead letters (%s)", (mode) => {
  test("an event dead-lettered after maxDeliver failures is handled exactly once by a retry after the fix", async () => {
    const broken = flaky("flaky");
    const other = recorder("bystander");
    const h = await harness(mode, [broken.spec, other.spec], { maxDeliver: 3 });
    const letters = new DeadLetters(h.db, h.writer, h.bus);
    const id = await emit(h, "homebase.test.thing_made", { n: 1 });
    await waitFor(() => letters.count() === 1, { what: "the dead letter" });
    expect(broken.state.calls).toBe(3);
    const [letter] = letters.list(10);
    expect(letter).toMatchObject({ consumer: "flaky", eventId: id, subject: "homebase.test.thing_made", payload: { n: 1 }, attempts: 3 });
    expect(letter!.error).toContain("still broken (call 3)");
    expect(Math.abs(letter!.occurredAt - Date.now())).toBeLessThan(60_000);

    // Still broken: the retry fails and dead-letters it again, one attempt more, with the new error.
    const failed = await letters.retry("flaky", id);
    expect(failed).toMatchObject({ status: "dead", attempts: 4 });
    expect(letters.get("flaky", id)).toMatchObject({ attempts: 4, error: expect.stringContaining("call 4") });

    // Fixed: handled once; the dead letter is gone; the other consumer saw it once, earlier.
    broken.state.broken = false;
    const retried = await letters.retry("flaky", id);
    expect(retried.status).toBe("processed");
    expect(broken.state.applied.map((e) => e.id)).toEqual([id]);
    expect(broken.state.applied[0]!.payload).toEqual({ n: 1 });
    expect(letters.get("flaky", id)).toBeNull();
    expect(letters.count()).toBe(0);
    expect(other.times(id)).toBe(1);

    // A second retry finds nothing; the event is recorded as handled, so a redelivery is a duplicate.
    expect((await letters.retry("flaky", id)).status).toBe("not_found");
    expect(h.db.query("SELECT COUNT(*) AS n FROM processed_events WHERE consumer = 'flaky' AND event_id = ?").get(id)).toEqual({ n: 1 });
    expect(await metric(h.metrics, "consumerDeliveries", { consumer: "flaky", outcome: "processed" })).toBe(1);
    expect(broken.state.applied).toHaveLength(1);
  });

  test("two retries at once handle the event once", async () => {
    const broken = flaky("twice");
    const h = await harness(mode, [broken.spec], { maxDeliver: 1 });
    const letters = new DeadLetters(h.db, h.writer, h.bus);
    const id = await emit(h, "homebase.test.twice", { n: 2 });
    await waitFor(() => letters.count() === 1, { what: "the dead letter" });
    broken.state.broken = false;
    const [a, b] = await Promise.all([letters.retry("twice", id), letters.retry("twice", id)]);
    expect(a.status).toBe("processed");
    expect(b.status).toBe("processed");
    expect(broken.state.applied).toHaveLength(1);
  });

  test("discard drops the dead letter for good; unknown rows and consumers are told apart", async () => {
    const broken = flaky("dropper");
    const h = await harness(mode, [broken.spec], { maxDeliver: 1 });
    const letters = new DeadLetters(h.db, h.writer, h.bus);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await emit(h, "homebase.test.drop", { i }));
    await waitFor(() => letters.count() === 3, { what: "three dead letters" });

    // Newest first, paged by the last row.
    const first = letters.list(2);
    expect(first).toHaveLength(2);
    const last = first.at(-1)!;
    const rest = letters.list(2, { failedAt: last.failedAt, consumer: last.consumer, eventId: last.eventId });
    expect(rest).toHaveLength(1);
    expect(new Set([...first, ...rest].map((l) => l.eventId))).toEqual(new Set(ids));

    const dropped = await letters.discard("dropper", ids[0]!);
    expect(dropped).toMatchObject({ eventId: ids[0], payload: { i: 0 } });
    expect(await letters.discard("dropper", ids[0]!)).toBeNull();
    expect(letters.count()).toBe(2);
    // Discarded: still recorded as handled, never handed to the consumer again.
    broken.state.broken = false;
    expect((await letters.retry("dropper", ids[0]!)).status).toBe("not_found");
    expect(broken.state.applied).toHaveLength(0);

    // A row of a consumer this process does not run: refused, the row kept.
    await h.writer.write(() =>
      h.db
        .query("INSERT INTO dead_letters (consumer, event_id, subject, payload, error, attempts, failed_at) VALUES ('gone', ?, 'homebase.test.drop', '{}', 'x', 1, ?)")
        .run(ids[1]!, Date.now()),
    );
    expect((await letters.retry("gone", ids[1]!)).status).toBe("no_consumer");
    expect(letters.get("gone", ids[1]!)).not.toBeNull();
  });
});
