// Events of the todos module and the consumers it runs. Each consumer's clean-up (cache
// invalidation, pending entries) is its afterCommit step: the bus runs it only once that
// consumer's own transaction committed, never for a rolled-back one or a duplicate.
// The bus validates each payload against its definition before apply: a batch that breaks
// the command schema is dead-lettered at once, and none of its commands is applied.
import { t } from "elysia";
import { type ConsumerSpec, defineConsumer, defineEvent, type EventPayload } from "../../platform/events";
import { accountEvents } from "../accounts";
import { commandSchema } from "./commands";
import type { WritePipeline } from "./writes";

export const todoEvents = {
  /** Async write mode: a batch of accepted write commands for the write-behind consumer. */
  writeRequested: defineEvent("homebase.todos.write.requested", t.Object({ commands: t.Array(commandSchema) })),
  /**
   * An open task (PENDING or IN_PROGRESS) passed its due time: the overdue job turned it OVERDUE.
   * Written in the transaction that applied the change, once per task and due time.
   */
  taskOverdue: defineEvent(
    "homebase.todos.task.overdue",
    t.Object({
      taskId: t.String(),
      projectId: t.String(),
      /** Set for a subtask: its task. */
      parentId: t.Union([t.String(), t.Null()]),
      userId: t.String(),
      title: t.String(),
      dueAt: t.String({ description: "UTC ISO-8601" }),
      overdueAt: t.String({ description: "UTC ISO-8601: when the job found it past due" }),
    }),
  ),
} as const;

export type WriteRequested = EventPayload<typeof todoEvents.writeRequested>;
export type TaskOverdue = EventPayload<typeof todoEvents.taskOverdue>;

export function todoConsumers(writes: WritePipeline): ConsumerSpec[] {
  return [
    defineConsumer({
      // Registered in both write modes, so switching async → direct still drains the outbox.
      name: "todos-writer",
      events: [todoEvents.writeRequested],
      apply: (event) => writes.applyQueued(event.payload.commands),
      afterCommit: (_event, applied) => writes.afterApplied(applied),
    }),
    defineConsumer({
      name: "todos-user-deleted",
      events: [accountEvents.userDeleted],
      apply: (event) => writes.deleteUser(event.payload.userId),
      afterCommit: (_event, deleted) => writes.afterUserDeleted(deleted),
    }),
  ];
}
