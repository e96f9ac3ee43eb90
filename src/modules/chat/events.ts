// Events chat emits through the outbox, and the consumer it registers on the bus.
// Payloads are the contract (add fields, never rename or remove).
import { t } from "elysia";
import { type ConsumerSpec, defineConsumer, defineEvent, type EventEmitter, type EventPayload } from "../../platform/events";
import type { ReadRecord } from "./store";

export const chatEvents = {
  /** A batch of read marks taken from the hot read state (Redis or memory), to be stored. */
  readsFlushed: defineEvent(
    "homebase.chat.reads.flushed",
    t.Object({
      reads: t.Array(
        t.Object({ roomId: t.String(), userId: t.String(), upToMessageId: t.String(), updatedAt: t.Number({ description: "epoch ms" }) }),
      ),
    }),
  ),
} as const;

export type ReadsFlushed = EventPayload<typeof chatEvents.readsFlushed>;

/** What the flusher needs from the event bus: an outbox insert in the current transaction. */
export type ChatEventSink = EventEmitter;

/**
 * Stores flushed read marks. SQLite: in the consumer's transaction (exactly once with the
 * processed-event record). MongoDB: as the idempotent effect ($max), before the record.
 */
export function chatConsumers(
  store: { kind: "sqlite"; saveReadsSync(reads: ReadRecord[]): void } | { kind: "mongo"; saveReads(reads: ReadRecord[]): Promise<void> },
): ConsumerSpec[] {
  const events = [chatEvents.readsFlushed];
  return [
    store.kind === "sqlite"
      ? defineConsumer({ name: "chat-read-state", events, apply: (event) => store.saveReadsSync(event.payload.reads) })
      : defineConsumer({ name: "chat-read-state", events, effect: (event) => store.saveReads(event.payload.reads) }),
  ];
}
