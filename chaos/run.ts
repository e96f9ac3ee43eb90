// `bun run chaos [--quick] [--mongo]`: the long chaos and soak runs (not part of the test suite).
// Bounded in time, stops by itself, traffic only to 127.0.0.1. Against the real process
// (`bun src/main.ts`, or HOMEBASE_BIN) on the real redis-server / nats-server the harness starts;
// chat history on SQLite, or with --mongo on the harness's Mongo server (FerretDB on SQLite: it
// scans the whole collection on every history read, so the mixed load then measures that scan
// rather than homebase; the chat store suites cover Mongo either way):
//   1. maximum RPS of a mixed workload across the domains (closed loop, rising concurrency)
//   2. redis-server SIGKILLed during that load: failed requests, reads during the outage, recovery
//   3. nats-server stopped during writes: backlog, then every event delivered to every consumer
//   4. SIGKILL of the binary during writes on every write path, N rounds: lost writes
//   5. WebSocket abuse (malformed frames, floods, oversize, bad upgrades) beside a bystander pair:
//      the bystanders' delivery p99, unloaded vs under abuse (≤ 2× wanted)
//   6. soak at 80 % of (1): 10 minutes (1 with --quick); errors and the server's RSS over time
//   7. schemathesis over every operation, more examples than CI's and a random seed
// Writes bench/results/<date>-chaos.{json,md} and <date>-soak.svg; exits 1 if a criterion failed.
import { Database } from "bun:sqlite";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createModules } from "../src/app";
import { loadConfig } from "../src/config";
import { createPlatform } from "../src/platform";
import { subjectMatches, type ConsumerSpec } from "../src/platform/events/bus";
import { createLogger } from "../src/platform/logger";
import { ChatClient } from "../src/modules/chat/testkit";
import { startServer, type RunningServer } from "../src/testing/process";
import { killRedis, startNats, startRealBackends, startRedis, stopNats, stopRealBackends } from "../src/testing/servers";
import { waitFor } from "../src/testing/wait";
import { call, day, metricSum, must, percentile, rssBytes, signup } from "./lib";
import { fuzzConfig, runFuzz } from "./fuzz";
import { countAcked, prepare, promoteCli, verifyDurable, writeEverywhere, type Acked } from "./writers";
import { seedWorld, type World } from "./world";

const quick = process.argv.includes("--quick");
const withMongo = process.argv.includes("--mongo");
const soakSeconds = quick ? 60 : 600;
const resultsDir = process.env.HOMEBASE_BENCH_RESULTS ?? resolve(import.meta.dir, "../bench/results");
const date = new Date().toISOString().slice(0, 10);
const started = performance.now();
const log = (line: string) => process.stderr.write(`[chaos ${Math.round((performance.now() - started) / 1000)}s] ${line}\n`);

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}
const checks: Check[] = [];
const check = (name: string, ok: boolean, detail: string) => {
  checks.push({ name, ok, detail });
  log(`${ok ? "PASS" : "FAIL"} ${name}: ${detail}`);
};

// ---------------------------------------------------------------------------------------------
// The mixed workload: reads and writes of every domain, each with the statuses it may answer.

type Op = { name: string; weight: number; send: (base: string) => Promise<Response>; ok: number[] };

