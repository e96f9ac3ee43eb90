// One load-client process of the multi-instance chat ramp (bench/scenarios/chat-cluster.ts
// starts M of them). It holds its share of the sockets — at most ~15,000, under the hard
// open-files limit of 20,000 per process — all towards one destination address (127.0.0.x:port,
// given by the coordinator), so the ~28,000 ephemeral ports of one (source, destination) pair
// are never the limit. Bun's WebSocket client cannot pick its local address; the destination is
// what spreads the 4-tuples.
//
// Protocol: JSON lines. Coordinator → stdin: {cmd:"setup", tokens, rooms} (once), then
// {cmd:"open", sockets:[[i, token index, room index], …], deadline} (deadline: monotonic ms after
// which no new handshake starts; the sockets left count as failed connects, "run_deadline"),
// {cmd:"measure"} (a new measuring window), {cmd:"report"}, {cmd:"stop"}. Client → stdout:
// {ev:"ready"}, {ev:"opened", ok, failed, ms}, {ev:"report", ...Window}, {ev:"stopped"}.
//
// Latency: the sender puts its send time on the system's monotonic clock (process.hrtime, the
// same CLOCK_MONOTONIC in every process of the box) in the message; a receiver in any client
// process subtracts it from its own receive time. Kept as a histogram of 0.1 ms buckets.
//
//   bun bench/chat-client.ts '<json: {url, sendPeriodMs, readShare, connectConcurrency}>'

interface ClientConfig {
  /** ws://127.0.0.x:port/ws — the token is appended per socket. */
  url: string;
  /** Each socket sends one message per this period (random phase). */
  sendPeriodMs: number;
  /** Fraction of received messages a socket marks read (`read` op; Redis read marks). */
  readShare: number;
  /** Handshakes under way at once. */
  connectConcurrency: number;
}

interface Sock {
  i: number;
  ws: WebSocket;
  roomId: string;
  nextSendAt: number;
  seq: number;
}

export interface Window {
  connectAttempts: number;
  connectFailures: number;
  unexpectedCloses: number;
  errorEvents: number;
  /** Error codes seen (error frames and refused upgrades), with counts. */
  errorCodes: Record<string, number>;
  sent: number;
  delivered: number;
  reads: number;
  /** Sends not echoed to their sender within ackTimeoutMs (counted once the window ends). */
  lost: number;
  lateAcks: number;
  /** 0.1 ms bucket → count. */
  histogram: Record<number, number>;
  sockets: number;
  seconds: number;
}

const ackTimeoutMs = 5000;
const now = () => Number(process.hrtime.bigint()) / 1e6;

const newWindow = (): Window => ({
  connectAttempts: 0,
  connectFailures: 0,
  unexpectedCloses: 0,
  errorEvents: 0,
  errorCodes: {},
  sent: 0,
  delivered: 0,
  reads: 0,
  lost: 0,
  lateAcks: 0,
  histogram: {},
  sockets: 0,
  seconds: 0,
});

