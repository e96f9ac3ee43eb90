// Events are declared once: a subject and a payload schema (`t`, i.e. TypeBox).
//
//   export const logRecorded = defineEvent("homebase.challenges.log.recorded", t.Object({ logId: t.String() }));
//   events.emit(logRecorded, { logId });                     // compiles only with that payload
//   defineConsumer({ name: "c", events: [logRecorded], apply: (e) => e.payload.logId }); // validated first
//
// At runtime a definition is its subject string, branded at compile time with its payload type,
// so it still works wherever a subject did (comparisons, switch cases, subject lists). The schema
// is kept in a registry keyed by subject, which the bus reads to validate what a consumer receives.
import { t, type Static, type TSchema } from "elysia";
import { TypeCompiler, type TypeCheck } from "elysia/type-system";
import type { EventEnvelope } from "./jetstream";

declare const payloadType: unique symbol;

/** An event's subject, carrying its payload type P (the value is the plain subject string). */
export type EventDefinition<P = unknown, S extends string = string> = S & { readonly [payloadType]: P };

/** The payload type of a definition: `EventPayload<typeof accountEvents.userDeleted>`. */
export type EventPayload<E> = E extends EventDefinition<infer P> ? P : never;

/** One event as a value, its subject and typed payload (for code that gathers events to emit later). */
export type EventMessage<E> = E extends EventDefinition<infer P> ? { subject: E; payload: P } : never;

/** Builds event values from definitions: `messages.orderPaid(payload)` → `{ subject, payload }`, typed. */
export function eventMessages<const D extends Record<string, EventDefinition>>(
  definitions: D,
): { [K in keyof D]: (payload: EventPayload<D[K]>) => EventMessage<D[K]> } {
  const out: Record<string, (payload: unknown) => { subject: string; payload: unknown }> = {};
  for (const [name, subject] of Object.entries(definitions)) out[name] = (payload) => ({ subject, payload });
  return out as { [K in keyof D]: (payload: EventPayload<D[K]>) => EventMessage<D[K]> };
}

/** A subject with no definition behind it: the unchecked form (todos uses it until it adopts definitions). */
export type PlainSubject = string & { readonly [payloadType]?: never };

/** The one capability a use case needs from the bus: an outbox insert in the current write transaction. */
export interface EventEmitter {
  /** Records `payload` (of the definition's type) in the outbox; returns the event id. */
  emit<E extends EventDefinition>(event: E, payload: NoInfer<EventPayload<E>>): string;
  /** @deprecated A bare subject is unchecked: declare the event with defineEvent and pass the definition. */
  emit(subject: PlainSubject, payload: unknown): string;
}

export const subjectPattern = /^homebase\.[a-z0-9_-]+(\.[a-z0-9_-]+)+$/;

interface Registered {
  schema: TSchema;
  /** Compiled on first use. */
  check: TypeCheck<TSchema> | null;
}

const registry = new Map<string, Registered>();

/** Declares an event: its subject (`homebase.<domain>.<event>`) and payload schema. Once per subject. */
export function defineEvent<const S extends string, T extends TSchema>(subject: S, schema: T): EventDefinition<Static<T>, S> {
  if (!subjectPattern.test(subject)) throw new Error(`event subject must be homebase.<domain>.<event>, got ${subject}`);
  if (registry.has(subject)) throw new Error(`event ${subject} is defined twice; one definition is the contract`);
  registry.set(subject, { schema, check: null });
  return subject as EventDefinition<Static<T>, S>;
}

/** The payload schema declared for a subject, if any. */
export function eventSchema(subject: string): TSchema | undefined {
  return registry.get(subject)?.schema;
}

/** Narrows an envelope by its definition: `if (isEvent(event, accountEvents.userDeleted)) event.payload.userId`. */
export function isEvent<P>(event: EventEnvelope, definition: EventDefinition<P>): event is EventEnvelope<P> {
  return event.subject === definition;
}

/**
 * An integer, strictly: Elysia's t.Integer also accepts numeric strings (for query strings),
 * which a payload must not carry.
 */
export function integer(options: { description?: string; minimum?: number; maximum?: number } = {}) {
  return t.Number({ ...options, multipleOf: 1 });
}

const shown = 3;

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

const article: Record<string, string> = {
  string: "a string",
  number: "a number",
  integer: "an integer",
  boolean: "a boolean",
  array: "an array",
  object: "an object",
};

/** What a field's schema asks for, in words; undefined when TypeBox's own message says it better. */
function expected(schema: TSchema): string | undefined {
  const oneOf = (values: unknown[]) => `one of ${values.map((v) => JSON.stringify(v)).join(", ")}`;
  if (Array.isArray(schema.enum)) return oneOf(schema.enum);
  if (Array.isArray(schema.anyOf) && schema.anyOf.every((s: TSchema) => "const" in s))
    return oneOf(schema.anyOf.map((s: TSchema) => s.const));
  if (schema.multipleOf === 1) return "an integer";
  return typeof schema.type === "string" ? article[schema.type] : undefined;
}

/** One TypeBox validation error (a union's `errors` hold one iterator per variant). */
type ValueError = ReturnType<TypeCheck<TSchema>["Errors"]> extends Iterable<infer E> ? E : never;

/**
 * A union of objects told apart by one literal field (a `kind`): the errors of the variant the
 * value names; when it names none, that field's own error. Null for any other union.
 */
function discriminated(error: ValueError): Iterable<ValueError> | null {
  const variants: TSchema[] | undefined = error.schema.anyOf;
  if (!Array.isArray(variants) || typeof error.value !== "object" || error.value === null) return null;
  const tags = variants.map((v) => Object.entries<TSchema>(v.properties ?? {}).find(([, s]) => "const" in s));
  const key = tags[0]?.[0];
  if (key === undefined || !tags.every((tag) => tag?.[0] === key)) return null;
  const value = (error.value as Record<string, unknown>)[key];
  const index = tags.findIndex((tag) => tag?.[1].const === value);
  if (index >= 0) return error.errors[index] ?? null;
  const tagSchema = { ...error.schema, anyOf: tags.map((tag) => tag?.[1]) };
  return [{ ...error, path: `${error.path}/${key}`, value, schema: tagSchema }];
}

/** The errors, with each discriminated union's replaced by those of the variant meant. */
function* narrowed(errors: Iterable<ValueError>): Generator<ValueError> {
  for (const error of errors) {
    const inner = discriminated(error);
    if (inner) yield* narrowed(inner);
    else yield error;
  }
}

/**
 * Why `payload` does not match the schema declared for `subject` (which field, what was expected),
 * or null when it matches or the subject has no definition.
 */
export function payloadProblem(subject: string, payload: unknown): string | null {
  const entry = registry.get(subject);
  if (!entry) return null;
  entry.check ??= TypeCompiler.Compile(entry.schema);
  if (entry.check.Check(payload)) return null;
  // TypeBox may report one field twice (missing, then wrong type): the first says it best.
  const fields = new Map<string, string>();
  for (const error of narrowed(entry.check.Errors(payload))) {
    const path = error.path || "/";
    if (fields.has(path)) continue;
    const wanted = expected(error.schema);
    const reason =
      error.value === undefined
        ? `missing${wanted ? `, expected ${wanted}` : ""}`
        : `expected ${wanted ?? error.message}, got ${preview(error.value)}`;
    fields.set(path, `${path}: ${reason}`);
    if (fields.size === shown) break;
  }
  return `invalid payload for ${subject}: ${[...fields.values()].join("; ")}`;
}