function mixedOps(w: World, sinkProject: string): Op[] {
  const token = w.owner.accessToken;
  const get = (path: string, auth = true) => (base: string) => call(base, "GET", path, auth ? { token } : {});
  return [
    { name: "challenge logs", weight: 4, send: get(`/challenges/logs/${w.owner.id}?count=10`), ok: [200] },
    { name: "leaderboard", weight: 2, send: get(`/challenges/${w.ids.challenge}/leaderboard`), ok: [200] },
    { name: "task list", weight: 3, send: get(`/projects/${w.ids.project}/tasks`), ok: [200] },
    { name: "movies", weight: 3, send: get("/movies?genre=THRILLER", false), ok: [200] },
    { name: "seats", weight: 2, send: get(`/screenings/${w.ids.screening}/seats`, false), ok: [200] },
    { name: "items main", weight: 2, send: get("/items/main", false), ok: [200] },
    { name: "item search", weight: 2, send: get("/items?keyword=lutein&sort=SALES", false), ok: [200] },
    { name: "room messages", weight: 2, send: get(`/rooms/${w.ids.room}/messages`), ok: [200] },
    { name: "me", weight: 2, send: get("/me"), ok: [200] },
    { name: "create task", weight: 1, send: (b) => call(b, "POST", `/projects/${sinkProject}/tasks`, { token, body: { id: Bun.randomUUIDv7(), title: "soak" } }), ok: [201] },
    { name: "create challenge", weight: 1, send: (b) => call(b, "POST", "/challenges", { token, body: { title: `soak ${Bun.randomUUIDv7()}`, startDate: day(0), endDate: day(2) } }), ok: [201] },
    { name: "create order", weight: 1, send: (b) => call(b, "POST", "/orders", { token, body: { kind: "NORMAL", items: [{ itemId: w.ids.item, quantity: 1 }] } }), ok: [201] },
  ];
}

interface LoadStats {
  requests: number;
  errors: number;
  rps: number;
  latencies: number[];
  errorSamples: string[];
  failedAt: number[];
}

/** Runs the mixed workload for `seconds`: closed loop with `concurrency`, or paced to `rate` req/s. */
async function load(base: string, ops: Op[], o: { seconds: number; concurrency: number; rate?: number; onTick?: (elapsed: number, live: LoadStats) => void }): Promise<LoadStats> {
  const table = ops.flatMap((op) => Array(op.weight).fill(op) as Op[]);
  const stats: LoadStats = { requests: 0, errors: 0, rps: 0, latencies: [], errorSamples: [], failedAt: [] };
  const t0 = performance.now();
  const end = t0 + o.seconds * 1000;
  let issued = 0;
  const worker = async () => {
    while (performance.now() < end) {
      if (o.rate) {
        // Open-loop pacing: request n goes out at n / rate seconds.
        const due = t0 + (issued / o.rate) * 1000;
        issued++;
        const wait = due - performance.now();
        if (wait > 0) await Bun.sleep(wait);
        if (performance.now() >= end) break;
      }
      const op = table[Math.floor(Math.random() * table.length)]!;
      const start = performance.now();
      try {
        const res = await op.send(base);
        const body = await res.text();
        if (!op.ok.includes(res.status)) {
          stats.errors++;
          stats.failedAt.push(start - t0);
          if (stats.errorSamples.length < 10) stats.errorSamples.push(`${op.name}: ${res.status} ${body.slice(0, 120)}`);
        }
      } catch (err) {
        stats.errors++;
        stats.failedAt.push(start - t0);
        if (stats.errorSamples.length < 10) stats.errorSamples.push(`${op.name}: ${String(err)}`);
      }
      stats.latencies.push(performance.now() - start);
      stats.requests++;
    }
  };
  const ticker = o.onTick ? setInterval(() => o.onTick!((performance.now() - t0) / 1000, stats), 250) : null;
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  if (ticker) clearInterval(ticker);
  stats.rps = stats.requests / ((performance.now() - t0) / 1000);
  return stats;
}

// ---------------------------------------------------------------------------------------------

