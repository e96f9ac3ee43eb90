// The multi-instance chat ramp: `bun run bench chat --instances=8` (issue 15, item 1).
//
// N homebase release binaries share one port (SO_REUSEPORT: the kernel spreads connections, as
// with the homebase-api@ units), one data dir (SQLite WAL) and real Redis (presence, read marks,
// rate limits) and NATS (live fanout between the instances; the outbox) from the test harness
// (src/testing/servers.ts) — and, with --store=mongo, its MongoDB wire-protocol server for chat.
// Instance 1 runs role `all` (migrations, the worker), the others `serve`.
// M load-client processes (bench/chat-client.ts) hold the sockets.
//
// Why these numbers (the machine's limits, per process, not per box):
//   - open files: hard limit 20,000 per process. A server holds one descriptor per socket, so
//     100,000 sockets need ≥ 6 servers; 8 leaves room for the kernel's uneven spread (~12,500
//     each). A client holds ≤ ~15,000: 7 clients (~14,300 each).
//   - ports: Bun's WebSocket client cannot choose its local address, so every socket leaves from
//     127.0.0.1, and one (source, destination address, port) triple has ~28,000 ephemeral ports
//     (/proc/sys/net/ipv4/ip_local_port_range). Client j connects to 127.0.0.(2+j): its own
//     destination, well under the limit. The servers therefore listen on 0.0.0.0 (HOMEBASE_HOST,
//     only inside this bench) so that all of 127.0.0.0/8 reaches the one shared port.
//   - chat's socket caps are per instance: HOMEBASE_CHAT_WS_MAX_PER_IP=1000000 (every socket comes
//     from 127.0.0.1) and HOMEBASE_CHAT_WS_MAX_PER_USER = sockets per user (a few hundred users
//     hold all the sockets: each signup and login costs an Argon2id hash).
//
// Load: rooms of `roomSize` sockets (distinct users); each room gets `roomRate` messages per
// second in all (each socket sends every roomSize / roomRate seconds, random phase); receivers
// mark `readShare` of what they receive read (the `read` op: Redis read marks). Delivery latency
// is send → receive on the box's monotonic clock, across processes.
//
// Steps (--steps, default 10k, 25k, 50k, 75k, 100k sockets), each held `hold` seconds once every
// socket of it is open; the ramp stops after a step with > 0.1 % failures, or when the run's
// deadline (--deadline, 15 min) would pass. Per step: sockets, connect failures, delivery
// p50/p99, server RSS (sum) and per socket, CPU of servers, clients and backends.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { newUser } from "../../src/testing/app";
import { freePort } from "../../src/testing/ports";
import { startServer, type RunningServer } from "../../src/testing/process";
import { startRealBackends } from "../../src/testing/servers";
import { releaseBinary, resultsDir, type BenchContext, type LoadResult } from "../lib";
import type { Window } from "../chat-client";

export interface ClusterOptions {
  instances: number;
  clients: number;
  steps: number[];
  holdS: number;
  roomSize: number;
  /** Messages per room per second (all its members together). */
  roomRate: number;
  readShare: number;
  users: number;
  store: "sqlite" | "mongo";
  pin: "spread" | "split" | "none";
  connectConcurrency: number;
  deadlineS: number;
  sync: string;
}

function arg(name: string, env: string): string | undefined {
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? process.env[env];
}

function num(name: string, env: string, fallback: number, { zero = false } = {}): number {
  const raw = arg(name, env);
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isFinite(n) || n < 0 || (!zero && n === 0)) throw new Error(`--${name} / ${env}: expected a positive number, got ${raw}`);
  return n;
}

/** Instances asked for (`--instances`, HOMEBASE_BENCH_CHAT_INSTANCES); 1 = the single-process ramp. */
export function clusterInstances(): number {
  return num("instances", "HOMEBASE_BENCH_CHAT_INSTANCES", 1);
}

