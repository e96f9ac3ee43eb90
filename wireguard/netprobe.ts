// Tiny listeners and probes for wireguard.test.ts, run inside a network namespace with
// `ip netns exec NS bun wireguard/netprobe.ts ...` (a namespace is per process, so the test
// cannot open these sockets itself).
//   listen '{"tcp":[22,9100],"udp":[5353]}'   TCP: greet and close; UDP: echo. Prints "ready".
//   probe '[{"kind":"tcp","host":"192.0.2.1","port":22}, ...]'   Prints one JSON result per probe:
//     tcp → "open" | "refused" | "timeout";  udp → "reply" | "timeout";  http → status | "refused" | "timeout"
//   wait-http URL STATUS TIMEOUT_MS   Polls until URL answers STATUS; exit 0, or 1 at the deadline.
import { createSocket } from "node:dgram";
import { connect, createServer } from "node:net";

export type Probe =
  | { kind: "tcp"; host: string; port: number }
  | { kind: "udp"; host: string; port: number }
  | { kind: "http"; url: string };

const timeoutMs = 1000;

function tcp(host: string, port: number): Promise<string> {
  return new Promise((done) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => finish("timeout"), timeoutMs);
    function finish(result: string) {
      clearTimeout(timer);
      socket.destroy();
      done(result);
    }
    socket.once("connect", () => finish("open"));
    socket.once("error", (err: NodeJS.ErrnoException) => finish(err.code === "ECONNREFUSED" ? "refused" : `error ${err.code}`));
  });
}

function udp(host: string, port: number): Promise<string> {
  return new Promise((done) => {
    const socket = createSocket("udp4");
    const timer = setTimeout(() => finish("timeout"), timeoutMs);
    function finish(result: string) {
      clearTimeout(timer);
      socket.close();
      done(result);
    }
    socket.once("message", () => finish("reply"));
    socket.once("error", (err: NodeJS.ErrnoException) => finish(`error ${err.code}`));
    socket.send("ping", port, host);
  });
}

async function http(url: string): Promise<string | number> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })).status;
  } catch (err) {
    const e = err as { name?: string; code?: string };
    if (e.name === "TimeoutError" || e.name === "AbortError") return "timeout";
    return e.code === "ConnectionRefused" || e.code === "ECONNREFUSED" ? "refused" : `error ${e.code ?? e.name}`;
  }
}

export function runProbe(p: Probe): Promise<string | number> {
  if (p.kind === "tcp") return tcp(p.host, p.port);
  if (p.kind === "udp") return udp(p.host, p.port);
  return http(p.url);
}

async function listen(spec: { tcp?: number[]; udp?: number[] }) {
  for (const port of spec.tcp ?? []) {
    const server = createServer((socket) => socket.end(`hello from ${port}\n`));
    await new Promise<void>((ok, fail) => server.once("error", fail).listen(port, "0.0.0.0", ok));
  }
  for (const port of spec.udp ?? []) {
    const socket = createSocket("udp4");
    socket.on("message", (msg, from) => socket.send(msg, from.port, from.address));
    await new Promise<void>((ok, fail) => {
      socket.once("error", fail);
      socket.bind(port, "0.0.0.0", ok);
    });
  }
  process.stdout.write("ready\n");
}

if (import.meta.main) {
  const [mode, arg = "", ...rest] = process.argv.slice(2);
  if (mode === "listen") await listen(JSON.parse(arg));
  else if (mode === "probe") {
    const results = await Promise.all((JSON.parse(arg) as Probe[]).map(runProbe));
    process.stdout.write(JSON.stringify(results) + "\n");
  } else if (mode === "wait-http") {
    const [status = "200", limit = "10000"] = rest;
    const deadline = Date.now() + Number(limit);
    while ((await http(arg)) !== Number(status)) {
      if (Date.now() > deadline) process.exit(1);
      await Bun.sleep(20);
    }
  } else {
    process.stderr.write("usage: netprobe.ts listen SPEC | probe PROBES | wait-http URL STATUS TIMEOUT_MS\n");
    process.exit(2);
  }
}
