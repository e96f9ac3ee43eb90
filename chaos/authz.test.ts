// Authorization matrix: every route of the OpenAPI spec, requested as anonymous, as another user
// and as an admin, against the owner's real resources. Denials are exactly 401 / 403 / 404 as
// the route's access rule says, always problem+json, and no answer to someone else carries the
// owner's data. The route list comes from the spec: a new route without a matrix entry fails.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { listeningApp, type ListeningApp } from "./app";
import { call, login, must } from "./lib";
import { matrix, type Rule } from "./matrix";
import { seedWorld, type World } from "./world";

type Caller = "anonymous" | "other" | "admin";

interface Probe {
  route: string;
  caller: Caller;
  status: number;
  contentType: string;
  body: string;
}

// Requests come through a trusted proxy (loopback) on behalf of an outside address, so the
// internal allowlist (loopback and the WireGuard subnet) does not cover them.
const outside = { "x-forwarded-for": "203.0.113.7" };

describe("authorization matrix", () => {
  let app: ListeningApp;
  let w: World;
  let specRoutes: string[];
  const probes: Probe[] = [];

  beforeAll(async () => {
    app = await listeningApp("embedded", {
      HOMEBASE_TRUSTED_PROXIES: "127.0.0.1",
      HOMEBASE_MOVIES_RATE_LIMIT: "0",
      HOMEBASE_BOOKING_RATE_LIMIT: "0",
    });
    w = await seedWorld(app.base, app.promote, app.internal);
    const spec = await must<{ paths: Record<string, Record<string, unknown>> }>(app.base, "GET", "/swagger/json");
    specRoutes = Object.entries(spec.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));

    const tokenOf = async (caller: Caller, rule: Rule): Promise<string | undefined> => {
      if (caller === "anonymous") return undefined;
      const who = caller === "admin" ? w.admin : w.other;
      // Logout and password changes end sessions: such a route gets a session of its own.
      return rule.fresh ? (await login(app.base, who)).accessToken : who.accessToken;
    };
    for (const [route, rule] of Object.entries(matrix)) {
      if (!specRoutes.includes(route)) continue;
      const method = route.split(" ")[0]!;
      for (const caller of ["anonymous", "other", "admin"] as const) {
        const body = rule.body?.(w);
        const res = await call(app.base, method, rule.path(w), {
          token: await tokenOf(caller, rule),
          headers: outside,
          ...(body instanceof FormData ? { raw: body } : body !== undefined ? { body } : {}),
        });
        probes.push({ route, caller, status: res.status, contentType: res.headers.get("content-type") ?? "", body: await res.text() });
      }
      // logout-all and a role change end every session of the user: log the callers in again.
      if (rule.fresh) for (const who of [w.other, w.admin]) Object.assign(who, await login(app.base, who));
    }
  });
  afterAll(() => app?.close());

  test("every route in the spec has a matrix entry, and every entry is a route", () => {
    expect(specRoutes.length).toBeGreaterThan(100);
    expect(specRoutes.filter((r) => !(r in matrix))).toEqual([]);
    expect(Object.keys(matrix).filter((r) => !specRoutes.includes(r))).toEqual([]);
  });

  test("denials are exactly 401 / 403 / 404 by access rule, never a server error", () => {
    const wrong: string[] = [];
    for (const p of probes) {
      const { access } = matrix[p.route]!;
      const s = p.status;
      const denied = s === 401 || s === 403;
      let ok: boolean;
      const exact = matrix[p.route]!.expect?.[p.caller];
      if (exact !== undefined) ok = s === exact;
      else switch (access) {
        case "public":
          ok = !denied;
          break;
        case "user":
          ok = p.caller === "anonymous" ? s === 401 : s !== 401;
          break;
        case "owner":
          ok = p.caller === "anonymous" ? s === 401 : s === 404;
          break;
        case "member":
          ok = p.caller === "anonymous" ? s === 401 : s === 403;
          break;
        case "admin":
          ok = p.caller === "anonymous" ? s === 401 : p.caller === "other" ? s === 403 : !denied;
          break;
        case "internal":
          ok = s === 403;
          break;
        case "pg":
          ok = s === 401;
          break;
      }
      if (!ok || s >= 500) wrong.push(`${p.route} as ${p.caller} (${access}): ${s} ${p.body.slice(0, 160)}`);
    }
    expect(wrong).toEqual([]);
    expect(probes.length).toBe(specRoutes.length * 3);
  });

  test("every error is problem+json with a stable code", () => {
    const bad = probes
      // The sandbox PG's own face answers in the PG's shape (KakaoPay-style), not problem+json.
      .filter((p) => p.status >= 400 && !p.route.startsWith("POST /sandbox-pg/v1/") && !p.route.startsWith("GET /sandbox-pg/checkout/"))
      .filter((p) => !p.contentType.startsWith("application/problem+json") || typeof (JSON.parse(p.body) as { code?: unknown }).code !== "string")
      .map((p) => `${p.route} as ${p.caller}: ${p.status} ${p.contentType}`);
    expect(bad).toEqual([]);
  });

  test("no answer to anyone else carries the owner's data", () => {
    const leaks: string[] = [];
    for (const p of probes) {
      const { access } = matrix[p.route]!;
      // The problem's `instance` echoes the caller's own request path.
      const text = p.body.replace(/"instance":"[^"]*"/g, "");
      const adminView = access === "admin" && p.caller === "admin";
      if (!adminView && (text.includes(w.owner.email) || text.includes(w.owner.refreshToken))) leaks.push(`${p.route} as ${p.caller}: the owner's email or token`);
      const denied = ["owner", "member", "internal", "pg"].includes(access) || p.caller === "anonymous";
      if (denied && p.status >= 400 && (text.includes(w.marker) || text.includes(w.owner.id))) leaks.push(`${p.route} as ${p.caller}: ${text.slice(0, 200)}`);
    }
    // Lists visible to every user show shared things only (challenges, rooms by name), never the
    // owner's private ones: another user's own lists hold none of the owner's resources.
    for (const route of ["GET /projects", "GET /reservations/me", "GET /orders", "GET /subscriptions", "GET /carts/normal", "GET /carts/subscription", "GET /me", "GET /todos/insights"]) {
      const p = probes.find((x) => x.route === route && x.caller === "other")!;
      expect(p.status).toBe(200);
      if (p.body.includes(w.marker) || p.body.includes(w.owner.id)) leaks.push(`${route} as other: ${p.body.slice(0, 200)}`);
    }
    expect(leaks).toEqual([]);
  });

  test("after all that, the owner's resources are untouched", async () => {
    const token = w.owner.accessToken;
    const get = (path: string) => must(app.base, "GET", path, { token });
    expect((await get(`/projects/${w.ids.project}`)).title).toContain(w.marker);
    expect((await get(`/tasks/${w.ids.task}`)).status).not.toBe("DONE");
    expect((await get(`/reservations/${w.ids.reservation}`)).status).toBe("confirmed");
    expect((await get(`/orders/${w.ids.unpaidOrder}`)).status).toBe("REQUEST");
    expect((await get(`/orders/${w.ids.paidOrder}`)).refundedAmount).toBe(0);
    expect((await get(`/subscriptions/${w.ids.subscription}`)).status).toBe("ACTIVE");
    expect((await get(`/challenges/${w.ids.challenge}`)).description ?? "").not.toBe("taken over");
    expect((await call(app.base, "GET", `/files/${w.ids.file}`, { token })).status).toBe(200);
    expect((await get("/me")).email).toBe(w.owner.email);
  });
});
