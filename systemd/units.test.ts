// The systemd units: `systemd-analyze verify` (no error, no warning) and `systemd-analyze
// security --offline=yes` (exposure ≤ 2.0) on every unit, the settings the deployment relies on,
// and the ExecStartPost readiness script against real homebase processes sharing one port.
// verify checks that ExecStart= binaries exist, so each check runs in a temp root (--root=) that
// holds the host's system units, the unit under test and stubs for the installed paths.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { startServer, type RunningServer } from "../src/testing/process";
import { freePort } from "../src/testing/ports";
import { waitFor } from "../src/testing/wait";

const here = import.meta.dir;
const unitFiles = ["homebase.service", "homebase-api@.service", "homebase-worker.service", "homebase-migrate.service"];
/** Paths the install steps create (README.md, "Deploy on a home server"); everything else a unit runs must exist on the host. */
const installed = ["/usr/local/bin/homebase", "/usr/local/lib/homebase/wait-ready"];
const readUnit = (name: string) => readFileSync(join(here, name), "utf8");
/** The unit name systemd-analyze gets: a template is checked through an instance. */
const instanceOf = (file: string) => file.replace("@.service", "@1.service");

const scratch = mkdtempSync(join(tmpdir(), "homebase-units-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const hostUnitDir = ["/usr/lib/systemd/system", "/lib/systemd/system"].find((d) => existsSync(join(d, "sysinit.target")));

function run(cmd: string[]) {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

let rootSeq = 0;
/** A fresh root with the host's system units, the given units and stub executables. */
function makeRoot(units: Record<string, string>, { stubs = installed }: { stubs?: string[] } = {}): string {
  if (!hostUnitDir) throw new Error("no systemd unit directory on this host: apt-get install systemd");
  const root = join(scratch, `root${++rootSeq}`);
  mkdirSync(join(root, "usr/lib/systemd"), { recursive: true });
  const cp = run(["cp", "-a", hostUnitDir, join(root, "usr/lib/systemd/system")]);
  if (cp.code !== 0) throw new Error(cp.err);
  mkdirSync(join(root, "etc/systemd/system"), { recursive: true });
  for (const [name, text] of Object.entries(units)) writeFileSync(join(root, "etc/systemd/system", name), text);
  const execPaths = Object.values(units).flatMap((text) =>
    [...text.matchAll(/^Exec\w+=[-@:+!]*(\S+)/gm)].map((m) => m[1]!),
  );
  for (const path of new Set([...stubs, ...execPaths.filter((p) => !installed.includes(p))])) {
    if (!installed.includes(path) && !existsSync(path)) throw new Error(`a unit runs ${path}, which is neither installed by us nor on this host`);
    mkdirSync(join(root, dirname(path)), { recursive: true });
    writeFileSync(join(root, path), "#!/bin/sh\nexit 0\n");
    chmodSync(join(root, path), 0o755);
  }
  return root;
}

/** `systemd-analyze verify`; fails on a non-zero exit AND on any warning (unknown keys only warn). */
function verify(root: string, unit: string): { ok: boolean; output: string } {
  const r = run(["systemd-analyze", "verify", "--man=no", `--root=${root}`, unit]);
  const output = (r.out + r.err).trim();
  return { ok: r.code === 0 && output === "", output };
}

/** `systemd-analyze security --offline=yes`: the overall exposure; ok when ≤ 2.0 (--threshold is in tenths). */
function security(root: string, unit: string): { ok: boolean; exposure: number; output: string } {
  const r = run(["systemd-analyze", "security", "--offline=yes", "--threshold=20", `--root=${root}`, unit]);
  const m = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(r.out);
  if (!m) throw new Error(`no exposure level in the output of systemd-analyze security:\n${r.out}${r.err}`);
  const exposure = Number(m[1]);
  return { ok: r.code === 0 && exposure <= 2.0, exposure, output: r.out + r.err };
}

/** Every setting of a section, key → values (a key may repeat). */
function settings(text: string, section: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) current = header[1]!;
    else if (current === section) {
      const eq = line.indexOf("=");
      const key = line.slice(0, eq);
      out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1)]);
    }
  }
  return out;
}

