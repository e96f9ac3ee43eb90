// The real-backend harness: starts redis-server, nats-server (JetStream) and a MongoDB
// wire-protocol database (FerretDB on SQLite) on free ports of 127.0.0.1, once per process, in a
// fresh temp dir, and stops them when the process exits. Missing tools are installed (apt-get, as
// root) or reported with exactly what to install — never skipped silently. nats-server and FerretDB
// run at the versions we deploy, built from Go source once and cached (./go-tools.ts):
// nats-server 2.15 with `sync_interval: always` like deploy/nats.conf (Debian's 2.9 has no such
// setting).
// Redis and NATS run with authentication, as deploy/ ships them: Redis's default user is off and
// user homebase has deploy/redis.conf's ACL rules; NATS knows only user homebase (a bcrypt hash in
// its config). Passwords are fresh per run, in 0600 files the app reads (REDIS_PASSWORD_FILE,
// NATS_PASSWORD_FILE). FerretDB runs without authentication here: MONGO_URL stays without.
import type { Subprocess } from "bun";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { MongoClient } from "mongodb";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ferretdbBinary, natsServerBinary } from "./go-tools";
import { freePort } from "./ports";

export interface RealBackends {
  /** With user and password: for clients a test makes itself (ioredis reads them from the URL). */
  redisUrl: string;
  /** With user and password: connect with natsConnectionOptions (nats.js ignores URL credentials). */
  natsUrl: string;
  mongoUrl: string;
  /** nats-server's monitoring endpoint (GET /varz shows its version and JetStream config). */
  natsMonitorUrl: string;
  /** What the app gets (backendEnv): URLs naming the user, passwords in files. */
  credentials: {
    user: string;
    redisUrl: string;
    redisPasswordFile: string;
    natsUrl: string;
    natsPasswordFile: string;
  };
}

/** The user both servers know (the one deploy/ configures). */
export const backendUser = "homebase";
/** deploy/redis.conf's rules for that user: every key and channel, no admin or dangerous command but INFO. */
export const redisAclRules = "~* &* +@all -@dangerous +info";

interface Secrets {
  redisPassword: string;
  natsPassword: string;
}
let secrets: Secrets | undefined;

function log(line: string): void {
  process.stderr.write(`[harness] ${line}\n`);
}

// ---------------------------------------------------------------------------------------------
// Tools: which binary comes from which Debian package.

const debianPackage = {
  "redis-server": "redis-server",
  "nats-server": "nats-server",
  chromium: "chromium",
  // The benchmark harness's fallback load generator (bench/bench.test.ts runs it when oha is absent).
  wrk: "wrk",
  // schemathesis (chaos/fuzz.test.ts) runs in a virtualenv: python3 with its venv module.
  python3: "python3-venv",
} as const;
export type Tool = keyof typeof debianPackage;

let aptUpdated = false;

/**
 * Makes sure each binary is on PATH; installs the missing ones with apt-get when we are root on
 * a Debian-like machine, else throws saying what to install. Returns the packages it installed.
 */
