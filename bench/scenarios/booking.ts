// Scenario "booking": booking throughput and latency under contention on ONE screening.
// N clients (one account each) loop: book 1-3 consecutive seats of a random row of the same
// screening; when it succeeds, cancel it at once (so the 25 seats never run out and contention
// never stops). 201 and 409 (seats taken, or the 5-seat cap) are both correct answers; anything
// else is an error. oha can't vary the body per request, so the load comes from a small Bun
// driver — this file run with `--drive`, pinned to the load generator's CPU — and the ceiling row
// is the same driver against a bare Bun.serve.
// Variants: locks and rate limits in-process (embedded), then on Redis (a redis-server started
// here, when one is installed) — the multi-instance setup, where every batch takes a Redis lock.
// The booking limit is on at a value the load can't reach, so its checks are in every row; the
// default notifier (~500 ms per confirmation) runs too, off the request path.
import type { Subprocess } from "bun";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { newUser } from "../../src/testing/app";
import { freePort } from "../../src/testing/ports";
import type { RunningServer } from "../../src/testing/process";
import { waitFor } from "../../src/testing/wait";
import { startCeiling, startHomebase, withWriterFigures, type BenchContext, type LoadResult, type Scenario } from "../lib";
import { seedMovies } from "./movies";
import { seededRandom } from "../../src/platform/random";

interface DriveConfig {
  url: string;
  screeningId: string;
  tokens: string[];
  seconds: number;
  seed: number;
}

interface DriveResult {
  seconds: number;
  latencies: number[];
  statuses: Record<string, number>;
  transportErrors: number;
}

/** The driver: every client books, and cancels what it got, until the time is up. */
async function drive(cfg: DriveConfig): Promise<DriveResult> {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let transportErrors = 0;
  const started = performance.now();
  const deadline = started + cfg.seconds * 1000;
  await Promise.all(
    cfg.tokens.map(async (token, i) => {
      const random = seededRandom(cfg.seed + i);
      const headers = { "content-type": "application/json", authorization: `Bearer ${token}` };
      while (performance.now() < deadline) {
        const row = "ABCDE"[Math.floor(random() * 5)]!;
        const size = 1 + Math.floor(random() * 3);
        const first = 1 + Math.floor(random() * (6 - size));
        const seats = Array.from({ length: size }, (_, k) => `${row}${first + k}`);
        const t0 = performance.now();
        try {
          const res = await fetch(`${cfg.url}/reservations`, { method: "POST", headers, body: JSON.stringify({ screeningId: cfg.screeningId, seats }) });
          const body = (await res.json().catch(() => null)) as { id?: string } | null;
          latencies.push(performance.now() - t0);
          statuses[res.status] = (statuses[res.status] ?? 0) + 1;
          if (res.status === 201 && body?.id) await (await fetch(`${cfg.url}/reservations/${body.id}`, { method: "DELETE", headers })).arrayBuffer();
        } catch {
          transportErrors++;
        }
      }
    }),
  );
  return { seconds: (performance.now() - started) / 1000, latencies, statuses, transportErrors };
}

function pinned(cpu: number, cmd: string[]): string[] {
  return cpus().length >= 2 && Bun.which("taskset") ? ["taskset", "-c", String(cpu), ...cmd] : cmd;
}

