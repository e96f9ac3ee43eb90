import { describe, expect, test } from "bun:test";
import { FormatRegistry } from "elysia/type-system";
import { fastFormats } from "./formats";
import { openapiDocs } from "./openapi";

openapiDocs("test", []); // as createApp does

describe("string formats", () => {
  test("the fast checks win over the ones @elysiajs/openapi registers", () => {
    for (const [name, check] of Object.entries(fastFormats)) expect(FormatRegistry.Get(name)).toBe(check);
  });

  test.each([
    ["uuid", "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2a10", true],
    ["uuid", "01936F3E-7B1A-7C3E-9D2A-5B8F1E4C2A10", true],
    ["uuid", "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2a1", false],
    ["uuid", "01936f3e7b1a7c3e9d2a5b8f1e4c2a10", false],
    ["email", "ada@example.com", true],
    ["email", "a.b+tag@sub.example.org", true],
    ["email", "ada@", false],
    ["email", "ada example.com", false],
    ["email", `${"a".repeat(250)}@example.com`, false],
    ["url", "https://example.com/x?y=1", true],
    ["url", "not a url", false],
    ["ipv4", "10.44.0.1", true],
    ["ipv4", "10.44.0.256", false],
    ["ipv6", "fd00::1", true],
    ["ip", "::1", true],
    ["ip", "localhost", false],
  ])("%s %p → %p", (format, value, ok) => {
    expect(FormatRegistry.Get(format)!(value as string)).toBe(ok as boolean);
  });
});
