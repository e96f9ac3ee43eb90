// Transform types decoded and encoded by a walk compiled once per schema, not interpreted per call.
//
// Elysia's coercions are TypeBox Transforms: numbers and booleans in queries and params, and
// `t.Integer` wherever it is used (bodies and responses too). TypeBox decodes (and encodes) them
// by walking the schema on every call, checking each union member with the interpreted
// Value.Check: ~0.5 µs for a one-field query in a quiet loop, ~1–2 µs inside a busy server
// (megamorphic code), and Elysia 1.4.30 decodes a query twice. Every response whose schema holds
// an integer pays an encode walk over the whole body.
//
// This compiles, on a TypeCheck's first Decode or Encode, the walk for the shapes those schemas
// take (objects, arrays, unions, a transform over any of them), in TypeBox's order, with union
// members checked by compiled checks. Any other shape holding a
// transform (records, tuples, intersections, references) keeps TypeBox's walk. A failure on the
// compiled walk runs TypeBox's own, which throws its error (TransformDecodeError with its path,
// what Elysia answers 422 with); the transforms are pure functions, so it fails the same way.
import { TypeCheck, TypeCompiler } from "@sinclair/typebox/compiler";
import { Kind, type TSchema, TransformKind } from "@sinclair/typebox";
import { HasTransform } from "@sinclair/typebox/value";

type Walk = (value: unknown) => unknown;
/** null: a shape left to TypeBox's walk. */
type Compiled = Walk | null;

const identity: Walk = (value) => value;
const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === "object";
const isArray = (value: unknown): value is unknown[] => Array.isArray(value) && !ArrayBuffer.isView(value);

interface Codec {
  Decode(value: unknown): unknown;
  Encode(value: unknown): unknown;
}
const codecOf = (schema: TSchema): Codec | undefined => (schema as unknown as Record<symbol, Codec | undefined>)[TransformKind];

class Unsupported extends Error {}

/** The walk for `schema` in one direction, or identity when nothing inside it transforms. */
function compile(schema: TSchema, references: TSchema[], direction: "decode" | "encode"): Walk {
  if (!HasTransform(schema, references)) return identity;
  const codec = codecOf(schema);
  const own: Walk = codec === undefined ? identity : direction === "decode" ? (v) => codec.Decode(v) : (v) => codec.Encode(v);
  const inner = interior(schema, references, direction);
  if (inner === identity) return own;
  if (own === identity) return inner;
  // TypeBox decodes the interior first; it encodes it last, but for a union's.
  return direction === "decode" || schema[Kind] === "Union" ? (v) => own(inner(v)) : (v) => inner(own(v));
}