async function runDriver(ctx: BenchContext, variant: string, cfg: DriveConfig): Promise<LoadResult> {
  ctx.progress(`${variant}: ${cfg.seconds}s with ${cfg.tokens.length} clients`);
  const dir = mkdtempSync(join(tmpdir(), "homebase-booking-"));
  try {
    const file = join(dir, "drive.json");
    writeFileSync(file, JSON.stringify(cfg));
    const proc = Bun.spawn(pinned(1, [process.execPath, import.meta.path, "--drive", file]), { stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    if (code !== 0) throw new Error(`booking driver failed (${code}): ${err}`);
    const r = JSON.parse(out) as DriveResult;
    const sorted = r.latencies.sort((a, b) => a - b);
    const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
    const total = sorted.length + r.transportErrors;
    const ok = (r.statuses["201"] ?? 0) + (r.statuses["409"] ?? 0) + (r.statuses["200"] ?? 0);
    return {
      variant,
      rps: sorted.length / r.seconds,
      p50: pct(50),
      p95: pct(95),
      p99: pct(99),
      max: sorted[sorted.length - 1] ?? Number.NaN,
      errors: total - ok,
      total,
      // Keys that aren't integers: JS would list "201" and "409" before every other key.
      extra: {
        "booked/s": Math.round((r.statuses["201"] ?? 0) / r.seconds),
        "201 booked": r.statuses["201"] ?? 0,
        "409 refused": r.statuses["409"] ?? 0,
      },
      raw: { statuses: r.statuses, transportErrors: r.transportErrors },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function startRedis(ctx: BenchContext): Promise<string | null> {
  const bin = Bun.which("redis-server");
  if (!bin) return null;
  const port = await freePort();
  const proc: Subprocess = Bun.spawn(pinned(0, [bin, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]), {
    stdout: "ignore",
    stderr: "ignore",
  });
  ctx.cleanup.push(async () => {
    proc.kill();
    await proc.exited;
  });
  const url = `redis://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      try {
        const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
        socket.end();
        return true;
      } catch {
        return false;
      }
    },
    { what: "redis-server" },
  );
  return url;
}

/** Accounts for the clients (Argon2id on the server's core: a second or two) and one screening to fight over. */
async function prepare(server: RunningServer, clients: number): Promise<{ screeningId: string; tokens: string[]; bytes: number }> {
  seedMovies(server);
  const list = (await (await fetch(`${server.url}/movies`)).json()) as { items: Array<{ screenings: Array<{ id: string; startTime: string }> }> };
  // The most distant screening: it won't start during the run.
  const screening = list.items.flatMap((m) => m.screenings).sort((a, b) => b.startTime.localeCompare(a.startTime))[0];
  if (!screening) throw new Error("the seeded catalog has no upcoming screening");
  const json = { "content-type": "application/json" };
  const tokens = await Promise.all(
    Array.from({ length: clients }, async () => {
      const user = newUser("bench");
      await fetch(`${server.url}/auth/signup`, { method: "POST", headers: json, body: JSON.stringify(user) });
      const login = await fetch(`${server.url}/auth/login`, { method: "POST", headers: json, body: JSON.stringify({ email: user.email, password: user.password }) });
      return ((await login.json()) as { accessToken: string }).accessToken;
    }),
  );
  // One booking (cancelled at once) for the size of the answer, which the ceiling then sends.
  const auth = { ...json, authorization: `Bearer ${tokens[0]}` };
  const sample = await fetch(`${server.url}/reservations`, { method: "POST", headers: auth, body: JSON.stringify({ screeningId: screening.id, seats: ["A1"] }) });
  const text = await sample.text();
  if (sample.status !== 201) throw new Error(`sample booking failed: ${sample.status} ${text}`);
  await fetch(`${server.url}/reservations/${(JSON.parse(text) as { id: string }).id}`, { method: "DELETE", headers: auth });
  return { screeningId: screening.id, tokens, bytes: text.length };
}

export const booking: Scenario = {
  name: "booking",
  title: "booking: contention on one screening (book 1-3 seats, cancel on success)",
  async run(ctx: BenchContext) {
    const clients = ctx.quick ? 16 : 32;
    const env = {
      HOMEBASE_BOOKING_RATE_LIMIT: "1000000",
      HOMEBASE_MOVIES_RATE_LIMIT: "1000000000",
      HOMEBASE_LOGIN_MAX_ATTEMPTS: "1000",
      // The confirmations queue behind the ~500 ms notifier; don't wait for them at the end.
      HOMEBASE_SHUTDOWN_GRACE_MS: "2000",
    };
    const results: LoadResult[] = [];

    const embedded = await startHomebase(ctx, env);
    const { bytes, ...target } = await prepare(embedded, clients);
    const ceiling = await startCeiling(ctx, bytes);
    results.push({
      ...(await runDriver(ctx, `ceiling: Bun.serve, ${bytes} B JSON, same client`, { url: ceiling.replace(/\/$/, ""), screeningId: target.screeningId, tokens: target.tokens, seconds: ctx.seconds, seed: 1 })),
      isCeiling: true,
    });
    results.push(await withWriterFigures(embedded.url, () => runDriver(ctx, `POST /reservations, ${clients} clients, 1 screening — in-process lock`, { url: embedded.url, ...target, seconds: ctx.seconds, seed: 1 })));

    const redisUrl = await startRedis(ctx);
    if (redisUrl) {
      const withRedis = await startHomebase(ctx, { ...env, REDIS_URL: redisUrl });
      const { bytes: _, ...redisTarget } = await prepare(withRedis, clients);
      results.push(await withWriterFigures(withRedis.url, () => runDriver(ctx, `POST /reservations, ${clients} clients, 1 screening — Redis lock + Lua limits`, { url: withRedis.url, ...redisTarget, seconds: ctx.seconds, seed: 1 })));
    } else {
      process.stderr.write("\n[bench] redis-server not installed: the Redis variant is skipped (apt-get install redis-server)\n");
    }
    return results;
  },
};

if (import.meta.main && process.argv[2] === "--drive") {
  const cfg = JSON.parse(await Bun.file(process.argv[3]!).text()) as DriveConfig;
  process.stdout.write(JSON.stringify(await drive(cfg)));
}
