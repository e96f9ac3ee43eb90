// Input abuse against the whole API: oversized and chunked bodies, deeply nested JSON, invalid
// UTF-8, SQL and Mongo-operator injection, path traversal in file names, forged JWTs on every
// protected route (and the socket). Each answer is a clear problem+json error or a correct
// result; never a 5xx; the process and its data stay whole.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SignJWT } from "jose";
import { connect as tcpConnect } from "node:net";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { moduleConfig } from "../src/config";
import { accountsModule } from "../src/modules/accounts";
import { modes } from "../src/testing/modes";
import { listeningApp, type ListeningApp } from "./app";
import { call, must } from "./lib";
import { matrix, type Rule } from "./matrix";
import { seedWorld, type World } from "./world";

async function expectProblem(res: Response, statuses: number[], what: string): Promise<{ code: string }> {
  const text = await res.text();
  const type = res.headers.get("content-type") ?? "";
  const body = type.includes("json") ? (JSON.parse(text) as { code: string }) : { code: "" };
  expect({ what, status: statuses.includes(res.status) ? "expected" : res.status, problem: type.startsWith("application/problem+json"), code: typeof body.code }).toEqual({
    what,
    status: "expected",
    problem: true,
    code: "string",
  });
  return body;
}

/** Sends raw bytes over TCP (what fetch would refuse to send) and returns the status line's code. */
function rawRequest(port: number, head: Buffer, body: Buffer = Buffer.alloc(0)): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: "127.0.0.1", port }, () => socket.end(Buffer.concat([head, body])));
    let got = "";
    socket.setTimeout(10_000, () => socket.destroy(new Error("raw request timed out")));
    socket.on("data", (c) => (got += c.toString("latin1")));
    socket.on("error", reject);
    socket.on("close", () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? 0), text: got }));
  });
}

const sqlPayloads = [
  "' OR '1'='1",
  "' OR 1=1 --",
  "\"; DROP TABLE users; --",
  "1; SELECT * FROM sessions",
  "x' UNION SELECT email, password_hash FROM users --",
  "%' AND 1=1 AND '%'='",
  "\\'; --",
];
const regexPayloads = [".*", "^", "(a+)+$", "[", "\\", "$where", "a|b", "(?=x)"];

