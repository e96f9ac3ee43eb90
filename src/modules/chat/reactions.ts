// Reactions: one kind per user per message (reacting with another kind replaces it), from a
// bounded set (model.ts reactionKinds). Room members only, on live text and file messages.
// A change is broadcast to the room on every instance as `reaction`, carrying the message's
// counts after it; an op that changes nothing answers its own connection only.
import type { Clock } from "../../platform/clock";
import { problems } from "../../platform/http/problem";
import { chatErrors } from "./errors";
import type { Hub, ReplyTo } from "./hub";
import { reactionKinds, type ReactionCount, type ReactionKind, type ReactionState } from "./model";
import type { ChatStore, MessageRecord } from "./store";

/** Who reacts. */
export interface Reactor {
  userId: string;
  nickname: string;
}

/** A message's counts as the wire lists them: in the kinds' order, kinds nobody chose left out. */
export function reactionList(counts: Map<ReactionKind, number> | undefined): ReactionCount[] {
  if (!counts) return [];
  return reactionKinds.filter((k) => (counts.get(k) ?? 0) > 0).map((kind) => ({ kind, count: counts.get(kind)! }));
}

export class ChatReactions {
  constructor(
    private readonly store: ChatStore,
    private readonly hub: Hub,
    private readonly clock: Clock,
    private readonly requireMember: (roomId: string, userId: string) => Promise<unknown>,
  ) {}

  /** Sets the caller's reaction (replacing another kind of theirs). */
  async react(actor: Reactor, roomId: string, messageId: string, kind: ReactionKind, replyTo?: ReplyTo): Promise<ReactionState> {
    await this.reactable(actor.userId, roomId, messageId);
    const previous = await this.store.setReaction({ messageId, roomId, userId: actor.userId, kind, createdAt: this.clock.now() });
    return this.announce(actor, roomId, messageId, kind, previous, previous !== kind, replyTo);
  }

  /** Removes the caller's reaction when it is of this kind; nothing changes otherwise. */
  async unreact(actor: Reactor, roomId: string, messageId: string, kind: ReactionKind, replyTo?: ReplyTo): Promise<ReactionState> {
    await this.reactable(actor.userId, roomId, messageId);
    if (await this.store.removeReaction(messageId, actor.userId, kind)) return this.announce(actor, roomId, messageId, null, kind, true, replyTo);
    const mine = (await this.store.reactionsBy(actor.userId, [messageId])).get(messageId) ?? null;
    return this.announce(actor, roomId, messageId, mine, mine, false, replyTo);
  }

  private async reactable(userId: string, roomId: string, messageId: string): Promise<MessageRecord> {
    await this.requireMember(roomId, userId);
    const message = await this.store.message(messageId);
    // System messages and deleted ones take no reactions; another room's message is not found here.
    if (!message || message.roomId !== roomId || message.kind === "system" || message.deletedAt !== null) {
      throw problems.notFound(chatErrors.messageNotFound, "no such message in this room");
    }
    return message;
  }

  private async announce(
    actor: Reactor,
    roomId: string,
    messageId: string,
    mine: ReactionKind | null,
    previous: ReactionKind | null,
    changed: boolean,
    replyTo: ReplyTo | undefined,
  ): Promise<ReactionState> {
    const reactions = reactionList((await this.store.reactionCounts([messageId])).get(messageId));
    const event = { event: "reaction", roomId, messageId, userId: actor.userId, nickname: actor.nickname, kind: mine, previous, reactions };
    if (changed) this.hub.broadcast(roomId, event, { replyTo });
    else if (replyTo) this.hub.send(replyTo.conn, { ...event, ref: replyTo.ref });
    return { roomId, messageId, reactions, myReaction: mine };
  }
}