/** The consumers the binary registers (names and subjects), read off a throwaway embedded instance. */
async function consumerSpecs(): Promise<ConsumerSpec[]> {
  const dir = mkdtempSync(join(tmpdir(), "homebase-specs-"));
  const platform = await createPlatform(loadConfig({ HOMEBASE_DATA_DIR: dir, HOMEBASE_LOG_LEVEL: "silent" }), { logger: createLogger("silent") });
  try {
    createModules(platform);
    return [...(platform.events as unknown as { consumers: ConsumerSpec[] }).consumers];
  } finally {
    await platform.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function scrape(base: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  return metricSum(await (await fetch(`${base}/metrics`)).text(), name, labels);
}

/** Delivery latency speaker → listener over `n` sequential messages, in ms. */
async function deliveryLatencies(speaker: ChatClient, listener: ChatClient, roomId: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const content = `lat ${Bun.randomUUIDv7()}`;
    const from = listener.events.length;
    const t = performance.now();
    speaker.send({ op: "send", roomId, clientMsgId: Bun.randomUUIDv7(), kind: "text", content });
    await listener.next((e) => e.event === "message" && e.message.content === content, "delivery", from, 20_000);
    out.push(performance.now() - t);
    // Under the per-socket rate (20/s): the speaker itself must never be limited.
    await Bun.sleep(60);
  }
  return out;
}

function soakSvg(points: Array<{ t: number; rssMb: number; rps: number }>, title: string, note: string): string {
  const width = 760;
  const height = 360;
  const left = 60;
  const right = 60;
  const top = 40;
  const bottom = 60;
  const maxT = Math.max(1, ...points.map((p) => p.t));
  const maxRss = Math.max(1, ...points.map((p) => p.rssMb)) * 1.2;
  const maxRps = Math.max(1, ...points.map((p) => p.rps)) * 1.2;
  const x = (t: number) => left + (t / maxT) * (width - left - right);
  const yR = (v: number) => height - bottom - (v / maxRss) * (height - top - bottom);
  const yQ = (v: number) => height - bottom - (v / maxRps) * (height - top - bottom);
  const line = (f: (p: (typeof points)[number]) => number) => points.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${f(p).toFixed(1)}`).join(" ");
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`,
    ...ticks.map((f) => `<line x1="${left}" x2="${width - right}" y1="${yR(maxRss * f)}" y2="${yR(maxRss * f)}" stroke="#eee"/><text x="${left - 6}" y="${yR(maxRss * f) + 4}" text-anchor="end" fill="#1f77b4">${Math.round(maxRss * f)}</text><text x="${width - right + 6}" y="${yQ(maxRps * f) + 4}" fill="#ff7f0e">${Math.round(maxRps * f)}</text>`),
    ...ticks.map((f) => `<text x="${x(maxT * f)}" y="${height - bottom + 18}" text-anchor="middle">${Math.round(maxT * f)} s</text>`),
    `<path d="${line((p) => yR(p.rssMb))}" fill="none" stroke="#1f77b4" stroke-width="2"/>`,
    `<path d="${line((p) => yQ(p.rps))}" fill="none" stroke="#ff7f0e" stroke-width="1.5" stroke-dasharray="4 3"/>`,
    `<text x="${left}" y="${height - 28}" fill="#1f77b4">— server RSS (MB, left axis)</text><text x="${left + 220}" y="${height - 28}" fill="#ff7f0e">- - requests/s (right axis)</text>`,
    `<text x="${left}" y="${height - 10}" fill="#666">${esc(note)}</text>`,
    "</svg>",
  ].join("\n");
}

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den ? num / den : 0;
}

// ---------------------------------------------------------------------------------------------

const results: Record<string, unknown> = { date, quick, soakSeconds, chatStore: withMongo ? "mongo (harness FerretDB)" : "sqlite" };
const cleanup: Array<() => Promise<unknown> | unknown> = [];
let server: RunningServer | undefined;

