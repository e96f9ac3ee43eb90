// Stored bodies as responses: ETag, 304, and the br/gzip variants, without an app around them.
import { describe, expect, test } from "bun:test";
import { brotliDecompressSync } from "node:zlib";
import {
  compress,
  compressMinBytes,
  etagMatches,
  negotiateEncoding,
  oneOffBody,
  storedBody,
  storedResponse,
  strongEtag,
} from "./compression";

const big = JSON.stringify({ items: Array.from({ length: 200 }, (_, i) => ({ id: i, title: `movie ${i}`, genre: "DRAMA" })) });
const small = JSON.stringify({ ok: true });
const get = (headers: Record<string, string> = {}) => new Request("http://localhost.test/x", { headers });

async function bytesOf(res: Response): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await res.arrayBuffer());
}

describe("negotiateEncoding", () => {
  test.each([
    [null, null],
    ["", null],
    ["identity", null],
    ["gzip", "gzip"],
    ["x-gzip", "gzip"],
    ["br", "br"],
    ["gzip, deflate, br", "br"],
    ["gzip, deflate, br, zstd", "br"],
    ["br;q=0.5, gzip", "gzip"],
    ["br;q=0, gzip;q=0", null],
    ["br; q=0 , gzip ; q=0.1", "gzip"],
    ["*", "br"],
    ["*;q=0.2, br;q=0", "gzip"],
    ["GZIP", "gzip"],
    ["deflate", null],
    ["br;q=abc", null],
  ] as Array<[string | null, string | null]>)("%p → %p", (header, coding) => {
    expect(negotiateEncoding(header)).toBe(coding as never);
    // The second answer comes from the parse cache: the same.
    expect(negotiateEncoding(header)).toBe(coding as never);
  });
});

describe("ETags", () => {
  test("strong, quoted, 22 base64url characters, the same for the same bytes and not for others", () => {
    const a = strongEtag(big);
    expect(a).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
    expect(strongEtag(Buffer.from(big))).toBe(a);
    expect(strongEtag(`${big} `)).not.toBe(a);
  });

  test("If-None-Match: a list, weak forms and * match; other tags and no header do not", () => {
    const tag = strongEtag(small);
    expect(etagMatches(tag, tag)).toBe(true);
    expect(etagMatches(`"other", ${tag}`, tag)).toBe(true);
    expect(etagMatches(`W/${tag}`, tag)).toBe(true);
    expect(etagMatches(" * ", tag)).toBe(true);
    expect(etagMatches('"other"', tag)).toBe(false);
    expect(etagMatches(tag.slice(1, -1), tag)).toBe(false);
    expect(etagMatches(null, tag)).toBe(false);
  });
});

describe("compress", () => {
  test("gzip and br round-trip and are smaller than the body", () => {
    const bytes = Buffer.from(big);
    const gz = compress(bytes, "gzip");
    const br = compress(bytes, "br");
    expect(Buffer.from(Bun.gunzipSync(gz as Uint8Array<ArrayBuffer>)).toString()).toBe(big);
    expect(brotliDecompressSync(br).toString()).toBe(big);
    expect(gz.length).toBeLessThan(bytes.length);
    expect(br.length).toBeLessThan(bytes.length);
  });
});