function runClient(config: ClientConfig): void {
  const socks: Sock[] = [];
  const pendingAcks = new Map<string, number>();
  let w = newWindow();
  let windowStart = now();
  let stopping = false;
  const out = (line: unknown) => process.stdout.write(`${JSON.stringify(line)}\n`);
  const countCode = (code: string) => {
    w.errorCodes[code] = (w.errorCodes[code] ?? 0) + 1;
  };

  const open = (i: number, token: string, roomId: string): Promise<boolean> =>
    new Promise((resolve) => {
      w.connectAttempts++;
      const ws = new WebSocket(`${config.url}?token=${encodeURIComponent(token)}`);
      const sock: Sock = { i, ws, roomId, nextSendAt: 0, seq: 0 };
      let settled = false;
      const settle = (ok: boolean, why?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (ok) {
          sock.nextSendAt = now() + Math.random() * config.sendPeriodMs;
          socks.push(sock);
          schedule(sock);
        } else {
          w.connectFailures++;
          if (why) countCode(why);
          ws.close();
        }
        resolve(ok);
      };
      const timer = setTimeout(() => settle(false, "connect_timeout"), 15_000);
      ws.onopen = () => ws.send(JSON.stringify({ op: "join", roomId }));
      ws.onmessage = (e) => {
        const data = String(e.data);
        // Cheap prefix checks first: most frames are chat messages.
        if (data.startsWith('{"event":"message"')) {
          const ev = JSON.parse(data) as { message: { clientMsgId?: string | null; content?: string | null; id: string } };
          const cid = ev.message.clientMsgId;
          const content = ev.message.content ?? "";
          const bar = content.indexOf("|");
          // System messages (joins) carry no send time: they measure nothing.
          if (!cid || bar < 0) return;
          if (cid.slice(0, cid.indexOf("-")) === String(i)) {
            const at = pendingAcks.get(cid);
            if (at !== undefined && now() - at > ackTimeoutMs) w.lateAcks++;
            pendingAcks.delete(cid);
            return;
          }
          const sentAt = Number(content.slice(0, bar));
          if (!Number.isFinite(sentAt)) return;
          w.delivered++;
          const bucket = Math.max(0, Math.round((now() - sentAt) * 10));
          w.histogram[bucket] = (w.histogram[bucket] ?? 0) + 1;
          if (config.readShare > 0 && Math.random() < config.readShare) {
            w.reads++;
            ws.send(JSON.stringify({ op: "read", roomId, upToMessageId: ev.message.id }));
          }
        } else if (data.startsWith('{"event":"joined"')) settle(true);
        else if (data.startsWith('{"event":"error"')) {
          w.errorEvents++;
          const code = (JSON.parse(data) as { code?: string }).code ?? "error";
          countCode(code);
          if (!settled) settle(false);
        }
      };
      ws.onerror = () => {
        if (!settled) settle(false, "socket_error");
      };
      ws.onclose = (e) => {
        if (!settled) settle(false, `close_${e.code}`);
        // A failed connect's own close is not one more failure.
        else if (!stopping && socks.includes(sock)) {
          w.unexpectedCloses++;
          countCode(`close_${e.code}`);
          const at = socks.indexOf(sock);
          if (at >= 0) socks.splice(at, 1);
        }
      };
    });

  // One timer drives every socket's sends, spread evenly; never bursts to catch up. Sockets wait
  // in 20 ms slots of a wheel one send period around, so a tick touches only the sockets due
  // (scanning all ~14,000 every 20 ms cost the clients a fifth of the box at 100,000 sockets).
  const pad = "x".repeat(40);
  const tickMs = 20;
  const wheel: Sock[][] = Array.from({ length: Math.max(1, Math.ceil(config.sendPeriodMs / tickMs)) }, () => []);
  const slotOf = (at: number) => Math.floor(at / tickMs) % wheel.length;
  const schedule = (s: Sock) => wheel[slotOf(s.nextSendAt)]!.push(s);
  let lastSlot = Math.floor(now() / tickMs) - 1;
  const sender = setInterval(() => {
    const t = now();
    // Every slot wholly past since the last tick (at most one turn of the wheel): all its
    // sockets are due, but for those of a later turn, which go back in.
    const upTo = Math.floor(t / tickMs) - 1;
    for (let st = Math.max(lastSlot + 1, upTo - wheel.length + 1); st <= upTo; st++) {
      const slot = wheel[st % wheel.length]!;
      wheel[st % wheel.length] = [];
      for (const s of slot) {
        if (s.ws.readyState === WebSocket.CLOSED) continue;
        if (s.nextSendAt > t) {
          schedule(s); // a later turn of the wheel
          continue;
        }
        s.nextSendAt = Math.max(s.nextSendAt + config.sendPeriodMs, t);
        schedule(s);
        if (s.ws.readyState !== WebSocket.OPEN) continue;
        const clientMsgId = `${s.i}-${s.seq++}`;
        pendingAcks.set(clientMsgId, t);
        w.sent++;
        s.ws.send(JSON.stringify({ op: "send", roomId: s.roomId, clientMsgId, kind: "text", content: `${t.toFixed(3)}|${pad}` }));
      }
    }
    lastSlot = upTo;
  }, tickMs);

  let tokens: string[] = [];
  let rooms: string[] = [];
  const handle = async (msg: { cmd: string; tokens?: string[]; rooms?: string[]; sockets?: Array<[number, number, number]>; deadline?: number }) => {
    if (msg.cmd === "setup") {
      tokens = msg.tokens ?? [];
      rooms = msg.rooms ?? [];
      out({ ev: "setup" });
    } else if (msg.cmd === "open") {
      const t0 = now();
      const list = msg.sockets ?? [];
      let next = 0;
      let ok = 0;
      let failed = 0;
      await Promise.all(
        Array.from({ length: Math.min(config.connectConcurrency, list.length) }, async () => {
          while (next < list.length) {
            if (msg.deadline !== undefined && now() > msg.deadline) {
              const left = list.length - next;
              next = list.length;
              failed += left;
              w.connectAttempts += left;
              w.connectFailures += left;
              if (left > 0) w.errorCodes.run_deadline = (w.errorCodes.run_deadline ?? 0) + left;
              break;
            }
            const [i, u, r] = list[next++]!;
            if (await open(i, tokens[u]!, rooms[r]!)) ok++;
            else failed++;
          }
        }),
      );
      out({ ev: "opened", ok, failed, ms: now() - t0 });
    } else if (msg.cmd === "measure") {
      // Connect figures of the step carry over into its measuring window.
      w = { ...newWindow(), connectAttempts: w.connectAttempts, connectFailures: w.connectFailures, errorCodes: w.errorCodes, errorEvents: w.errorEvents, unexpectedCloses: w.unexpectedCloses };
      windowStart = now();
    } else if (msg.cmd === "report") {
      const cutoff = now() - ackTimeoutMs;
      for (const [cid, at] of pendingAcks) {
        if (at >= cutoff) continue;
        w.lost++;
        pendingAcks.delete(cid);
      }
      out({ ev: "report", ...w, sockets: socks.length, seconds: (now() - windowStart) / 1000 });
      // The next step's connects start a fresh count.
      w = newWindow();
      windowStart = now();
    } else if (msg.cmd === "stop") {
      stopping = true;
      clearInterval(sender);
      for (const s of socks) s.ws.close();
      out({ ev: "stopped" });
      setTimeout(() => process.exit(0), 200);
    }
  };

  // Commands run one at a time, in order.
  let queue = Promise.resolve();
  let buffered: string[] = [];
  process.stdin.on("data", (chunk: Buffer) => {
    const text = chunk.toString();
    let from = 0;
    for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", from)) {
      buffered.push(text.slice(from, nl));
      from = nl + 1;
      const line = buffered.join("");
      buffered = [];
      if (line.trim()) {
        const msg = JSON.parse(line);
        queue = queue.then(() => handle(msg));
      }
    }
    if (from < text.length) buffered.push(text.slice(from));
  });
  // The coordinator gone (stdin closed): stop, whatever state we are in.
  process.stdin.on("end", () => process.exit(0));
  out({ ev: "ready" });
}

if (import.meta.main) runClient(JSON.parse(process.argv[2] ?? "{}") as ClientConfig);
