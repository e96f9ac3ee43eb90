// Keeps the benchmark harness from rotting: the auth scenario in quick mode, 3 s per run,
// end to end (build, start, ceiling, load, results files); and the multi-instance chat ramp at
// a small scale (2 instances, 2 load clients, 200 sockets). No timing is asserted.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "..");
const out = mkdtempSync(join(tmpdir(), "homebase-bench-results-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function runningCeilings(what = "bench/ceiling.ts"): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(what)) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

test("`bun run bench auth --quick` runs, stops what it started, and writes JSON, markdown and SVG", async () => {
  const proc = Bun.spawn([process.execPath, join(root, "bench/run.ts"), "auth", "--quick"], {
    cwd: root,
    // No cargo build inside the test suite: oha when present, else wrk.
    // 3 s per run: an Argon2id login under 16 connections on one pinned core may not finish within 1 s on a busy box.
    env: { ...process.env, HOMEBASE_BENCH_SECONDS: "3", HOMEBASE_BENCH_RESULTS: out, HOMEBASE_BENCH_NO_BUILD: "1" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect({ code, stderr: code === 0 ? "" : stderr }).toEqual({ code: 0, stderr: "" });
  expect(stdout).toContain("| GET /me |");
  const files = readdirSync(out).sort();
  expect(files.map((f) => f.replace(/^\d{4}-\d{2}-\d{2}-/, ""))).toEqual(["auth.json", "auth.md", "auth.svg"]);
  const json = JSON.parse(readFileSync(join(out, files[0]!), "utf8")) as {
    env: { tool: string; bun: string };
    results: Array<{ variant: string; total: number; errors: number; ofCeiling?: number; isCeiling?: boolean }>;
  };
  expect(json.env.bun).toBe(Bun.version);
  expect(json.results.map((r) => r.variant)).toEqual([expect.stringContaining("ceiling"), "GET /me", "POST /auth/login (Argon2id)"]);
  for (const r of json.results) {
    expect(r.total).toBeGreaterThan(0);
    expect(r.errors).toBe(0);
    expect(r.ofCeiling).toBeGreaterThan(0);
  }
  expect(readFileSync(join(out, files[2]!), "utf8")).toStartWith("<svg");
  // The ceiling server it started is gone (the homebase process is stopped by the same cleanup list).
  expect(runningCeilings()).toEqual([]);
}, 120_000);

test("unknown scenario names are refused; --list names every scenario of the issue", () => {
  const bad = Bun.spawnSync([process.execPath, join(root, "bench/run.ts"), "nope"], { cwd: root });
  expect(bad.exitCode).toBe(2);
  expect(bad.stderr.toString()).toContain("unknown scenario");
  const list = Bun.spawnSync([process.execPath, join(root, "bench/run.ts"), "--list"], { cwd: root });
  expect(list.exitCode).toBe(0);
  const names = list.stdout.toString().split("\n").filter(Boolean).map((l) => l.split(/\s+/)[0]);
  expect(names.sort()).toEqual(["auth", "booking", "challenges", "chat", "health", "movies", "overhead", "reference-movies", "shop", "todos", "uploads"]);
});

test("`bun run bench chat --instances=2`: two instances on one port, two load clients, NATS fanout between them, results and ramp chart", async () => {
  const dir = mkdtempSync(join(tmpdir(), "homebase-bench-cluster-results-"));
  try {
    const args = ["chat", "--quick", "--instances=2", "--clients=2", "--steps=100,200", "--hold=3", "--users=20"];
    const proc = Bun.spawn([process.execPath, join(root, "bench/run.ts"), ...args], {
      cwd: root,
      env: { ...process.env, HOMEBASE_BENCH_RESULTS: dir, HOMEBASE_BENCH_NO_BUILD: "1" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect({ code, stderr: code === 0 ? "" : stderr }).toEqual({ code: 0, stderr: "" });
    expect(stdout).toContain("| 2 instances: 200 sockets |");
    const files = readdirSync(dir).map((f) => f.replace(/^\d{4}-\d{2}-\d{2}-/, "")).sort();
    expect(files).toEqual(["chat-cluster-ramp.json", "chat-cluster-ramp.svg", "chat-cluster.json", "chat-cluster.md", "chat-cluster.svg"]);
    const ramp = JSON.parse(readFileSync(join(dir, readdirSync(dir).find((f) => f.endsWith("chat-cluster-ramp.json"))!), "utf8")) as {
      config: { instances: number; clients: number; destinations: string[] };
      steps: Array<{ sockets: number; connectAttempts: number; connectFailures: number; failures: number; sentPerSec: number; deliveredPerSec: number; p99: number; socketsPerServer: number[]; serverRss: number }>;
    };
    expect(ramp.config.destinations).toEqual(["127.0.0.2", "127.0.0.3"]);
    expect(ramp.steps.map((s) => [s.sockets, s.connectAttempts, s.connectFailures, s.failures])).toEqual([
      [100, 100, 0, 0],
      [200, 100, 0, 0],
    ]);
    for (const s of ramp.steps) {
      // Both instances hold sockets of the shared port (each also has a few dozen own descriptors).
      expect(s.socketsPerServer).toHaveLength(2);
      for (const fds of s.socketsPerServer) expect(fds).toBeGreaterThan(40);
      expect(s.sentPerSec).toBeGreaterThan(0);
      // A room's 20 sockets are spread over both instances: without the NATS fanout each message
      // would reach about half of its 19 receivers.
      expect(s.deliveredPerSec).toBeGreaterThan(0.8 * 19 * s.sentPerSec);
      expect(Number.isFinite(s.p99)).toBe(true);
      expect(s.serverRss).toBeGreaterThan(0);
    }
    expect(readFileSync(join(dir, readdirSync(dir).find((f) => f.endsWith("chat-cluster-ramp.svg"))!), "utf8")).toStartWith("<svg");
    // The load clients are gone (the homebase instances and backends stop with the same cleanup).
    expect(runningCeilings("bench/chat-client.ts")).toEqual([]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 180_000);
