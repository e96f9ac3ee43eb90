// Events chat emits through the outbox, and the consumer it registers on the bus.
// Payloads are the contract (add fields, never rename or remove).
import type { ConsumerSpec, EventEnvelope } from "../../platform/events/bus";
import type { ReadRecord } from "./store";

export const chatEvents = {
  /** A batch of read marks taken from the hot read state (Redis or memory), to be stored. */
  readsFlushed: "homebase.chat.reads.flushed",
} as const;

export interface ReadsFlushed {
  reads: ReadRecord[];
}

/** The one capability the flusher needs from the event bus: an outbox insert in the current transaction. */
export interface ChatEventSink {
  emit(subject: string, payload: unknown): string;
}

/**
 * Stores flushed read marks. SQLite: in the consumer's transaction (exactly once with the
 * processed-event record). MongoDB: as the idempotent effect ($max), before the record.
 */
export function chatConsumers(store: { kind: "sqlite"; saveReadsSync(reads: ReadRecord[]): void } | { kind: "mongo"; saveReads(reads: ReadRecord[]): Promise<void> }): ConsumerSpec[] {
  const reads = (event: EventEnvelope) => (event.payload as ReadsFlushed).reads;
  return [
    store.kind === "sqlite"
      ? { name: "chat-read-state", subjects: [chatEvents.readsFlushed], apply: (event) => store.saveReadsSync(reads(event)) }
      : { name: "chat-read-state", subjects: [chatEvents.readsFlushed], effect: (event) => store.saveReads(reads(event)) },
  ];
}
