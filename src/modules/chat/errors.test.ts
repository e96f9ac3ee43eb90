// Chat's error vocabulary: one naming scheme for REST and the socket, every code thrown through
// the constants, and every code documented (OpenAPI for the routes, the README for the socket).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { errorCodePattern } from "../../platform/http/errors";
import { createTestApp, type TestApp } from "../../testing/app";
import { authFailures } from "../accounts";
import { chatErrors } from "./errors";

const dir = import.meta.dir;
const sources = readdirSync(dir)
  .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && f !== "testkit.ts")
  .map((f) => ({ file: f, text: readFileSync(join(dir, f), "utf8") }));

test("every chat error code is lower snake_case", () => {
  const values = Object.values(chatErrors);
  expect(values.length).toBeGreaterThan(20);
  for (const [key, code] of Object.entries(chatErrors)) expect({ key, code, ok: errorCodePattern.test(code) }).toEqual({ key, code, ok: true });
  // One name per code: no two keys for the same value.
  expect(new Set(values).size).toBe(values.length);
});

test("no chat source throws or sends a code spelled out instead of a chatErrors constant", () => {
  const literalCode = [
    /problems\.\w+\(\s*["'`]/,
    /new HttpProblem\(\s*[\w.]+\s*,\s*["'`]/,
    /\.error\(\s*conn\s*,\s*["'`]/,
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
    await t.close();
  });

  test("the REST routes list their codes per status; the README lists the socket's", async () => {
    const spec = (await (await t.app.handle(new Request("http://localhost.test/swagger/json"))).json()) as {
      paths: Record<string, Record<string, { tags?: string[]; responses?: Record<string, { description?: string; content?: Record<string, { schema?: any }> }> }>>;
    };
    const documented = new Set<string>();
    const chatOperations = Object.entries(spec.paths)
      .flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ route: `${method.toUpperCase()} ${path}`, ...op })))
      .filter((op) => op.tags?.includes("chat"));
    expect(chatOperations.length).toBeGreaterThanOrEqual(10);
    for (const op of chatOperations) {
      for (const [status, response] of Object.entries(op.responses ?? {})) {
        // Below 400, or added by the platform's normalizeSpec for any route with a body (POST
        // /files parses its own body and cannot answer its generic 400).
        // 431: the runtime refuses an oversized URL or headers before any handler, with no body.
        if (Number(status) < 400 || status === "431" || response.description === `Response for status ${status}`) continue;
        const codes: string[] = Object.values(response.content ?? {}).flatMap((c) => c.schema?.properties?.code?.enum ?? c.schema?.properties?.code?.anyOf?.map((v: { const: string }) => v.const) ?? []);
        // Every error status of a chat route names its codes.
        expect({ route: op.route, status, codes: codes.length > 0 }).toEqual({ route: op.route, status, codes: true });
        for (const code of codes) documented.add(code);
      }
    }
    const readme = readFileSync(join(dir, "README.md"), "utf8");
    const undocumented = Object.values(chatErrors).filter((code) => !documented.has(code) && !readme.includes(`\`${code}\``));
    expect(undocumented).toEqual([]);
    // The REST codes chat throws are in the spec itself, not only in the README.
    for (const code of [chatErrors.roomNotFound, chatErrors.wrongPassword, chatErrors.invalidCursor, chatErrors.notAuthor, chatErrors.contentMismatch, ...authFailures]) {
      expect({ code, documented: documented.has(code) }).toEqual({ code, documented: true });
    }
  });
});
