// The event bus's public face for modules: declare events, emit them, consume them.
export {
  type EventDefinition,
  type EventEmitter,
  type EventMessage,
  type EventPayload,
  type PlainSubject,
  defineEvent,
  eventMessages,
  eventSchema,
  integer,
  isEvent,
  payloadProblem,
} from "./define";
export {
  type ConsumerSpec,
  type EnvelopeOf,
  type EventEnvelope,
  type TypedConsumerSpec,
  defineConsumer,
  EventBus,
  subjectMatches,
} from "./bus";
export type { PrunedCounts } from "./retention";
export { type DeadLetter, type DeadLetterCursor, DeadLetters, type RetryResult } from "./dead-letters";
