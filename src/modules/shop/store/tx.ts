// What the SQLite stores share: recording events in the write's transaction, and ending a
// store's write transaction early with an answer: throwing rolls back the
// write's savepoint (every change it made so far), and the answer is returned instead.
import type { GroupCommitWriter } from "../../../platform/db/sqlite";
import type { ShopEvent, ShopEventSink } from "../events";

class Rollback<T> extends Error {
  constructor(readonly outcome: T) {
    super("rolled back");
  }
}

/** Runs fn in a write; `refuse(outcome)` inside it undoes the write and makes `outcome` the result. */
export async function writeOr<T, R>(writer: GroupCommitWriter, fn: (refuse: (outcome: R) => never) => T): Promise<T | R> {
  const refuse = (outcome: R): never => {
    throw new Rollback(outcome);
  };
  try {
    return await writer.write(() => fn(refuse));
  } catch (err) {
    if (err instanceof Rollback) return err.outcome as R;
    throw err;
  }
}

/** Records the events in the outbox, inside the current write transaction. */
export function record(sink: ShopEventSink, events: readonly ShopEvent[]): void {
  // Each message pairs a definition with its own payload type; the union loses that pairing.
  const emit = sink.emit as (subject: string, payload: unknown) => string;
  for (const e of events) emit.call(sink, e.subject, e.payload);
}
