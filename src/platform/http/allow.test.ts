// An unsupported method on a known path is 405 problem+json with Allow (RFC 9110 §15.5.6), computed
// from the app's route table once; an unknown path stays 404. The whole app's version of this
// (every module's routes) is in src/modules/reservations/reference.test.ts.
import { describe, expect, test } from "bun:test";
import { cors } from "@elysiajs/cors";
import { Elysia } from "elysia";
import { createLogger } from "../logger";
import { Metrics } from "../metrics";
import { httpPlatform } from ".";
import { RouteMethods } from "./allow";

function appWith(routeMethods: RouteMethods | undefined) {
  const app = new Elysia()
    .use(httpPlatform({ logger: createLogger("silent"), metrics: new Metrics(), bodyLimitBytes: 65_536, routeMethods }))
    .use(cors({ origin: false }))
    .get("/things", () => [])
    .post("/things", () => ({}))
    .get("/things/:id", ({ params }) => params)
    .delete("/things/:id", () => null)
    .get("/things/mine", () => [])
    .get("/files/*", () => "file")
    .all("/anything", () => "ok");
  routeMethods?.build(app.routes);
  return app;
}

const call = (app: { handle(r: Request): Promise<Response> }, method: string, path: string) =>
  app.handle(new Request(`http://localhost.test${path}`, { method }));

describe("405 Method Not Allowed", () => {
  const app = appWith(new RouteMethods());

  test("a known path with another method: 405 problem+json, Allow lists the path's methods", async () => {
    const res = await call(app, "PUT", "/things");
    expect(res.status).toBe(405);
    expect(res.headers.get("content-type")).toStartWith("application/problem+json");
    // HEAD wherever GET is (Elysia answers it); OPTIONS from the CORS preflight route on every path.
    expect(res.headers.get("allow")).toBe("GET, HEAD, POST, OPTIONS");
    expect(res.headers.get("x-request-id")).toBeTruthy();
    const body = (await res.json()) as { status: number; code: string; title: string; detail: string; allowed: string[]; instance: string };
    expect(body).toMatchObject({
      status: 405,
      code: "method_not_allowed",
      title: "Method Not Allowed",
      instance: "/things",
      allowed: ["GET", "HEAD", "POST", "OPTIONS"],
    });
    expect(body.detail).toContain("PUT");
  });

  test("paths with parameters and wildcards: the methods of every route the path matches", async () => {
    expect((await call(app, "PATCH", "/things/42")).headers.get("allow")).toBe("GET, HEAD, DELETE, OPTIONS");
    expect((await call(app, "PUT", "/things/")).headers.get("allow")).toBe("GET, HEAD, POST, OPTIONS");
    // "/things/mine" is both a static route (GET) and an instance of /things/:id (GET, DELETE).
    const mine = await call(app, "POST", "/things/mine");
    expect([mine.status, mine.headers.get("allow")]).toEqual([405, "GET, HEAD, DELETE, OPTIONS"]);
    expect((await call(app, "DELETE", "/files/a/b.txt")).headers.get("allow")).toBe("GET, HEAD, OPTIONS");
  });

  test("the methods a route takes still answer; HEAD and OPTIONS too", async () => {
    expect((await call(app, "GET", "/things/42")).status).toBe(200);
    expect((await call(app, "DELETE", "/things/42")).status).toBe(200);
    expect((await call(app, "HEAD", "/things")).status).toBe(200);
    expect((await call(app, "OPTIONS", "/things")).status).toBe(204);
    expect((await call(app, "PATCH", "/anything")).status).toBe(200);
  });

  test("an unknown path stays 404 route_not_found, whatever the method (a catch-all preflight route does not make it known)", async () => {
    for (const [method, path] of [
      ["GET", "/nope"],
      ["PUT", "/nope"],
      ["POST", "/things/1/2"],
      ["GET", "/files"],
      ["PUT", "/nope/"],
    ] as const) {
      const res = await call(app, method, path);
      expect(res.status).toBe(404);
      expect(res.headers.get("allow")).toBeNull();
      expect(((await res.json()) as { code: string }).code).toBe("route_not_found");
    }
  });

  test("without a route table the platform answers 404 as before; the table is built once", async () => {
    expect((await call(appWith(undefined), "PUT", "/things")).status).toBe(404);
    const methods = new RouteMethods();
    methods.build([{ method: "GET", path: "/a" }]);
    expect(() => methods.build([])).toThrow("once");
    expect(methods.allowed("/a")).toEqual(["GET", "HEAD"]);
    expect(methods.allowed("/b")).toBeNull();
  });
});
