// The compiled transform walks (transforms.ts) answer what TypeBox's interpreted walks answer —
// values and errors — for the shapes Elysia's coercions take, and Elysia's validators use them.
import { describe, expect, test } from "bun:test";
import { Elysia, t } from "elysia";
import { TypeCompiler } from "elysia/type-system";
import type { TSchema } from "@sinclair/typebox";
import { compiledWalk, installCompiledTransforms, typeBoxWalks } from "./transforms";

installCompiledTransforms();

type Outcome = { value: unknown } | { error: string; path?: unknown; message: string };

function outcome(run: () => unknown): Outcome {
  try {
    return { value: run() };
  } catch (err) {
    const e = err as Error & { path?: unknown };
    return { error: e.constructor.name, path: e.path, message: e.message };
  }
}

/** Each value decoded (and its decoded form encoded) by the compiled walk and by TypeBox's: the same outcome. */
function sameAsTypeBox(schema: TSchema, values: unknown[]): void {
  const check = TypeCompiler.Compile(schema);
  for (const value of values) {
    const decoded = outcome(() => check.Decode(structuredClone(value)));
    expect(decoded).toEqual(outcome(() => typeBoxWalks.decode.call(check, structuredClone(value))));
    const plain = "value" in decoded ? decoded.value : value;
    expect(outcome(() => check.Encode(plain))).toEqual(outcome(() => typeBoxWalks.encode.call(check, plain)));
  }
}

// What Elysia makes of a query or params schema: its numbers and booleans coerced from strings.
const Numeric = t.Numeric({ minimum: 1, maximum: 100 });
const Integer = t.Integer({ minimum: 1, maximum: 100 });
const Flag = t.BooleanString();

describe("compiled transform walks", () => {
  test("a query of coerced numbers and booleans: the same values and errors as TypeBox", () => {
    const schema = t.Object({
      count: t.Optional(Integer),
      ratio: t.Optional(Numeric),
      active: t.Optional(Flag),
      q: t.Optional(t.String()),
    });
    expect(compiledWalk(TypeCompiler.Compile(schema), "decode")).toBe("compiled");
    sameAsTypeBox(schema, [
      {},
      { count: "20" },
      { count: 20, ratio: "2.5", active: "true", q: "x" },
      { count: "0" }, // below the minimum: a failed check
      { count: "abc" },
      { count: "20", extra: "kept" },
      { count: undefined, active: "false" },
      "not an object",
      null,
    ]);
  });

  test("bodies and responses: nested objects, arrays, an object's own transform", () => {
    const Item = t.Object({ id: t.String(), position: Integer, tags: t.Array(t.String()), dates: t.Array(t.Date()) });
    const Page = t.Object({ items: t.Array(Item), total: t.Integer(), next: t.Union([t.String(), t.Null()]) });
    const Wrapped = t
      .Transform(t.Object({ n: Integer }))
      .Decode((v) => ({ ...v, nType: typeof v.n })) // inner first: n is a number here
      .Encode(({ n }) => ({ n }));
    expect(compiledWalk(TypeCompiler.Compile(Page), "encode")).toBe("compiled");
    const item = (n: unknown) => ({ id: `i${n}`, position: n, tags: ["a"], dates: [] });
    sameAsTypeBox(Page, [
      { items: [item(1), item("2"), item(3)], total: 3, next: null },
      { items: [], total: "0", next: "c" },
      { items: [item(0)], total: 1, next: null }, // an item out of range
      { items: "none", total: 1, next: null },
    ]);
    sameAsTypeBox(Wrapped, [{ n: "4" }, { n: 4 }, { n: "x" }, {}]);
    sameAsTypeBox(t.Array(Wrapped), [[{ n: "1" }, { n: 2 }], [{ n: "y" }], []]);
  });

  test("unions whose members transform: nullable integers and dates, a union of objects", () => {
    const schema = t.Object({
      estimate: t.Optional(t.Union([Integer, t.Null()])),
      due: t.Optional(t.Union([t.Date(), t.Null()])),
      either: t.Optional(t.Union([t.Object({ a: Integer }), t.Object({ b: t.String() })])),
    });
    expect(compiledWalk(TypeCompiler.Compile(schema), "decode")).toBe("compiled");
    expect(compiledWalk(TypeCompiler.Compile(schema), "encode")).toBe("compiled");
    sameAsTypeBox(schema, [
      { estimate: "25", due: null },
      { estimate: null, due: "2026-12-03T08:00:00.000Z" },
      { estimate: 25, due: new Date("2026-12-03T08:00:00.000Z") },
      { either: { a: "7" } },
      { either: { b: "x" } },
      { either: { c: 1 } },
      { estimate: "many" },
    ]);
  });

  test("a transform that throws: TypeBox's TransformDecodeError, with its path", () => {
    const Strict = t
      .Transform(t.String())
      .Decode((v) => {
        if (v === "bad") throw new Error("refused");
        return v.toUpperCase();
      })
      .Encode((v) => v.toLowerCase());
    const schema = t.Object({ list: t.Array(t.Object({ name: Strict })) });
    const check = TypeCompiler.Compile(schema);
    expect(check.Decode({ list: [{ name: "ok" }] })).toEqual({ list: [{ name: "OK" }] });
    const failed = outcome(() => check.Decode({ list: [{ name: "ok" }, { name: "bad" }] }));
    expect(failed).toMatchObject({ error: "TransformDecodeError", path: "/list/1/name", message: "refused" });
    sameAsTypeBox(schema, [{ list: [{ name: "ok" }, { name: "bad" }] }, { list: [] }]);
  });

  test("shapes it does not compile keep TypeBox's walk, and schemas without transforms walk nothing", () => {
    const InRecord = t.Record(t.String(), Integer);
    const InTuple = t.Tuple([Integer, t.String()]);
    expect(compiledWalk(TypeCompiler.Compile(InRecord), "decode")).toBe("typebox");
    expect(compiledWalk(TypeCompiler.Compile(InTuple), "decode")).toBe("typebox");
    expect(compiledWalk(TypeCompiler.Compile(t.Object({ a: t.String() })), "decode")).toBe("none");
    sameAsTypeBox(InRecord, [{ a: "1", b: 2 }, { a: "x" }]);
    sameAsTypeBox(InTuple, [
      ["5", "s"],
      [5, "s"],
      ["x", "s"],
    ]);
  });

  test("Elysia's validators use them: a coerced query, a 422 for a bad one, an integer response", async () => {
    const app = new Elysia().get("/n", ({ query }) => ({ count: query.count ?? 10, type: typeof query.count }), {
      query: t.Object({ count: t.Optional(t.Integer({ minimum: 1, maximum: 100 })) }),
      response: t.Object({ count: t.Integer(), type: t.String() }),
    });
    const get = (q: string) => app.handle(new Request(`http://localhost/n${q}`));
    expect(await (await get("?count=20")).json()).toEqual({ count: 20, type: "number" });
    expect(await (await get("")).json()).toEqual({ count: 10, type: "undefined" });
    expect((await get("?count=abc")).status).toBe(422);
    expect((await get("?count=500")).status).toBe(422);
  });
});
