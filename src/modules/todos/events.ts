// Events of the todos module and the consumers it runs. Each consumer's clean-up (cache
// invalidation, pending entries) is its afterCommit step: the bus runs it only once that
// consumer's own transaction committed, never for a rolled-back one or a duplicate.
import type { ConsumerSpec, EventEnvelope } from "../../platform/events/bus";
import { accountEvents, type UserDeleted } from "../accounts";
import type { Command } from "./commands";
import type { WritePipeline } from "./writes";

export const todoEvents = {
  /** Async write mode: a batch of accepted write commands for the write-behind consumer. */
  writeRequested: "homebase.todos.write.requested",
} as const;

export interface WriteRequested {
  commands: Command[];
}

export function todoConsumers(writes: WritePipeline): ConsumerSpec[] {
  return [
    {
      // Registered in both write modes, so switching async → direct still drains the outbox.
      name: "todos-writer",
      subjects: [todoEvents.writeRequested],
      apply: (event: EventEnvelope) => writes.applyQueued((event.payload as WriteRequested).commands),
      afterCommit: (_event, applied) => writes.afterApplied(applied as Command[]),
    },
    {
      name: "todos-user-deleted",
      subjects: [accountEvents.userDeleted],
      apply: (event: EventEnvelope) => writes.deleteUser((event.payload as UserDeleted).userId),
      afterCommit: (_event, deleted) => writes.afterUserDeleted(deleted as ReturnType<WritePipeline["deleteUser"]>),
    },
  ];
}