/** Results files and title of a multi-instance run (beside the single-process ramp's "chat"). */
export function clusterOutput(): { name: string; title: string } {
  const mongo = (arg("store", "HOMEBASE_BENCH_CHAT_STORE") ?? "sqlite") === "mongo";
  return {
    name: mongo ? "chat-cluster-mongo" : "chat-cluster",
    title: `chat across ${clusterInstances()} instances (SO_REUSEPORT, NATS fanout, Redis${mongo ? ", chat on MongoDB" : ""}): WebSocket ramp`,
  };
}

export function clusterOptions(quick: boolean): ClusterOptions {
  const instances = clusterInstances();
  const stepsRaw = arg("steps", "HOMEBASE_BENCH_CHAT_STEPS");
  const steps = (stepsRaw ?? (quick ? "200,400" : "10000,25000,50000,75000,100000")).split(",").map(Number);
  if (steps.some((s) => !Number.isInteger(s) || s <= 0) || steps.some((s, i) => i > 0 && s <= steps[i - 1]!)) throw new Error(`--steps: expected rising socket counts, got ${stepsRaw}`);
  const top = steps.at(-1)!;
  const store = arg("store", "HOMEBASE_BENCH_CHAT_STORE") ?? "sqlite";
  if (store !== "sqlite" && store !== "mongo") throw new Error(`--store: sqlite or mongo, got ${store}`);
  const pin = arg("pin", "HOMEBASE_BENCH_CHAT_PIN") ?? "spread";
  if (pin !== "spread" && pin !== "split" && pin !== "none") throw new Error(`--pin: spread, split or none, got ${pin}`);
  const o: ClusterOptions = {
    instances,
    // ≤ ~15,000 sockets per client process (20,000 open files, hard).
    clients: num("clients", "HOMEBASE_BENCH_CHAT_CLIENTS", Math.max(1, Math.ceil(top / 15_000))),
    steps,
    holdS: num("hold", "HOMEBASE_BENCH_CHAT_HOLD_S", quick ? 4 : 30),
    roomSize: num("room-size", "HOMEBASE_BENCH_CHAT_ROOM_SIZE", 20),
    roomRate: num("room-rate", "HOMEBASE_BENCH_CHAT_ROOM_RATE", quick ? 1 : 0.1),
    readShare: num("read-share", "HOMEBASE_BENCH_CHAT_READ_SHARE", 0.05, { zero: true }),
    users: num("users", "HOMEBASE_BENCH_CHAT_USERS", quick ? 20 : 500),
    store,
    pin,
    connectConcurrency: num("connect-concurrency", "HOMEBASE_BENCH_CHAT_CONNECT_CONCURRENCY", 64),
    deadlineS: num("deadline", "HOMEBASE_BENCH_CHAT_DEADLINE_S", quick ? 120 : 900),
    sync: arg("sync", "HOMEBASE_BENCH_CHAT_SYNC") ?? "FULL",
  };
  if (o.users < o.roomSize) throw new Error(`--users (${o.users}) must be ≥ --room-size (${o.roomSize}): a room's sockets are distinct users`);
  if (top / o.clients > 15_000) throw new Error(`${top} sockets over ${o.clients} clients is more than 15,000 per process (open-files limit 20,000): raise --clients`);
  if (top / o.instances > 15_000) throw new Error(`${top} sockets over ${o.instances} instances is more than 15,000 per server (open-files limit 20,000): raise --instances`);
  if (o.clients > 250) throw new Error("--clients: at most 250 (one 127.0.0.x destination each)");
  return o;
}

// ---------------------------------------------------------------------------------------------
// /proc readings: RSS, CPU ticks, open descriptors.

const clkTck = 100;

function procTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]); // utime, stime
  } catch {
    return 0;
  }
}

function procRss(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function procSockets(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

/** Busy and total jiffies of the whole box (every process, other work too). */
function boxTicks(): { busy: number; total: number } {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3]! - f[4]!, total };
}

/** The pid listening on a local TCP port (redis-server, nats-server), from `ss`. */
function listenerPid(port: number): number | null {
  const r = Bun.spawnSync(["ss", "-Hltnp", `sport = :${port}`]);
  const m = /pid=(\d+)/.exec(r.stdout.toString());
  return m ? Number(m[1]) : null;
}

