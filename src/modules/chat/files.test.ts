// The two blob stores behind chat uploads pass the same contract: the data dir, and S3 through
// Bun's S3 client against a real S3-compatible server (moto) started by the harness.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestApp, signupAndLogin } from "../../testing/app";
import { startS3Server, type S3Server } from "../../testing/s3";
import { LocalBlobStore, S3BlobStore, type BlobStore } from "./files";

const dir = mkdtempSync(join(tmpdir(), "homebase-blobs-"));
let s3: S3Server;
const stores: Record<string, () => BlobStore> = {
  local: () => new LocalBlobStore(dir),
  s3: () =>
    new S3BlobStore({ bucket: "homebase-chat", endpoint: s3.endpoint, region: s3.region, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }),
};

beforeAll(async () => {
  s3 = await startS3Server();
  await s3.createBucket("homebase-chat");
}, 120_000);
afterAll(async () => {
  await s3?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe.each(Object.keys(stores))("blob store (%s)", (kind) => {
  test("put → get returns the same bytes; delete → get is null; deleting twice is fine", async () => {
    const store = stores[kind]!();
    expect(store.kind).toBe(kind as "local" | "s3");
    const key = `u1/${Bun.randomUUIDv7()}`;
    const bytes = crypto.getRandomValues(new Uint8Array(256 * 1024));
    await store.put(key, new Blob([bytes]), "image/png");
    const got = await store.get(key);
    expect(got).not.toBeNull();
    expect(new Uint8Array(await got!.arrayBuffer())).toEqual(bytes);
    await store.delete(key);
    expect(await store.get(key)).toBeNull();
    await store.delete(key);
  });

  test("a key that was never written is null", async () => {
    expect(await stores[kind]!().get(`nobody/${Bun.randomUUIDv7()}`)).toBeNull();
  });
});

test("POST /files with HOMEBASE_CHAT_S3_* set stores the upload in the bucket; GET serves it back; DELETE removes it", async () => {
  await s3.createBucket("homebase-e2e");
  const t = await createTestApp("embedded", {
    HOMEBASE_CHAT_S3_BUCKET: "homebase-e2e",
    HOMEBASE_CHAT_S3_ENDPOINT: s3.endpoint,
    HOMEBASE_CHAT_S3_REGION: s3.region,
    HOMEBASE_CHAT_S3_ACCESS_KEY_ID: s3.accessKeyId,
    HOMEBASE_CHAT_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
  });
  try {
    const u = await signupAndLogin(t, "s3");
    const png = new Uint8Array(4096);
    png.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const form = new FormData();
    form.append("file", new File([png], "pic.png", { type: "image/png" }));
    const auth = { authorization: `Bearer ${u.tokens.accessToken}` };
    const up = await t.app.handle(new Request("http://localhost.test/files", { method: "POST", headers: auth, body: form }));
    expect(up.status).toBe(201);
    const info = (await up.json()) as { id: string; url: string };
    // The bytes are in the bucket, not under the data dir.
    const bucket = new Bun.S3Client({ bucket: "homebase-e2e", endpoint: s3.endpoint, region: s3.region, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey });
    const listed = await bucket.list();
    expect(listed.contents?.length ?? 0).toBe(1);
    const down = await t.request("GET", info.url, { token: u.tokens.accessToken });
    expect(down.status).toBe(200);
    expect(new Uint8Array(await down.arrayBuffer())).toEqual(png);
    expect((await t.request("DELETE", info.url, { token: u.tokens.accessToken })).status).toBe(204);
    expect((await bucket.list()).contents?.length ?? 0).toBe(0);
  } finally {
    await t.close();
  }
}, 60_000);
