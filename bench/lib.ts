// The benchmark harness every scenario uses: the release binary on a fresh data dir, pinned to
// one CPU; the load generator (oha, JSON output; wrk when oha cannot be had) pinned to the
// other; a bare Bun.serve ceiling driven the same way in the same run; results as JSON,
// a markdown table and an SVG chart under bench/results/.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort } from "../src/testing/ports";
import { startServer, type RunningServer } from "../src/testing/process";
import { waitFor } from "../src/testing/wait";

export const root = resolve(import.meta.dir, "..");
export const resultsDir = process.env.HOMEBASE_BENCH_RESULTS ?? join(import.meta.dir, "results");

export interface LoadOptions {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  connections: number;
  seconds: number;
  /** Fixed request rate (req/s) instead of as fast as possible; oha corrects for coordinated omission. */
  rate?: number;
  /** A file of URLs, one per line, picked at random per request (instead of `url`). */
  urlsFile?: string;
  /** A file of request bodies, one per line, picked at random per request (instead of `body`). */
  bodyLinesFile?: string;
}

export interface LoadResult {
  variant: string;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  errors: number;
  total: number;
  /** The bare Bun.serve run the others are compared with. */
  isCeiling?: boolean;
  /** Fraction of the same-run ceiling's RPS, set by the runner. */
  ofCeiling?: number;
  /** Anything scenario-specific worth a column (hit ratio, bookings/s, …). */
  extra?: Record<string, number | string>;
  raw?: unknown;
}

export interface BenchContext {
  quick: boolean;
  /** Seconds per load run. */
  seconds: number;
  tool: LoadTool;
  /** Processes and dirs to clean up, also on Ctrl-C. */
  cleanup: Array<() => Promise<void> | void>;
  progress(label: string): void;
}

export interface Scenario {
  name: string;
  title: string;
  /** Set while the domain has not landed: listed, never faked. */
  pending?: string;
  /** Results file name and title when a mode of the scenario differs (chat --instances=N). */
  output?(): { name: string; title: string };
  run(ctx: BenchContext): Promise<LoadResult[]>;
}

export interface LoadTool {
  kind: "oha" | "wrk";
  bin: string;
  note: string;
}

/** oha from PATH or .tools, built with cargo when possible; else wrk (said in the output). */
export function findLoadTool(build = process.env.HOMEBASE_BENCH_NO_BUILD !== "1"): LoadTool {
  const wrk = Bun.which("wrk");
  if (process.env.HOMEBASE_BENCH_TOOL === "wrk" && wrk) return { kind: "wrk", bin: wrk, note: "wrk (HOMEBASE_BENCH_TOOL=wrk)" };
  const local = join(root, ".tools/oha/bin/oha");
  const onPath = Bun.which("oha");
  if (onPath) return { kind: "oha", bin: onPath, note: "oha from PATH" };
  if (existsSync(local)) return { kind: "oha", bin: local, note: "oha from .tools" };
  if (build && Bun.which("cargo")) {
    process.stderr.write("[bench] building oha with cargo into .tools/oha (once)…\n");
    const r = Bun.spawnSync(["cargo", "install", "oha", "--locked", "--root", join(root, ".tools/oha")], { stdout: "inherit", stderr: "inherit" });
    if (r.exitCode === 0 && existsSync(local)) return { kind: "oha", bin: local, note: "oha built into .tools" };
  }
  if (wrk) return { kind: "wrk", bin: wrk, note: "wrk (oha could not be found or built: no JSON output, fixed-rate runs unsupported)" };
  throw new Error("no load generator: install oha (cargo install oha --locked) or wrk (apt-get install wrk)");
}

/** The CPUs the server and the load generator get, when there are two or more. */
function pin(cpu: number, cmd: string[]): string[] {
  return cpus().length >= 2 && Bun.which("taskset") ? ["taskset", "-c", String(cpu), ...cmd] : cmd;
}

export async function runLoad(ctx: BenchContext, variant: string, opts: LoadOptions): Promise<LoadResult> {
  // Warm-up, not measured: JIT, SQLite page cache, connection pools, the cache under test.
  const warmup = ctx.quick ? 0.5 : 2;
  ctx.progress(`${variant}: warming up ${warmup}s`);
  const w = { ...opts, seconds: warmup };
  await (ctx.tool.kind === "oha" ? runOha(ctx.tool.bin, variant, w) : runWrk(ctx.tool.bin, variant, w));
  ctx.progress(`${variant}: ${opts.seconds}s at ${opts.connections} connections${opts.rate ? `, ${opts.rate} req/s` : ""}`);
  const ticker = startCountdown(ctx, variant, opts.seconds);
  try {
    return ctx.tool.kind === "oha" ? await runOha(ctx.tool.bin, variant, opts) : await runWrk(ctx.tool.bin, variant, opts);
  } finally {
    clearInterval(ticker);
  }
}