interface Groups {
  servers: number[];
  clients: number[];
  backends: number[];
}

interface CpuSnapshot {
  at: number;
  groups: Record<keyof Groups, number>;
  box: { busy: number; total: number };
}

function cpuSnapshot(g: Groups): CpuSnapshot {
  const sum = (pids: number[]) => pids.reduce((a, p) => a + procTicks(p), 0);
  return { at: performance.now(), groups: { servers: sum(g.servers), clients: sum(g.clients), backends: sum(g.backends) }, box: boxTicks() };
}

/** % of one core per group over the interval; box: % of all cores busy. */
function cpuPercent(a: CpuSnapshot, b: CpuSnapshot) {
  const s = (b.at - a.at) / 1000;
  const pct = (k: keyof Groups) => (100 * (b.groups[k] - a.groups[k])) / clkTck / s;
  return { servers: pct("servers"), clients: pct("clients"), backends: pct("backends"), box: (100 * (b.box.busy - a.box.busy)) / Math.max(1, b.box.total - a.box.total) };
}

// ---------------------------------------------------------------------------------------------
// Processes.

function cpuOf(index: number, role: "server" | "client", pin: ClusterOptions["pin"]): number | null {
  const n = cpus().length;
  if (pin === "none" || n < 2 || !Bun.which("taskset")) return null;
  // split: servers on CPU 0, clients on the others (like the single-process ramp);
  // spread: servers and clients alternate over every CPU, servers starting at 0, clients at 1.
  if (pin === "split") return role === "server" ? 0 : 1 + (index % (n - 1));
  return (index + (role === "client" ? 1 : 0)) % n;
}

const pinned = (cpu: number | null, cmd: string[]) => (cpu === null ? cmd : ["taskset", "-c", String(cpu), ...cmd]);

async function startInstances(ctx: BenchContext, o: ClusterOptions, env: Record<string, string>): Promise<{ servers: RunningServer[]; dataDir: string; port: number }> {
  const bin = releaseBinary();
  const dataDir = mkdtempSync(join(tmpdir(), "homebase-bench-cluster-"));
  const binDir = mkdtempSync(join(tmpdir(), "homebase-bench-bin-"));
  const servers: RunningServer[] = [];
  ctx.cleanup.push(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    // Their logs outlive the run (warnings and errors explain failures): printed where.
    const logs = mkdtempSync(join(tmpdir(), "homebase-bench-cluster-logs-"));
    servers.forEach((s, i) => writeFileSync(join(logs, `homebase-${i + 1}.log`), s.output()));
    process.stderr.write(`\r\x1b[2K[bench] chat cluster: server logs in ${logs}\n`);
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(binDir, { recursive: true, force: true });
  });
  const port = await freePort();
  for (let i = 0; i < o.instances; i++) {
    const launcher = join(binDir, `pinned-${i}.sh`);
    writeFileSync(launcher, `#!/bin/sh\nexec ${pinned(cpuOf(i, "server", o.pin), [bin]).join(" ")} "$@"\n`, { mode: 0o755 });
    ctx.progress(`starting homebase ${i + 1}/${o.instances} on port ${port}`);
    // Log level info: startServer then waits for this process's own "started" line (a sibling
    // on the shared port could answer its readiness probe). The first one migrates and writes
    // the JWT secret the others read from the shared data dir: it starts alone.
    servers.push(await startServer({ ...env, HOMEBASE_LOG_LEVEL: "info" }, { bin: launcher, dataDir, port, args: [i === 0 ? "all" : "serve"] }));
  }
  return { servers, dataDir, port };
}

interface ClientProc {
  proc: Subprocess<"pipe", "pipe", "inherit">;
  next(ev: string): Promise<any>;
  send(msg: unknown): void;
}

