// Every answer the app gives is counted once in homebase_http_request_duration_seconds, under its
// route template and its status: plain values, status() values, Responses a handler builds (and
// 304s), errors thrown in hooks and handlers, validation failures, unknown routes and methods,
// and the refusals the platform answers before any route runs.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestApp, newUser, signupAndLogin, type TestApp } from "./testing/app";

type Series = Map<string, number>;

describe("request metrics", () => {
  let t: TestApp;
  let token: string;
  let userId: string;

  beforeAll(async () => {
    t = await createTestApp("embedded");
    const u = await signupAndLogin(t, "metrics");
    token = u.tokens.accessToken;
    userId = u.user.id;
  });
  afterAll(() => t.close());

  /** Observation counts by "METHOD route status". */
  async function counts(): Promise<Series> {
    // Let anything observed after the response (a later tick) land first.
    await Bun.sleep(5);
    const { values } = await t.platform.metrics.httpDuration.get();
    const out: Series = new Map();
    for (const v of values) {
      if (!v.metricName?.endsWith("_count")) continue;
      out.set(`${v.labels.method} ${v.labels.route} ${v.labels.status}`, v.value);
    }
    return out;
  }

  async function added(run: () => Promise<unknown>): Promise<Record<string, number>> {
    const before = await counts();
    await run();
    const after = await counts();
    const diff: Record<string, number> = {};
    for (const [key, n] of after) if (n !== (before.get(key) ?? 0)) diff[key] = n - (before.get(key) ?? 0);
    return diff;
  }

  const expectStatus = async (res: Promise<Response>, status: number) => expect((await res).status).toBe(status);

  test("values, status() values and handler-built Responses (and a 304): once each", async () => {
    expect(await added(() => expectStatus(t.request("GET", "/health/live"), 200))).toEqual({ "GET /health/live 200": 1 });
    expect(await added(() => expectStatus(t.request("GET", "/me", { token }), 200))).toEqual({ "GET /me 200": 1 });
    expect(await added(() => expectStatus(t.request("POST", "/auth/signup", { body: newUser("m2") }), 201))).toEqual({
      "POST /auth/signup 201": 1,
    });
    const logs = `/challenges/logs/${userId}?count=5`;
    const first = await t.request("GET", logs, { token });
    expect(first.status).toBe(200);
    const etag = first.headers.get("etag")!;
    expect(await added(() => expectStatus(t.request("GET", logs, { token }), 200))).toEqual({ "GET /challenges/logs/:userId 200": 1 });
    expect(await added(() => expectStatus(t.request("GET", logs, { token, headers: { "if-none-match": etag } }), 304))).toEqual({
      "GET /challenges/logs/:userId 304": 1,
    });
  });

  test("errors from hooks and handlers, validation, unknown routes and methods: once each", async () => {
    expect(await added(() => expectStatus(t.request("GET", "/me"), 401))).toEqual({ "GET /me 401": 1 });
    expect(await added(() => expectStatus(t.request("PATCH", "/me", { token, body: { nickname: 7 } }), 422))).toEqual({
      "PATCH /me 422": 1,
    });
    expect(
      await added(() =>
        expectStatus(t.request("POST", "/auth/login", { body: "{not json", headers: { "content-type": "application/json" } }), 400),
      ),
    ).toEqual({
      "POST /auth/login 400": 1,
    });
    expect(await added(() => expectStatus(t.request("GET", "/no/such/route"), 404))).toEqual({ "GET unmatched 404": 1 });
    expect(await added(() => expectStatus(t.request("DELETE", "/health/live"), 405))).toEqual({ "DELETE unmatched 405": 1 });
  });

  test("refusals before any route (411, 413): once each", async () => {
    const chunked = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode("{}"));
        c.close();
      },
    });
    const send = (init: RequestInit) => t.app.handle(new Request("http://localhost.test/auth/login", { method: "POST", ...init }));
    expect(
      await added(() =>
        expectStatus(send({ body: chunked, headers: { "transfer-encoding": "chunked", "content-type": "application/json" } }), 411),
      ),
    ).toEqual({ "POST unmatched 411": 1 });
    const big = "x".repeat(t.platform.config.bodyLimitBytes + 1);
    expect(
      await added(() =>
        expectStatus(send({ body: big, headers: { "content-type": "application/json", "content-length": String(big.length) } }), 413),
      ),
    ).toEqual({
      "POST unmatched 413": 1,
    });
  });
});