export function ensureTools(tools: Tool[]): string[] {
  const missing = tools.filter((t) => !Bun.which(t));
  if (missing.length === 0) return [];
  const pkgs = [...new Set(missing.map((t) => debianPackage[t]))];
  const hint = `missing ${missing.join(", ")}: install the Debian packages ${pkgs.join(" ")} (apt-get install -y ${pkgs.join(" ")})`;
  if (process.getuid?.() !== 0 || !Bun.which("apt-get")) throw new Error(`[harness] ${hint}; not root or no apt-get, so not installing it myself`);
  const run = (cmd: string[]) => {
    log(`$ ${cmd.join(" ")}`);
    const r = Bun.spawnSync(cmd, { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" }, stdout: "inherit", stderr: "inherit" });
    if (r.exitCode !== 0) throw new Error(`[harness] \`${cmd.join(" ")}\` failed (exit ${r.exitCode}); ${hint}`);
  };
  // A fresh machine often has no package lists yet; update once per process.
  if (!aptUpdated) {
    run(["apt-get", "update"]);
    aptUpdated = true;
  }
  run(["apt-get", "install", "-y", ...pkgs]);
  const still = missing.filter((t) => !Bun.which(t));
  if (still.length) throw new Error(`[harness] installed ${pkgs.join(" ")} but ${still.join(", ")} still not on PATH`);
  return pkgs;
}

/** Path to a Chromium for Playwright; installs the Debian package if missing. */
export function findChromium(): string {
  const candidates = () => [
    process.env.CHROMIUM_PATH,
    // The real binary: /usr/bin/chromium is a shell wrapper that adds desktop flags and noise.
    "/usr/lib/chromium/chromium",
    Bun.which("chromium"),
    Bun.which("chromium-browser"),
    Bun.which("google-chrome"),
  ];
  const found = () => candidates().find((p): p is string => !!p && existsSync(p));
  const path = found();
  if (path) return path;
  ensureTools(["chromium"]);
  const installed = found();
  if (!installed) throw new Error("[harness] chromium was installed but no binary was found; set CHROMIUM_PATH");
  return installed;
}

// ---------------------------------------------------------------------------------------------
// Processes.

interface Server {
  name: string;
  port: number;
  proc?: Subprocess;
  logFile: string;
  spawn(): Subprocess;
  /** A line in the server's log that says it is listening. */
  readyMarker: string;
  /** A protocol-level check once the marker is seen. */
  probe(): Promise<void>;
  /** nats-server's monitoring port. */
  monitorPort?: number;
}

let workDir: string | undefined;
let redis: Server | undefined;
let nats: Server | undefined;
let mongo: Server | undefined;
let started: Promise<RealBackends> | undefined;

// `bun test` never fires process.on("exit") (oven-sh/bun#8434), so the exit hook alone would
// leave servers behind. setpriv --pdeathsig makes the kernel send SIGTERM to each server when
// we die, however we die; it execs, so the PID stays the server's own.
const setpriv = process.platform === "linux" ? Bun.which("setpriv") : null;

function spawnLogged(server: { logFile: string }, cmd: string[], stdin: "ignore" | "pipe" = "ignore"): Subprocess {
  // stdout+stderr go to one append-only file: nothing to pump, and the tail explains failures.
  const fd = openSync(server.logFile, "a");
  try {
    const argv = setpriv ? [setpriv, "--pdeathsig", "TERM", "--", ...cmd] : cmd;
    const proc = Bun.spawn(argv, { cwd: workDir, stdin, stdout: fd, stderr: fd, env: process.env });
    // The servers must not keep a script alive; the exit hook stops them.
    proc.unref();
    return proc;
  } finally {
    closeSync(fd);
  }
}

function logTail(file: string, lines = 30): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

async function startServer(server: Server, timeoutMs: number): Promise<void> {
  const t0 = performance.now();
  const logStart = existsSync(server.logFile) ? statSync(server.logFile).size : 0;
  const proc = server.spawn();
  server.proc = proc;
  const deadline = Date.now() + timeoutMs;
  // Wait for our own process to say it is ready (a TCP connect alone could reach a stranger that
  // grabbed the port), and fail fast if it exited.
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      server.proc = undefined;
      throw new Error(`[harness] ${server.name} exited (${proc.exitCode ?? proc.signalCode}) before it was ready on port ${server.port}:\n${logTail(server.logFile)}`);
    }
    const text = readFileSync(server.logFile).subarray(logStart).toString();
    if (text.includes(server.readyMarker)) break;
    if (Date.now() > deadline) {
      await stopServer(server);
      throw new Error(`[harness] ${server.name} not ready after ${timeoutMs} ms on port ${server.port}:\n${logTail(server.logFile)}`);
    }
    await Bun.sleep(20);
  }
  await server.probe();
  log(`${server.name} up on 127.0.0.1:${server.port} (pid ${proc.pid}, ${Math.round(performance.now() - t0)} ms)`);
}

/** Starts on fresh ports (a second one for servers that need it), retrying with others if one was taken in between. */
async function startOnFreePort(make: (port: number, second: number) => Server, timeoutMs: number): Promise<Server> {
  for (let attempt = 1; ; attempt++) {
    const server = make(await freePort(), await freePort());
    try {
      await startServer(server, timeoutMs);
      return server;
    } catch (err) {
      const inUse = /address already in use|bindexception|eaddrinuse/i.test(logTail(server.logFile));
      if (!inUse || attempt >= 3) throw err;
      log(`${server.name}: port ${server.port} was taken, retrying on another`);
    }
  }
}

async function stopServer(server: Server | undefined, timeoutMs = 10_000): Promise<void> {
  const proc = server?.proc;
  if (!server || !proc) return;
  server.proc = undefined;
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  await proc.exited;
  clearTimeout(timer);
  log(`${server.name} stopped (pid ${proc.pid})`);
}

/** Connects, optionally sends a line, resolves when the reply contains `expect`. */
function tcpProbe(port: number, send: string | undefined, expect: string, timeoutMs = 5000): Promise<void> {
  return new Promise((resolveProbe, reject) => {
    const socket = tcpConnect({ host: "127.0.0.1", port });
    let got = "";
    const fail = (why: string) => {
      socket.destroy();
      reject(new Error(`[harness] probe of 127.0.0.1:${port} failed: ${why} (got ${JSON.stringify(got.slice(0, 200))})`));
    };
    socket.setTimeout(timeoutMs, () => fail("timeout"));
    socket.on("error", (e) => fail(e.message));
    socket.on("connect", () => {
      if (send !== undefined) socket.write(send);
    });
    socket.on("data", (chunk) => {
      got += chunk.toString();
      if (got.includes(expect)) {
        socket.destroy();
        resolveProbe();
      }
    });
  });
}