function startClient(ctx: BenchContext, j: number, o: ClusterOptions, port: number, sendPeriodMs: number): ClientProc {
  const host = `127.0.0.${2 + j}`;
  const config = { url: `ws://${host}:${port}/ws`, sendPeriodMs, readShare: o.readShare, connectConcurrency: o.connectConcurrency };
  const proc = Bun.spawn(pinned(cpuOf(j, "client", o.pin), [process.execPath, join(import.meta.dir, "../chat-client.ts"), JSON.stringify(config)]), {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
  });
  ctx.cleanup.push(async () => {
    proc.kill();
    await proc.exited;
  });
  // Lines from the client, handed to whoever waits for that event.
  const waiting: Array<{ ev: string; resolve: (v: any) => void; reject: (e: Error) => void }> = [];
  const early: any[] = [];
  void (async () => {
    const decoder = new TextDecoder();
    let buf = "";
    for await (const chunk of proc.stdout) {
      buf += decoder.decode(chunk, { stream: true });
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const msg = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        const at = waiting.findIndex((w) => w.ev === msg.ev);
        if (at >= 0) waiting.splice(at, 1)[0]!.resolve(msg);
        else early.push(msg);
      }
    }
    for (const w of waiting.splice(0)) w.reject(new Error(`load client ${j} exited (${await proc.exited})`));
  })();
  return {
    proc,
    send: (msg) => {
      proc.stdin.write(`${JSON.stringify(msg)}\n`);
      proc.stdin.flush();
    },
    next: (ev) => {
      const at = early.findIndex((m) => m.ev === ev);
      if (at >= 0) return Promise.resolve(early.splice(at, 1)[0]);
      return new Promise((resolve, reject) => waiting.push({ ev, resolve, reject }));
    },
  };
}

async function pool<T>(items: T[], limit: number, job: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await job(items[next++]!);
  }));
}

async function json(base: string, method: string, path: string, token?: string, body?: unknown): Promise<any> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? null : res.json();
}

function percentile(hist: Map<number, number>, count: number, p: number): number {
  if (count === 0) return Number.NaN;
  const rank = Math.min(count - 1, Math.floor((p / 100) * count));
  let seen = 0;
  for (const [bucket, n] of [...hist].sort((a, b) => a[0] - b[0])) {
    seen += n;
    if (seen > rank) return bucket / 10;
  }
  return Number.NaN;
}

// ---------------------------------------------------------------------------------------------
// The ramp.

export interface ClusterStep {
  sockets: number;
  connectAttempts: number;
  connectFailures: number;
  connectSeconds: number;
  failures: number;
  errorCodes: Record<string, number>;
  sentPerSec: number;
  deliveredPerSec: number;
  readsPerSec: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  serverRss: number;
  /** RSS per socket over every socket (baseline: the servers before any socket). */
  rssPerSocket: number;
  /** RSS growth since the previous step over the sockets it added (the marginal cost). */
  rssPerAddedSocket: number;
  clientRss: number;
  socketsPerServer: number[];
  cpu: ReturnType<typeof cpuPercent>;
}

