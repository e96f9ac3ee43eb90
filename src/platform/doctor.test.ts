// `homebase doctor`'s checks of the data dir and the database files' modes, and of the
// backends' authentication: does homebase log in, and are clients without credentials refused?
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { modes } from "../testing/modes";
import { freePort } from "../testing/ports";
import { startRealBackends } from "../testing/servers";
import { natsServerBinary } from "../testing/go-tools";
import { waitFor } from "../testing/wait";
import { loadConfig } from "./config";
import { recordBackupRun } from "./db/backup-runs";
import { type Check, runDoctor } from "./doctor";
import { createPlatform } from "./index";
import { createLogger } from "./logger";

// The platform alone: no module generates a secret into the data dir, so only the platform's
// own code creates it (as when the JWT secret comes from the environment or a file).
const modules: [] = [];

const line = (checks: Check[], name: string) => checks.find((c) => c.name === name);

describe("doctor: data dir and database file modes", () => {
  let root: string;
  let umask: number;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "homebase-doctor-"));
    umask = process.umask(0o022);
  });
  afterEach(() => {
    process.umask(umask);
    rmSync(root, { recursive: true, force: true });
  });

  test("no generated secret: the platform still makes the data dir 0700 and its database 0600, and doctor passes them; looser modes warn, world-readable database files fail", async () => {
    const env = { HOMEBASE_DATA_DIR: join(root, "data"), HOMEBASE_LOG_LEVEL: "silent" };
    const platform = await createPlatform(loadConfig(env, modules), { logger: createLogger("silent") });
    await platform.writer.write(() => platform.db.exec("CREATE TABLE IF NOT EXISTS probe (x)"));
    try {
      const tight = await runDoctor(env, modules);
      expect(line(tight, "data dir")).toMatchObject({ status: "pass", detail: expect.stringContaining("mode 700") });
      expect(line(tight, "database files")).toMatchObject({ status: "pass", detail: "homebase.sqlite (mode 600), homebase.sqlite-wal (mode 600), homebase.sqlite-shm (mode 600)" });

      const dbFile = join(env.HOMEBASE_DATA_DIR, "homebase.sqlite");
      chmodSync(env.HOMEBASE_DATA_DIR, 0o750);
      chmodSync(dbFile, 0o640);
      const group = await runDoctor(env, modules);
      expect(line(group, "data dir")).toMatchObject({ status: "warn", detail: expect.stringContaining("its group (mode 750); chmod 700") });
      expect(line(group, "database files")).toMatchObject({ status: "warn", detail: "accessible to their group: homebase.sqlite (mode 640); chmod 600" });

      chmodSync(env.HOMEBASE_DATA_DIR, 0o755);
      chmodSync(`${dbFile}-wal`, 0o644);
      const world = await runDoctor(env, modules);
      expect(line(world, "data dir")).toMatchObject({ status: "warn", detail: expect.stringContaining("other users (mode 755)") });
      expect(line(world, "database files")).toMatchObject({ status: "fail", detail: "readable or writable by every user: homebase.sqlite-wal (mode 644); chmod 600" });
    } finally {
      await platform.close();
    }
  });
});

describe("doctor: scheduled backups", () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "homebase-doctor-backups-"));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  test("none scheduled warns; scheduled: the directory's mode and the newest run (none yet, failed, good) are told", async () => {
    const env = { HOMEBASE_DATA_DIR: join(root, "data"), HOMEBASE_LOG_LEVEL: "silent" };
    expect(line(await runDoctor(env, modules), "backups")).toMatchObject({ status: "warn", detail: expect.stringContaining("HOMEBASE_BACKUP_CRON unset") });

    const scheduled = { ...env, HOMEBASE_BACKUP_CRON: "0 3 * * *" };
    const platform = await createPlatform(loadConfig(scheduled, modules), { logger: createLogger("silent") });
    try {
      const first = await runDoctor(scheduled, modules);
      expect(line(first, "backups")).toBeUndefined();
      expect(line(first, "backup dir")).toMatchObject({ status: "pass", detail: expect.stringContaining("created 0700 by the first backup") });
      expect(line(first, "last backup")).toMatchObject({ status: "warn", detail: expect.stringContaining("none yet") });

      const run = { id: Bun.randomUUIDv7(), startedAt: Date.now(), finishedAt: Date.now(), file: null, bytes: null, sha256: null, checksum: null, uploaded: null, trigger: "schedule" as const };
      recordBackupRun(platform.db, { ...run, ok: false, error: "disk full" });
      expect(line(await runDoctor(scheduled, modules), "last backup")).toMatchObject({ status: "fail", detail: expect.stringContaining("disk full") });

      const dir = join(env.HOMEBASE_DATA_DIR, "backups");
      mkdirSync(dir, { mode: 0o755 });
      chmodSync(dir, 0o755);
      recordBackupRun(platform.db, { ...run, id: Bun.randomUUIDv7(), startedAt: Date.now() + 1, ok: true, error: null, bytes: 4096, sha256: "ab".repeat(32), file: join(dir, "b.sqlite") });
      const good = await runDoctor(scheduled, modules);
      expect(line(good, "last backup")).toMatchObject({ status: "pass", detail: expect.stringContaining("4096 bytes, sha256 abababababab") });
      expect(line(good, "backup dir")).toMatchObject({ status: "warn", detail: expect.stringContaining("other users (mode 755); chmod 700") });
    } finally {
      await platform.close();
    }
  });
});