function startCountdown(ctx: BenchContext, variant: string, seconds: number) {
  const end = Date.now() + seconds * 1000;
  return setInterval(() => ctx.progress(`${variant}: ${Math.max(0, Math.ceil((end - Date.now()) / 1000))}s left`), 1000);
}

async function runOha(bin: string, variant: string, o: LoadOptions): Promise<LoadResult> {
  const cmd = [bin, "--no-tui", "--output-format", "json", "-z", `${Math.round(o.seconds * 1000)}ms`, "-c", String(o.connections), "-m", o.method ?? "GET"];
  if (o.rate) cmd.push("-q", String(o.rate), "--latency-correction");
  for (const [k, v] of Object.entries(o.headers ?? {})) cmd.push("-H", `${k}: ${v}`);
  if (o.body !== undefined) cmd.push("-d", o.body);
  if (o.bodyLinesFile) cmd.push("-Z", o.bodyLinesFile);
  if (o.urlsFile) cmd.push("--urls-from-file", o.urlsFile);
  else cmd.push(o.url);
  const proc = Bun.spawn(pin(1, cmd), { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`oha failed (${code}): ${err}`);
  const raw = JSON.parse(out) as {
    summary: { requestsPerSec: number; slowest: number };
    latencyPercentiles: Record<string, number | null>;
    statusCodeDistribution: Record<string, number>;
    errorDistribution: Record<string, number>;
  };
  const byStatus = Object.entries(raw.statusCodeDistribution);
  const ok = byStatus.filter(([s]) => s.startsWith("2")).reduce((a, [, n]) => a + n, 0);
  // Requests cut off when the -z duration ends are not failures of the server.
  const transport = Object.entries(raw.errorDistribution ?? {})
    .filter(([kind]) => kind !== "aborted due to deadline")
    .reduce((a, [, n]) => a + n, 0);
  const total = byStatus.reduce((a, [, n]) => a + n, 0) + transport;
  const ms = (k: string) => (raw.latencyPercentiles[k] ?? Number.NaN) * 1000;
  return { variant, rps: raw.summary.requestsPerSec, p50: ms("p50"), p95: ms("p95"), p99: ms("p99"), max: raw.summary.slowest * 1000, errors: total - ok, total, raw };
}

async function runWrk(bin: string, variant: string, o: LoadOptions): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), "homebase-wrk-"));
  const script = join(dir, "report.lua");
  const lua = [
    `wrk.method = "${o.method ?? "GET"}"`,
    // A URL list: each request takes a random path from it (what oha's --urls-from-file does).
    o.urlsFile
      ? `local paths = {} for line in io.lines("${o.urlsFile}") do local p = line:match("^https?://[^/]+(/.*)$") if p then paths[#paths + 1] = p end end
request = function() return wrk.format(nil, paths[math.random(#paths)]) end`
      : "",
    o.body !== undefined ? `wrk.body = [==[${o.body}]==]` : "",
    o.bodyLinesFile
      ? `local bodies = {} for line in io.lines("${o.bodyLinesFile}") do bodies[#bodies + 1] = line end
request = function() return wrk.format(nil, nil, nil, bodies[math.random(#bodies)]) end`
      : "",
    ...Object.entries(o.headers ?? {}).map(([k, v]) => `wrk.headers["${k}"] = "${v}"`),
    // Non-2xx responses count as errors, as with oha.
    `local bad = 0`,
    `response = function(status) if status >= 300 then bad = bad + 1 end end`,
    `done = function(s, l, r) io.write(string.format('{"rps":%f,"p50":%f,"p95":%f,"p99":%f,"max":%f,"errors":%d,"total":%d}\\n', s.requests / (s.duration / 1e6), l:percentile(50)/1000, l:percentile(95)/1000, l:percentile(99)/1000, l.max/1000, s.errors.status + s.errors.connect + s.errors.read + s.errors.write + s.errors.timeout, s.requests)) end`,
  ].join("\n");
  writeFileSync(script, lua);
  const threads = Math.max(1, Math.min(2, o.connections));
  const proc = Bun.spawn(pin(1, [bin, `-t${threads}`, `-c${Math.max(threads, o.connections)}`, `-d${Math.max(1, Math.ceil(o.seconds))}s`, "-s", script, o.url]), { stdout: "pipe", stderr: "pipe" });
  const [out, , code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  rmSync(dir, { recursive: true, force: true });
  if (code !== 0) throw new Error(`wrk failed (${code}): ${out}`);
  const line = out.trim().split("\n").pop() ?? "{}";
  return { variant, ...(JSON.parse(line) as Omit<LoadResult, "variant">) };
}

