// Events of the todos module and the consumers it runs.
import type { ConsumerSpec, EventEnvelope } from "../../platform/events/bus";
import type { Command } from "./commands";
import type { TodosService } from "./service";

export const todoEvents = {
  /** Async write mode: a batch of accepted write commands for the write-behind consumer. */
  writeRequested: "homebase.todos.write.requested",
} as const;

export interface WriteRequested {
  commands: Command[];
}

const userDeleted = "homebase.accounts.user.deleted";

export function todoConsumers(service: TodosService): ConsumerSpec[] {
  return [
    {
      // Registered in both write modes, so switching async → direct still drains the outbox.
      name: "todos-writer",
      subjects: [todoEvents.writeRequested],
      apply: (event: EventEnvelope) => service.applyEvent((event.payload as WriteRequested).commands),
    },
    {
      name: "todos-user-deleted",
      subjects: [userDeleted],
      apply: (event: EventEnvelope) => service.deleteUser((event.payload as { userId: string }).userId),
    },
  ];
}
