// Accounts' error vocabulary: one naming scheme, every code thrown through the constants.
// (Every code documented on a route: accounts.test.ts, "OpenAPI: …".)
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { errorCodePattern } from "../../platform/http/errors";
import { accountsErrors } from "./errors";

test("every accounts error code is lower snake_case, one key per code", () => {
  const codes = Object.values(accountsErrors);
  expect(codes.filter((code) => !errorCodePattern.test(code))).toEqual([]);
  expect(new Set(codes).size).toBe(codes.length);
});

test("no accounts source throws a code spelled out instead of an accountsErrors constant", () => {
  const literal = /problems\.\w+\(\s*["'`]|new HttpProblem\(\s*[\w.]+\s*,\s*["'`]/;
  const found = readdirSync(import.meta.dir)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
    .flatMap((file) =>
      readFileSync(join(import.meta.dir, file), "utf8")
        .split("\n")
        .flatMap((line, i) => (literal.test(line) ? [`${file}:${i + 1}: ${line.trim()}`] : [])),
    );
  expect(found).toEqual([]);
});
