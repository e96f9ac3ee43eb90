// The binary as users run it: CLI commands, config validation, graceful shutdown, and
// durability of acknowledged writes across SIGKILL.
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { homebaseCommand, startServer } from "./testing/process";
import { newUser } from "./testing/app";
import { migrationSets } from "./app";
import { backendEnv, modes } from "./testing/modes";

function runCli(args: string[], env: Record<string, string> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), "homebase-cli-"));
  const proc = Bun.spawnSync(homebaseCommand(args), {
    env: { PATH: process.env.PATH ?? "", HOMEBASE_DATA_DIR: dataDir, ...env },
  });
  return { code: proc.exitCode, stdout: proc.stdout.toString(), stderr: proc.stderr.toString(), dataDir };
}

describe("CLI", () => {
  test("version", () => {
    const r = runCli(["version"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^homebase \d+\.\d+\.\d+/);
  });

  test("config prints the effective configuration with the secret redacted", () => {
    const secret = "k".repeat(40);
    const r = runCli(["config"], { HOMEBASE_JWT_SECRET: secret, REDIS_URL: "redis://:pw123@127.0.0.1:6390" });
    expect(r.code).toBe(0);
    const config = JSON.parse(r.stdout) as Record<string, Record<string, unknown>>;
    expect(config.platform!.HOMEBASE_HOST).toBe("127.0.0.1");
    expect(config.platform!.HOMEBASE_PORT).toBe(3000);
    expect(config.accounts!.HOMEBASE_JWT_SECRET).toBe("<redacted>");
    expect(r.stdout).not.toContain(secret);
    expect(r.stdout).not.toContain("pw123");
  });

  test("a bad value exits non-zero naming the variable and what it expected", () => {
    const r = runCli(["serve"], { HOMEBASE_PORT: "99999" });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("HOMEBASE_PORT");
    expect(r.stderr).toContain("an integer from 0 to 65535");
  });

  test("a misspelt variable: a WARN line in doctor naming the closest one, and a warning at start", async () => {
    const misspelt = { HOMEBASE_BOOKING_RATE_LIMIT_WINDOW_MS: "1000" };
    const doctor = runCli(["doctor"], misspelt);
    expect(doctor.stdout).toMatch(/^WARN\s+config\s+HOMEBASE_BOOKING_RATE_LIMIT_WINDOW_MS is not a homebase variable \(did you mean HOMEBASE_BOOKING_RATE_WINDOW_MS\?\)/m);
    expect(runCli(["doctor"]).stdout).not.toContain("is not a homebase variable");
    const server = await startServer(misspelt, { args: ["serve"] });
    try {
      const warning = server
        .output()
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as { level: string; msg: string })
        .find((l) => l.msg.includes("HOMEBASE_BOOKING_RATE_LIMIT_WINDOW_MS"));
      expect(warning).toMatchObject({ level: "warn", msg: expect.stringContaining("did you mean HOMEBASE_BOOKING_RATE_WINDOW_MS?") });
    } finally {
      await server.stop();
    }
  });

  test("unknown command exits 2 with usage", () => {
    const r = runCli(["frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Usage");
  });

  test("migrate applies the embedded migrations once", () => {
    const first = runCli(["migrate"]);
    expect(first.code).toBe(0);
    const versions = migrationSets().flatMap((set) => set.migrations.map((m) => `${set.module}@${m.version}`));
    expect(first.stdout).toBe(`applied migrations ${versions.join(", ")}\n`);
    const db = new Database(join(first.dataDir, "homebase.sqlite"), { readonly: true });
    expect(db.query("SELECT count(*) AS n FROM module_migrations").get()).toEqual({ n: versions.length });
    db.close();
    const again = runCli(["migrate"], { HOMEBASE_DATA_DIR: first.dataDir });
    expect(again.stdout).toBe("schema is up to date\n");
  });
});

describe("process lifecycle", () => {
  test("SIGTERM finishes in-flight requests, then exits 0", async () => {
    const server = await startServer();
    // Open 8 keep-alive connections first, so the signups below are read by the server (not
    // waiting in the listen backlog, which closes with the listener) before SIGTERM.
    await Promise.all(Array.from({ length: 8 }, () => fetch(`${server.url}/health/live`).then((r) => r.text())));
    // Signups are slow on purpose (Argon2id), so these are still in flight at SIGTERM.
    const inflight = Array.from({ length: 8 }, () =>
      fetch(`${server.url}/auth/signup`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(newUser("term")),
      }).then((r) => r.status),
    );
    await Bun.sleep(20);
    const code = await server.stop("SIGTERM");
    expect(await Promise.all(inflight)).toEqual(Array(8).fill(201));
    expect(code).toBe(0);
    expect(server.output()).toContain('"msg":"stopped"');
  });

  test("the JWT secret is never logged", async () => {
    const secret = "z".repeat(44);
    const server = await startServer({ HOMEBASE_JWT_SECRET: secret, HOMEBASE_LOG_LEVEL: "debug" });
    await fetch(`${server.url}/health/ready`);
    await server.stop();
    expect(server.output()).not.toContain(secret);
  });

  test("SIGKILL during concurrent writes: every acknowledged write is there after restart", async () => {
    const server = await startServer();
    const acknowledged: string[] = [];
    let stop = false;
    const worker = async () => {
      while (!stop) {
        try {
          const res = await fetch(`${server.url}/auth/signup`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(newUser("kill")),
          });
          if (res.status === 201) acknowledged.push(((await res.json()) as { id: string }).id);
        } catch {
          // The connection died with the process: not acknowledged, so nothing is owed.
        }
      }
    };
    const workers = Array.from({ length: 16 }, worker);
    while (acknowledged.length < 40) await Bun.sleep(10);
    server.proc.kill("SIGKILL");
    await server.proc.exited;
    stop = true;
    await Promise.all(workers);

    const restarted = await startServer({}, { dataDir: server.dataDir });
    try {
      const db = new Database(join(server.dataDir, "homebase.sqlite"), { readonly: true });
      const present = new Set(db.query<{ id: string }, []>("SELECT id FROM users").all().map((r) => r.id));
      db.close();
      const missing = acknowledged.filter((id) => !present.has(id));
      expect(acknowledged.length).toBeGreaterThanOrEqual(40);
      expect(missing).toEqual([]);
      // The restarted server serves them: each registration's outbox event exists too.
      const ready = await fetch(`${restarted.url}/health/ready`);
      expect(ready.status).toBe(200);
    } finally {
      await restarted.stop();
    }
  });
});

