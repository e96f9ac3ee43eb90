// Chat uploads: the two blob stores pass the same contract (the data dir, and S3 through Bun's
// S3 client against moto, started by the harness); POST /files streams its body to them with
// bounded memory — size limits abort the stream and leave nothing behind, a cut-off body
// leaves nothing either; the per-user rate and quota; the sweep of files never posted (by the
// injected clock); and the server's memory across parallel 50 MiB uploads (a real process).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ManualClock } from "../../platform/clock";
import { createTestApp, newUser, signupAndLogin, type TestApp } from "../../testing/app";
import { modes } from "../../testing/modes";
import { startServer } from "../../testing/process";
import { startS3Server, type S3Server } from "../../testing/s3";
import { waitFor } from "../../testing/wait";
import type { UnpostedFileSweeper } from "./file-ledger";
import { LocalBlobStore, S3BlobStore, type BlobStore } from "./files";

const MiB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), "homebase-blobs-"));
let s3: S3Server;
const s3Settings = (bucket: string) => ({
  bucket,
  endpoint: s3.endpoint,
  region: s3.region,
  accessKeyId: s3.accessKeyId,
  secretAccessKey: s3.secretAccessKey,
});
const s3Env = (bucket: string) => ({
  HOMEBASE_CHAT_S3_BUCKET: bucket,
  HOMEBASE_CHAT_S3_ENDPOINT: s3.endpoint,
  HOMEBASE_CHAT_S3_REGION: s3.region,
  HOMEBASE_CHAT_S3_ACCESS_KEY_ID: s3.accessKeyId,
  HOMEBASE_CHAT_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
});
const stores: Record<string, () => BlobStore> = {
  local: () => new LocalBlobStore(dir),
  s3: () => new S3BlobStore(s3Settings("homebase-chat")),
};

