// Auth scenario: GET /me and POST /auth/login against a fresh homebase, beside a bare
// Bun.serve ceiling returning a body of the same size, driven the same way in the same run.
//   bun bench/auth.ts [--seconds 10] [--connections 64]
// Uses oha (JSON output) from PATH or .tools/oha, else wrk. Writes bench/results/<date>-auth.json.
import { mkdirSync, mkdtempSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir, cpus } from "node:os";
import { join, resolve } from "node:path";
import { startServer } from "../src/testing/process";
import { freePort } from "../src/testing/ports";
import { newUser } from "../src/testing/app";
import { waitFor } from "../src/testing/wait";

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const seconds = flag("seconds", 10);
const connections = flag("connections", 64);
const root = resolve(import.meta.dir, "..");
const ohaBin = [Bun.which("oha"), join(root, ".tools/oha/bin/oha")].find((p) => p && existsSync(p)) ?? null;

interface Result {
  name: string;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  errors: number;
  total: number;
  raw?: unknown;
}

async function load(name: string, url: string, opts: { method?: string; headers?: Record<string, string>; body?: string; connections: number }): Promise<Result> {
  process.stderr.write(`[bench] ${name}: ${seconds}s at ${opts.connections} connections…\n`);
  if (ohaBin) {
    const cmd = [ohaBin, "--no-tui", "--output-format", "json", "-z", `${seconds}s`, "-c", String(opts.connections), "-m", opts.method ?? "GET"];
    for (const [k, v] of Object.entries(opts.headers ?? {})) cmd.push("-H", `${k}: ${v}`);
    if (opts.body) cmd.push("-d", opts.body);
    cmd.push(url);
    const proc = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
    if (proc.exitCode !== 0) throw new Error(`oha failed: ${proc.stderr.toString()}`);
    const raw = JSON.parse(proc.stdout.toString()) as {
      summary: { requestsPerSec: number; successRate: number; slowest: number };
      latencyPercentiles: Record<string, number>;
      statusCodeDistribution: Record<string, number>;
    };
    const total = Object.values(raw.statusCodeDistribution).reduce((a, b) => a + b, 0);
    const ok = Object.entries(raw.statusCodeDistribution).filter(([s]) => s.startsWith("2")).reduce((a, [, n]) => a + n, 0);
    const ms = (k: string) => (raw.latencyPercentiles[k] ?? NaN) * 1000;
    return { name, rps: raw.summary.requestsPerSec, p50: ms("p50"), p95: ms("p95"), p99: ms("p99"), max: raw.summary.slowest * 1000, errors: total - ok, total, raw };
  }
  // wrk fallback (no JSON output): a Lua script reports what we need.
  const script = join(mkdtempSync(join(tmpdir(), "wrk-")), "s.lua");
  writeFileSync(
    script,
    `wrk.method = "${opts.method ?? "GET"}"\n` +
      (opts.body ? `wrk.body = [[${opts.body}]]\n` : "") +
      Object.entries(opts.headers ?? {}).map(([k, v]) => `wrk.headers["${k}"] = "${v}"\n`).join("") +
      `done = function(s, l, r) io.write(string.format('{"rps":%f,"p50":%f,"p95":%f,"p99":%f,"max":%f,"errors":%d,"total":%d}\\n', s.requests / (s.duration / 1e6), l:percentile(50)/1000, l:percentile(95)/1000, l:percentile(99)/1000, l.max/1000, s.errors.status + s.errors.connect + s.errors.read + s.errors.write + s.errors.timeout, s.requests)) end\n`,
  );
  const proc = Bun.spawnSync(["wrk", "-t2", `-c${opts.connections}`, `-d${seconds}s`, "-s", script, url], { stdout: "pipe" });
  const line = proc.stdout.toString().trim().split("\n").pop() ?? "{}";
  return { name, ...(JSON.parse(line) as Omit<Result, "name">) };
}

// The artifact users run: dist/homebase (built when missing), or HOMEBASE_BIN.
const bin = resolve(process.env.HOMEBASE_BIN ?? join(root, "dist/homebase"));
if (!existsSync(bin)) {
  const build = Bun.spawnSync([process.execPath, join(root, "scripts/build.ts")], { cwd: root, stdout: "inherit", stderr: "inherit" });
  if (build.exitCode !== 0) process.exit(build.exitCode ?? 1);
}
const server = await startServer({ HOMEBASE_LOG_LEVEL: "warn", HOMEBASE_LOGIN_MAX_ATTEMPTS: "1000" }, { bin });
const user = newUser("bench");
await fetch(`${server.url}/auth/signup`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(user) });
const login = (await (await fetch(`${server.url}/auth/login`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ email: user.email, password: user.password }),
})).json()) as { accessToken: string };
const meBody = await (await fetch(`${server.url}/me`, { headers: { authorization: `Bearer ${login.accessToken}` } })).text();

const ceilingPort = await freePort();
const ceiling = Bun.spawn([process.execPath, join(import.meta.dir, "ceiling.ts"), String(ceilingPort), String(meBody.length)], { stdout: "ignore" });
await waitFor(() => fetch(`http://127.0.0.1:${ceilingPort}/`).then((r) => r.ok, () => false), { what: "the ceiling server" });

const results: Result[] = [];
try {
  results.push(await load("ceiling (bare Bun.serve)", `http://127.0.0.1:${ceilingPort}/`, { connections }));
  results.push(await load("GET /me", `${server.url}/me`, { headers: { authorization: `Bearer ${login.accessToken}` }, connections }));
  results.push(
    await load("POST /auth/login", `${server.url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: user.email, password: user.password }),
      connections: Math.min(connections, 16),
    }),
  );
} finally {
  ceiling.kill();
  await server.stop();
}

const ceilingRps = results[0]!.rps;
const table = [
  "| scenario | RPS | % of ceiling | p50 ms | p95 ms | p99 ms | max ms | errors |",
  "|---|---:|---:|---:|---:|---:|---:|---:|",
  ...results.map((r) =>
    `| ${r.name} | ${r.rps.toFixed(0)} | ${((100 * r.rps) / ceilingRps).toFixed(1)} % | ${r.p50.toFixed(2)} | ${r.p95.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.max.toFixed(1)} | ${r.errors}/${r.total} |`,
  ),
].join("\n");
console.log(`load generator: ${ohaBin ? "oha" : "wrk (oha not found)"}; ${cpus().length} × ${cpus()[0]?.model}; bun ${Bun.version}\n`);
console.log(table);
const outDir = join(import.meta.dir, "results");
mkdirSync(outDir, { recursive: true });
const file = join(outDir, `${new Date().toISOString().slice(0, 10)}-auth.json`);
const env = { cpu: cpus()[0]?.model, cores: cpus().length, bun: Bun.version, tool: ohaBin ? "oha" : "wrk", seconds, connections, target: bin };
writeFileSync(file, JSON.stringify({ env, results, table }, null, 2));
console.log(`\nwrote ${file}`);
