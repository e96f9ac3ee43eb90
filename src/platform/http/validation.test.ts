// Validation errors name the field and say what it must be: the allowed values, the range, the
// format — never TypeBox's internals ("Expected kind 'UnionEnum'", "one of: 'integer', 'integer'")
// or the field "/".
import { describe, expect, test } from "bun:test";
import { Elysia, t } from "elysia";
import { createLogger } from "../logger";
import { Metrics } from "../metrics";
import { httpPlatform } from ".";
import { cursorQuery, decodeCursor, encodeCursor } from "./paging";
import { nonBlank } from "./schemas";

const app = new Elysia()
  .use(httpPlatform({ logger: createLogger("silent"), metrics: new Metrics(), bodyLimitBytes: 65_536 }))
  .post("/things", ({ body }) => body, {
    body: t.Object({
      kind: t.UnionEnum(["book", "film"]),
      count: t.Integer({ minimum: 1, maximum: 5 }),
      title: nonBlank({ maxLength: 20 }),
      id: t.String({ format: "uuid" }),
    }),
  })
  .get("/list", ({ query }) => (query.cursor ? decodeCursor(query.cursor, ["number", "string"]) : []), { query: t.Object(cursorQuery()) });

const post = (body: unknown) =>
  app.handle(new Request("http://localhost.test/things", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }));

type Problem = { code: string; detail: string; errors: Array<{ field: string; message: string }> };

describe("validation problems", () => {
  test("each bad field is named once with what it must be", async () => {
    const r = await post({ kind: "song", count: 9, title: "   ", id: "x" });
    expect(r.status).toBe(422);
    const p = (await r.json()) as Problem;
    expect(p.code).toBe("validation_failed");
    expect(p.errors).toEqual([
      { field: "/kind", message: "must be one of book, film" },
      { field: "/count", message: "must be an integer from 1 to 5" },
      { field: "/title", message: "must not be blank (at most 20 characters)" },
      { field: "/id", message: "must be a UUID" },
    ]);
    expect(p.detail).toContain("/kind must be one of book, film");
  });

  test("a missing field is required; the whole body is named as the body", async () => {
    const missing = (await (await post({ kind: "book", count: 1, id: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2a10" })).json()) as Problem;
    expect(missing.errors).toEqual([{ field: "/title", message: "is required" }]);
    const notObject = (await (await post([1, 2])).json()) as Problem;
    expect(notObject.errors.map((e) => e.field)).not.toContain("/");
  });

  test("a query out of range names the parameter and its range", async () => {
    const p = (await (await app.handle(new Request("http://localhost.test/list?limit=500"))).json()) as Problem;
    expect(p.errors).toEqual([{ field: "/limit", message: "must be an integer from 1 to 100" }]);
  });

  test("a cursor round-trips; a tampered one is 400 invalid_cursor", async () => {
    const good = encodeCursor([1_700_000_000_000, "01936f3e"]);
    expect(await (await app.handle(new Request(`http://localhost.test/list?cursor=${good}`))).json()).toEqual([1_700_000_000_000, "01936f3e"]);
    for (const bad of ["not-base64!", encodeCursor(["x", "y"]), encodeCursor([1]), Buffer.from("{").toString("base64url")]) {
      const r = await app.handle(new Request(`http://localhost.test/list?cursor=${encodeURIComponent(bad)}`));
      expect(r.status).toBe(400);
      expect(((await r.json()) as Problem).code).toBe("invalid_cursor");
    }
  });
});
