// Every process observable: two `serve` instances on one SO_REUSEPORT port and a worker, real
// processes on one data dir, each with its own HOMEBASE_METRICS_PORT answering for that process
// only (its pid and role in homebase_process_info), while the shared port reaches either API.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../testing/ports";
import { type RunningServer, startServer } from "../../testing/process";

function processInfo(text: string): { role: string; pid: string } | null {
  const m = /^homebase_process_info\{role="([a-z]+)",version="[^"]+",pid="(\d+)"\} 1$/m.exec(text);
  return m ? { role: m[1]!, pid: m[2]! } : null;
}

describe("per-process metrics listeners", () => {
  let dataDir: string;
  let a: RunningServer, b: RunningServer, worker: RunningServer;
  const ports = { api: 0, a: 0, b: 0, worker: 0 };
  const env = { HOMEBASE_SQLITE_SYNCHRONOUS: "NORMAL" };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "homebase-metrics-"));
    for (const k of Object.keys(ports) as Array<keyof typeof ports>) ports[k] = await freePort();
    a = await startServer({ ...env, HOMEBASE_METRICS_PORT: String(ports.a) }, { dataDir, port: ports.api, args: ["serve"] });
    b = await startServer({ ...env, HOMEBASE_METRICS_PORT: String(ports.b) }, { dataDir, port: ports.api, args: ["serve"] });
    // The worker has no API port: startServer's readiness probe goes to its metrics listener.
    worker = await startServer({ ...env, HOMEBASE_METRICS_PORT: String(ports.worker) }, { dataDir, port: ports.worker, args: ["worker"] });
  }, 60_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop(), worker?.stop()]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  const scrape = async (port: number) => {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/plain");
    return res.text();
  };

  test("each metrics port answers for its own process, with its role; the shared API port for either", async () => {
    for (const [server, port, role] of [
      [a, ports.a, "serve"],
      [b, ports.b, "serve"],
      [worker, ports.worker, "worker"],
    ] as const) {
      // Several scrapes: a shared listener would show another pid sooner or later.
      for (let i = 0; i < 5; i++) expect(processInfo(await scrape(port))).toEqual({ role, pid: String(server.proc.pid) });
    }
    expect(new Set([a.proc.pid, b.proc.pid, worker.proc.pid]).size).toBe(3);
    // The worker exposes the worker's metrics (relay and consumers), not only process gauges.
    expect(await scrape(ports.worker)).toMatch(/^homebase_outbox_backlog \d+$/m);
    // The API port is shared: whoever answers is one of the two serve instances.
    const shared = processInfo(await (await fetch(`http://127.0.0.1:${ports.api}/metrics`)).text());
    expect([String(a.proc.pid), String(b.proc.pid)]).toContain(shared!.pid);
    // Each line of the start log names its own metrics URL.
    expect(a.output()).toContain(`"metricsUrl":"http://127.0.0.1:${ports.a}/metrics"`);
    expect(worker.output()).toContain(`"metricsUrl":"http://127.0.0.1:${ports.worker}/metrics"`);
  });

  test("health on the metrics port; anything else there is 404 or 405", async () => {
    const ready = await fetch(`http://127.0.0.1:${ports.worker}/health/ready`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { status: string; checks: Record<string, boolean> }).checks).toMatchObject({ sqlite: true });
    expect((await fetch(`http://127.0.0.1:${ports.a}/health/live`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${ports.a}/me`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${ports.a}/metrics`, { method: "POST" })).status).toBe(405);
  });

  test("a second process on a metrics port already taken does not start", async () => {
    await expect(startServer({ ...env, HOMEBASE_METRICS_PORT: String(ports.a) }, { dataDir, port: ports.api, args: ["serve"] })).rejects.toThrow(/homebase exited with [1-9][\s\S]*(EADDRINUSE|in use)/i);
  }, 30_000);

  test("SIGTERM: each stops cleanly, its metrics port closed with it", async () => {
    expect(await b.stop()).toBe(0);
    await expect(fetch(`http://127.0.0.1:${ports.b}/metrics`)).rejects.toThrow();
    expect(processInfo(await scrape(ports.a))!.pid).toBe(String(a.proc.pid));
  }, 30_000);
});