/** A bare Bun.serve answering a JSON body of `bytes` bytes: the runtime's ceiling for that response. */
export async function startCeiling(ctx: BenchContext, bytes: number): Promise<string> {
  const port = await freePort();
  const proc = Bun.spawn(pin(0, [process.execPath, join(import.meta.dir, "ceiling.ts"), String(port), String(bytes)]), { stdout: "ignore", stderr: "inherit" });
  ctx.cleanup.push(async () => {
    proc.kill();
    await proc.exited;
  });
  const url = `http://127.0.0.1:${port}/`;
  await waitFor(() => fetch(url).then((r) => r.ok, () => false), { what: "the ceiling server" });
  return url;
}

/** dist/homebase (built when missing or when HOMEBASE_BENCH_REBUILD=1), or HOMEBASE_BIN. */
let rebuilt = false;
export function releaseBinary(): string {
  const bin = resolve(process.env.HOMEBASE_BIN ?? join(root, "dist/homebase"));
  if (process.env.HOMEBASE_BIN) return bin;
  if (!existsSync(bin) || (process.env.HOMEBASE_BENCH_REBUILD === "1" && !rebuilt)) {
    rebuilt = true;
    const build = Bun.spawnSync([process.execPath, join(root, "scripts/build.ts")], { cwd: root, stdout: "inherit", stderr: "inherit" });
    if (build.exitCode !== 0) throw new Error("build failed");
  }
  return bin;
}

/** The release binary on a fresh data dir (or `dataDir`, which the caller then owns), pinned to CPU 0. */
export async function startHomebase(ctx: BenchContext, env: Record<string, string> = {}, dataDir?: string): Promise<RunningServer> {
  const bin = releaseBinary();
  const launcher = join(mkdtempSync(join(tmpdir(), "homebase-bench-bin-")), "pinned.sh");
  // taskset in front of the binary; startServer runs the file named by `bin`.
  writeFileSync(launcher, `#!/bin/sh\nexec ${pin(0, [bin]).join(" ")} "$@"\n`, { mode: 0o755 });
  // Scenarios sign up hundreds of users from loopback: the signup throttle is not what they measure.
  const server = await startServer({ HOMEBASE_LOG_LEVEL: "warn", HOMEBASE_SIGNUP_PER_IP: "0", ...env }, { bin: launcher, dataDir });
  ctx.cleanup.push(async () => {
    await server.stop();
    if (!dataDir) rmSync(server.dataDir, { recursive: true, force: true });
  });
  return server;
}

/** Reads one series of a Prometheus text exposition: sum of the samples matching name and labels. */
export async function scrape(baseUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

/**
 * Runs `run` and adds what the server's SQLite writer did meanwhile (its homebase_db_ counters):
 * writes per group commit and per WAL sync, the event loop's time per commit and in COMMIT.
 */
export async function withWriterFigures(baseUrl: string, run: () => Promise<LoadResult>): Promise<LoadResult> {
  const names = ["writes", "write_batches", "wal_syncs", "write_batch_seconds", "commit_seconds"] as const;
  const read = async () => Object.fromEntries(await Promise.all(names.map(async (n) => [n, await scrape(baseUrl, `homebase_db_${n}_total`)]))) as Record<(typeof names)[number], number>;
  const before = await read();
  const result = await run();
  const after = await read();
  const d = (n: (typeof names)[number]) => after[n] - before[n];
  const per = (a: number, b: number, digits = 1) => (b > 0 ? (a / b).toFixed(digits) : "–");
  return {
    ...result,
    extra: {
      ...result.extra,
      "writes/commit": per(d("writes"), d("write_batches")),
      "writes/sync": per(d("writes"), d("wal_syncs")),
      "µs/commit (in COMMIT)": `${per(d("write_batch_seconds") * 1e6, d("write_batches"), 0)} (${per(d("commit_seconds") * 1e6, d("write_batches"), 0)})`,
    },
  };
}

export function markdownTable(results: LoadResult[]): string {
  const extras = [...new Set(results.flatMap((r) => Object.keys(r.extra ?? {})))];
  const f = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : "–");
  return [
    `| variant | RPS | % of ceiling | p50 ms | p95 ms | p99 ms | max ms | errors |${extras.map((e) => ` ${e} |`).join("")}`,
    `|---|---:|---:|---:|---:|---:|---:|---:|${extras.map(() => "---:|").join("")}`,
    ...results.map(
      (r) =>
        `| ${r.variant} | ${f(r.rps, 0)} | ${r.ofCeiling === undefined ? "–" : `${f(100 * r.ofCeiling, 1)} %`} | ${f(r.p50)} | ${f(r.p95)} | ${f(r.p99)} | ${f(r.max, 1)} | ${r.errors}/${r.total} |${extras.map((e) => ` ${r.extra?.[e] ?? "–"} |`).join("")}`,
    ),
  ].join("\n");
}