describe("systemd units", () => {
  const all = Object.fromEntries(unitFiles.map((f) => [f, readUnit(f)]));

  test.each(unitFiles)("%s passes systemd-analyze verify without a warning", (file) => {
    const result = verify(makeRoot(all), instanceOf(file));
    expect(result.output).toBe("");
    expect(result.ok).toBe(true);
  });

  test.each(unitFiles)("%s has a security exposure of 2.0 or lower", (file) => {
    const result = security(makeRoot(all), instanceOf(file));
    expect(result.exposure).toBeLessThanOrEqual(2.0);
    expect(result.ok).toBe(true);
  });

  test("the checks fail on a weak unit, a warning and a missing binary", () => {
    // The draft's hardening removed: the exposure check must refuse it.
    const weak = readUnit("homebase.service")
      .split("\n")
      .filter((l) => !/^(Protect|Private|Restrict|SystemCall|Capability|NoNewPrivileges|DynamicUser|User=|Group=|ProcSubset|LockPersonality|UMask|RemoveIPC|KeyringMode|DevicePolicy)/.test(l))
      .join("\n");
    const weakResult = security(makeRoot({ ...all, "homebase.service": weak }), "homebase.service");
    expect(weakResult.exposure).toBeGreaterThan(2.0);
    expect(weakResult.ok).toBe(false);
    // A misspelt key only warns (exit 0) and silently drops the setting; verify() must refuse it.
    const typo = readUnit("homebase.service").replace("ProtectSystem=strict", "ProtectSytem=strict");
    const warned = verify(makeRoot({ ...all, "homebase.service": typo }), "homebase.service");
    expect(warned.output).toContain("Unknown key");
    expect(warned.ok).toBe(false);
    const noBinary = verify(makeRoot(all, { stubs: ["/usr/local/lib/homebase/wait-ready"] }), "homebase.service");
    expect(noBinary.output).toContain("/usr/local/bin/homebase");
    expect(noBinary.ok).toBe(false);
  });

  const longRunning: [string, string][] = [
    ["homebase.service", "all"],
    ["homebase-api@.service", "serve"],
    ["homebase-worker.service", "worker"],
  ];

  test.each(longRunning)("%s runs `homebase %s` hardened, with restart limits, env file and credential", (file, command) => {
    const text = readUnit(file);
    const unit = settings(text, "Unit");
    const service = settings(text, "Service");
    const one = (key: string) => {
      const values = service.get(key);
      expect(values, key).toBeDefined();
      return values!.at(-1)!;
    };
    expect(one("ExecStart")).toBe(`/usr/local/bin/homebase ${command}`);
    expect(one("Type")).toBe("exec");
    expect(one("Restart")).toBe("on-failure");
    expect(Number(unit.get("StartLimitBurst")?.[0])).toBeGreaterThan(0);
    expect(Number(unit.get("StartLimitIntervalSec")?.[0])).toBeGreaterThan(0);
    expect(one("RestartPreventExitStatus")).toBe("2");
    expect(one("EnvironmentFile")).toBe("/etc/homebase/homebase.env");
    // Secrets come as credentials, never as environment values: the JWT key and the backends' passwords.
    expect(service.get("LoadCredential")).toEqual(["jwt-secret:/etc/homebase/jwt.secret", "redis-password:/etc/homebase/redis.password", "nats-password:/etc/homebase/nats.password"]);
    expect(service.get("Environment")).toContain("HOMEBASE_JWT_SECRET_FILE=%d/jwt-secret");
    expect(service.get("Environment")).toContain("REDIS_PASSWORD_FILE=%d/redis-password");
    expect(service.get("Environment")).toContain("NATS_PASSWORD_FILE=%d/nats-password");
    expect(service.get("Environment")).toContain("HOMEBASE_DATA_DIR=/var/lib/homebase");
    expect(one("DynamicUser")).toBe("yes");
    expect(one("User")).toBe("homebase");
    expect(one("StateDirectory")).toBe("homebase");
    for (const [key, value] of [
      ["ProtectSystem", "strict"],
      ["ProtectHome", "yes"],
      ["PrivateTmp", "yes"],
      ["PrivateDevices", "yes"],
      ["NoNewPrivileges", "yes"],
      ["CapabilityBoundingSet", ""],
      ["RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"],
    ] as const) {
      expect(one(key), key).toBe(value);
    }
    expect(service.get("SystemCallFilter")).toContain("@system-service");
    expect(one("MemoryMax")).toMatch(/^\d+[KMG]$/);
    expect(Number(one("LimitNOFILE"))).toBeGreaterThanOrEqual(100_000 + 1024);
    if (command === "worker") expect(service.has("ExecStartPost")).toBe(false);
    else expect(one("ExecStartPost")).toBe("/usr/local/lib/homebase/wait-ready");
    if (file !== "homebase.service") {
      expect(unit.get("Requires")).toContain("homebase-migrate.service");
      expect(unit.get("After")).toContain("homebase-migrate.service");
      expect(unit.get("Conflicts")).toContain("homebase.service");
    }
  });

  test("homebase-migrate.service is a oneshot `homebase migrate` with the same user and state", () => {
    const service = settings(readUnit("homebase-migrate.service"), "Service");
    expect(service.get("Type")).toEqual(["oneshot"]);
    expect(service.get("ExecStart")).toEqual(["/usr/local/bin/homebase migrate"]);
    expect(service.get("RemainAfterExit")).toBeUndefined();
    expect(service.get("User")).toEqual(["homebase"]);
    expect(service.get("StateDirectory")).toEqual(["homebase"]);
  });

  test("every process has its own metrics port (api@N on 910N, the worker or the all-in-one on 9190), each a target of prometheus.yml's per-process job", () => {
    const env = (file: string) => {
      const vars = new Map<string, string>();
      for (const line of settings(readUnit(file), "Service").get("Environment") ?? []) for (const kv of line.split(/\s+/)) vars.set(kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1));
      return vars;
    };
    const port = (file: string, instance = "") => env(file).get("HOMEBASE_METRICS_PORT")?.replaceAll("%i", instance);
    expect(env("homebase-api@.service").get("HOMEBASE_METRICS_HOST")).toBe("127.0.0.1");
    // Instances 1-9 get distinct valid ports, none the worker's or the API's.
    const apiPorts = Array.from({ length: 9 }, (_, i) => Number(port("homebase-api@.service", String(i + 1))));
    expect(new Set(apiPorts).size).toBe(9);
    for (const p of apiPorts) {
      expect(p).toBeGreaterThan(1024);
      expect(p).toBeLessThan(65536);
    }
    expect(port("homebase-worker.service")).toBe("9190");
    expect(port("homebase.service")).toBe("9190"); // fine: the two units conflict
    expect(settings(readUnit("homebase-worker.service"), "Unit").get("Conflicts")).toContain("homebase.service");
    expect(apiPorts).not.toContain(9190);
    const prometheus = Bun.YAML.parse(readFileSync(join(here, "../deploy/prometheus.yml"), "utf8")) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[]; labels?: Record<string, string> }[] }[];
    };
    const job = prometheus.scrape_configs.find((j) => j.job_name === "homebase-process");
    const targets = Object.fromEntries(job!.static_configs.map((c) => [c.labels?.process, c.targets]));
    expect(targets).toEqual({ "api@1": [`127.0.0.1:${apiPorts[0]}`], "api@2": [`127.0.0.1:${apiPorts[1]}`], worker: ["127.0.0.1:9190"] });
    // The dashboard's per-instance panels read that job.
    const dashboard = JSON.parse(readFileSync(join(here, "../deploy/grafana-dashboard.json"), "utf8")) as { panels: { targets: { expr: string }[] }[] };
    const perInstance = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)).filter((e) => e.includes('job="$job-process"'));
    expect(perInstance.some((e) => e.startsWith("up{"))).toBe(true);
    expect(perInstance.some((e) => /by \(instance\) \(rate\(homebase_http_request_duration_seconds_count/.test(e))).toBe(true);
    expect(perInstance.some((e) => /homebase_cache_local_requests_total/.test(e))).toBe(true);
  });
});