beforeAll(async () => {
  s3 = await startS3Server();
  await s3.createBucket("homebase-chat");
}, 120_000);
afterAll(async () => {
  await s3?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Every file under a directory, recursively (partial uploads included). */
function filesUnder(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

const png = (size: number) => {
  const b = new Uint8Array(size);
  b.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return b;
};
const mp4 = (size: number) => {
  const b = new Uint8Array(size);
  b.set([0, 0, 0, 0x18, ...new TextEncoder().encode("ftypisom")]);
  return b;
};

describe.each(Object.keys(stores))("blob store (%s)", (kind) => {
  test("chunks written → commit → get returns the same bytes; delete → null; deleting twice is fine", async () => {
    const store = stores[kind]!();
    expect(store.kind).toBe(kind as "local" | "s3");
    const key = `u1/${Bun.randomUUIDv7()}`;
    // Past one S3 part (5 MiB), in uneven chunks: the writer flushes part by part.
    const data = new Uint8Array(6 * MiB + 12_345);
    for (let at = 0; at < data.length; at += 65_536)
      data.set(crypto.getRandomValues(new Uint8Array(Math.min(65_536, data.length - at))), at);
    const writer = await store.writer(key, "video/mp4");
    for (let at = 0; at < data.length; at += 700_001) await writer.write(data.subarray(at, at + 700_001));
    await writer.commit();
    const got = await store.get(key);
    expect(got).not.toBeNull();
    expect(Buffer.from(await got!.arrayBuffer()).equals(Buffer.from(data))).toBe(true);
    await store.delete(key);
    expect(await store.get(key)).toBeNull();
    await store.delete(key);
  });

  test("abort leaves nothing under the key, nor a partial file beside it", async () => {
    const store = stores[kind]!();
    const key = `u2/${Bun.randomUUIDv7()}`;
    const writer = await store.writer(key, "image/png");
    await writer.write(png(100_000));
    await writer.abort();
    expect(await store.get(key)).toBeNull();
    if (kind === "local") expect(filesUnder(join(dir, "u2"))).toEqual([]);
    else expect((await new Bun.S3Client(s3Settings("homebase-chat")).list({ prefix: "u2/" })).contents ?? []).toEqual([]);
  });

  test("a key that was never written is null", async () => {
    expect(await stores[kind]!().get(`nobody/${Bun.randomUUIDv7()}`)).toBeNull();
  });
});

/** A multipart/form-data body with one `file` part, as bytes (and its content type). */
function multipart(bytes: Uint8Array, name: string, type: string) {
  const boundary = `----homebase${Bun.randomUUIDv7()}`;
  const head = new TextEncoder().encode(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: ${type}\r\n\r\n`,
  );
  const tail = new TextEncoder().encode(`\r\n--${boundary}--\r\n`);
  return { contentType: `multipart/form-data; boundary=${boundary}`, head, tail, body: new Blob([head, bytes, tail]) };
}

describe.each(modes)("uploads (%s)", (mode) => {
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    t = await createTestApp(mode, { HOMEBASE_CHAT_UPLOADS_PER_MIN: "1000" });
    t.app.listen({ hostname: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${t.app.server!.port}`;
  });
  afterAll(async () => {
    await t.app.stop(true);
    await t.close();
  });
  const chatFiles = () => filesUnder(join(t.dataDir, "chat-files"));
  const post = (token: string, bytes: Uint8Array, name: string, type: string) => {
    const m = multipart(bytes, name, type);
    return fetch(`${base}/files`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": m.contentType },
      body: m.body,
    });
  };

  test("past its category's limit a file is cut off with 413 file_too_large and nothing is kept", async () => {
    const u = await signupAndLogin(t, "big");
    const before = chatFiles();
    for (const [bytes, name, type] of [
      [png(10 * MiB + 1), "big.png", "image/png"],
      [mp4(50 * MiB + 1), "big.mp4", "video/mp4"],
    ] as const) {
      const res = await post(u.tokens.accessToken, bytes, name, type);
      expect({ name, status: res.status, code: ((await res.json()) as { code: string }).code }).toEqual({
        name,
        status: 413,
        code: "file_too_large",
      });
    }
    // Exactly at the limit is fine.
    expect((await post(u.tokens.accessToken, png(10 * MiB), "edge.png", "image/png")).status).toBe(201);
    expect(chatFiles().length).toBe(before.length + 1);
    expect(chatFiles().filter((f) => f.endsWith(".part"))).toEqual([]);
  }, 60_000);

  test("a body cut off mid-file leaves no file; a multipart body without its closing boundary is 400 malformed_body", async () => {
    const u = await signupAndLogin(t, "cut");
    const before = chatFiles().length;
    const m = multipart(png(2 * MiB), "cut.png", "image/png");
    const partial = Buffer.concat([m.head, png(300_000)]);
    await new Promise<void>((resolve, reject) => {
      const socket = connect(t.app.server!.port!, "127.0.0.1", () => {
        socket.write(
          `POST /files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${u.tokens.accessToken}\r\nContent-Type: ${m.contentType}\r\nContent-Length: ${m.head.length + 2 * MiB + m.tail.length}\r\n\r\n`,
        );
        socket.write(partial, () => setTimeout(() => socket.destroy(), 50));
      });
      socket.on("close", () => resolve());
      socket.on("error", reject);
    });
    // The server sees the connection go and removes the partial file.
    await waitFor(() => chatFiles().length === before, { what: "the partial upload to be removed", timeoutMs: 10_000 });

    const unterminated = new Blob([m.head, png(1000)]);
    const res = await fetch(`${base}/files`, {
      method: "POST",
      headers: { authorization: `Bearer ${u.tokens.accessToken}`, "content-type": m.contentType },
      body: unterminated,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe("malformed_body");
    expect(chatFiles().length).toBe(before);
  }, 30_000);

  test("the declared part type is kept (not guessed from the name); a second file part is ignored", async () => {
    const u = await signupAndLogin(t, "two");
    const boundary = "b0undary";
    const part = (field: string, name: string, type: string, body: string) =>
      `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${name}"\r\nContent-Type: ${type}\r\n\r\n${body}\r\n`;
    const body = `${part("note", "n.txt", "text/plain", "ignored")}${part("file", "a.md", "text/markdown", "# one")}${part("file", "b.txt", "text/plain", "two")}--${boundary}--\r\n`;
    const res = await fetch(`${base}/files`, {
      method: "POST",
      headers: { authorization: `Bearer ${u.tokens.accessToken}`, "content-type": `multipart/form-data; boundary=${boundary}` },
      body,
    });
    expect(res.status).toBe(201);
    const info = (await res.json()) as { url: string; name: string; mime: string };
    expect(info).toMatchObject({ name: "a.md", mime: "text/markdown" });
    expect(await (await fetch(`${base}${info.url}`, { headers: { authorization: `Bearer ${u.tokens.accessToken}` } })).text()).toBe(
      "# one",
    );
  });

  test("the storage quota counts a user's live files, parallel uploads included; deleting frees it", async () => {
    const q = await createTestApp(mode, { HOMEBASE_CHAT_QUOTA_MIB: "1" });
    try {
      const [u, other] = await Promise.all([signupAndLogin(q, "quota"), signupAndLogin(q, "other")]);
      const send = (token: string, size: number) => {
        const m = multipart(png(size), "q.png", "image/png");
        const headers = { authorization: `Bearer ${token}`, "content-type": m.contentType, "content-length": String(m.body.size) };
        return q.app.handle(new Request("http://localhost.test/files", { method: "POST", headers, body: m.body }));
      };
      const first = await send(u.tokens.accessToken, 600 * 1024);
      expect(first.status).toBe(201);
      const over = await send(u.tokens.accessToken, 600 * 1024);
      expect(over.status).toBe(413);
      expect((await over.json()) as object).toMatchObject({ code: "storage_quota_exceeded", detail: expect.stringContaining("of your 1 MiB") });
      // Another user's quota is their own.
      expect((await send(other.tokens.accessToken, 600 * 1024)).status).toBe(201);
      // Deleting the first file frees its bytes.
      const { url } = (await first.json()) as { url: string };
      expect((await q.request("DELETE", url, { token: u.tokens.accessToken })).status).toBe(204);
      // Three at once, 400 KiB each, against 1 MiB: the in-flight ones count, so two pass at most.
      const parallel = await Promise.all([0, 1, 2].map(() => send(u.tokens.accessToken, 400 * 1024)));
      const statuses = parallel.map((r) => r.status).sort();
      expect(statuses).toEqual([201, 201, 413]);
    } finally {
      await q.close();
    }
  });

  test("uploads per user and minute: the next one is 429 rate_limited with Retry-After", async () => {
    const q = await createTestApp(mode, { HOMEBASE_CHAT_UPLOADS_PER_MIN: "3" });
    try {
      const [u, other] = await Promise.all([signupAndLogin(q, "rate"), signupAndLogin(q, "calm")]);
      const send = (token: string) => {
        const m = multipart(png(100), "r.png", "image/png");
        return q.app.handle(
          new Request("http://localhost.test/files", {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": m.contentType },
            body: m.body,
          }),
        );
      };
      for (let i = 0; i < 3; i++) expect((await send(u.tokens.accessToken)).status).toBe(201);
      const limited = await send(u.tokens.accessToken);
      expect(limited.status).toBe(429);
      expect(((await limited.json()) as { code: string }).code).toBe("rate_limited");
      expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
      expect((await send(other.tokens.accessToken)).status).toBe(201);
    } finally {
      await q.close();
    }
  });

  test("files never posted are removed after HOMEBASE_CHAT_UNPOSTED_FILE_HOURS by the worker job (the injected clock)", async () => {
    // In the past: in real mode the Mongo store is shared, and a sweep by this clock must not
    // reach files other tests upload meanwhile (they are younger than its cutoff).
    const clock = new ManualClock(Date.parse("2020-01-01T08:00:00Z"));
    const t = await createTestApp(mode, { HOMEBASE_CHAT_UNPOSTED_FILE_HOURS: "24" }, undefined, undefined, { clock });
    t.app.listen({ hostname: "127.0.0.1", port: 0 });
    const base = `http://127.0.0.1:${t.app.server!.port}`;
    const chatFiles = () => filesUnder(join(t.dataDir, "chat-files"));
    const post = (token: string, bytes: Uint8Array, name: string, type: string) => {
      const m = multipart(bytes, name, type);
      return fetch(`${base}/files`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": m.contentType },
        body: m.body,
      });
    };
    try {
      const u = await signupAndLogin(t, "sweep");
      // Access tokens expire by the same clock: log in again after moving it.
      let token = u.tokens.accessToken;
      const relogin = async () => {
        const res = await t.request("POST", "/auth/login", { body: { email: u.email, password: u.password } });
        token = ((await res.json()) as { accessToken: string }).accessToken;
      };
      const upload = async (name: string) =>
        (await (await post(token, png(1000), name, "image/png")).json()) as { id: string; url: string };
      const svc = t.modules.apis.chat.service;
      const room = await svc.createRoom({ userId: u.user.id, nickname: u.nickname }, { name: "sweep" });
      const forgotten = await upload("forgotten.png");
      const posted = await upload("posted.png");
      await svc.send(
        { userId: u.user.id, nickname: u.nickname },
        { roomId: room.id, clientMsgId: "s1", kind: "file", content: "", fileId: posted.id },
      );
      const chat = t.modules.installed.find((m) => m.definition.name === "chat")!;
      const sweeper = chat.runtime.jobs!.find((j) => j.name === "chat-unposted-files") as UnpostedFileSweeper;
      const status = async (f: { url: string }) =>
        (await fetch(`${base}${f.url}`, { headers: { authorization: `Bearer ${token}` } })).status;

      clock.advance(24 * 3_600_000 - 1);
      await relogin();
      await sweeper.sweep();
      expect([await status(forgotten), await status(posted)]).toEqual([200, 200]);

      // A crash mid-upload leaves its partial file beside the blobs: swept past the same age.
      const partial = (age: number) => {
        const path = join(t.dataDir, "chat-files", "chat", "00", `${Bun.randomUUIDv7()}.${Bun.randomUUIDv7()}.part`);
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, "half");
        const at = new Date(Date.now() - age);
        utimesSync(path, at, at);
        return path;
      };
      const stale = partial(25 * 3_600_000);
      const fresh = partial(60_000);
      const blobCount = () => chatFiles().filter((f) => !f.endsWith(".part")).length;
      const storedBefore = blobCount();
      clock.advance(2);
      expect(await sweeper.sweep()).toBeGreaterThanOrEqual(1);
      expect([await status(forgotten), await status(posted)]).toEqual([404, 200]);
      expect(blobCount()).toBe(storedBefore - 1);
      expect([existsSync(stale), existsSync(fresh)]).toEqual([false, true]);
      expect(await svc.store.file(forgotten.id)).toMatchObject({ deletedAt: clock.now() });

      // The job runs a sweep as it starts (worker roles start it), then every few minutes.
      const late = await upload("late.png");
      clock.advance(25 * 3_600_000);
      await relogin();
      sweeper.start();
      try {
        await waitFor(async () => (await status(late)) === 404, { what: "the started job to sweep" });
      } finally {
        await sweeper.stop();
      }
      expect(await status(posted)).toBe(200);
    } finally {
      await t.app.stop(true);
      await t.close();
    }
  });
});

