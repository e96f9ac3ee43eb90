// The uploads scenario's runtime floor: a bare Bun.serve that streams each request body to a
// file through Bun's file sink and answers 201 — what receiving the bytes costs Bun itself.
//   bun bench/scenarios/upload-ceiling.ts <port> [live objects]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const port = Number(process.argv[2]);
// Optional live objects, so the heap is about homebase's: JSC lets garbage (the body chunks)
// grow with the live heap before it collects, so the floor depends on the heap's size.
const ballast: object[] = [];
for (let i = 0; i < Number(process.argv[3] ?? 0); i++) ballast.push({ i, s: "x".repeat(20), a: [i, i + 1] });
(globalThis as { ballast?: object[] }).ballast = ballast;
const dir = mkdtempSync(join(tmpdir(), "homebase-upload-ceiling-"));
process.on("SIGTERM", () => {
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
});
Bun.serve({
  port,
  hostname: "127.0.0.1",
  maxRequestBodySize: 64 * 1024 * 1024,
  async fetch(req) {
    if (!req.body) return new Response("ok");
    const path = join(dir, Bun.randomUUIDv7());
    const sink = Bun.file(path).writer({ highWaterMark: 256 * 1024 });
    for await (const chunk of req.body) {
      const pending = sink.write(chunk);
      if (typeof pending !== "number") await pending;
    }
    await sink.end();
    rmSync(path, { force: true });
    return new Response("{}", { status: 201, headers: { "content-type": "application/json" } });
  },
});
