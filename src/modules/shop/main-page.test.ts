// GET /items/main served as stored bytes, both modes (memory cache, Redis): the body matches
// MainPage (Elysia does not check a returned Response: this test does), a strong ETag and 304,
// gzip and brotli, and an item change moves it to new bytes and a new ETag.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { TypeCompiler } from "elysia/type-system";
import { brotliDecompressSync } from "node:zlib";
import { modes } from "../../testing/modes";
import { MainPage } from "./model";
import { startShop, type ShopTestApp } from "./testing";

const mainPage = TypeCompiler.Compile(MainPage);

describe.each(modes)("GET /items/main as stored bytes (%s)", (mode) => {
  let app: ShopTestApp;

  beforeAll(async () => {
    app = await startShop(mode);
    // A page over 1 KB (so it is compressed): a few items with discounts.
    for (let i = 0; i < 4; i++) await app.item({ name: `Main ${i} ${Date.now()}`, discountRate: 10 + i });
  });
  afterAll(() => app.close());

  const get = (headers: Record<string, string> = {}) => app.t.request("GET", "/items/main", { headers });

  test("a miss and a hit: the same bytes, matching MainPage, with ETag and Cache-Control: no-cache", async () => {
    const miss = await get();
    const hit = await get();
    for (const res of [miss, hit]) {
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/json");
      expect(res.headers.get("cache-control")).toBe("no-cache");
      expect(res.headers.get("etag")).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
      expect(res.headers.get("x-request-id")).toBeTruthy();
    }
    expect(hit.headers.get("etag")).toBe(miss.headers.get("etag"));
    const text = await hit.text();
    expect(await miss.text()).toBe(text);
    const body = JSON.parse(text) as MainPage;
    expect(mainPage.Check(body)).toBe(true);
    expect(body.topDiscounts.length).toBeGreaterThanOrEqual(4);
  });

  test("If-None-Match → 304 without a body; br and gzip decode to the identity bytes", async () => {
    const identity = await get();
    const text = await identity.text();
    expect(text.length).toBeGreaterThan(1024);
    const etag = identity.headers.get("etag")!;
    const notModified = await get({ "if-none-match": etag });
    expect(notModified.status).toBe(304);
    expect(await notModified.text()).toBe("");

    const br = await get({ "accept-encoding": "br" });
    expect(br.headers.get("content-encoding")).toBe("br");
    expect(br.headers.get("vary")).toBe("Accept-Encoding");
    expect(brotliDecompressSync(new Uint8Array(await br.arrayBuffer())).toString()).toBe(text);
    const gz = await get({ "accept-encoding": "gzip;q=1, br;q=0.5" });
    expect(gz.headers.get("content-encoding")).toBe("gzip");
    expect(Buffer.from(Bun.gunzipSync(new Uint8Array(await gz.arrayBuffer()))).toString()).toBe(text);
    expect((await get({ "accept-encoding": "gzip", "if-none-match": gz.headers.get("etag")! })).status).toBe(304);
  });

  test("an item change shows at once: new bytes, new ETag, the old one gets a 200", async () => {
    const old = (await get()).headers.get("etag")!;
    const star = await app.item({ name: `Main star ${Date.now()}`, discountRate: 90 });
    const res = await get({ "if-none-match": old });
    expect(res.status).toBe(200);
    expect(res.headers.get("etag")).not.toBe(old);
    const body = (await res.json()) as MainPage;
    expect(mainPage.Check(body)).toBe(true);
    expect(body.topDiscounts[0]!.id).toBe(star.id);
  });
});
