// Scenario "chat": a WebSocket ramp, like the reference's load contest (+500 users every 30 s
// toward 100,000). Every step opens `step` more sockets; each joins a room (~`roomSize`
// sockets per room) and sends at `rate` messages/s. Per step, while every socket stays open:
// connect success, delivery latency send → receive at the room's other sockets (p50/p99),
// messages/s sent and delivered, and the server's RSS per connection. The ramp stops at the
// target, or once a step has more than 0.1 % failures (failed connects, unexpected closes,
// error events, sends not acknowledged within 5 s — so an overloaded server stops it too).
//
//   bun run bench chat [--quick] [--step=500] [--interval=30] [--target=100000] [--rate=0.2] [--room-size=20] [--users=200] [--sync=FULL]
//   (or HOMEBASE_BENCH_CHAT_STEP, _INTERVAL_S, _TARGET, _RATE, _ROOM_SIZE, _USERS, _SYNC)
// Afterwards the same client drives a bare Bun.serve WebSocket fanout (no auth, no store) at
// the largest count homebase held: the runtime's ceiling for latency and memory.
//
// Limits of this machine, said rather than hidden: Bun's WebSocket client cannot pick its
// local address, so every socket comes from 127.0.0.1 towards one port — about 28,000
// ephemeral ports; and the hard open-files limit (`ulimit -Hn`, 20,000 here) binds the client
// and the server alike, each socket costing one descriptor on each side. The ramp stops
// before either (see `fdCeiling`).
import { execSync } from "node:child_process";
import { cpus } from "node:os";
import { newUser } from "../../src/testing/app";
import { freePort } from "../../src/testing/ports";
import type { RunningServer } from "../../src/testing/process";
import { waitFor } from "../../src/testing/wait";
import { scrape, startHomebase, type BenchContext, type LoadResult, type Scenario } from "../lib";
import { clusterInstances, clusterOutput, runCluster } from "./chat-cluster";

interface Options {
  step: number;
  intervalS: number;
  target: number;
  rate: number;
  roomSize: number;
  users: number;
}