/** The passwords and the servers' files that check them, in the work dir (0600). */
async function writeCredentials(dir: string): Promise<Secrets> {
  const made = { redisPassword: randomBytes(24).toString("hex"), natsPassword: randomBytes(24).toString("hex") };
  const write = (name: string, text: string) => writeFileSync(join(dir, name), text, { mode: 0o600 });
  write("redis.password", `${made.redisPassword}\n`);
  write("nats.password", `${made.natsPassword}\n`);
  // As deploy/backend-credentials.sh writes them: Redis keeps the SHA-256, NATS a bcrypt hash.
  const sha = createHash("sha256").update(made.redisPassword).digest("hex");
  write("redis.acl", `user default off\nuser ${backendUser} on #${sha} ${redisAclRules}\n`);
  // Cost 4 (deploy uses 11): nats-server checks it on every connection, and tests connect often.
  const bcrypt = await Bun.password.hash(made.natsPassword, { algorithm: "bcrypt", cost: 4 });
  // JetStream as deploy/nats.conf runs it: fsync on every write. The same store dir across
  // restarts, so streams and consumers survive stopNats/startNats.
  const jetstream = `jetstream {\n  store_dir: "${join(dir, "js")}"\n  sync_interval: always\n}\n`;
  write("nats.conf", `${jetstream}authorization {\n  users: [ { user: ${backendUser}, password: "${bcrypt}" } ]\n}\n`);
  return made;
}