test("POST /files with HOMEBASE_CHAT_S3_* set streams the upload to the bucket; GET serves it back; DELETE removes it; past the limit nothing stays", async () => {
  await s3.createBucket("homebase-e2e");
  const t = await createTestApp("embedded", s3Env("homebase-e2e"));
  try {
    const u = await signupAndLogin(t, "s3");
    const auth = { authorization: `Bearer ${u.tokens.accessToken}` };
    const video = mp4(7 * MiB + 3);
    const form = new FormData();
    form.append("file", new File([video], "clip.mp4", { type: "video/mp4" }));
    const up = await t.app.handle(new Request("http://localhost.test/files", { method: "POST", headers: auth, body: form }));
    expect(up.status).toBe(201);
    const info = (await up.json()) as { id: string; url: string; size: number };
    expect(info.size).toBe(video.length);
    // The bytes are in the bucket, not under the data dir.
    const bucket = new Bun.S3Client(s3Settings("homebase-e2e"));
    expect((await bucket.list()).contents?.length ?? 0).toBe(1);
    expect(filesUnder(join(t.dataDir, "chat-files"))).toEqual([]);
    const down = await t.request("GET", info.url, { token: u.tokens.accessToken });
    expect(down.status).toBe(200);
    expect(Buffer.from(await down.arrayBuffer()).equals(Buffer.from(video))).toBe(true);
    expect((await t.request("DELETE", info.url, { token: u.tokens.accessToken })).status).toBe(204);
    expect((await bucket.list()).contents?.length ?? 0).toBe(0);

    const big = new FormData();
    big.append("file", new File([png(10 * MiB + 1)], "big.png", { type: "image/png" }));
    const refused = await t.app.handle(new Request("http://localhost.test/files", { method: "POST", headers: auth, body: big }));
    expect(refused.status).toBe(413);
    expect((await bucket.list()).contents?.length ?? 0).toBe(0);
  } finally {
    await t.close();
  }
}, 60_000);