describe("wait-ready (ExecStartPost readiness check)", () => {
  const script = join(here, "homebase-wait-ready");
  const servers: RunningServer[] = [];
  const others: { kill(): void }[] = [];
  afterAll(async () => {
    for (const o of others) o.kill();
    await Promise.all(servers.map((s) => s.stop()));
    for (const s of servers) rmSync(s.dataDir, { recursive: true, force: true });
  });

  async function waitReady(mainPid: number, port: number, timeoutSec = 10) {
    const proc = Bun.spawn([script], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", MAINPID: String(mainPid), HOMEBASE_HOST: "127.0.0.1", HOMEBASE_PORT: String(port), HOMEBASE_READY_TIMEOUT_SEC: String(timeoutSec) },
      stdout: "pipe",
      stderr: "pipe",
    });
    const code = await proc.exited;
    return { code, out: (await new Response(proc.stdout).text()) + (await new Response(proc.stderr).text()) };
  }

  test("two `homebase serve` on one port (SO_REUSEPORT): each is ready; a bystander is not", async () => {
    const port = await freePort();
    const env = { HOMEBASE_HOST: "127.0.0.1", HOMEBASE_LOG_LEVEL: "warn" };
    const a = await startServer(env, { args: ["serve"], port });
    servers.push(a);
    const b = await startServer(env, { args: ["serve"], port, dataDir: a.dataDir });
    servers.push(b);
    for (const s of [a, b]) {
      const r = await waitReady(s.proc.pid, port);
      expect(r.out).toContain(`pid ${s.proc.pid} listens on 127.0.0.1:${port}`);
      expect(r.code).toBe(0);
    }
    // The port answers 200, but this process does not listen: with SO_REUSEPORT an HTTP check
    // alone would pass for a unit whose process never bound the port.
    const bystander = Bun.spawn(["sleep", "30"]);
    others.push(bystander);
    expect((await fetch(`http://127.0.0.1:${port}/health/ready`)).status).toBe(200);
    const r = await waitReady(bystander.pid, port, 1);
    expect(r.out).toContain("no listening socket");
    expect(r.code).toBe(1);
  });

  test("a process that exits during start-up fails the check at once", async () => {
    const gone = Bun.spawn(["true"]);
    await gone.exited;
    const r = await waitReady(gone.pid, await freePort(), 5);
    // Not "not ready after 5s": it noticed the exit instead of waiting for the deadline.
    expect(r.out).toContain("exited during start-up");
    expect(r.code).toBe(1);
  });

  test("listening is not enough: /health/ready must answer 200", async () => {
    const port = await freePort();
    const unready = Bun.spawn(
      [process.execPath, "-e", `Bun.serve({ hostname: "127.0.0.1", port: ${port}, fetch: () => new Response("draining", { status: 503 }) })`],
      { stdout: "ignore", stderr: "inherit" },
    );
    others.push(unready);
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => null))?.status === 503, { what: "the 503 server" });
    const r = await waitReady(unready.pid, port, 1);
    expect(r.out).toContain("/health/ready is not 200");
    expect(r.code).toBe(1);
  });
});
