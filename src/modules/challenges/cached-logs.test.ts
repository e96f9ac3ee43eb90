// GET /challenges/logs/:userId served as stored bytes, both modes (memory cache, Redis): the body
// matches UserLogs (Elysia does not check a returned Response: this test does), a strong ETag
// and 304, gzip and brotli over 1 KB, private caching, and a write changes the ETag.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { TypeCompiler } from "elysia/type-system";
import { brotliDecompressSync } from "node:zlib";
import { createTestApp, signupAndLogin, type TestApp } from "../../testing/app";
import { modes } from "../../testing/modes";
import { waitFor } from "../../testing/wait";
import { UserLogs } from "./model";

type User = Awaited<ReturnType<typeof signupAndLogin>>;
const userLogs = TypeCompiler.Compile(UserLogs);
const day = (offset = 0) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
let titles = 0;

describe.each(modes)("cached logs as stored bytes (%s)", (mode) => {
  let t: TestApp;
  let owner: User;
  let member: User;
  const challengeIds: string[] = [];

  beforeAll(async () => {
    t = await createTestApp(mode);
    owner = await signupAndLogin(t, "bytes");
    member = await signupAndLogin(t, "bytes");
    // 15 logs: a count=20 answer is over 1 KB (compressed), count=1 is not.
    for (let i = 0; i < 15; i++) {
      const c = await t.request("POST", "/challenges", {
        token: owner.tokens.accessToken,
        body: { title: `bytes ${Date.now()}-${++titles}`, startDate: day(-1), endDate: day(1) },
      });
      const { id } = (await c.json()) as { id: string };
      expect((await t.request("POST", `/challenges/${id}/members`, { token: member.tokens.accessToken })).status).toBe(201);
      expect((await t.request("POST", `/challenges/${id}/logs`, { token: member.tokens.accessToken })).status).toBe(201);
      challengeIds.push(id);
    }
  });
  afterAll(() => t.close());

  const read = (count: number, headers: Record<string, string> = {}) =>
    t.request("GET", `/challenges/logs/${member.user.id}?count=${count}`, { token: owner.tokens.accessToken, headers });

  async function statusCount(status: string): Promise<number> {
    const { values } = await t.platform.metrics.httpDuration.get();
    return (
      values.find((v) => v.metricName?.endsWith("_count") && v.labels.route === "/challenges/logs/:userId" && v.labels.status === status)
        ?.value ?? 0
    );
  }

  test("miss and hit: the same bytes, matching UserLogs, with ETag, private no-cache and the platform's headers", async () => {
    const miss = await read(20);
    const hit = await read(20);
    for (const res of [miss, hit]) {
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/json");
      expect(res.headers.get("cache-control")).toBe("private, no-cache");
      expect(res.headers.get("etag")).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
      expect(res.headers.get("x-request-id")).toBeTruthy();
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    }
    expect(hit.headers.get("etag")).toBe(miss.headers.get("etag"));
    expect(hit.headers.get("x-request-id")).not.toBe(miss.headers.get("x-request-id"));
    const [a, b] = [await miss.text(), await hit.text()];
    expect(b).toBe(a);
    const body = JSON.parse(b) as UserLogs;
    expect(userLogs.Check(body)).toBe(true);
    expect(body.userId).toBe(member.user.id);
    expect(body.logs.map((l) => l.challengeId)).toEqual([...challengeIds].reverse());
  });

  test("If-None-Match with the current ETag → 304 without a body (counted as 304); another tag → 200", async () => {
    const etag = (await read(5)).headers.get("etag")!;
    const before = await statusCount("304");
    const notModified = await read(5, { "if-none-match": etag });
    expect(notModified.status).toBe(304);
    expect(await notModified.text()).toBe("");
    expect(notModified.headers.get("etag")).toBe(etag);
    expect(notModified.headers.get("cache-control")).toBe("private, no-cache");
    expect(notModified.headers.get("x-request-id")).toBeTruthy();
    // After-response hooks run on the next turn.
    await waitFor(async () => (await statusCount("304")) === before + 1, { what: "the 304 in the request metrics" });
    expect((await read(5, { "if-none-match": '"nope"' })).status).toBe(200);
    // Another count is another body, another ETag.
    expect((await read(6, { "if-none-match": etag })).status).toBe(200);
  });

  test("Accept-Encoding br or gzip over 1 KB: compressed, own ETag, Vary; decodes to the identity bytes; small bodies stay identity", async () => {
    const identity = await read(20);
    const text = await identity.text();
    expect(text.length).toBeGreaterThan(1024);
    expect(identity.headers.get("vary")).toBe("Accept-Encoding");

    const br = await read(20, { "accept-encoding": "gzip, deflate, br" });
    expect(br.headers.get("content-encoding")).toBe("br");
    expect(br.headers.get("vary")).toBe("Accept-Encoding");
    expect(brotliDecompressSync(new Uint8Array(await br.arrayBuffer())).toString()).toBe(text);

    const gz = await read(20, { "accept-encoding": "gzip" });
    expect(gz.headers.get("content-encoding")).toBe("gzip");
    expect(Buffer.from(Bun.gunzipSync(new Uint8Array(await gz.arrayBuffer()))).toString()).toBe(text);

    expect(new Set([identity.headers.get("etag"), br.headers.get("etag"), gz.headers.get("etag")]).size).toBe(3);
    expect((await read(20, { "accept-encoding": "br", "if-none-match": br.headers.get("etag")! })).status).toBe(304);

    const small = await read(1, { "accept-encoding": "br, gzip" });
    expect(small.headers.get("content-encoding")).toBeNull();
    expect(userLogs.Check(await small.json())).toBe(true);
  });

  test("a new log changes the body and its ETag: the old ETag no longer gets a 304", async () => {
    const old = (await read(20)).headers.get("etag")!;
    const c = await t.request("POST", "/challenges", {
      token: owner.tokens.accessToken,
      body: { title: `bytes ${Date.now()}-${++titles}`, startDate: day(-1), endDate: day(1) },
    });
    const { id } = (await c.json()) as { id: string };
    await t.request("POST", `/challenges/${id}/members`, { token: member.tokens.accessToken });
    expect((await t.request("POST", `/challenges/${id}/logs`, { token: member.tokens.accessToken })).status).toBe(201);
    const fresh = await read(20, { "if-none-match": old });
    expect(fresh.status).toBe(200);
    expect(fresh.headers.get("etag")).not.toBe(old);
    const body = (await fresh.json()) as UserLogs;
    expect(userLogs.Check(body)).toBe(true);
    expect(body.logs[0]!.challengeId).toBe(id);
  });

  test("with the cache off (TTL 0) the answer is the same JSON, without an ETag", async () => {
    const off = await createTestApp(mode, { HOMEBASE_CHALLENGE_LOGS_TTL_MS: "0" });
    try {
      const u = await signupAndLogin(off);
      const res = await off.request("GET", `/challenges/logs/${u.user.id}`, {
        token: u.tokens.accessToken,
        headers: { "if-none-match": "*" },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("etag")).toBeNull();
      expect(await res.json()).toEqual({ userId: u.user.id, logs: [] });
    } finally {
      await off.close();
    }
  });
});
