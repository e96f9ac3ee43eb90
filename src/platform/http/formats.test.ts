import { describe, expect, test } from "bun:test";
import { FormatRegistry } from "elysia/type-system";
import { fastDateTime, fastFormats, generalDateTime, registerFastFormats } from "./formats";
import { seededRandom } from "../random";
import { openapiDocs } from "./openapi";

openapiDocs("test", []); // as createApp does

describe("string formats", () => {
  test("the fast checks win over the ones @elysiajs/openapi registers", () => {
    for (const [name, check] of Object.entries(fastFormats)) expect(FormatRegistry.Get(name)).toBe(check);
  });

  test("date-time: the fast check answers as Elysia's does, on ISO instants and every other spelling it takes", () => {
    const registered = FormatRegistry.Get("date-time")!;
    registerFastFormats(); // a second registration does not wrap the check again
    expect(FormatRegistry.Get("date-time")).toBe(registered);
    const values = [
      "2026-12-03T10:00:00.000Z",
      "2026-12-03T10:00:00Z",
      "2026-12-03T10:00Z",
      "2026-12-03T10:00:00.123456+02:00",
      "2026-12-03T10:00:00-05:30",
      "2026-02-30T10:00:00Z",
      "2026-13-03T10:00:00Z",
      "2026-12-32T10:00:00Z",
      "2026-12-03T25:00:00Z",
      "2026-12-03T24:00:00Z",
      "2026-12-03T10:60:00Z",
      "2026-12-03T10:00:61Z",
      "2026-12-03T10:00:00+24:00",
      "2026-12-03T10:00:00+99:00",
      "2026-12-03t10:00:00z",
      "2026-12-03 10:00",
      "2026-12-03",
      "Thu Dec 03 2026 10:00:00 GMT+0000 (Coordinated Universal Time)",
      "03/12/2026",
      "",
      "garbage",
      "2026-12-03T10:00:00.000Zjunk",
      "junk2026-12-03T10:00:00.000Z",
      '"2026-12-03T10:00:00Z"',
    ];
    const general = generalDateTime()!;
    expect(general).not.toBe(registered);
    const fast = fastDateTime(general);
    for (const v of values) expect({ v, ok: fast(v) }).toEqual({ v, ok: general(v) });
    // Random digits in the ISO shape (most out of range) and random real instants.
    const random = seededRandom(7);
    const digits = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 10)).join("");
    for (let i = 0; i < 3000; i++) {
      const v =
        i % 2 === 0
          ? `${digits(4)}-${digits(2)}-${digits(2)}T${digits(2)}:${digits(2)}:${digits(2)}${i % 3 ? ".123Z" : `+${digits(2)}:${digits(2)}`}`
          : new Date(Math.floor(random() * 8e12)).toISOString();
      expect({ v, ok: fast(v) }).toEqual({ v, ok: general(v) });
    }
    expect(fast("2026-12-03T10:00:00.000Z")).toBe(true);
    expect(fast("2026-13-03T10:00:00Z")).toBe(false);
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