const escapeXml = (s: string) => s.replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]!);

/** Two panels: RPS bars, and p50/p95/p99 bars (log scale), one group per variant. */
export function svgChart(title: string, results: LoadResult[]): string {
  const width = 960;
  const rowH = 26;
  const left = 260;
  const panelW = (width - left - 40) / 2;
  const height = 70 + results.length * rowH + 40;
  const maxRps = Math.max(1, ...results.map((r) => r.rps));
  const lat = results.flatMap((r) => [r.p50, r.p95, r.p99]).filter((x) => Number.isFinite(x) && x > 0);
  const lo = Math.log10(Math.max(0.01, Math.min(...lat, 1)));
  const hi = Math.log10(Math.max(...lat, 10));
  const latX = (ms: number) => (Number.isFinite(ms) && ms > 0 ? ((Math.log10(ms) - lo) / (hi - lo || 1)) * (panelW - 10) : 0);
  const colors = { rps: "#4878d0", p50: "#6acc64", p95: "#ee854a", p99: "#d65f5f" };
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="22" font-size="16" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="${left}" y="50" font-weight="bold">requests/s (max ${Math.round(maxRps)})</text>`,
    `<text x="${left + panelW + 20}" y="50" font-weight="bold">latency ms, log scale: <tspan fill="${colors.p50}">p50</tspan> <tspan fill="${colors.p95}">p95</tspan> <tspan fill="${colors.p99}">p99</tspan></text>`,
  ];
  results.forEach((r, i) => {
    const y = 62 + i * rowH;
    const w = (r.rps / maxRps) * (panelW - 60);
    parts.push(`<text x="${left - 8}" y="${y + 15}" text-anchor="end">${escapeXml(r.variant)}</text>`);
    parts.push(`<rect x="${left}" y="${y + 3}" width="${w.toFixed(1)}" height="16" fill="${colors.rps}"/>`);
    parts.push(`<text x="${left + w + 4}" y="${y + 15}">${Math.round(r.rps)}</text>`);
    const x0 = left + panelW + 20;
    (["p99", "p95", "p50"] as const).forEach((k, j) => {
      const h = 16 - j * 4;
      parts.push(`<rect x="${x0}" y="${y + 3 + (16 - h) / 2}" width="${latX(r[k]).toFixed(1)}" height="${h}" fill="${colors[k]}"><title>${k} ${r[k].toFixed(2)} ms</title></rect>`);
    });
    parts.push(`<text x="${x0 + latX(r.p99) + 4}" y="${y + 15}">${Number.isFinite(r.p99) ? r.p99.toFixed(1) : "–"}</text>`);
  });
  parts.push(`<text x="10" y="${height - 12}" fill="#666">${escapeXml(environmentLine())}</text>`, "</svg>");
  return parts.join("\n");
}

export function environment(tool: LoadTool) {
  const commit = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { cwd: root }).stdout.toString().trim() || null;
  return { cpu: cpus()[0]?.model ?? "?", cores: cpus().length, bun: Bun.version, commit, tool: tool.kind, toolNote: tool.note, pinned: cpus().length >= 2 && !!Bun.which("taskset") };
}

function environmentLine(): string {
  return `${cpus().length} × ${cpus()[0]?.model ?? "?"} · bun ${Bun.version} · ${new Date().toISOString().slice(0, 16)}Z`;
}

/** Writes <date>-<scenario>.json, .md and .svg; returns the markdown. */
export function writeResults(scenario: Scenario, tool: LoadTool, results: LoadResult[], config: Record<string, unknown>): string {
  mkdirSync(resultsDir, { recursive: true });
  const { name, title } = scenario.output?.() ?? scenario;
  const base = join(resultsDir, `${new Date().toISOString().slice(0, 10)}-${name}`);
  const table = markdownTable(results);
  writeFileSync(`${base}.json`, JSON.stringify({ scenario: name, title, env: environment(tool), config, results, table }, null, 2));
  const md = `### ${title}\n\n${table}\n\n![${name}](${base.split("/").pop()}.svg)\n`;
  writeFileSync(`${base}.md`, md);
  writeFileSync(`${base}.svg`, svgChart(title, results));
  return md;
}