export async function runCluster(ctx: BenchContext, title: string): Promise<LoadResult[]> {
  const o = clusterOptions(ctx.quick);
  const deadline = performance.now() + o.deadlineS * 1000;
  const top = o.steps.at(-1)!;
  ctx.progress("starting redis-server, nats-server and the MongoDB wire-protocol server (test harness)");
  const backends = await startRealBackends();
  const c = backends.credentials;
  const env: Record<string, string> = {
    REDIS_URL: c.redisUrl,
    REDIS_PASSWORD_FILE: c.redisPasswordFile,
    NATS_URL: c.natsUrl,
    NATS_PASSWORD_FILE: c.natsPasswordFile,
    ...(o.store === "mongo" ? { MONGO_URL: backends.mongoUrl } : {}),
    HOMEBASE_HOST: "0.0.0.0",
    HOMEBASE_ACCESS_TTL_SEC: "86400",
    HOMEBASE_SIGNUP_PER_IP: "0",
    HOMEBASE_SQLITE_SYNCHRONOUS: o.sync,
    HOMEBASE_CHAT_WS_MAX_PER_IP: "1000000",
    HOMEBASE_CHAT_WS_MAX_PER_USER: String(Math.max(20, Math.ceil(top / o.users))),
  };
  const { servers, port } = await startInstances(ctx, o, env);
  const base = `http://127.0.0.1:${port}`;
  const backendPids = [backends.redisUrl, backends.natsUrl, ...(o.store === "mongo" ? [backends.mongoUrl] : [])]
    .map((u) => listenerPid(Number(new URL(u).port)))
    .filter((p): p is number => p !== null);

  ctx.progress(`creating ${o.users} users (signup + login: two Argon2id hashes each)`);
  const users: Array<{ id: string; token: string }> = [];
  await pool(Array.from({ length: o.users }, (_, i) => i), Math.max(4, 2 * cpus().length), async () => {
    const u = newUser("bench");
    const created = await json(base, "POST", "/auth/signup", undefined, u);
    const tokens = await json(base, "POST", "/auth/login", undefined, { email: u.email, password: u.password });
    users.push({ id: created.id, token: tokens.accessToken });
  });
  // Socket i: user i mod users, room floor(i / roomSize), client i mod clients. A room is created
  // by the user of its first socket; the others become members with their socket's `join` op.
  const roomCount = Math.ceil(top / o.roomSize);
  const rooms: string[] = new Array(roomCount);
  ctx.progress(`creating ${roomCount} rooms`);
  await pool(Array.from({ length: roomCount }, (_, r) => r), 32, async (r) => {
    rooms[r] = (await json(base, "POST", "/rooms", users[(r * o.roomSize) % o.users]!.token, { name: `bench ${r}` })).id;
  });

  const sendPeriodMs = (o.roomSize / o.roomRate) * 1000;
  const clients = Array.from({ length: o.clients }, (_, j) => startClient(ctx, j, o, port, sendPeriodMs));
  await Promise.all(clients.map((cl) => cl.next("ready")));
  for (const cl of clients) cl.send({ cmd: "setup", tokens: users.map((u) => u.token), rooms });
  await Promise.all(clients.map((cl) => cl.next("setup")));
  const groups: Groups = { servers: servers.map((s) => s.proc.pid), clients: clients.map((cl) => cl.proc.pid), backends: backendPids };
  const rssBase = groups.servers.reduce((a, p) => a + procRss(p), 0);

  const steps: ClusterStep[] = [];
  let stopReason = "";
  let opened = 0;
  try {
    for (const target of o.steps) {
      if (performance.now() > deadline) {
        stopReason = `the run's deadline (${o.deadlineS} s) passed before the ${target}-socket step`;
        break;
      }
      ctx.progress(`ramp to ${target} sockets (connecting)`);
      const t0 = performance.now();
      const perClient: Array<Array<[number, number, number]>> = clients.map(() => []);
      for (let i = opened; i < target; i++) perClient[i % o.clients]!.push([i, i % o.users, Math.floor(i / o.roomSize)]);
      // No handshake starts after the run's deadline (the clients share the monotonic clock).
      const openDeadline = Number(process.hrtime.bigint()) / 1e6 + (deadline - performance.now());
      clients.forEach((cl, j) => cl.send({ cmd: "open", sockets: perClient[j], deadline: openDeadline }));
      await Promise.all(clients.map((cl) => cl.next("opened")));
      opened = target;
      const connectSeconds = (performance.now() - t0) / 1000;
      ctx.progress(`${target} sockets, measuring ${o.holdS} s (connecting took ${connectSeconds.toFixed(1)} s)`);
      for (const cl of clients) cl.send({ cmd: "measure" });
      const cpu0 = cpuSnapshot(groups);
      await Bun.sleep(o.holdS * 1000);
      const cpu1 = cpuSnapshot(groups);
      for (const cl of clients) cl.send({ cmd: "report" });
      const reports = (await Promise.all(clients.map((cl) => cl.next("report")))) as Window[];
      const sum = (k: keyof Window) => reports.reduce((a, r) => a + (r[k] as number), 0);
      const hist = new Map<number, number>();
      let maxBucket = 0;
      for (const r of reports)
        for (const [b, n] of Object.entries(r.histogram)) {
          hist.set(Number(b), (hist.get(Number(b)) ?? 0) + n);
          maxBucket = Math.max(maxBucket, Number(b));
        }
      const errorCodes: Record<string, number> = {};
      for (const r of reports) for (const [code, n] of Object.entries(r.errorCodes)) errorCodes[code] = (errorCodes[code] ?? 0) + n;
      const delivered = sum("delivered");
      const seconds = Math.max(...reports.map((r) => r.seconds));
      const serverRss = groups.servers.reduce((a, p) => a + procRss(p), 0);
      const sockets = sum("sockets");
      const previous = steps.at(-1);
      const step: ClusterStep = {
        sockets,
        connectAttempts: sum("connectAttempts"),
        connectFailures: sum("connectFailures"),
        connectSeconds,
        failures: sum("connectFailures") + sum("unexpectedCloses") + sum("errorEvents") + sum("lost") + sum("lateAcks"),
        errorCodes,
        sentPerSec: sum("sent") / seconds,
        deliveredPerSec: delivered / seconds,
        readsPerSec: sum("reads") / seconds,
        p50: percentile(hist, delivered, 50),
        p95: percentile(hist, delivered, 95),
        p99: percentile(hist, delivered, 99),
        max: delivered > 0 ? maxBucket / 10 : Number.NaN,
        serverRss,
        rssPerSocket: (serverRss - rssBase) / Math.max(1, sockets),
        rssPerAddedSocket: (serverRss - (previous?.serverRss ?? rssBase)) / Math.max(1, sockets - (previous?.sockets ?? 0)),
        clientRss: groups.clients.reduce((a, p) => a + procRss(p), 0),
        // Descriptors per server: its sockets plus a few dozen of its own (files, Redis, NATS).
        socketsPerServer: groups.servers.map(procSockets),
        cpu: cpuPercent(cpu0, cpu1),
      };
      steps.push(step);
      process.stderr.write(`\r\x1b[2K[bench] chat cluster: ${describeStep(step)}\n`);
      const operations = step.connectAttempts + sum("sent");
      if (operations > 0 && step.failures / operations > 0.001) {
        stopReason = `${((100 * step.failures) / operations).toFixed(2)} % failures at ${sockets} sockets (${JSON.stringify(errorCodes)})`;
        break;
      }
    }
  } finally {
    for (const cl of clients) cl.send({ cmd: "stop" });
    await Promise.all(clients.map((cl) => Promise.race([cl.next("stopped").catch(() => null), Bun.sleep(10_000)])));
  }

  const config = { ...o, sendPeriodMs, port, bind: "0.0.0.0", destinations: clients.map((_, j) => `127.0.0.${2 + j}`), ulimitHard: 20_000 };
  const note = closingNote(steps, o, stopReason);
  process.stderr.write(`\r\x1b[2K[bench] chat cluster: ${note}\n`);
  writeClusterFiles(title, steps, config, note);
  return steps.map((s, i) => ({
    variant: `${o.instances} instances: ${s.sockets} sockets`,
    rps: s.deliveredPerSec,
    p50: s.p50,
    p95: s.p95,
    p99: s.p99,
    max: s.max,
    errors: s.failures,
    total: s.connectAttempts + Math.round(s.sentPerSec * o.holdS),
    extra: {
      "connect ok": `${s.connectAttempts - s.connectFailures}/${s.connectAttempts}`,
      "connect s": s.connectSeconds.toFixed(1),
      "sent/s": Math.round(s.sentPerSec),
      "reads/s": Math.round(s.readsPerSec),
      "server RSS MiB": (s.serverRss / 1048576).toFixed(0),
      "RSS/socket KiB": (s.rssPerSocket / 1024).toFixed(1),
      "added RSS/socket KiB": (s.rssPerAddedSocket / 1024).toFixed(1),
      "CPU servers %": s.cpu.servers.toFixed(0),
      "CPU clients %": s.cpu.clients.toFixed(0),
      "CPU redis+nats %": s.cpu.backends.toFixed(0),
      "box busy %": s.cpu.box.toFixed(0),
      "fds/server max": Math.max(...s.socketsPerServer),
      ...(i === steps.length - 1 ? { held: heldSummary(steps) } : {}),
    },
  }));
}