async function main(): Promise<void> {
  log(`chaos run${quick ? " (--quick)" : ""}: soak ${soakSeconds} s`);
  const backends = await startRealBackends();
  cleanup.push(() => stopRealBackends());
  const env = {
    REDIS_URL: backends.redisUrl,
    NATS_URL: backends.natsUrl,
    ...(withMongo ? { MONGO_URL: backends.mongoUrl } : {}),
    HOMEBASE_EVENT_NAMESPACE: `chaos${Date.now().toString(36)}`,
    HOMEBASE_LOG_LEVEL: "warn",
    HOMEBASE_MOVIES_RATE_LIMIT: "0",
    HOMEBASE_BOOKING_RATE_LIMIT: "0",
    HOMEBASE_CHAT_ROOM_LIST_PER_MIN: "1000000",
    // The mixed load's "create order" never pays: no per-user cap on unpaid orders.
    HOMEBASE_SHOP_UNPAID_ORDERS_MAX: "0",
    HOMEBASE_SHOP_UNPAID_UNITS_MAX: "0",
    HOMEBASE_SQLITE_SYNCHRONOUS: "FULL",
  };
  server = await startServer(env);
  cleanup.push(async () => {
    await server?.stop("SIGKILL");
    rmSync(server!.dataDir, { recursive: true, force: true });
  });
  const base = server.url;
  // The process generated its internal token into its data dir (internal.token) at start.
  const internal = { authorization: `Bearer ${readFileSync(join(server.dataDir, "internal.token"), "utf8").trim()}` };
  const w = await seedWorld(base, async (email) => promoteCli(server!.dataDir, email), internal, 100_000_000);
  // Writes go to a project of their own: the task list read stays the same size all run long.
  const sink = await must(base, "POST", "/projects", { token: w.owner.accessToken, body: { id: Bun.randomUUIDv7(), title: "sink" } }, [201]);
  const ops = mixedOps(w, sink.id);
  log(`server pid ${server.proc.pid} at ${base}; world seeded`);

  // 1. Maximum RPS.
  let best = { rps: 0, concurrency: 0, p99: 0 };
  for (const concurrency of [8, 32, 64]) {
    const s = await load(base, ops, { seconds: quick ? 4 : 10, concurrency });
    log(`  concurrency ${concurrency}: ${Math.round(s.rps)} req/s, p99 ${percentile(s.latencies, 99).toFixed(1)} ms, ${s.errors} errors`);
    if (s.rps > best.rps) best = { rps: s.rps, concurrency, p99: percentile(s.latencies, 99) };
  }
  results.maxRps = best;
  check("max RPS measured", best.rps > 0, `${Math.round(best.rps)} req/s mixed at concurrency ${best.concurrency}`);

  // 2. Redis SIGKILLed during the load.
  {
    const reads = ops.filter((o) => o.ok[0] === 200);
    const hitsBefore = await scrape(base, "homebase_cache_requests_total", { result: "hit" });
    let killedAt = 0;
    let backAt = 0;
    const seconds = quick ? 8 : 20;
    const timeline = { killed: false, restarted: false };
    const stats = await load(base, reads, {
      seconds,
      concurrency: 16,
      onTick: (t) => {
        if (!timeline.killed && t >= seconds * 0.25) {
          timeline.killed = true;
          killedAt = t * 1000;
          void killRedis();
        }
        if (!timeline.restarted && t >= seconds * 0.6) {
          timeline.restarted = true;
          backAt = t * 1000;
          void startRedis();
        }
      },
    });
    const hitsBack = await scrape(base, "homebase_cache_requests_total", { result: "hit" });
    let recoveredMs = -1;
    const t0 = performance.now();
    await waitFor(async () => (await load(base, reads, { seconds: 0.3, concurrency: 4 }), (await scrape(base, "homebase_cache_requests_total", { result: "hit" })) > hitsBack + 20), {
      timeoutMs: 30_000,
      what: "cache hits again",
    })
      .then(() => (recoveredMs = Math.round(performance.now() - t0)))
      .catch(() => undefined);
    const late = stats.failedAt.filter((t) => t > killedAt + 1000);
    results.redis = { requests: stats.requests, errors: stats.errors, errorsAfterKill: late.length, killedAtMs: Math.round(killedAt), backAtMs: Math.round(backAt), hitsBefore, recoveredMs, samples: stats.errorSamples };
    check("redis killed: reads keep succeeding", late.length === 0 && stats.errors <= 16, `${stats.requests} reads, ${stats.errors} failed (in flight at the kill), 0 later: ${late.length === 0}; samples ${JSON.stringify(stats.errorSamples.slice(0, 3))}`);
    check("redis back: the cache recovers", recoveredMs >= 0, `hits grew again ${recoveredMs} ms after the load resumed`);
  }

  // 3. NATS stopped during writes.
  {
    const writes = ops.filter((o) => o.ok[0] === 201);
    const sentBefore = await scrape(base, "homebase_outbox_backlog");
    await stopNats();
    const stats = await load(base, writes, { seconds: quick ? 4 : 15, concurrency: 8 });
    const order = await must(base, "POST", "/orders", { token: w.owner.accessToken, body: { kind: "NORMAL", items: [{ itemId: w.ids.item, quantity: 1 }] } }, [201]);
    const backlog = await scrape(base, "homebase_outbox_backlog");
    await startNats();
    const t0 = performance.now();
    await waitFor(async () => (await scrape(base, "homebase_outbox_backlog")) === 0, { timeoutMs: 120_000, what: "the backlog to drain" });
    const drainMs = Math.round(performance.now() - t0);
    await waitFor(async () => (await scrape(base, "homebase_consumer_pending")) === 0, { timeoutMs: 120_000, what: "consumers to catch up" }).catch(() => undefined);
    const db = new Database(join(server.dataDir, "homebase.sqlite"), { readonly: true });
    const events = db.query<{ n: number }, []>("SELECT count(*) AS n FROM outbox").get()!.n;
    const unsent = db.query<{ n: number }, []>("SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL").get()!.n;
    const perConsumer = db.query<{ consumer: string; n: number }, []>("SELECT consumer, count(*) AS n FROM processed_events GROUP BY consumer").all();
    const dupes = db.query<{ n: number }, []>("SELECT count(*) AS n FROM (SELECT consumer, event_id FROM processed_events GROUP BY 1, 2 HAVING count(*) > 1)").get()!.n;
    // Per consumer, the ids it processed against the ids whose subject it takes: equal sets.
    const all = db.query<{ id: string; subject: string }, []>("SELECT id, subject FROM outbox").all();
    const mismatched: string[] = [];
    for (const c of await consumerSpecs()) {
      const want = all.filter((e) => c.subjects.some((p) => subjectMatches(p, e.subject))).map((e) => e.id);
      const got = new Set(db.query<{ event_id: string }, [string]>("SELECT event_id FROM processed_events WHERE consumer = ?").all(c.name).map((r) => r.event_id));
      const missing = want.filter((id) => !got.has(id)).length;
      const extra = got.size - (want.length - missing);
      if (missing || extra) mismatched.push(`${c.name}: ${missing} missing, ${extra} unexpected`);
    }
    const dead = db.query<{ n: number }, []>("SELECT count(*) AS n FROM dead_letters").get()!.n;
    const orderPaidLater = db.query<{ n: number }, [string]>("SELECT count(*) AS n FROM outbox WHERE instr(payload, ?) > 0").get(order.id)!.n;
    db.close();
    const pending = await scrape(base, "homebase_consumer_pending");
    results.nats = { writes: stats.requests, writeErrors: stats.errors, backlogBefore: sentBefore, backlogPeak: backlog, drainMs, events, unsent, dead, dupes, pending, perConsumer };
    check("nats down: writes succeed", stats.errors === 0 && orderPaidLater > 0, `${stats.requests} writes, ${stats.errors} errors; samples ${JSON.stringify(stats.errorSamples.slice(0, 3))}`);
    check("nats down: the outbox backlog grows", backlog > sentBefore, `backlog ${sentBefore} → ${backlog}`);
    check("nats back: every event reaches each consumer once", unsent === 0 && pending === 0 && dead === 0 && dupes === 0 && mismatched.length === 0, `${events} events drained in ${drainMs} ms; ${perConsumer.reduce((n, c) => n + c.n, 0)} deliveries over ${perConsumer.length} consumers compared id by id: ${mismatched.length ? JSON.stringify(mismatched) : "all equal"}; pending ${pending}, dead letters ${dead}`);
  }

  // 4. SIGKILL during writes on every path, several rounds.
  {
    const rounds = quick ? 2 : 6;
    let ackedTotal = 0;
    const lost: string[] = [];
    for (let round = 0; round < rounds; round++) {
      const writeMode = round % 2 ? "async" : "direct";
      const kenv = { HOMEBASE_TODOS_WRITE_MODE: writeMode, HOMEBASE_LOG_LEVEL: "warn", HOMEBASE_BOOKING_RATE_LIMIT: "0" };
      const victim = await startServer(kenv);
      const ctx = await prepare(victim.url, victim.dataDir, writeMode === "async");
      const acked: Acked = { users: [], challenges: [], logs: [], tasks: [], doneTasks: [], bookings: [], orders: [], paid: [] };
      let stop = false;
      const writing = writeEverywhere(victim.url, ctx, acked, () => stop, 3);
      await Bun.sleep(1000 + Math.random() * 3000);
      victim.proc.kill("SIGKILL");
      await victim.proc.exited;
      stop = true;
      await writing;
      const restarted = await startServer(kenv, { dataDir: victim.dataDir });
      const dbPath = join(victim.dataDir, "homebase.sqlite");
      await waitFor(() => verifyDurable(dbPath, acked, ctx.item).length === 0, { timeoutMs: 15_000, what: "durable" }).catch(() => undefined);
      const wrong = verifyDurable(dbPath, acked, ctx.item);
      lost.push(...wrong.map((x) => `round ${round} (${writeMode}): ${x}`));
      ackedTotal += countAcked(acked);
      log(`  round ${round + 1}/${rounds} (todos ${writeMode}): ${countAcked(acked)} acknowledged writes, ${wrong.length} problems`);
      await restarted.stop();
      rmSync(victim.dataDir, { recursive: true, force: true });
    }
    results.sigkill = { rounds, acknowledged: ackedTotal, lost };
    check("SIGKILL on every write path: nothing lost or half-applied", lost.length === 0, `${rounds} kills, ${ackedTotal} acknowledged writes checked, ${lost.length} problems ${JSON.stringify(lost.slice(0, 5))}`);
  }

  // 5. WebSocket abuse beside a bystander pair.
  {
    const listenerUser = await signup(base, "wslisten");
    // A room of its own: the abuse phase's messages do not grow the room the soak reads.
    const room = (await must(base, "POST", "/rooms", { token: w.owner.accessToken, body: { name: `ws abuse ${Bun.randomUUIDv7()}` } }, [201])).id as string;
    await must(base, "POST", `/rooms/${room}/join`, { token: listenerUser.accessToken });
    const speaker = await ChatClient.connect(base, w.owner.accessToken);
    const listener = await ChatClient.connect(base, listenerUser.accessToken);
    await speaker.join(room);
    await listener.join(room);
    const n = quick ? 100 : 300;
    const unloaded = await deliveryLatencies(speaker, listener, room, n);
    let stop = false;
    let frames = 0;
    let closes = 0;
    let refusedUpgrades = 0;
    let round = 0;
    const abusers = (async () => {
      while (!stop) {
        const c = await ChatClient.connect(base, listenerUser.accessToken).catch(() => null);
        if (!c) continue;
        // Malformed and oversized frames at the allowed pace, then a flood until it is closed.
        for (let i = 0; i < 15 && !stop; i++) {
          c.ws.send(i % 3 === 0 ? "{broken" : i % 3 === 1 ? JSON.stringify({ op: "send", roomId: room, kind: "text", content: "x".repeat(20_000), clientMsgId: "x" }) : JSON.stringify({ op: "nope" }));
          frames++;
        }
        for (let i = 0; i < 400 && c.closed === null; i++) {
          c.send({ op: "ping", t: i });
          frames++;
        }
        await c.waitClosed(5_000).then(() => closes++).catch(() => c.close());
        const bad = await fetch(`${base}/ws?token=forged.${++round}.x`, { headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" } });
        if (bad.status === 401) refusedUpgrades++;
      }
    })();
    const loaded = await deliveryLatencies(speaker, listener, room, n);
    stop = true;
    await abusers;
    speaker.close();
    listener.close();
    const p99u = percentile(unloaded, 99);
    const p99l = percentile(loaded, 99);
    const alive = (await call(base, "GET", "/health/ready")).status === 200;
    results.ws = { messages: n, p99UnloadedMs: p99u, p99UnderAbuseMs: p99l, ratio: p99l / p99u, abusiveFrames: frames, abuserClosed: closes, refusedUpgrades, alive };
    check("ws abuse: the process stays up", alive, `${frames} abusive frames, ${closes} abusers closed (4029), ${refusedUpgrades} forged upgrades refused`);
    check("ws abuse: bystanders' delivery p99 within 2× unloaded", p99l <= 2 * Math.max(p99u, 1), `p99 ${p99u.toFixed(1)} ms unloaded → ${p99l.toFixed(1)} ms under abuse (${(p99l / p99u).toFixed(2)}×)`);
  }

  // 6. Soak at 80 % of the maximum.
  {
    const rate = Math.max(1, Math.floor(best.rps * 0.8));
    const pid = server.proc.pid;
    const points: Array<{ t: number; rssMb: number; rps: number }> = [];
    let lastReq = 0;
    let lastT = 0;
    const sampleEvery = quick ? 2 : 5;
    let nextSample = 0;
    log(`soak: ${soakSeconds} s at ${rate} req/s (80 % of ${Math.round(best.rps)})`);
    const stats = await load(base, ops, {
      seconds: soakSeconds,
      // Open loop: enough requests in flight that the generator never caps the rate (Little's law:
      // 64 in flight at 28 ms each is 2,300 req/s, under a 3,000+ target).
      concurrency: Math.max(best.concurrency * 4, 256),
      rate,
      onTick: (t, live) => {
        if (t < nextSample) return;
        nextSample += sampleEvery;
        const reqs = live.requests;
        points.push({ t: Math.round(t), rssMb: rssBytes(pid) / 2 ** 20, rps: t > lastT ? (reqs - lastReq) / (t - lastT) : 0 });
        lastReq = reqs;
        lastT = t;
        if (points.length % Math.round(60 / sampleEvery) === 0) log(`  soak ${Math.round(t)} s: RSS ${points.at(-1)!.rssMb.toFixed(0)} MB`);
      },
    });
    const secondHalf = points.filter((p) => p.t >= soakSeconds / 2);
    const rssSlopeMbPerMin = slope(secondHalf.map((p) => p.t), secondHalf.map((p) => p.rssMb)) * 60;
    const first = secondHalf[0]?.rssMb ?? 0;
    const last = points.at(-1)?.rssMb ?? 0;
    // The fitted line's rise over the second half, against its mean: single samples are noisy (GC).
    const mean = secondHalf.reduce((a, p) => a + p.rssMb, 0) / Math.max(1, secondHalf.length);
    const growthPct = mean ? ((rssSlopeMbPerMin * (soakSeconds / 2 / 60)) / mean) * 100 : 0;
    const note = `${Math.round(stats.rps)} req/s for ${soakSeconds} s, ${stats.requests} requests, ${stats.errors} errors; RSS second half ${first.toFixed(0)} → ${last.toFixed(0)} MB, fitted ${rssSlopeMbPerMin.toFixed(2)} MB/min (${growthPct.toFixed(1)} % over the half)`;
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(join(resultsDir, `${date}-soak.svg`), soakSvg(points, `homebase soak: ${quick ? "1 minute" : "10 minutes"} at 80 % of max RPS (mixed, real backends)`, note));
    results.soak = { rate, seconds: soakSeconds, requests: stats.requests, errors: stats.errors, rps: stats.rps, p50: percentile(stats.latencies, 50), p99: percentile(stats.latencies, 99), rssSlopeMbPerMin, growthPct, points, samples: stats.errorSamples };
    check("soak: held 80 % of the maximum", stats.rps >= rate * 0.9, `${Math.round(stats.rps)} of ${rate} req/s, p50 ${percentile(stats.latencies, 50).toFixed(1)} ms, p99 ${percentile(stats.latencies, 99).toFixed(1)} ms`);
    check("soak: 0 errors", stats.errors === 0, `${stats.requests} requests at ${Math.round(stats.rps)} req/s; samples ${JSON.stringify(stats.errorSamples.slice(0, 3))}`);
    // Flat or falling (GC returning memory) passes; a leak shows as a steady rise.
    check("soak: RSS flat over the second half", growthPct < 10, note);
  }

  // 7. A longer fuzz than CI's, with a random seed, against the soaked process and real backends.
  {
    const dir = mkdtempSync(join(tmpdir(), "homebase-fuzz-"));
    const spare = (await must(base, "POST", "/auth/login", { body: { email: w.owner.email, password: w.owner.password } }, [200])).accessToken;
    const fresh = (await must(base, "POST", "/auth/login", { body: { email: w.owner.email, password: w.owner.password } }, [200])).accessToken;
    const r = await runFuzz(base, fuzzConfig({ ...w, owner: { ...w.owner, accessToken: fresh } }, spare), dir, { examples: quick ? 8 : 30 });
    results.fuzz = { cases: r.generated, failures: r.failures, exitCode: r.exitCode, seed: r.seed, report: dir };
    check("fuzz: no server error or contract break", r.exitCode === 0 && r.failures === 0, `${r.generated} cases over every operation, seed ${r.seed}, ${r.failures} failures (output ${dir}/output.txt)`);
  }
}

const timer = setTimeout(
  () => {
    log("time limit reached: stopping");
    void finish(2);
  },
  (soakSeconds + (quick ? 360 : 900)) * 1000,
);

async function finish(code: number): Promise<never> {
  clearTimeout(timer);
  for (const fn of cleanup.reverse()) await Promise.resolve(fn()).catch(() => undefined);
  results.checks = checks;
  mkdirSync(resultsDir, { recursive: true });
  const { points: _points, ...soak } = (results.soak ?? {}) as Record<string, unknown>;
  writeFileSync(join(resultsDir, `${date}-chaos.json`), JSON.stringify(results, null, 2) + "\n");
  const md = [
    `### Chaos and soak (${quick ? "--quick" : "full"}, ${date})`,
    "",
    "| check | result | detail |",
    "|---|---|---|",
    ...checks.map((c) => `| ${c.name} | ${c.ok ? "PASS" : "**FAIL**"} | ${c.detail.replace(/\|/g, "\\|")} |`),
    "",
    `Soak: ${JSON.stringify(soak)}`,
    "",
    `![soak](${date}-soak.svg)`,
    "",
  ].join("\n");
  writeFileSync(join(resultsDir, `${date}-chaos.md`), md);
  process.stdout.write(md);
  const failed = checks.filter((c) => !c.ok).length;
  process.stdout.write(`\n${checks.length - failed} passed, ${failed} failed\n`);
  process.exit(code || (failed ? 1 : 0));
}

main()
  .then(() => finish(0))
  .catch((err: unknown) => {
    log(`aborted: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    checks.push({ name: "run completed", ok: false, detail: String(err) });
    return finish(1);
  });
