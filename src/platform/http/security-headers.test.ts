// Every answer carries the platform's security headers and a request id: handler values, Responses
// a handler builds, status() answers, thrown problems, unknown routes and the body-limit refusal —
// also on routes of a plugin registered beside the platform, as the modules are.
import { describe, expect, test } from "bun:test";
import { Elysia } from "elysia";
import { createLogger } from "../logger";
import { Metrics } from "../metrics";
import { HttpProblem, httpPlatform } from ".";

const module = new Elysia({ name: "some.module" })
  .get("/value", () => ({ ok: true }))
  .get("/list", () => [1, 2, 3])
  .get("/headed", ({ set }) => {
    set.headers["x-own"] = "kept";
    set.headers["x-frame-options"] = "SAMEORIGIN";
    return { ok: true };
  })
  .get("/cookie", ({ cookie }) => {
    cookie.seen!.value = "yes";
    return { ok: true };
  })
  .get("/response", () => new Response("made by hand", { headers: { "content-type": "text/plain", "x-own": "kept" } }))
  .get("/status", ({ status }) => status(202, { queued: true }))
  .get("/problem", () => {
    throw new HttpProblem(409, "busy", "try again");
  })
  .post("/upload", ({ body }) => body);

const app = new Elysia().use(httpPlatform({ logger: createLogger("silent"), metrics: new Metrics(), bodyLimitBytes: 16 })).use(module);

const expected = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

const call = (path: string, init?: RequestInit) => app.handle(new Request(`http://localhost.test${path}`, init));

describe("security headers", () => {
  const cases: Array<[string, () => Promise<Response>, number]> = [
    ["a handler's value", () => call("/value"), 200],
    ["a handler's array", () => call("/list"), 200],
    ["a value with a cookie set", () => call("/cookie"), 200],
    ["a Response the handler built", () => call("/response"), 200],
    ["status()", () => call("/status"), 202],
    ["a thrown problem", () => call("/problem"), 409],
    ["an unknown route", () => call("/nope"), 404],
    [
      "a body over the limit",
      () =>
        call("/upload", { method: "POST", headers: { "content-type": "application/json", "content-length": "80" }, body: "x".repeat(80) }),
      413,
    ],
  ];
  for (const [what, send, status] of cases) {
    test(`on ${what}`, async () => {
      const res = await send();
      expect(res.status).toBe(status);
      for (const [name, value] of Object.entries(expected)) expect([name, res.headers.get(name)]).toEqual([name, value]);
      expect(res.headers.get("x-request-id")).toBeTruthy();
    });
  }

  test("a JSON value: its body and content type, the route's own headers, one request's id not the next one's", async () => {
    const [a, b] = [await call("/headed"), await call("/value")];
    expect(await a.json()).toEqual({ ok: true });
    expect(a.headers.get("content-type")).toStartWith("application/json");
    expect(a.headers.get("x-own")).toBe("kept");
    expect(a.headers.get("x-frame-options")).toBe("SAMEORIGIN"); // the route's value wins
    expect(b.headers.get("x-own")).toBeNull();
    expect(b.headers.get("x-frame-options")).toBe("DENY");
    expect(a.headers.get("x-request-id")).not.toBe(b.headers.get("x-request-id"));
    expect(await (await call("/list")).json()).toEqual([1, 2, 3]);
    const withCookie = await call("/cookie");
    expect(withCookie.headers.get("set-cookie")).toStartWith("seen=yes");
  });

  test("a Response keeps its own headers, and one request's id is not the next one's", async () => {
    const [a, b] = [await call("/response"), await call("/response")];
    expect(a.headers.get("x-own")).toBe("kept");
    expect(a.headers.get("content-type")).toBe("text/plain");
    expect(await a.text()).toBe("made by hand");
    expect(a.headers.get("x-request-id")).not.toBe(b.headers.get("x-request-id"));
  });
});