/** The walk of what is inside `schema` (its own transform aside). */
function interior(schema: TSchema, references: TSchema[], direction: "decode" | "encode"): Walk {
  switch (schema[Kind]) {
    case "Object": {
      const properties = (schema.properties ?? {}) as Record<string, TSchema>;
      if (isObject(schema.additionalProperties) && HasTransform(schema.additionalProperties as TSchema, references))
        throw new Unsupported();
      const walks: [string, Walk][] = [];
      for (const key of Object.getOwnPropertyNames(properties)) {
        const property = properties[key] as TSchema;
        // TypeBox runs an Undefined property's transform on an undefined value; nothing here has one.
        if (property[Kind] === "Undefined") throw new Unsupported();
        const walk = compile(property, references, direction);
        if (walk !== identity) walks.push([key, walk]);
      }
      if (walks.length === 0) return identity;
      return (value) => {
        if (!isObject(value)) return value;
        const out: Record<string, unknown> = { ...value };
        for (const [key, walk] of walks) {
          // An undefined value is skipped, as TypeBox skips it (its optional-property rule).
          if (key in out && out[key] !== undefined) out[key] = walk(out[key]);
        }
        return out;
      };
    }
    case "Array": {
      const items = compile(schema.items as TSchema, references, direction);
      if (items === identity) return identity;
      return (value) => (isArray(value) ? value.map((item) => items(item)) : value);
    }
    case "Union": {
      // Members without transforms come out as they went in, whichever one matches.
      const members = (schema.anyOf as TSchema[]).map((member) => ({ member, walk: compile(member, references, direction) }));
      if (members.every((m) => m.walk === identity)) return identity;
      // Else as TypeBox: the first member the value matches walks it (checked compiled, not
      // interpreted); encoding, when none matches, the first whose walk makes the union match.
      const checked = members.map(({ member, walk }) => ({ check: TypeCompiler.Compile(member, references), walk }));
      if (direction === "decode") {
        return (value) => {
          for (const m of checked) if (m.check.Check(value)) return m.walk(value);
          return value;
        };
      }
      const union = TypeCompiler.Compile(schema, references);
      return (value) => {
        for (const m of checked) if (m.check.Check(value)) return m.walk(value);
        for (const m of checked) {
          const walked = m.walk(value);
          if (union.Check(walked)) return walked;
        }
        return value;
      };
    }
    case "Import":
    case "Intersect":
    case "Not":
    case "Record":
    case "Ref":
    case "This":
    case "Tuple":
      throw new Unsupported();
    default:
      // A value, not a container: only its own transform.
      return identity;
  }
}

function compiled(schema: TSchema, references: TSchema[], direction: "decode" | "encode"): Compiled {
  try {
    return compile(schema, references, direction);
  } catch (err) {
    if (err instanceof Unsupported) return null;
    throw err;
  }
}

const decoders = new WeakMap<TypeCheck<TSchema>, Compiled>();
const encoders = new WeakMap<TypeCheck<TSchema>, Compiled>();

function walkOf(check: TypeCheck<TSchema>, direction: "decode" | "encode"): Compiled {
  const cache = direction === "decode" ? decoders : encoders;
  let walk = cache.get(check);
  if (walk === undefined) {
    walk = compiled(check.Schema(), check.References(), direction);
    cache.set(check, walk);
  }
  return walk;
}

const typeBoxDecode = TypeCheck.prototype.Decode;
const typeBoxEncode = TypeCheck.prototype.Encode;

/** Installs the compiled walks on every TypeCheck (Elysia's validators included). Idempotent. */
export function installCompiledTransforms(): void {
  if (TypeCheck.prototype.Decode !== typeBoxDecode) return;
  TypeCheck.prototype.Decode = function decode(this: TypeCheck<TSchema>, value: unknown) {
    const walk = walkOf(this, "decode");
    // Unchecked, failing or left to TypeBox: its Decode, which throws what it throws.
    if (walk === null || !this.Check(value)) return typeBoxDecode.call(this, value);
    try {
      return walk(value);
    } catch {
      return typeBoxDecode.call(this, value);
    }
  } as typeof typeBoxDecode;
  TypeCheck.prototype.Encode = function encode(this: TypeCheck<TSchema>, value: unknown) {
    const walk = walkOf(this, "encode");
    if (walk === null) return typeBoxEncode.call(this, value);
    let encoded: unknown;
    try {
      encoded = walk(value);
    } catch {
      return typeBoxEncode.call(this, value);
    }
    return this.Check(encoded) ? encoded : typeBoxEncode.call(this, value);
  } as typeof typeBoxEncode;
}

/** TypeBox's own Decode and Encode, for tests comparing the two. */
export const typeBoxWalks = { decode: typeBoxDecode, encode: typeBoxEncode };

/** Which walk a TypeCheck's Decode or Encode runs: compiled here, TypeBox's, or none (no transform). Tests, diagnostics. */
export function compiledWalk(check: TypeCheck<TSchema>, direction: "decode" | "encode"): "compiled" | "typebox" | "none" {
  const walk = walkOf(check, direction);
  return walk === null ? "typebox" : walk === identity ? "none" : "compiled";
}