function options(quick: boolean): Options {
  const flag = (name: string, env: string, fallback: number) => {
    const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
    const raw = arg?.split("=")[1] ?? process.env[env];
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} / ${env}: expected a positive number, got ${raw}`);
    return n;
  };
  return {
    step: flag("step", "HOMEBASE_BENCH_CHAT_STEP", quick ? 250 : 500),
    intervalS: flag("interval", "HOMEBASE_BENCH_CHAT_INTERVAL_S", quick ? 2 : 30),
    target: flag("target", "HOMEBASE_BENCH_CHAT_TARGET", quick ? 1000 : 100_000),
    rate: flag("rate", "HOMEBASE_BENCH_CHAT_RATE", 0.2),
    roomSize: flag("room-size", "HOMEBASE_BENCH_CHAT_ROOM_SIZE", 20),
    users: flag("users", "HOMEBASE_BENCH_CHAT_USERS", quick ? 20 : 200),
  };
}

/** Sockets the open-files limit leaves room for (both ends on this machine), minus slack. */
function fdCeiling(): number {
  let hard = 20_000;
  try {
    hard = Number(execSync("sh -c 'ulimit -Hn'").toString().trim()) || hard;
  } catch {}
  return Math.min(28_000, hard - 500);
}

interface Sock {
  id: number;
  ws: WebSocket;
  roomId: string;
  ready: boolean;
  nextSendAt: number;
  seq: number;
}

interface StepStats {
  connectAttempts: number;
  connectFailures: number;
  unexpectedCloses: number;
  errorEvents: number;
  sent: number;
  delivered: number;
  lateAcks: number;
  latencies: number[];
}

/** A send not acknowledged (echoed to its sender) within this counts as failed. */
const ackTimeoutMs = 5000;

const newStats = (): StepStats => ({ connectAttempts: 0, connectFailures: 0, unexpectedCloses: 0, errorEvents: 0, sent: 0, delivered: 0, lateAcks: 0, latencies: [] });

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function json(server: RunningServer, method: string, path: string, token?: string, body?: unknown): Promise<any> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? null : res.json();
}

/** Runs async jobs with at most `limit` at a time. */
async function pool<T>(items: T[], limit: number, job: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await job(items[next++]!);
  }));
}

/** What the ramp drives: homebase, or the bare Bun WebSocket ceiling. */
interface RampTarget {
  wsUrl(i: number): string;
  roomOf(i: number): string;
  /** Memberships (and rooms) for sockets [from, to) before they connect. */
  prepare(from: number, to: number): Promise<void>;
  rss(): Promise<number>;
}

interface RampResult {
  results: LoadResult[];
  held: { connections: number; rssPerConn: number; p99: number };
}

/** Adds `step` sockets per step up to `limit`; stops after a step with more than 0.1 % failures. */
async function ramp(ctx: BenchContext, label: string, target: RampTarget, o: Options, limit: number, firstStep = o.step): Promise<RampResult> {
  const socks: Sock[] = [];
  const byRoom = new Map<string, number>();
  const pendingAcks = new Map<string, number>(); // clientMsgId → sent at
  let stats = newStats();
  let stopping = false;

  const open = (id: number): Promise<void> =>
    new Promise((resolve) => {
      const roomId = target.roomOf(id);
      stats.connectAttempts++;
      const ws = new WebSocket(target.wsUrl(id));
      const sock: Sock = { id, ws, roomId, ready: false, nextSendAt: 0, seq: 0 };
      let settled = false;
      const settle = (ok: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (ok) {
          sock.ready = true;
          sock.nextSendAt = performance.now() + Math.random() * (1000 / o.rate);
          socks.push(sock);
          byRoom.set(roomId, (byRoom.get(roomId) ?? 0) + 1);
        } else {
          stats.connectFailures++;
          ws.close();
        }
        resolve();
      };
      const timer = setTimeout(() => settle(false), 10_000);
      ws.onopen = () => ws.send(JSON.stringify({ op: "join", roomId }));
      ws.onmessage = (e) => {
        const data = String(e.data);
        // Cheap prefix checks first: most frames are chat messages.
        if (data.startsWith('{"event":"message"')) {
          const ev = JSON.parse(data) as { message: { clientMsgId: string; content: string } };
          const cid = ev.message.clientMsgId;
          if (cid.slice(0, cid.indexOf("-")) === String(id)) {
            const at = pendingAcks.get(cid);
            // Acknowledged, but too late to count as working.
            if (at !== undefined && performance.now() - at > ackTimeoutMs) stats.lateAcks++;
            pendingAcks.delete(cid);
            return;
          }
          const sentAt = Number(ev.message.content.slice(0, ev.message.content.indexOf("|")));
          if (Number.isFinite(sentAt)) {
            stats.delivered++;
            stats.latencies.push(performance.now() - sentAt);
          }
        } else if (data.startsWith('{"event":"joined"')) settle(true);
        else if (data.startsWith('{"event":"error"')) {
          stats.errorEvents++;
          if (!settled) settle(false);
        }
      };
      ws.onclose = () => {
        if (!settled) settle(false);
        else if (!stopping) stats.unexpectedCloses++;
      };
    });

  // One timer drives every socket's sends: spread evenly, `rate` per socket per second.
  const pad = "x".repeat(40);
  const sender = setInterval(() => {
    const now = performance.now();
    for (const s of socks) {
      if (s.nextSendAt > now || s.ws.readyState !== WebSocket.OPEN) continue;
      // Never burst to catch up after a stall: the next send is one period from now.
      s.nextSendAt = Math.max(s.nextSendAt + 1000 / o.rate, now);
      // Alone in its room, nobody would receive it: skip, it measures nothing.
      if ((byRoom.get(s.roomId) ?? 0) < 2) continue;
      const clientMsgId = `${s.id}-${s.seq++}`;
      pendingAcks.set(clientMsgId, now);
      stats.sent++;
      s.ws.send(JSON.stringify({ op: "send", roomId: s.roomId, clientMsgId, kind: "text", content: `${now.toFixed(3)}|${pad}` }));
    }
  }, 20);

  const results: LoadResult[] = [];
  let held = { connections: 0, rssPerConn: Number.NaN, p99: Number.NaN };
  let first: { rss: number; sockets: number } | undefined;
  // Every membership up front, while the server is idle: the steps then measure sockets only
  // (made under load, the REST joins queue behind the messages and stretch the ramp).
  ctx.progress(`${label}: ${limit} memberships`);
  await target.prepare(0, limit);
  const rssBase = await target.rss();
  try {
    for (let total = 0; total < limit; ) {
      const next = Math.min(limit, total === 0 ? firstStep : total + o.step);
      ctx.progress(`${label}: ramp to ${next} sockets (connecting)`);
      stats = newStats();
      const t0 = performance.now();
      await pool(Array.from({ length: next - total }, (_, i) => total + i), 200, open);
      total = next;
      // Measure a full interval with every socket open and sending.
      stats.latencies = [];
      stats.delivered = 0;
      const sentBefore = stats.sent;
      const measureStart = performance.now();
      ctx.progress(`${label}: ${socks.length} sockets, measuring ${o.intervalS}s (connecting took ${((measureStart - t0) / 1000).toFixed(1)} s)`);
      await Bun.sleep(o.intervalS * 1000);
      const seconds = (performance.now() - measureStart) / 1000;
      const cutoff = performance.now() - ackTimeoutMs;
      let lost = 0;
      for (const [cid, at] of pendingAcks) {
        if (at >= cutoff) continue;
        lost++;
        pendingAcks.delete(cid);
      }
      const rss = await target.rss();
      const sorted = stats.latencies.sort((a, b) => a - b);
      const failures = stats.connectFailures + stats.unexpectedCloses + stats.errorEvents + lost + stats.lateAcks;
      const operations = stats.connectAttempts + stats.sent;
      const failureRate = operations > 0 ? failures / operations : 0;
      const p99 = percentile(sorted, 99);
      // Marginal cost: RSS growth since the first step over the sockets added since (before
      // any socket, homebase still holds the signups' Argon2 memory, so that baseline is
      // only used while there is one step).
      first ??= { rss, sockets: socks.length };
      const rssPerConn = socks.length > first.sockets ? (rss - first.rss) / (socks.length - first.sockets) : (rss - rssBase) / Math.max(1, socks.length);
      results.push({
        variant: `${label}: ${socks.length} sockets`,
        rps: stats.delivered / seconds,
        p50: percentile(sorted, 50),
        p95: percentile(sorted, 95),
        p99,
        max: sorted.at(-1) ?? Number.NaN,
        errors: failures,
        total: operations,
        extra: {
          "connect ok": `${stats.connectAttempts - stats.connectFailures}/${stats.connectAttempts}`,
          "sent/s": Math.round((stats.sent - sentBefore) / seconds),
          "RSS MiB": (rss / 1048576).toFixed(0),
          "RSS/socket KiB": (rssPerConn / 1024).toFixed(1),
        },
      });
      if (failureRate <= 0.001 && p99 < 250) held = { connections: socks.length, rssPerConn, p99 };
      if (failureRate > 0.001) {
        ctx.progress(`${label}: stopping, ${(failureRate * 100).toFixed(2)} % failures at ${socks.length} sockets`);
        break;
      }
    }
  } finally {
    stopping = true;
    clearInterval(sender);
    for (const s of socks) s.ws.close();
  }
  return { results, held };
}

/** The load generator on CPU 1 (the server has CPU 0), like oha in the other scenarios. */
function pinSelf(cpu: string): void {
  if (cpus().length < 2 || !Bun.which("taskset")) return;
  Bun.spawnSync(["taskset", "-a", "-p", "-c", cpu, String(process.pid)], { stdout: "ignore", stderr: "ignore" });
}

/**
 * The ceiling: a bare Bun.serve WebSocket server speaking the same subset (ready, join,
 * send → server.publish to the room topic), no auth, no store. Run as
 * `bun bench/scenarios/chat.ts ceiling <port>`.
 */
function serveCeiling(port: number): void {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port,
    fetch(req, srv) {
      if (new URL(req.url).pathname === "/rss") return new Response(String(process.memoryUsage.rss()));
      if (srv.upgrade(req)) return;
      return new Response("chat ceiling");
    },
    websocket: {
      open(ws) {
        ws.send('{"event":"ready"}');
      },
      message(ws, raw) {
        const op = JSON.parse(String(raw)) as { op: string; roomId: string; clientMsgId?: string; content?: string };
        if (op.op === "join") {
          ws.subscribe(op.roomId);
          ws.send(JSON.stringify({ event: "joined", roomId: op.roomId }));
        } else if (op.op === "send") {
          const message = { id: Bun.randomUUIDv7(), roomId: op.roomId, clientMsgId: op.clientMsgId, content: op.content, createdAt: new Date().toISOString() };
          server.publish(op.roomId, JSON.stringify({ event: "message", roomId: op.roomId, message }));
        }
      },
    },
  });
  console.log(`chat ceiling on ${server.port}`);
}

async function startWsCeiling(ctx: BenchContext): Promise<string> {
  const port = await freePort();
  const cmd = [process.execPath, import.meta.path, "ceiling", String(port)];
  const proc = Bun.spawn(cpus().length >= 2 && Bun.which("taskset") ? ["taskset", "-c", "0", ...cmd] : cmd, { stdout: "ignore", stderr: "inherit" });
  ctx.cleanup.push(async () => {
    proc.kill();
    await proc.exited;
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(() => fetch(url).then((r) => r.ok, () => false), { what: "the WebSocket ceiling" });
  return url;
}

export const chat: Scenario = {
  name: "chat",
  title: "chat: WebSocket ramp — connections held, delivery latency, RSS per connection",
  output: () => (clusterInstances() > 1 ? clusterOutput() : { name: "chat", title: chat.title }),
  async run(ctx: BenchContext) {
    // `--instances=N` (N > 1): the multi-instance ramp (bench/scenarios/chat-cluster.ts).
    if (clusterInstances() > 1) return runCluster(ctx, clusterOutput().title);
    const o = options(ctx.quick);
    const ceiling = fdCeiling();
    const limit = Math.min(o.target, ceiling);
    const sync = process.argv.find((a) => a.startsWith("--sync="))?.split("=")[1] ?? process.env.HOMEBASE_BENCH_CHAT_SYNC ?? "FULL";
    // Chat's socket caps (per user, per client IP: every socket comes from 127.0.0.1) are not
    // what the ramp measures: set past what it opens.
    const server = await startHomebase(ctx, {
      HOMEBASE_ACCESS_TTL_SEC: "86400",
      HOMEBASE_CHAT_WS_RATE: "100",
      HOMEBASE_SQLITE_SYNCHRONOUS: sync,
      HOMEBASE_CHAT_WS_MAX_PER_IP: "1000000",
      HOMEBASE_CHAT_WS_MAX_PER_USER: String(Math.max(20, Math.ceil(limit / o.users))),
    });
    pinSelf("1");
    ctx.cleanup.push(() => pinSelf(`0-${cpus().length - 1}`));

    // Users: each signup and login costs an Argon2id hash, so a few users hold many sockets each.
    ctx.progress(`creating ${o.users} users`);
    const users: Array<{ id: string; token: string }> = [];
    await pool(Array.from({ length: o.users }, (_, i) => i), 4, async () => {
      const u = newUser("bench");
      const created = await json(server, "POST", "/auth/signup", undefined, u);
      const tokens = await json(server, "POST", "/auth/login", undefined, { email: u.email, password: u.password });
      users.push({ id: created.id, token: tokens.accessToken });
    });
    const rooms: string[] = [];
    const members = new Set<string>();
    const wsBase = server.url.replace(/^http/, "ws");
    // Socket i: user i mod users, room floor(i / roomSize); memberships are made over REST first.
    const homebase: RampTarget = {
      wsUrl: (i) => `${wsBase}/ws?token=${users[i % users.length]!.token}`,
      roomOf: (i) => rooms[Math.floor(i / o.roomSize)]!,
      async prepare(from, to) {
        const owner = users[0]!;
        while (rooms.length < Math.ceil(to / o.roomSize)) rooms.push((await json(server, "POST", "/rooms", owner.token, { name: `bench ${rooms.length}` })).id);
        const joins: Array<[string, string]> = [];
        for (let i = from; i < to; i++) {
          const user = users[i % users.length]!;
          const room = rooms[Math.floor(i / o.roomSize)]!;
          if (members.has(`${room}:${user.id}`)) continue;
          members.add(`${room}:${user.id}`);
          joins.push([room, user.token]);
        }
        await pool(joins, 32, ([room, token]) => json(server, "POST", `/rooms/${room}/join`, token, {}));
      },
      rss: () => scrape(server.url, "process_resident_memory_bytes"),
    };
    const { results, held } = await ramp(ctx, "homebase", homebase, o, limit);

    // The same client against a bare Bun WebSocket fanout, at the largest count homebase held.
    const atCount = Math.max(held.connections, o.step);
    const ceilingUrl = await startWsCeiling(ctx);
    const bare: RampTarget = {
      wsUrl: () => `${ceilingUrl.replace(/^http/, "ws")}/ws`,
      roomOf: (i) => `room-${Math.floor(i / o.roomSize)}`,
      prepare: async () => {},
      rss: async () => Number(await (await fetch(`${ceilingUrl}/rss`)).text()),
    };
    // Two steps (half, then all) so RSS per socket is a slope, like homebase's.
    const half = Math.ceil(atCount / 2);
    const bareRun = await ramp(ctx, "ceiling: Bun.serve + publish", bare, { ...o, step: half }, atCount, half);
    const ceilingRow = bareRun.results.at(-1);

    const note =
      `held ${held.connections} sockets with < 0.1 % failures and p99 < 250 ms (p99 ${held.p99.toFixed(1)} ms); ` +
      `server RSS ${(held.rssPerConn / 1024).toFixed(1)} KiB per added socket; ` +
      `ramp limit ${limit}${limit < o.target ? ` (target ${o.target} capped by the open-files / port limit)` : ""}; ` +
      `all sockets from 127.0.0.1 (Bun's WebSocket client cannot choose its local address)`;
    process.stderr.write(`\r\x1b[2K[bench] chat: ${note}\n`);
    // The summary rides on the last homebase row so it lands in the JSON and the table.
    const last = results.at(-1);
    if (last) last.extra = { ...last.extra, held: `${held.connections} @ p99 ${held.p99.toFixed(0)} ms, ${(held.rssPerConn / 1024).toFixed(1)} KiB/socket` };
    // Not flagged isCeiling: at a fixed send rate per socket, messages/s follow the socket
    // count, so "% of ceiling" would compare steps of different sizes. Compare latency and RSS.
    return ceilingRow ? [ceilingRow, ...results] : results;
  },
};

if (import.meta.main && process.argv[2] === "ceiling") serveCeiling(Number(process.argv[3]));