/** A nats-server of this test's own, as deploy/nats.conf configures it: one user, a bcrypt hash. */
async function startAuthenticatedNats(dir: string): Promise<{ url: string; passwordFile: string; proc: Subprocess }> {
  const password = Bun.randomUUIDv7().replaceAll("-", "");
  const passwordFile = join(dir, "nats.password");
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  const conf = join(dir, "nats.conf");
  writeFileSync(conf, `authorization {\n  users: [ { user: homebase, password: "${await Bun.password.hash(password, { algorithm: "bcrypt", cost: 4 })}" } ]\n}\n`);
  const port = await freePort();
  const proc = Bun.spawn([natsServerBinary(), "-c", conf, "-a", "127.0.0.1", "-p", String(port)], { stdout: "ignore", stderr: "ignore" });
  return { url: `nats://homebase@127.0.0.1:${port}`, passwordFile, proc };
}

describe.if(modes.includes("real"))("doctor: Redis and NATS authentication (real backends)", () => {
  let root: string;
  let credentials: Awaited<ReturnType<typeof startRealBackends>>["credentials"];
  let nats: Awaited<ReturnType<typeof startAuthenticatedNats>>;
  const doctor = (env: Record<string, string>) => runDoctor({ HOMEBASE_DATA_DIR: join(root, "data"), ...env }, modules);
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "homebase-doctor-auth-"));
    ({ credentials } = await startRealBackends());
    nats = await startAuthenticatedNats(root);
    await waitFor(async () => line(await doctor({ NATS_URL: nats.url, NATS_PASSWORD_FILE: nats.passwordFile }), "nats")?.status === "pass", { what: "the authenticated nats-server" });
  });
  afterAll(async () => {
    nats?.proc.kill();
    await nats?.proc.exited;
    rmSync(root, { recursive: true, force: true });
  });

  test("passwords from files: logged in, and anonymous clients refused", async () => {
    const checks = await doctor({ REDIS_URL: credentials.redisUrl, REDIS_PASSWORD_FILE: credentials.redisPasswordFile, NATS_URL: nats.url, NATS_PASSWORD_FILE: nats.passwordFile });
    expect(line(checks, "redis")).toMatchObject({ status: "pass", detail: expect.stringContaining("authenticated as homebase") });
    expect(line(checks, "redis auth")).toEqual({ status: "pass", name: "redis auth", detail: "clients without the password are refused" });
    expect(line(checks, "nats")).toMatchObject({ status: "pass", detail: expect.stringContaining("authenticated as homebase") });
    expect(line(checks, "nats auth")).toEqual({ status: "pass", name: "nats auth", detail: "clients without credentials are refused" });
  });

  test("a wrong password, or none: fail lines that say it is authentication, not reachability", async () => {
    const wrong = join(root, "wrong.password");
    writeFileSync(wrong, "not-the-password\n", { mode: 0o600 });
    const bad = await doctor({ REDIS_URL: credentials.redisUrl, REDIS_PASSWORD_FILE: wrong, NATS_URL: nats.url, NATS_PASSWORD_FILE: wrong });
    expect(line(bad, "redis")).toMatchObject({ status: "fail", detail: expect.stringMatching(/^authentication failed: WRONGPASS.*REDIS_PASSWORD_FILE/) });
    expect(line(bad, "nats")).toMatchObject({ status: "fail", detail: expect.stringMatching(/^authentication failed: .*Authorization Violation.*NATS_PASSWORD_FILE/) });
    const none = await doctor({ REDIS_URL: credentials.redisUrl.replace("homebase@", ""), NATS_URL: nats.url.replace("homebase@", "") });
    expect(line(none, "redis")).toMatchObject({ status: "fail", detail: expect.stringMatching(/^authentication failed: NOAUTH.*set REDIS_PASSWORD_FILE/) });
    expect(line(none, "nats")).toMatchObject({ status: "fail", detail: expect.stringMatching(/^authentication failed: .*set NATS_PASSWORD_FILE/) });
  });

  test("servers without authentication (as deploy/ shipped them before): WARN lines", async () => {
    const [redisPort, natsPort] = [await freePort(), await freePort()];
    const spawned: Subprocess[] = [
      Bun.spawn(["redis-server", "--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", root], { stdout: "ignore", stderr: "ignore" }),
      Bun.spawn([natsServerBinary(), "-a", "127.0.0.1", "-p", String(natsPort)], { stdout: "ignore", stderr: "ignore" }),
    ];
    try {
      const env = { REDIS_URL: `redis://127.0.0.1:${redisPort}`, NATS_URL: `nats://127.0.0.1:${natsPort}` };
      await waitFor(async () => (await doctor(env)).every((c) => !["redis", "nats"].includes(c.name) || c.status === "pass"), { what: "the open servers to listen" });
      const checks = await doctor(env);
      expect(line(checks, "redis auth")).toMatchObject({ status: "warn", detail: expect.stringContaining("answers clients without a password") });
      expect(line(checks, "nats auth")).toMatchObject({ status: "warn", detail: expect.stringContaining("accepts clients without credentials") });
      // A password for a server that asks none: still open to everyone else.
      const token = join(root, "token");
      writeFileSync(token, "unused-token\n", { mode: 0o600 });
      const withToken = await doctor({ ...env, NATS_PASSWORD_FILE: token });
      expect(line(withToken, "nats auth")).toMatchObject({ status: "warn" });
    } finally {
      for (const proc of spawned) proc.kill();
      await Promise.all(spawned.map((p) => p.exited));
    }
  });
});
