// Events chat emits through the outbox, and the consumers it registers on the bus.
// Payloads are the contract (add fields, never rename or remove).
import { t } from "elysia";
import { type ConsumerSpec, defineConsumer, defineEvent, type EventEmitter, type EventPayload } from "../../platform/events";
import { accountEvents } from "../accounts";
import type { Hub } from "./hub";
import { deletedAuthorNickname } from "./model";
import type { ChatStore, ReadRecord, RoomLeft } from "./store";

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

/** The store as the account consumers need it: SQLite in the bus's transaction, MongoDB idempotently. */
export type AccountSyncStore =
  | (ChatStore & { kind: "sqlite"; removeAuthorSync(userId: string, at: number): RoomLeft[] })
  | (ChatStore & { kind: "mongo" });

/** Members connected to the rooms a deleted account left see it leave (and relabel its messages). */
function announceRemoval(hub: Hub, userId: string, rooms: RoomLeft[]): void {
  for (const { roomId, memberCount } of rooms) {
    hub.broadcast(
      roomId,
      { event: "participants", roomId, change: "left", reason: "account_deleted", userId, nickname: deletedAuthorNickname, participants: memberCount },
      { unsubscribe: userId },
    );
  }
}

/**
 * Accounts' user.deleted reaches chat (consumer `chat-account-deletions`): the account leaves
 * every room's participants and its messages show a deleted author. Exactly once: SQLite in the
 * consumer's transaction with the processed-event record, MongoDB as an idempotent effect.
 * Its sockets are closed by the session-end consumer (sessions.ts).
 */
export function accountConsumers(store: AccountSyncStore, hub: Hub): ConsumerSpec[] {
  const events = [accountEvents.userDeleted];
  const name = "chat-account-deletions";
  return [
    store.kind === "sqlite"
      ? defineConsumer({
          name,
          events,
          apply: (event) => store.removeAuthorSync(event.payload.userId, Date.parse(event.payload.deletedAt)),
          afterCommit: (event, rooms) => announceRemoval(hub, event.payload.userId, rooms),
        })
      : defineConsumer({
          name,
          events,
          // A redelivery finds nothing left to remove, so nothing is announced twice.
          effect: async (event) => announceRemoval(hub, event.payload.userId, await store.removeAuthor(event.payload.userId, Date.parse(event.payload.deletedAt))),
        }),
  ];
}