describe("storedResponse", () => {
  test("identity: the stored bytes, their ETag, Vary and Cache-Control", async () => {
    const stored = storedBody(big);
    const res = await storedResponse(get(), stored, { cacheControl: "no-cache" });
    expect(res.status).toBe(200);
    expect(Object.fromEntries(res.headers)).toMatchObject({
      etag: stored.etag!,
      "cache-control": "no-cache",
      vary: "Accept-Encoding",
      "content-type": "application/json",
    });
    expect(res.headers.get("content-encoding")).toBeNull();
    expect(await res.text()).toBe(big);
  });

  test("br and gzip variants: compressed once, each with its own ETag, decoding to the same bytes", async () => {
    const stored = storedBody(big);
    const br = await storedResponse(get({ "accept-encoding": "gzip, deflate, br" }), stored, { cacheControl: "no-cache" });
    expect(br.headers.get("content-encoding")).toBe("br");
    expect(brotliDecompressSync(await bytesOf(br)).toString()).toBe(big);
    const gz = await storedResponse(get({ "accept-encoding": "gzip" }), stored, { cacheControl: "no-cache" });
    expect(gz.headers.get("content-encoding")).toBe("gzip");
    expect(Buffer.from(Bun.gunzipSync(await bytesOf(gz))).toString()).toBe(big);
    const tags = [stored.etag, br.headers.get("etag"), gz.headers.get("etag")];
    expect(new Set(tags).size).toBe(3);
    expect([...stored.variants.keys()].sort()).toEqual(["br", "gzip"]);
    // The variant is kept: the next request gets the very same Blob.
    const kept = stored.variants.get("br")!.body;
    await storedResponse(get({ "accept-encoding": "br" }), stored, { cacheControl: "no-cache" });
    expect(stored.variants.get("br")!.body).toBe(kept);
  });

  test("If-None-Match naming the chosen representation → 304 without a body; another representation's tag → 200", async () => {
    const stored = storedBody(big);
    const br = await storedResponse(get({ "accept-encoding": "br" }), stored, { cacheControl: "no-cache" });
    const brTag = br.headers.get("etag")!;
    const again = await storedResponse(get({ "accept-encoding": "br", "if-none-match": brTag }), stored, { cacheControl: "no-cache" });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");
    expect(Object.fromEntries(again.headers)).toMatchObject({ etag: brTag, vary: "Accept-Encoding", "cache-control": "no-cache" });
    expect(again.headers.get("content-encoding")).toBeNull();
    // The br tag does not validate the identity body.
    const identity = await storedResponse(get({ "if-none-match": brTag }), stored, { cacheControl: "no-cache" });
    expect(identity.status).toBe(200);
    expect(await identity.text()).toBe(big);
    expect((await storedResponse(get({ "if-none-match": stored.etag! }), stored, { cacheControl: "no-cache" })).status).toBe(304);
  });

  test(`bodies of ${compressMinBytes} bytes or less are never compressed and do not vary`, async () => {
    const stored = storedBody(small);
    const res = await storedResponse(get({ "accept-encoding": "br, gzip" }), stored, { cacheControl: "private, no-cache" });
    expect(res.headers.get("content-encoding")).toBeNull();
    expect(res.headers.get("vary")).toBeNull();
    expect(res.headers.get("etag")).toBe(stored.etag);
    expect(await res.text()).toBe(small);
    expect(stored.variants.size).toBe(0);
  });

  test("a one-off body: no ETag, no 304, never compressed", async () => {
    const body = oneOffBody(big);
    const res = await storedResponse(get({ "accept-encoding": "br", "if-none-match": "*" }), body, { cacheControl: "no-cache" });
    expect(res.status).toBe(200);
    expect(res.headers.get("etag")).toBeNull();
    expect(res.headers.get("content-encoding")).toBeNull();
    expect(await res.text()).toBe(big);
  });

  test("the route's set: its headers move into the response and a 304 shows in its status", async () => {
    const stored = storedBody(big);
    const set: { headers: Record<string, unknown>; status?: number } = {
      headers: { "x-request-id": "r1", "x-frame-options": "DENY" },
      status: 200,
    };
    const res = await storedResponse(get(), stored, { cacheControl: "no-cache", set });
    expect(res.headers.get("x-request-id")).toBe("r1");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(set.headers).toEqual({});
    expect(set.status).toBe(200);
    const set304: typeof set = { headers: { "x-request-id": "r2" }, status: 200 };
    const notModified = await storedResponse(get({ "if-none-match": stored.etag! }), stored, { cacheControl: "no-cache", set: set304 });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.get("x-request-id")).toBe("r2");
    expect(set304.status).toBe(304);
  });

  test("headers built once per representation: each response gets its own request's, the security headers, and the body's", async () => {
    const stored = storedBody(big);
    const answer = (headers: Record<string, unknown>, request = get({ "accept-encoding": "gzip" })) =>
      storedResponse(request, stored, { cacheControl: "private, no-cache", set: { headers } });
    const first = await answer({ "x-request-id": "a", "access-control-allow-origin": "https://app.example" });
    const second = await answer({ "x-request-id": "b", "x-frame-options": "SAMEORIGIN", "cache-control": "public" });
    expect(Object.fromEntries(first.headers)).toMatchObject({
      "x-request-id": "a",
      "access-control-allow-origin": "https://app.example",
      "x-frame-options": "DENY",
      "x-content-type-options": "nosniff",
      "cache-control": "private, no-cache",
      "content-encoding": "gzip",
      vary: "Accept-Encoding",
    });
    // Nothing of the first request's leaks into the next; a route's own value of a security
    // header wins, but not over what the stored response sets itself.
    expect(second.headers.get("x-request-id")).toBe("b");
    expect(second.headers.get("access-control-allow-origin")).toBeNull();
    expect(second.headers.get("x-frame-options")).toBe("SAMEORIGIN");
    expect(second.headers.get("cache-control")).toBe("private, no-cache");
    expect(second.headers.get("etag")).toBe(first.headers.get("etag"));
    const plain = await answer({ "x-request-id": "c" }, get());
    expect(plain.headers.get("content-encoding")).toBeNull();
    expect(plain.headers.get("etag")).toBe(stored.etag);
    expect(plain.headers.get("x-frame-options")).toBe("DENY");
  });
});