describe.each(modes)("input abuse (%s)", (mode) => {
  let app: ListeningApp;
  let w: World;
  let protectedRoutes: Array<{ method: string; path: string; rule?: Rule }>;
  let usersBefore: number;

  beforeAll(async () => {
    app = await listeningApp(mode, { HOMEBASE_MOVIES_RATE_LIMIT: "0", HOMEBASE_BOOKING_RATE_LIMIT: "0", HOMEBASE_CHAT_ROOM_LIST_PER_MIN: "100000" });
    w = await seedWorld(app.base, app.promote, app.internal);
    const spec = await must<{ paths: Record<string, Record<string, { security?: unknown[] }>> }>(app.base, "GET", "/swagger/json");
    // Every operation that needs a bearer token, with the owner's ids in its path.
    const fill = (path: string) => path.replace("{userId}", w.owner.id).replace(/\{(id|tid|sid)\}/, Bun.randomUUIDv7());
    protectedRoutes = Object.entries(spec.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([, op]) => op.security?.length)
        .map(([m]) => ({ method: m.toUpperCase(), path: fill(path), rule: matrix[`${m.toUpperCase()} ${path}`] })),
    );
    usersBefore = app.t.platform.db.query<{ n: number }, []>("SELECT count(*) AS n FROM users").get()!.n;
  });
  afterAll(() => app?.close());

  test("oversized bodies → 413 on every module; a chunked body (no length to check) → 411", async () => {
    const big = "x".repeat(1_100_000);
    const token = w.owner.accessToken;
    for (const path of ["/auth/signup", "/challenges", "/projects", "/reservations", "/rooms", "/orders"]) {
      const res = await call(app.base, "POST", path, { token, body: { title: big, name: big, email: big } });
      expect((await expectProblem(res, [413], `POST ${path} 1.1 MB`)).code).toBe("body_too_large");
    }
    // Over the upload limit too, declared up front: refused before it is read.
    const upload = await rawRequest(
      app.port,
      Buffer.from(`POST /files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 60000000\r\nConnection: close\r\n\r\n`),
    );
    expect(upload.status).toBe(413);
    // Chunked: Bun would buffer it up to the 50 MiB upload size before any check.
    const chunk = Buffer.from("x".repeat(1 << 20));
    const chunked = await rawRequest(
      app.port,
      Buffer.from(`POST /auth/signup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`),
      Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n0\r\n\r\n")]),
    );
    expect(chunked.status).toBe(411);
    expect(chunked.text).toContain("length_required");
  });

  test("deeply nested JSON (100,000 levels) and malformed JSON → 400/422, never a 5xx", async () => {
    const token = w.owner.accessToken;
    const bodies = [
      "[".repeat(100_000) + "]".repeat(100_000),
      '{"a":'.repeat(50_000) + "1" + "}".repeat(50_000),
      '{"title":' + "[".repeat(20_000) + "]".repeat(20_000) + "}",
      '{"title": "x", "title": {"$gt": ""}}',
      "{",
      '{"title":"\\ud800"}',
      "\u0000\u0001\u0002",
      "1e999999",
      "[" + "1,".repeat(100_000) + "1]",
    ];
    for (const path of ["/auth/login", "/challenges", "/projects", "/reservations", "/rooms", "/orders", "/carts/normal/items", "/me/password"]) {
      for (const raw of bodies) {
        const res = await call(app.base, "POST", path, { token, raw, headers: { "content-type": "application/json" } });
        const { code } = await expectProblem(res, [400, 413, 422], `POST ${path} ${raw.slice(0, 20)}`);
        if (raw.length > 100_000 && raw.startsWith("[[")) expect(code).toBe("body_too_deep");
      }
    }
  });

  test("invalid UTF-8 in body, path, query and headers → 4xx problem (or a correct empty result), never a 5xx", async () => {
    const token = w.owner.accessToken;
    const bad = Buffer.from([0xff, 0xfe, 0xc0, 0xaf, 0xed, 0xa0, 0x80]);
    const json = Buffer.concat([Buffer.from('{"email":"'), bad, Buffer.from('@example.com","password":"'), bad, Buffer.from('","nickname":"x'), bad, Buffer.from('"}')]);
    const signup = await rawRequest(
      app.port,
      Buffer.from(`POST /auth/signup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${json.length}\r\nConnection: close\r\n\r\n`),
      json,
    );
    expect([400, 422]).toContain(signup.status);
    for (const path of [`/movies/%ff%fe`, `/projects/%c0%af`, `/movies?title=%ff%fe%c0`, `/items?keyword=%ed%a0%80`, `/rooms?search=%ff`, `/challenges/logs/%ff?count=%fe`, `/movies?title=%zz%`]) {
      const res = await call(app.base, "GET", path, { token });
      expect({ path, status: res.status < 500 && res.status !== 401 }).toEqual({ path, status: true });
      if (res.status >= 400) await expectProblem(res, [400, 404, 422], path);
      else expect(((await res.json()) as { items: unknown[] }).items).toEqual([]);
    }
    // Raw bytes in a header value and in the request line.
    const header = await rawRequest(app.port, Buffer.concat([Buffer.from("GET /me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "), bad, Buffer.from("\r\nConnection: close\r\n\r\n")]));
    expect(header.status).toBe(401);
    const line = await rawRequest(app.port, Buffer.concat([Buffer.from("GET /movies/"), bad, Buffer.from(" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")]));
    expect(line.status).toBeGreaterThanOrEqual(400);
    expect(line.status).toBeLessThan(500);
  });

  test("SQL injection strings: searches match them literally, writes store them verbatim, nothing else changes", async () => {
    const token = w.owner.accessToken;
    for (const s of sqlPayloads) {
      const q = encodeURIComponent(s);
      for (const path of [`/movies?title=${q}`, `/items?keyword=${q}`, `/items?brand=${q}`, `/rooms?search=${q}`]) {
        const res = await call(app.base, "GET", path, { token });
        expect({ path, status: res.status }).toEqual({ path, status: 200 });
        expect(((await res.json()) as { items: unknown[] }).items).toEqual([]);
      }
      const login = await call(app.base, "POST", "/auth/login", { body: { email: `${s}@example.com`, password: s } });
      await expectProblem(login, [401, 422, 429], `login ${s}`);
      const project = await must(app.base, "POST", "/projects", { token, body: { id: Bun.randomUUIDv7(), title: s } }, [200, 201, 202]);
      expect((await must(app.base, "GET", `/projects/${project.id}`, { token })).title).toBe(s);
    }
    expect(app.t.platform.db.query<{ n: number }, []>("SELECT count(*) AS n FROM users").get()!.n).toBe(usersBefore);
    expect((await must(app.base, "GET", "/me", { token })).email).toBe(w.owner.email);
  });

  test("Mongo operators and regex syntax: refused by the schemas, or matched literally", async () => {
    const token = w.owner.accessToken;
    const operators = [{ $ne: null }, { $gt: "" }, { $regex: ".*" }, { $where: "1" }, ["a"], null, 1];
    for (const op of operators) {
      await expectProblem(await call(app.base, "POST", "/auth/login", { body: { email: op, password: op } }), [422], `login ${JSON.stringify(op)}`);
      await expectProblem(await call(app.base, "POST", `/rooms/${w.ids.room}/join`, { token: w.other.accessToken, body: { password: op } }), [422], `join ${JSON.stringify(op)}`);
      await expectProblem(await call(app.base, "POST", "/rooms", { token, body: { name: op } }), [400, 422], `room ${JSON.stringify(op)}`);
    }
    // Bracketed keys are not operators: refused, or an unknown parameter the list ignores.
    const plain = (await must<{ items: Array<{ id: string }> }>(app.base, "GET", "/rooms", { token: w.other.accessToken })).items.map((r) => r.id);
    for (const q of ["search[$ne]=x", "search[$regex]=.*", "size[$gt]=0", "joined[$ne]=false"]) {
      const res = await call(app.base, "GET", `/rooms?${q}`, { token: w.other.accessToken });
      if (res.status !== 200) await expectProblem(res, [400, 422], q);
      else expect({ q, ids: ((await res.json()) as { items: Array<{ id: string }> }).items.map((r) => r.id) }).toEqual({ q, ids: plain });
    }
    // Regex syntax in a search is text: "Inner zq…" is found by its own name only.
    for (const s of regexPayloads) {
      const res = await must<{ items: unknown[] }>(app.base, "GET", `/rooms?search=${encodeURIComponent(s)}`, { token });
      expect({ s, n: res.items.length }).toEqual({ s, n: 0 });
    }
    const own = await must<{ items: Array<{ id: string }> }>(app.base, "GET", `/rooms?search=${encodeURIComponent(`inner ${w.marker}`)}`, { token });
    expect(own.items.map((r) => r.id)).toEqual([w.ids.room]);
    // A secret room stays shut without its password, whatever is sent instead.
    const join = await call(app.base, "POST", `/rooms/${w.ids.room}/join`, { token: w.other.accessToken, body: {} });
    await expectProblem(join, [401], "join without password");
  });

  test("path traversal in file names: stored under a clean name inside the data dir; ids are not paths", async () => {
    const token = w.owner.accessToken;
    const names = ["../../../../etc/passwd.txt", "..\\..\\..\\windows\\win.txt", "%2e%2e%2f%2e%2e%2fescape.txt", "/abs/olute.txt", "a\u0000b.txt", "....//....//x.txt", `${"../".repeat(200)}deep.txt`];
    const stored: string[] = [];
    for (const name of names) {
      const form = new FormData();
      form.append("file", new Blob(["hello\n"], { type: "text/plain" }), name);
      const res = await call(app.base, "POST", "/files", { token, raw: form });
      if (res.status !== 201) {
        await expectProblem(res, [400, 415, 422], name);
        continue;
      }
      const file = (await res.json()) as { id: string; name: string };
      expect({ name, clean: !/[\\/\u0000]/.test(file.name) && !file.name.startsWith("..") }).toEqual({ name, clean: true });
      stored.push(file.id);
      const download = await call(app.base, "GET", `/files/${file.id}`, { token });
      expect(download.status).toBe(200);
      expect(await download.text()).toBe("hello\n");
      expect(download.headers.get("content-disposition") ?? "").not.toMatch(/\.\.[\\/]|[\r\n]/);
    }
    expect(stored.length).toBeGreaterThan(0);
    // Nothing was written outside the data dir's file store.
    for (const escaped of ["/etc/passwd.txt", join(app.t.dataDir, "..", "escape.txt"), join(app.t.dataDir, "..", "deep.txt")]) expect(existsSync(escaped) && statSync(escaped).mtimeMs > Date.now() - 60_000).toBe(false);
    expect(readdirSync(app.t.dataDir).every((f) => !f.endsWith(".txt"))).toBe(true);
    for (const path of ["/files/..%2f..%2fhomebase.sqlite", "/files/%2e%2e", "/files/..%5c..%5cjwt.secret", `/files/${encodeURIComponent("../jwt.secret")}`]) {
      const res = await call(app.base, "GET", path, { token });
      // A dot segment can resolve to a path that exists with another method: 405.
      await expectProblem(res, [404, 405, 422], path);
    }
  });

  test("forged, expired and tampered JWTs: 401 on every protected route and on the socket", async () => {
    const secret = new TextEncoder().encode(moduleConfig(app.t.platform.config, accountsModule).jwtSecret);
    const [h, p, s] = w.owner.accessToken.split(".");
    const claims = JSON.parse(Buffer.from(p!, "base64url").toString()) as Record<string, unknown>;
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const tokens: Record<string, string> = {
      "alg none": `${b64({ alg: "none", typ: "JWT" })}.${b64({ ...claims, role: "admin" })}.`,
      "alg none, no dot": `${b64({ alg: "none" })}.${p}`,
      "wrong key": await new SignJWT({ ...claims, role: "admin" }).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode("k".repeat(48))),
      expired: await new SignJWT({ ...claims, exp: Math.floor(Date.now() / 1000) - 5 }).setProtectedHeader({ alg: "HS256" }).sign(secret),
      "not yet valid": await new SignJWT({ ...claims, nbf: Math.floor(Date.now() / 1000) + 3600 }).setProtectedHeader({ alg: "HS256" }).sign(secret),
      "tampered payload": `${h}.${b64({ ...claims, role: "admin", sub: w.other.id })}.${s}`,
      "tampered signature": `${h}.${p}.${s!.slice(0, -4)}AAAA`,
      "unknown session": await new SignJWT({ ...claims, sid: Bun.randomUUIDv7() }).setProtectedHeader({ alg: "HS256" }).sign(secret),
      "HS512 with the key": await new SignJWT({ ...claims, role: "admin" }).setProtectedHeader({ alg: "HS512" }).sign(secret),
      "kid injection": await new SignJWT(claims).setProtectedHeader({ alg: "HS256", kid: "../../../dev/null" }).sign(new Uint8Array(32)),
      "header only": `${h}..`,
      huge: `${h}.${"A".repeat(6_000)}.${s}`,
    };
    let refused = 0;
    for (const [kind, token] of Object.entries(tokens)) {
      for (const r of protectedRoutes) {
        // A valid request but for the token: validation runs before authentication.
        const body = r.rule?.body?.(w);
        const res = await call(app.base, r.method, r.rule?.path(w) ?? r.path, { token, ...(body instanceof FormData ? { raw: body } : body !== undefined ? { body } : {}) });
        if (res.status !== 401) throw new Error(`${kind} on ${r.method} ${r.path}: ${res.status} ${(await res.text()).slice(0, 200)}`);
        await res.arrayBuffer();
        refused++;
      }
      const upgrade = await fetch(`${app.base}/ws?token=${encodeURIComponent(token)}`, {
        headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" },
      });
      expect({ kind, status: upgrade.status }).toEqual({ kind, status: 401 });
    }
    expect(refused).toBe(Object.keys(tokens).length * protectedRoutes.length);
    // Past Bun's header limit the request never reaches the app: 431, and the server goes on.
    expect((await call(app.base, "GET", "/me", { token: "A".repeat(100_000) })).status).toBe(431);
    // The real token still works: nothing above poisoned a cache of verified tokens.
    expect((await call(app.base, "GET", "/me", { token: w.owner.accessToken })).status).toBe(200);
  });

  test("refresh-token replay after rotation ends the session with a clear code", async () => {
    const first = await must(app.base, "POST", "/auth/refresh", { body: { refreshToken: w.other.refreshToken } });
    const replays = await Promise.all(Array.from({ length: 5 }, () => call(app.base, "POST", "/auth/refresh", { body: { refreshToken: w.other.refreshToken } })));
    // The first replay seen revokes the session (reuse detection); the rest find it gone.
    const codes = await Promise.all(replays.map(async (res) => (await expectProblem(res, [401], "replay")).code));
    expect(codes).toContain("refresh_token_reused");
    expect(codes.every((c) => c === "refresh_token_reused" || c === "invalid_refresh_token")).toBe(true);
    await expectProblem(await call(app.base, "GET", "/me", { token: first.accessToken }), [401], "access token of the replayed session");
  });

  test("after all of it the server is healthy and the owner's data intact", async () => {
    expect((await call(app.base, "GET", "/health/ready")).status).toBe(200);
    const token = w.owner.accessToken;
    expect((await must(app.base, "GET", `/projects/${w.ids.project}`, { token })).title).toContain(w.marker);
    expect((await must(app.base, "GET", `/orders/${w.ids.paidOrder}`, { token })).status).toBe("COMPLETE");
  });
});