describe("rolling restart", () => {
  test("two instances on one port (SO_REUSEPORT), restarted one at a time under load: no request fails", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "homebase-rolling-"));
    // Log level info: startServer waits for each process's own "started" line (the port is shared).
    const env = { HOMEBASE_DRAIN_MS: "500", HOMEBASE_LOG_LEVEL: "info" };
    let a = await startServer(env, { dataDir });
    let b = await startServer(env, { dataDir, port: a.port, args: ["serve"] });
    const user = newUser("roll");
    const json = { "content-type": "application/json" };
    expect((await fetch(`${a.url}/auth/signup`, { method: "POST", headers: json, body: JSON.stringify(user) })).status).toBe(201);
    const login = await fetch(`${a.url}/auth/login`, { method: "POST", headers: json, body: JSON.stringify({ email: user.email, password: user.password }) });
    const { accessToken } = (await login.json()) as { accessToken: string };

    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const client = async () => {
      while (!stop) {
        try {
          const res = await fetch(`${a.url}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
          await res.arrayBuffer();
          if (res.status === 200) ok++;
          else failures.push(`status ${res.status}`);
        } catch (err) {
          failures.push(String(err));
        }
      }
    };
    const clients = Array.from({ length: 16 }, client);
    try {
      await Bun.sleep(300);
      expect(await a.stop("SIGTERM")).toBe(0);
      a = await startServer(env, { dataDir, port: b.port });
      await Bun.sleep(300);
      expect(await b.stop("SIGTERM")).toBe(0);
      b = await startServer(env, { dataDir, port: a.port, args: ["serve"] });
      await Bun.sleep(300);
    } finally {
      stop = true;
      await Promise.all(clients);
      await Promise.all([a.stop(), b.stop()]);
    }
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(100);
  }, 60_000);
});

describe("backup, restore, doctor", () => {
  test("backup while serving and writing; restore into a new data dir; the restored server knows every backed-up account", async () => {
    const server = await startServer();
    const json = { "content-type": "application/json" };
    const signup = async () => {
      const user = newUser("bak");
      const res = await fetch(`${server.url}/auth/signup`, { method: "POST", headers: json, body: JSON.stringify(user) });
      expect(res.status).toBe(201);
      return user;
    };
    const before = await Promise.all(Array.from({ length: 6 }, signup));
    let stop = false;
    const background = (async () => {
      while (!stop) await signup();
    })();
    const file = join(mkdtempSync(join(tmpdir(), "homebase-bak-")), "homebase.backup");
    const backup = runCli(["backup", file], { HOMEBASE_DATA_DIR: server.dataDir });
    stop = true;
    await background;
    expect(backup.stderr).toBe("");
    expect(backup.code).toBe(0);
    const summary = JSON.parse(backup.stdout) as { tables: Record<string, number>; checksum: string };
    expect(summary.tables.users!).toBeGreaterThanOrEqual(before.length);
    // Every user row has its user.registered outbox row: the snapshot is not torn.
    expect(summary.tables.outbox).toBe(summary.tables.users);

    const busy = runCli(["restore", file, "--force"], { HOMEBASE_DATA_DIR: server.dataDir });
    expect(busy.code).toBe(1);
    expect(busy.stderr).toContain("stop homebase");
    await server.stop();

    const restoredDir = mkdtempSync(join(tmpdir(), "homebase-restored-"));
    const restore = runCli(["restore", file], { HOMEBASE_DATA_DIR: restoredDir });
    expect(restore.code).toBe(0);
    expect((JSON.parse(restore.stdout) as { checksum: string }).checksum).toBe(summary.checksum);
    const again = runCli(["restore", file], { HOMEBASE_DATA_DIR: restoredDir });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("--force");

    // Tokens are signed with the data dir's secret; the restored server logs users in again.
    const restored = await startServer({}, { dataDir: restoredDir });
    try {
      for (const user of before) {
        const login = await fetch(`${restored.url}/auth/login`, { method: "POST", headers: json, body: JSON.stringify({ email: user.email, password: user.password }) });
        expect(login.status).toBe(200);
      }
    } finally {
      await restored.stop();
    }
  }, 60_000);

  test("doctor on the embedded defaults: pass lines, exit 0", () => {
    const r = runCli(["doctor"]);
    expect(r.code).toBe(0);
    for (const name of ["config", "data dir", "jwt secret", "sqlite", "open files", "listen address"]) {
      expect(r.stdout).toMatch(new RegExp(`^(PASS|WARN)\\s+${name}\\s`, "m"));
    }
  });

  test("doctor with an unreachable Redis and a listen address on no interface: fail lines, exit 1", () => {
    const r = runCli(["doctor"], { REDIS_URL: "redis://127.0.0.1:1", HOMEBASE_HOST: "10.254.254.254" });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL\s+redis\s+unreachable/m);
    expect(r.stdout).toMatch(/^FAIL\s+listen address\s+10\.254\.254\.254 is not an address of any interface/m);
  });

  test.if(modes.includes("real"))("doctor against the real backends: redis, nats, jetstream, mongo and clock lines", async () => {
    const env = await backendEnv("real");
    const r = runCli(["doctor"], env);
    expect(r.stdout).toMatch(/^PASS\s+redis\s+reachable/m);
    expect(r.stdout).toMatch(/^PASS\s+clock\/redis\s/m);
    expect(r.stdout).toMatch(/^PASS\s+nats\s+reachable/m);
    expect(r.stdout).toMatch(/^(PASS|WARN)\s+jetstream\s/m);
    expect(r.stdout).toMatch(/^PASS\s+mongo\s+reachable/m);
    expect(r.code).toBe(0);
  });
});