function makeRedis(port: number): Server {
  const logFile = join(workDir!, "redis.log");
  return {
    name: "redis-server",
    port,
    logFile,
    readyMarker: "Ready to accept connections",
    spawn: () =>
      spawnLogged({ logFile }, [
        Bun.which("redis-server")!,
        "--port", String(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--dir", workDir!,
        "--aclfile", join(workDir!, "redis.acl"),
        // Without this a stray config could daemonize and we would lose the PID.
        "--daemonize", "no",
      ]),
    probe: () => tcpProbe(port, `AUTH ${backendUser} ${secrets!.redisPassword}\r\nPING\r\n`, "+PONG"),
  };
}

function makeNats(port: number, monitorPort: number, bin: string): Server {
  const logFile = join(workDir!, "nats.log");
  return {
    name: "nats-server",
    port,
    monitorPort,
    logFile,
    readyMarker: "Server is ready",
    spawn: () => spawnLogged({ logFile }, [bin, "-c", join(workDir!, "nats.conf"), "-a", "127.0.0.1", "-p", String(port), "-m", String(monitorPort)]),
    probe: () => tcpProbe(port, undefined, "INFO "),
  };
}

/**
 * Connections per MongoClient in MONGO_URL (the driver's default is 100). FerretDB's SQLite backend
 * keeps at most 100 SQLite connections, and a findAndModify holds one (its cursor) while it begins
 * a transaction on another: past ~50 operations at once every connection waits for a second one,
 * and the server hangs for good (seen with 4 clients × 50 connections). Under 50 client connections
 * in all it cannot: 5 each lets the bench's 8 chat instances and a few test clients share one
 * FerretDB; SQLite writes one at a time anyway.
 */
export const ferretdbPoolPerClient = 5;

function makeFerretdb(port: number, bin: string): Server {
  const logFile = join(workDir!, "ferretdb.log");
  const dataDir = join(workDir!, "ferretdb");
  mkdirSync(dataDir, { recursive: true });
  return {
    name: "ferretdb",
    port,
    logFile,
    readyMarker: `Listening on TCP 127.0.0.1:${port}`,
    spawn: () =>
      spawnLogged({ logFile }, [
        bin,
        "--handler=sqlite",
        `--sqlite-url=file:${dataDir}/`,
        `--listen-addr=127.0.0.1:${port}`,
        `--state-dir=${dataDir}`,
        "--telemetry=disable",
        // No debug/metrics listener: its fixed default port would clash between parallel runs.
        "--debug-addr=-",
      ]),
    // A real MongoDB client's ping: the wire protocol answers, not just the socket.
    probe: async () => {
      const client = new MongoClient(`mongodb://127.0.0.1:${port}`, { serverSelectionTimeoutMS: 10_000 });
      try {
        await client.db("admin").command({ ping: 1 });
      } finally {
        await client.close();
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Lifecycle.

let hooksInstalled = false;

/** Synchronous, for the exit hook: kill our own PIDs and remove the temp dir. */
function killAllNow(): void {
  for (const server of [redis, nats, mongo]) {
    const proc = server?.proc;
    if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
  }
  if (workDir) {
    try {
      rmSync(workDir, { recursive: true, force: true });
    } catch {
      // best effort: a dying server may still be writing
    }
  }
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", killAllNow);
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    const onSignal = () => {
      killAllNow();
      // Exit ourselves only if nobody else handles the signal (else they decide when to exit).
      if (process.listenerCount(signal) <= 1) process.exit(code);
    };
    process.on(signal, onSignal);
  }
}

const workDirPrefix = "homebase-backends-";

/** Removes temp dirs of earlier runs whose process is gone (bun test skips our exit hook). */
function sweepStaleWorkDirs(): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(workDirPrefix)) continue;
    const dir = join(tmpdir(), name);
    try {
      const owner = Number(readFileSync(join(dir, "owner.pid"), "utf8"));
      if (owner && isAlive(owner)) continue;
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // no owner file yet (being created) or not ours to remove: leave it
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Starts all three servers (once per process; later calls get the same URLs). */
export function startRealBackends(): Promise<RealBackends> {
  started ??= (async () => {
    const t0 = performance.now();
    ensureTools(["redis-server"]);
    // Built once (minutes) and cached under .tools; scripts/ensure-tools.ts does it before the tests.
    const natsBin = natsServerBinary();
    const ferretdbBin = ferretdbBinary();
    sweepStaleWorkDirs();
    workDir = mkdtempSync(join(tmpdir(), workDirPrefix));
    writeFileSync(join(workDir, "owner.pid"), String(process.pid));
    installExitHooks();
    secrets = await writeCredentials(workDir);
    try {
      [redis, nats, mongo] = await Promise.all([
        startOnFreePort(makeRedis, 20_000),
        startOnFreePort((port, monitorPort) => makeNats(port, monitorPort, natsBin), 20_000),
        startOnFreePort((port) => makeFerretdb(port, ferretdbBin), 30_000),
      ]);
    } catch (err) {
      // Stop whichever did start; keep the first error.
      killAllNow();
      throw err;
    }
    log(`all real backends up in ${Math.round(performance.now() - t0)} ms (dir ${workDir})`);
    const redisAt = `127.0.0.1:${redis.port}`;
    const natsAt = `127.0.0.1:${nats.port}`;
    return {
      redisUrl: `redis://${backendUser}:${secrets.redisPassword}@${redisAt}`,
      natsUrl: `nats://${backendUser}:${secrets.natsPassword}@${natsAt}`,
      mongoUrl: `mongodb://127.0.0.1:${mongo.port}/?maxPoolSize=${ferretdbPoolPerClient}`,
      natsMonitorUrl: `http://127.0.0.1:${nats.monitorPort}`,
      credentials: {
        user: backendUser,
        redisUrl: `redis://${backendUser}@${redisAt}`,
        redisPasswordFile: join(workDir, "redis.password"),
        natsUrl: `nats://${backendUser}@${natsAt}`,
        natsPasswordFile: join(workDir, "nats.password"),
      },
    };
  })();
  return started;
}

/** Stops every server and forgets them; the next startRealBackends() starts fresh ones. */
export async function stopRealBackends(): Promise<void> {
  if (!started) return;
  await started.catch(() => undefined);
  await Promise.all([stopServer(redis), stopServer(nats), stopServer(mongo)]);
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  started = workDir = redis = nats = mongo = secrets = undefined;
}

function need(server: Server | undefined, name: string): Server {
  if (!server) throw new Error(`[harness] ${name} is not started: call startRealBackends() first`);
  return server;
}

/** Chaos: stop redis (clients see connection refused on its port until startRedis). */
export async function stopRedis(): Promise<void> {
  await stopServer(need(redis, "redis-server"));
}

/** Chaos: SIGKILL redis (no shutdown: clients see resets mid-command); startRedis brings it back. */
export async function killRedis(): Promise<void> {
  const server = need(redis, "redis-server");
  const proc = server.proc;
  if (!proc) return;
  server.proc = undefined;
  proc.kill("SIGKILL");
  await proc.exited;
  log(`redis-server killed (pid ${proc.pid})`);
}

/** Starts redis again on the same port (empty: it runs without persistence). */
export async function startRedis(): Promise<void> {
  const server = need(redis, "redis-server");
  if (!server.proc) await startServer(server, 20_000);
}

export async function restartRedis(): Promise<void> {
  await stopRedis();
  await startRedis();
}

/** Chaos: stop nats-server (graceful; JetStream state stays in the store dir). */
export async function stopNats(): Promise<void> {
  await stopServer(need(nats, "nats-server"));
}

/** Starts nats-server again on the same port with the same JetStream store dir. */
export async function startNats(): Promise<void> {
  const server = need(nats, "nats-server");
  if (!server.proc) await startServer(server, 20_000);
}

export async function restartNats(): Promise<void> {
  await stopNats();
  await startNats();
}
