// Keeps the benchmark harness from rotting: the auth scenario in quick mode, 3 s per run,
// end to end (build, start, ceiling, load, results files). No timing is asserted.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "..");
const out = mkdtempSync(join(tmpdir(), "homebase-bench-results-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function runningCeilings(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes("bench/ceiling.ts")) pids.push(Number(entry));
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
