// The write pipeline. Every todos write becomes commands (commands.ts), accepted against the id
// registry in one transaction by the store (store.ts), then, by write mode:
//
//   direct  the same transaction applies them to the todo tables (group commit: one fsync for
//           every request of the same tick); the caches are invalidated, then the API answers.
//   async   write-behind: the transaction records them as an outbox event
//           (todoEvents.writeRequested) instead; after COMMIT they are recorded as pending
//           (Redis, or memory embedded) and the API answers 202. The consumer "todos-writer"
//           applies a whole event (every request of one tick: a batch) in one transaction.
//
// Why nothing that got a 202 can be lost, whatever moment the process is killed:
//   - The 202 is sent only after COMMIT of the transaction holding the outbox row, and with
//     synchronous=FULL a returned COMMIT is on disk. Killed before: no 202 was sent (the
//     client retries; creates are idempotent by id).
//   - The outbox row is marked sent only after the consumer's transaction committed (embedded
//     relay) or JetStream acknowledged it (NATS; the stream is fsynced, and the consumer acks
//     only after its transaction committed). Killed in between: the row (or the message) is
//     delivered again after restart.
//   - The consumer records (consumer, event id) in processed_events in the same transaction as
//     the applied commands, so a redelivery is skipped; and applying is idempotent anyway
//     (creates ignore existing ids, changes skip entities whose rev is already ≥ the command's seq).
//   - A command is never silently dropped because it arrived early: if what it needs (its
//     project, its task) is accepted in the registry but not applied yet (events reordered by
//     a failed publish or a retry), applying throws and the event is retried; only targets the
//     registry marks deleted are skipped. A command that keeps failing ends in dead_letters
//     (with its payload), never in nothing; a batch that breaks the command schema (a bug in
//     a producer) goes there at once, none of its commands applied.
//   - The pending entries only serve read-your-writes. They are removed in the consumer's
//     after-commit step, which the bus runs only once that consumer's own transaction committed
//     (never for a rolled-back one), so an entry goes only when its write is in the tables.
//     Lost (memory store, process killed), reads simply wait for the consumer, which runs at
//     startup over the still-unsent outbox rows.
import type { CacheAside } from "../../platform/cache/cache-aside";
import type { Clock } from "../../platform/clock";
import { projectOf, type Command } from "./commands";
import type { PendingStore } from "./pending";
import type { Accepted, Delivery, TodosStore } from "./store";

export type WriteMode = "direct" | "async";

/**
 * What a write did; the controller picks the HTTP status. created / updated / deleted: applied
 * (direct mode). accepted: durably queued (async mode), and every read already shows it.
 * replayed: the same create again, answered with the resource as it is now.
 */
export type WriteOutcome = "created" | "replayed" | "updated" | "deleted" | "accepted";

export interface Written<T, O extends WriteOutcome = WriteOutcome> {
  outcome: O;
  body: T;
}

/** The cache namespace of a project's task list, bumped after every applied write to it. */
export const projectCacheKey = (projectId: string) => `todos:project:${projectId}`;

export class WritePipeline {
  constructor(
    private readonly store: TodosStore,
    private readonly cache: CacheAside,
    private readonly pending: PendingStore,
    private readonly clock: Clock,
    readonly mode: WriteMode,
  ) {}

  /** Whether writes are answered before they are applied (then reads replay pending ones). */
  get writeBehind(): boolean {
    return this.mode === "async";
  }

  /**
   * Runs one of the store's write units in this mode. Resolves once the write is durable and
   * the caller's next read shows it: applied and invalidated, or queued and pending.
   */
  async submit<R>(unit: (delivery: Delivery) => Promise<Accepted<R>>): Promise<Accepted<R> & { queued: boolean }> {
    if (this.writeBehind) {
      const accepted = await unit("queue");
      // Pending before answering, so the client's next read sees it.
      await this.pending.add(accepted.commands);
      return { ...accepted, queued: true };
    }
    const accepted = await unit("apply");
    await this.invalidate(accepted.commands);
    return { ...accepted, queued: false };
  }

  // ── the consumers (events.ts registers them) ───────────────────────────────────────────
  /** todos-writer, inside its transaction: applies a write-behind batch; returns it for afterApplied. */
  applyQueued(commands: Command[]): Command[] {
    this.store.applyQueued(commands);
    return commands;
  }

  /**
   * todos-writer, once its transaction committed. Invalidate first, then drop the pending
   * entries: a read that no longer finds an entry then also finds a fresh cache generation
   * (see Reads.taskList).
   */
  async afterApplied(commands: readonly Command[]): Promise<void> {
    await this.invalidate(commands);
    await this.pending.remove(commands);
  }

  /** accountEvents.userDeleted, inside the consumer's transaction: the account's todos go. */
  deleteUser(userId: string): { userId: string; projectIds: string[] } {
    return { userId, projectIds: this.store.deleteUser(userId, this.clock.now()) };
  }

  async afterUserDeleted(deleted: { userId: string; projectIds: string[] }): Promise<void> {
    await Promise.all(deleted.projectIds.map((id) => this.bump(projectCacheKey(id))));
    await this.pending.remove(await this.pending.list(deleted.userId));
  }

  private async invalidate(commands: readonly Command[]): Promise<void> {
    const projects = new Set(commands.map(projectOf));
    await Promise.all([...projects].map((id) => this.bump(projectCacheKey(id))));
  }

  /** Bumps asked for and not started yet, by namespace. */
  private readonly bumps = new Map<string, Promise<void>>();

  /**
   * One bump for every write of a group commit to the same project (they resolve together):
   * a bump asked for while another of the same namespace has not started yet joins it. It
   * starts after every caller asked, so after every commit it must follow (see
   * CacheAside.generation); one already started is never joined.
   */
  private bump(namespace: string): Promise<void> {
    let pending = this.bumps.get(namespace);
    if (!pending) {
      pending = Promise.resolve().then(() => {
        this.bumps.delete(namespace);
        return this.cache.bump(namespace);
      });
      this.bumps.set(namespace, pending);
    }
    return pending;
  }
}