function describeStep(s: ClusterStep): string {
  return (
    `${s.sockets} sockets (${s.connectAttempts - s.connectFailures}/${s.connectAttempts} connects ok in ${s.connectSeconds.toFixed(1)} s), ` +
    `delivery p50 ${s.p50.toFixed(1)} / p99 ${s.p99.toFixed(1)} ms, ${Math.round(s.sentPerSec)} sent/s, ${Math.round(s.deliveredPerSec)} delivered/s, ` +
    `server RSS ${(s.serverRss / 1048576).toFixed(0)} MiB (${(s.rssPerSocket / 1024).toFixed(1)} KiB/socket), ` +
    `CPU servers ${s.cpu.servers.toFixed(0)} % clients ${s.cpu.clients.toFixed(0)} % backends ${s.cpu.backends.toFixed(0)} % box ${s.cpu.box.toFixed(0)} %, ` +
    `fds per server ${s.socketsPerServer.join("/")}${s.failures ? `, ${s.failures} failures ${JSON.stringify(s.errorCodes)}` : ""}`
  );
}

/** The last step with 0 failures and delivery p99 < 500 ms, in a few words. */
function heldSummary(steps: ClusterStep[]): string {
  const held = steps.filter((s) => s.connectFailures === 0 && s.p99 < 500 && s.failures === 0).at(-1);
  return held ? `${held.sockets} @ p99 ${held.p99.toFixed(0)} ms, ${(held.rssPerSocket / 1024).toFixed(1)} KiB/socket` : "none";
}