// A real process, so that its memory is its own: before the streaming fix each upload was held
// whole (twice), and 4 parallel 50 MiB uploads took the RSS from 177 to 498 MiB. A coarse bound
// (the bench measures 10 uploads closely): 4 parallel ones must not grow the peak by 180 MiB.
// Streaming keeps the growth about flat in the number of uploads (mostly body chunks the
// garbage collector has not taken yet: 50–115 MiB on a loaded 2-core machine); before, each
// upload added 70–90 MiB (3 of them: +196 to +269 MiB).
test("4 parallel 50 MiB uploads grow the server's peak RSS by less than 180 MiB", async () => {
  const server = await startServer({ HOMEBASE_LOG_LEVEL: "warn" });
  try {
    const status = () => {
      const s = readFileSync(`/proc/${server.proc.pid}/status`, "utf8");
      const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(s)?.[1]);
      return { rss: kib("VmRSS") * 1024, peak: kib("VmHWM") * 1024 };
    };
    const body = newUser("rss");
    const json = { "content-type": "application/json" };
    expect((await fetch(`${server.url}/auth/signup`, { method: "POST", headers: json, body: JSON.stringify(body) })).status).toBe(201);
    const login = (await (
      await fetch(`${server.url}/auth/login`, {
        method: "POST",
        headers: json,
        body: JSON.stringify({ email: body.email, password: body.password }),
      })
    ).json()) as {
      accessToken: string;
    };
    const video = mp4(50 * MiB);
    const upload = () => {
      const m = multipart(video, "clip.mp4", "video/mp4");
      return fetch(`${server.url}/files`, {
        method: "POST",
        headers: { authorization: `Bearer ${login.accessToken}`, "content-type": m.contentType },
        body: m.body,
      }).then((r) => r.status);
    };
    // One upload first: the code paths are loaded and the allocator warm.
    expect(await upload()).toBe(201);
    // The peak from here on (writing 5 to clear_refs resets VmHWM to the current RSS).
    await Bun.write(`/proc/${server.proc.pid}/clear_refs`, "5");
    const before = status();
    expect(await Promise.all([upload(), upload(), upload(), upload()])).toEqual([201, 201, 201, 201]);
    const grown = (status().peak - before.rss) / MiB;
    expect({ grownMiB: Math.round(grown), under180: grown < 180 }).toEqual({ grownMiB: Math.round(grown), under180: true });
  } finally {
    await server.stop();
    rmSync(server.dataDir, { recursive: true, force: true });
  }
}, 120_000);
