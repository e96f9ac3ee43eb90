// The error-code vocabulary: every module's codes (src/modules/<m>/errors.ts) and the platform's
// follow one naming scheme, no two modules say the same thing in different words, and every code
// the HTTP API can answer is listed in the OpenAPI document (a route's responses name their codes).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { errorCodePattern, platformErrors } from "./platform/http/errors";
import { createTestApp, type TestApp } from "./testing/app";

const modulesDir = join(import.meta.dir, "modules");

/** Every string constant of every object a module's errors.ts exports, by export name. */
async function vocabularies(): Promise<Array<{ module: string; name: string; codes: string[] }>> {
  const out: Array<{ module: string; name: string; codes: string[] }> = [];
  for (const module of readdirSync(modulesDir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name)) {
    const exports = (await import(join(modulesDir, module, "errors.ts"))) as Record<string, unknown>;
    for (const [name, value] of Object.entries(exports)) {
      if (value && typeof value === "object" && !Array.isArray(value)) {
        const codes = Object.values(value).filter((v): v is string => typeof v === "string");
        if (codes.length > 0) out.push({ module, name, codes });
      }
    }
  }
  return out;
}

/** Codes listed in the document: the enum of `code` in every problem response. */
function documentedCodes(spec: unknown): Set<string> {
  const found = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return void node.forEach(walk);
    if (!node || typeof node !== "object") return;
    const o = node as Record<string, unknown>;
    const code = (o.properties as Record<string, { enum?: unknown[] }> | undefined)?.code;
    if (code?.enum) for (const c of code.enum) if (typeof c === "string") found.add(c);
    for (const v of Object.values(o)) walk(v);
  };
  walk(spec);
  return found;
}

// Said once, in one way: the synonyms an outside review found, and "blank" (a validation failure).
const retired = [/^not_a_member$/, /^not_joined$/, /^not_a_buyer$/, /_blank$/, /^blank_/, /^unknown_cursor$/, /^bad_cursor$/];

describe("error codes", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp("embedded");
  });
  afterAll(() => t.close());

  test("every module has a vocabulary, and every code follows the scheme", async () => {
    const all = await vocabularies();
    expect(new Set(all.map((v) => v.module)).size).toBe(readdirSync(modulesDir, { withFileTypes: true }).filter((d) => d.isDirectory()).length);
    const codes = [...Object.values(platformErrors), ...all.flatMap((v) => v.codes)];
    expect(codes.filter((c) => !errorCodePattern.test(c))).toEqual([]);
    expect(codes.filter((c) => retired.some((r) => r.test(c)))).toEqual([]);
  });

  test("every code a route can answer is in the OpenAPI document", async () => {
    const spec = await (await t.request("GET", "/swagger/json")).json();
    const documented = documentedCodes(spec);
    // Codes no single route answers: any request (route_not_found, method_not_allowed, internal_error, invalid_cookie).
    const anyRoute: string[] = [platformErrors.routeNotFound, platformErrors.methodNotAllowed, platformErrors.internalError, platformErrors.invalidCookie, platformErrors.rateLimited];
    // Codes only a WebSocket answers are documented in the module's README (as `code`).
    const readme = (module: string) => {
      const path = join(modulesDir, module, "README.md");
      return existsSync(path) ? readFileSync(path, "utf8") : "";
    };
    const all = await vocabularies();
    const undocumented = all
      .flatMap((v) => v.codes.map((code) => ({ module: v.module, code })))
      .filter(({ module, code }) => !documented.has(code) && !anyRoute.includes(code) && !readme(module).includes(`\`${code}\``))
      .map(({ module, code }) => `${module}: ${code}`);
    expect(undocumented).toEqual([]);
    for (const code of Object.values(platformErrors)) if (!anyRoute.includes(code)) expect(documented.has(code)).toBe(true);
  });
});
