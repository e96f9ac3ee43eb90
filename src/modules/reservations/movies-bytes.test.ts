// GET /movies and GET /api/v1/movies served as stored bytes, both modes (memory cache, Redis):
// each body matches its route's schema (Elysia does not check a returned Response: this test
// does), strong ETags and 304, gzip and brotli, and the invalidation rules unchanged — a catalog
// change and a screening that starts both change the bytes and the ETag, for both shapes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { TypeCompiler } from "elysia/type-system";
import { brotliDecompressSync } from "node:zlib";
import { ManualClock } from "../../platform/clock";
import { createTestApp, signupAndLogin, type TestApp } from "../../testing/app";
import { modes } from "../../testing/modes";
import { NowShowing, ReferenceMovies } from "./model";

type User = Awaited<ReturnType<typeof signupAndLogin>>;
const nowShowing = TypeCompiler.Compile(NowShowing);
const referenceMovies = TypeCompiler.Compile(ReferenceMovies);
const minute = 60_000;
const day = (offset = 0) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
let seq = 0;
const token = () => `zb${Date.now().toString(36)}x${(++seq).toString(36)}`;

describe.each(modes)("movie lists as stored bytes (%s)", (mode) => {
  let t: TestApp;
  let admin: User;
  const clock = new ManualClock(Date.now());

  beforeAll(async () => {
    t = await createTestApp(mode, { HOMEBASE_MOVIES_RATE_LIMIT: "0", HOMEBASE_BOOKING_RATE_LIMIT: "0" }, undefined, undefined, { clock });
    admin = await signupAndLogin(t, "admin");
    await t.modules.apis.accounts.promoteByEmail(admin.email);
    // Eight movies with two screenings each: the list is well over 1 KB.
    for (let i = 0; i < 8; i++) await movieWithScreenings(2);
  }, 30_000);
  afterAll(() => t.close());

  async function movieWithScreenings(n: number, firstStartMs = clock.now() + 60 * minute): Promise<string> {
    const m = await t.request("POST", "/movies", {
      token: admin.tokens.accessToken,
      body: {
        title: `Movie ${token()}`,
        grade: "12",
        genre: "DRAMA",
        releaseDate: day(-3),
        thumbnailUrl: "https://img.example.com/m.jpg",
        runningTime: 100,
      },
    });
    const { id } = (await m.json()) as { id: string };
    // A theater of its own: no screening overlaps another movie's.
    const h = await t.request("POST", "/theaters", { token: admin.tokens.accessToken, body: { name: `Hall ${token()}` } });
    const theaterId = ((await h.json()) as { id: string }).id;
    for (let s = 0; s < n; s++) {
      const res = await t.request("POST", "/screenings", {
        token: admin.tokens.accessToken,
        body: { movieId: id, theaterId, startTime: new Date(firstStartMs + s * 24 * 60 * minute).toISOString() },
      });
      if (res.status !== 201) throw new Error(`screening: ${res.status} ${await res.text()}`);
    }
    return id;
  }

  const get = (path: string, headers: Record<string, string> = {}) => t.request("GET", path, { headers });

  test("GET /movies: a miss and a hit answer the same bytes, matching NowShowing, with ETag and Cache-Control: no-cache", async () => {
    const miss = await get("/movies");
    const hit = await get("/movies");
    for (const res of [miss, hit]) {
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/json");
      expect(res.headers.get("cache-control")).toBe("no-cache");
      expect(res.headers.get("vary")).toBe("Accept-Encoding");
      expect(res.headers.get("x-request-id")).toBeTruthy();
    }
    expect(hit.headers.get("etag")).toBe(miss.headers.get("etag"));
    const text = await hit.text();
    expect(await miss.text()).toBe(text);
    expect(text.length).toBeGreaterThan(1024);
    const body = JSON.parse(text) as NowShowing;
    expect(nowShowing.Check(body)).toBe(true);
    expect(body.items.length).toBeGreaterThanOrEqual(8);
  });

  test("GET /api/v1/movies: its own bytes and ETag, matching ReferenceMovies; 304 for either tag on its own route only", async () => {
    const v1 = await get("/api/v1/movies");
    const items = await get("/movies");
    expect(v1.headers.get("etag")).not.toBe(items.headers.get("etag"));
    const body = (await v1.json()) as ReferenceMovies;
    expect(referenceMovies.Check(body)).toBe(true);
    expect(body.responses.length).toBe(((await items.json()) as NowShowing).items.length);
    expect((await get("/api/v1/movies", { "if-none-match": v1.headers.get("etag")! })).status).toBe(304);
    expect((await get("/movies", { "if-none-match": v1.headers.get("etag")! })).status).toBe(200);
  });

  test("If-None-Match → 304 without a body; br and gzip decode to the identity bytes, each with its own ETag", async () => {
    const identity = await get("/movies?genre=DRAMA");
    const text = await identity.text();
    const etag = identity.headers.get("etag")!;
    const notModified = await get("/movies?genre=DRAMA", { "if-none-match": etag });
    expect(notModified.status).toBe(304);
    expect(await notModified.text()).toBe("");
    expect(notModified.headers.get("etag")).toBe(etag);

    const br = await get("/movies?genre=DRAMA", { "accept-encoding": "gzip, deflate, br" });
    expect(br.headers.get("content-encoding")).toBe("br");
    expect(brotliDecompressSync(new Uint8Array(await br.arrayBuffer())).toString()).toBe(text);
    const gz = await get("/movies?genre=DRAMA", { "accept-encoding": "gzip" });
    expect(gz.headers.get("content-encoding")).toBe("gzip");
    expect(Buffer.from(Bun.gunzipSync(new Uint8Array(await gz.arrayBuffer()))).toString()).toBe(text);
    expect(new Set([etag, br.headers.get("etag"), gz.headers.get("etag")]).size).toBe(3);
    expect((await get("/movies?genre=DRAMA", { "accept-encoding": "br", "if-none-match": br.headers.get("etag")! })).status).toBe(304);
    expect((await get("/movies?genre=DRAMA", { "accept-encoding": "gzip", "if-none-match": br.headers.get("etag")! })).status).toBe(200);
  });

  test("a catalog change moves both shapes to new bytes and ETags (their shared generation)", async () => {
    const [items, v1] = [await get("/movies"), await get("/api/v1/movies")];
    const id = await movieWithScreenings(1);
    const [items2, v12] = [
      await get("/movies", { "if-none-match": items.headers.get("etag")! }),
      await get("/api/v1/movies", { "if-none-match": v1.headers.get("etag")! }),
    ];
    expect([items2.status, v12.status]).toEqual([200, 200]);
    const body = (await items2.json()) as NowShowing;
    expect(nowShowing.Check(body)).toBe(true);
    expect(body.items.some((m) => m.id === id)).toBe(true);
    expect(referenceMovies.Check(await v12.json())).toBe(true);
  });

  test("a screening that starts leaves the list: new bytes and ETag, although nothing was written", async () => {
    const before = await get("/movies");
    const list = (await before.json()) as NowShowing;
    const first = Math.min(...list.items.flatMap((m) => m.screenings.map((s) => Date.parse(s.startTime))));
    clock.set(first);
    const after = await get("/movies", { "if-none-match": before.headers.get("etag")! });
    expect(after.status).toBe(200);
    const body = (await after.json()) as NowShowing;
    expect(nowShowing.Check(body)).toBe(true);
    expect(body.items.flatMap((m) => m.screenings).every((s) => Date.parse(s.startTime) > first)).toBe(true);
    expect(after.headers.get("etag")).not.toBe(before.headers.get("etag"));
  });

  test("a title search is not cached: the same JSON without an ETag, still matching the schema", async () => {
    const res = await get("/movies?title=movie", { "if-none-match": "*", "accept-encoding": "br" });
    expect(res.status).toBe(200);
    expect(res.headers.get("etag")).toBeNull();
    expect(res.headers.get("content-encoding")).toBeNull();
    expect(nowShowing.Check(await res.json())).toBe(true);
  });
});
