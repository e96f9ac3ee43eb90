// The shop's error vocabulary: one naming scheme, every code thrown through the constants, and
// every code documented on the routes that answer it (each error status lists its codes).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { errorCodePattern } from "../../platform/http/errors";
import { createTestApp, type TestApp } from "../../testing/app";
import { shopErrors } from "./errors";

const dir = import.meta.dir;
const walk = (at: string): string[] =>
  readdirSync(at, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(at, e.name)) : [join(at, e.name)]));
const sources = walk(dir)
  .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && !f.endsWith("testing.ts"))
  .map((f) => ({ file: relative(dir, f), text: readFileSync(f, "utf8") }));

test("every shop error code is lower snake_case, and has one name", () => {
  const values = Object.values(shopErrors);
  expect(values.length).toBeGreaterThan(30);
  for (const [key, code] of Object.entries(shopErrors))
    expect({ key, code, ok: errorCodePattern.test(code) }).toEqual({ key, code, ok: true });
  expect(new Set(values).size).toBe(values.length);
});

test("no shop source throws a code spelled out instead of a shopErrors constant", () => {
  const literalCode = [
    /problems\.\w+\(\s*["'`]/,
    /new HttpProblem\(\s*[\w.]+\s*,\s*["'`]/,
    /new ShopError\(\s*["'`]/,
    /\b(fieldRefusal|problem)\(\s*["'`]/,
    /\bcode:\s*["'`][a-z_]+["'`]/,
  ];
  const found = sources.flatMap(({ file, text }) =>
    text.split("\n").flatMap((line, i) => (literalCode.some((re) => re.test(line)) ? [`${file}:${i + 1}: ${line.trim()}`] : [])),
  );
  expect(found).toEqual([]);
});

describe("every code is documented", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp("embedded");
  });
  afterAll(async () => {
    await t.modules.close();
    await t.close();
  });

  test("each error status of a shop route lists its codes, and each code is on some route", async () => {
    type Response = {
      description?: string;
      content?: Record<string, { schema?: { properties?: { code?: { enum?: string[]; anyOf?: Array<{ const: string }> } } } }>;
    };
    const spec = (await (await t.request("GET", "/swagger/json")).json()) as {
      paths: Record<string, Record<string, { tags?: string[]; responses?: Record<string, Response> }>>;
    };
    const operations = Object.entries(spec.paths)
      .flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ route: `${method.toUpperCase()} ${path}`, ...op })))
      .filter((op) => op.tags?.includes("shop"));
    expect(operations.length).toBe(40);
    const documented = new Set<string>();
    for (const op of operations) {
      for (const [status, response] of Object.entries(op.responses ?? {})) {
        // Below 400, or added by the platform for any route with a body.
        // 431: the runtime refuses an oversized URL or headers before any handler, with no body.
        if (Number(status) < 400 || status === "431" || response.description === `Response for status ${status}`) continue;
        const codes = Object.values(response.content ?? {}).flatMap(
          (c) => c.schema?.properties?.code?.enum ?? c.schema?.properties?.code?.anyOf?.map((v) => v.const) ?? [],
        );
        expect({ route: op.route, status, codes: codes.length > 0 }).toEqual({ route: op.route, status, codes: true });
        for (const code of codes) documented.add(code);
      }
    }
    expect(Object.values(shopErrors).filter((code) => !documented.has(code))).toEqual([]);
  });
});