function closingNote(steps: ClusterStep[], o: ClusterOptions, stopReason: string): string {
  const good = steps.filter((s) => s.connectFailures === 0 && s.p99 < 500 && s.failures === 0);
  const held = good.at(-1);
  const last = steps.at(-1);
  const target = o.steps.at(-1)!;
  const rate = `${o.roomRate} messages/s per room of ${o.roomSize} (one per socket every ${(o.roomSize / o.roomRate).toFixed(0)} s), ${(o.readShare * 100).toFixed(0)} % of deliveries marked read`;
  if (!held) return `no step held with 0 failures and delivery p99 < 500 ms${stopReason ? `; stopped: ${stopReason}` : ""}; load ${rate}`;
  const reached = held.sockets >= target ? `target ${target} reached` : `target ${target} not reached${stopReason ? ` — stopped: ${stopReason}` : last && last !== held ? ` — the next step (${last.sockets}) had p99 ${last.p99.toFixed(0)} ms, ${last.failures} failures, CPU box ${last.cpu.box.toFixed(0)} %` : ""}`;
  return (
    `held ${held.sockets} sockets on ${o.instances} instances × ${o.clients} clients with 0 failed connects and 0 failures, ` +
    `delivery p50 ${held.p50.toFixed(1)} ms / p99 ${held.p99.toFixed(1)} ms at ${Math.round(held.sentPerSec)} messages/s (${rate}); ` +
    `server RSS ${(held.serverRss / 1048576).toFixed(0)} MiB in all, ${(held.rssPerSocket / 1024).toFixed(1)} KiB per socket; ` +
    `CPU servers ${held.cpu.servers.toFixed(0)} %, clients ${held.cpu.clients.toFixed(0)} %, redis+nats ${held.cpu.backends.toFixed(0)} % of one core, box ${held.cpu.box.toFixed(0)} % busy; ${reached}`
  );
}

// ---------------------------------------------------------------------------------------------
// The ramp's own chart: sockets, delivery p50/p99, RSS per socket and CPU per step.

