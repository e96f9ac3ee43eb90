// Events chat emits through the outbox, and the consumers it registers on the bus.
// Payloads are the contract (add fields, never rename or remove).
import { t } from "elysia";
import { type ConsumerSpec, defineConsumer, defineEvent, type EventEmitter, type EventPayload } from "../../platform/events";
import { accountEvents } from "../accounts";
import type { Hub } from "./hub";
import type { SocketSessions } from "./sessions";
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
  | (ChatStore & { kind: "sqlite"; removeAuthorSync(userId: string, at: number): RoomLeft[]; renameAuthorSync(userId: string, nickname: string): string[] })
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

/** The renamed user's sockets send under the new nickname; its rooms' members relabel it. */
function announceRename(hub: Hub, sessions: SocketSessions, userId: string, nickname: string, rooms: string[]): void {
  sessions.rename({ userId, nickname }, { broadcast: true });
  for (const roomId of rooms) hub.broadcast(roomId, { event: "renamed", roomId, userId, nickname });
}

/**
 * Accounts' events reach chat, exactly once: SQLite in the consumer's transaction with the
 * processed-event record, MongoDB as an idempotent effect.
 * - user.deleted (consumer `chat-account-deletions`): the account leaves every room's
 *   participants and its messages show a deleted author. Its sockets are closed by the
 *   session-end consumer (sessions.ts).
 * - user.updated (consumer `chat-account-renames`): its memberships and messages take the new
 *   nickname, and so do its open sockets on every instance (over the fanout).
 */
export function accountConsumers(store: AccountSyncStore, hub: Hub, sessions: SocketSessions): ConsumerSpec[] {
  const renames = [accountEvents.userUpdated];
  const renameName = "chat-account-renames";
  const rename =
    store.kind === "sqlite"
      ? defineConsumer({
          name: renameName,
          events: renames,
          apply: (event) => store.renameAuthorSync(event.payload.userId, event.payload.nickname),
          afterCommit: (event, rooms) => announceRename(hub, sessions, event.payload.userId, event.payload.nickname, rooms),
        })
      : defineConsumer({
          name: renameName,
          events: renames,
          effect: async (event) => {
            const { userId, nickname } = event.payload;
            announceRename(hub, sessions, userId, nickname, await store.renameAuthor(userId, nickname));
          },
        });
  const events = [accountEvents.userDeleted];
  const name = "chat-account-deletions";
  return [
    rename,
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
