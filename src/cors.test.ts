// Browser origins (createApp): none configured is same-origin only and costs nothing per request
// (no CORS headers on any response, a preflight answered 204 without them, so the browser refuses
// the cross-origin call); configured origins get the CORS answers, other origins still none.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestApp, type TestApp } from "./testing/app";

const corsHeaders = (res: Response) => [...res.headers.keys()].filter((k) => k.startsWith("access-control-"));

const preflight = (t: TestApp, origin: string) =>
  t.request("OPTIONS", "/me", { headers: { origin, "access-control-request-method": "PATCH", "access-control-request-headers": "authorization, content-type" } });

describe("CORS without HOMEBASE_CORS_ORIGINS", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp("embedded");
  });
  afterAll(() => t.close());

  test("no access-control-* header on any answer; a preflight is 204 without them", async () => {
    const live = await t.request("GET", "/health/live", { headers: { origin: "https://elsewhere.example", "x-custom": "1" } });
    expect(live.status).toBe(200);
    expect(corsHeaders(live)).toEqual([]);
    const pre = await preflight(t, "https://elsewhere.example");
    expect(pre.status).toBe(204);
    expect(corsHeaders(pre)).toEqual([]);
    expect(pre.headers.get("x-request-id")).toBeTruthy();
  });
});

describe("CORS with HOMEBASE_CORS_ORIGINS", () => {
  let t: TestApp;
  const allowed = "https://app.example";
  beforeAll(async () => {
    t = await createTestApp("embedded", { HOMEBASE_CORS_ORIGINS: allowed });
  });
  afterAll(() => t.close());

  test("an allowed origin's preflight and requests are answered for it; another origin's are not", async () => {
    const pre = await preflight(t, allowed);
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe(allowed);
    expect(pre.headers.get("access-control-allow-methods")).toContain("PATCH");
    expect(pre.headers.get("access-control-max-age")).toBe("600");
    const live = await t.request("GET", "/health/live", { headers: { origin: allowed } });
    expect(live.headers.get("access-control-allow-origin")).toBe(allowed);
    const other = await t.request("GET", "/health/live", { headers: { origin: "https://elsewhere.example" } });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });
});