const esc = (s: string) => s.replace(/[<>&"]/g, (ch) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[ch]!);

export function rampChart(title: string, steps: ClusterStep[], note: string): string {
  const W = 960;
  const panelW = 400;
  const panelH = 200;
  const panels: Array<{ label: string; series: Array<{ name: string; color: string; values: number[] }>; unit: string }> = [
    { label: "sockets held · connect failures", unit: "", series: [{ name: "sockets", color: "#4878d0", values: steps.map((s) => s.sockets) }, { name: "failed connects", color: "#d65f5f", values: steps.map((s) => s.connectFailures) }] },
    { label: "delivery latency (ms)", unit: "ms", series: [{ name: "p50", color: "#6acc64", values: steps.map((s) => s.p50) }, { name: "p99", color: "#d65f5f", values: steps.map((s) => s.p99) }] },
    {
      label: "server RSS per socket (KiB)",
      unit: "KiB",
      series: [
        { name: "since no sockets", color: "#956cb4", values: steps.map((s) => s.rssPerSocket / 1024) },
        { name: "step's added sockets", color: "#dd8452", values: steps.map((s) => s.rssPerAddedSocket / 1024) },
      ],
    },
    {
      label: "CPU (% of one core; box: % of all)",
      unit: "%",
      series: [
        { name: "servers", color: "#4878d0", values: steps.map((s) => s.cpu.servers) },
        { name: "clients", color: "#ee854a", values: steps.map((s) => s.cpu.clients) },
        { name: "redis+nats", color: "#8c613c", values: steps.map((s) => s.cpu.backends) },
        { name: "box", color: "#333333", values: steps.map((s) => s.cpu.box) },
      ],
    },
  ];
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${2 * (panelH + 70) + 60}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="22" font-size="16" font-weight="bold">${esc(title)}</text>`,
  ];
  panels.forEach((p, k) => {
    const x0 = 60 + (k % 2) * (panelW + 60);
    const y0 = 60 + Math.floor(k / 2) * (panelH + 70);
    const max = Math.max(1, ...p.series.flatMap((s) => s.values.filter(Number.isFinite)));
    const xs = (i: number) => x0 + (steps.length <= 1 ? panelW / 2 : (i / (steps.length - 1)) * panelW);
    const ys = (v: number) => y0 + panelH - (v / max) * panelH;
    parts.push(`<text x="${x0}" y="${y0 - 8}" font-weight="bold">${esc(p.label)}</text>`);
    parts.push(`<line x1="${x0}" y1="${y0 + panelH}" x2="${x0 + panelW}" y2="${y0 + panelH}" stroke="#999"/><line x1="${x0}" y1="${y0}" x2="${x0}" y2="${y0 + panelH}" stroke="#999"/>`);
    parts.push(`<text x="${x0 - 4}" y="${y0 + 4}" text-anchor="end" fill="#666">${max.toFixed(max < 10 ? 1 : 0)}</text>`);
    steps.forEach((s, i) => parts.push(`<text x="${xs(i)}" y="${y0 + panelH + 14}" text-anchor="middle" fill="#666">${s.sockets >= 1000 ? `${Math.round(s.sockets / 1000)}k` : s.sockets}</text>`));
    let legendX = x0 + 10;
    p.series.forEach((s) => {
      const pts = s.values.map((v, i) => [xs(i), ys(Number.isFinite(v) ? v : 0)] as const);
      parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ")}"/>`);
      for (const [i, [x, y]] of pts.entries()) parts.push(`<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="3" fill="${s.color}"><title>${s.name} ${s.values[i]!.toFixed(1)}${p.unit}</title></circle>`);
      parts.push(`<text x="${legendX}" y="${y0 + panelH + 32}" fill="${s.color}">■ ${esc(s.name)}</text>`);
      legendX += 7 * s.name.length + 30;
    });
  });
  parts.push(`<text x="10" y="${2 * (panelH + 70) + 45}" fill="#666">${esc(`${note.slice(0, 160)}${note.length > 160 ? "…" : ""}`)}</text>`, "</svg>");
  return parts.join("\n");
}

function writeClusterFiles(title: string, steps: ClusterStep[], config: Record<string, unknown>, note: string): void {
  mkdirSync(resultsDir, { recursive: true });
  const base = join(resultsDir, `${new Date().toISOString().slice(0, 10)}-${clusterOutput().name}-ramp`);
  writeFileSync(`${base}.svg`, rampChart(title, steps, note));
  writeFileSync(`${base}.json`, JSON.stringify({ title, config, steps, note, cpu: cpus()[0]?.model, cores: cpus().length, bun: Bun.version }, null, 2));
}
