// Scheduled backups: verified files (0600 in a 0700 dir) with sortable names, pruning to the
// newest N, failures recorded (run row + metric) without pruning, one worker per slot (the
// platform's lock port: in-process, or Redis in the real mode), the S3 upload against the
// harness's S3 server, manual runs, and the variables' validation.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { ConfigError, loadConfig } from "./platform/config";
import { ManualClock } from "./platform/clock";
import { createLockManager } from "./platform/lock";
import { createLogger } from "./platform/logger";
import { createRedis } from "./platform/redis";
import { createTestApp, type TestApp } from "./testing/app";
import { modes } from "./testing/modes";
import { homebaseCommand } from "./testing/process";
import { startS3Server, type S3Server } from "./testing/s3";
import { summarize } from "./platform/db/backup";
import { backupFileName, fileSha256, listBackups, s3Client } from "./platform/db/backup-job";
import { recentBackupRuns } from "./platform/db/backup-runs";
import { BackupScheduler, manualBackup, scheduledSlot } from "./platform/db/backup-schedule";
import { Cron } from "croner";

const scratch = mkdtempSync(join(tmpdir(), "homebase-backups-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let seq = 0;
const freshDir = (name: string) => join(scratch, `${name}-${++seq}`);

/** A platform-only app (no modules) with a ManualClock and the backup variables given. */
async function backupApp(
  mode: (typeof modes)[number],
  env: Record<string, string>,
  clock = new ManualClock(Date.parse("2026-03-01T03:00:00Z")),
) {
  const app = await createTestApp(mode, env, undefined, [], { clock });
  app.platform.db.exec("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
  const insert = app.platform.db.query("INSERT INTO notes (body) VALUES (?)");
  const write = (n: number) =>
    app.platform.writer.write(() => {
      for (let i = 0; i < n; i++) insert.run(`note ${i}`);
    });
  return { app, clock, write };
}

async function metric(app: TestApp, name: string): Promise<string> {
  const text = await app.platform.metrics.registry.metrics();
  return text
    .split("\n")
    .filter((l) => l.startsWith(name))
    .join("\n");
}

describe.each(modes)("scheduled backups (%s)", (mode) => {
  test("each run writes a verified 0600 backup into a 0700 dir, records it, and prunes to the newest N", async () => {
    const dir = freshDir("keep");
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const umask = process.umask(0o022);
    const { app, clock, write } = await backupApp(mode, { HOMEBASE_BACKUP_DIR: dir, HOMEBASE_BACKUP_KEEP: "3" });
    try {
      // Something not ours in the directory stays.
      writeFileSync(join(dir, "notes.txt"), "operator's notes");
      const runs = [];
      for (let i = 0; i < 5; i++) {
        await write(10);
        runs.push(await app.platform.backups.run("schedule"));
        clock.advance(60_000);
      }
      expect(runs.every((r) => r.ok && r.error === null && r.trigger === "schedule" && r.uploaded === null)).toBe(true);
      // Names sort by start time; the newest three remain.
      const names = runs.map((r) => r.file!.slice(dir.length + 1));
      expect([...names].sort()).toEqual(names);
      expect(names[0]).toBe(backupFileName(Date.parse("2026-03-01T03:00:00Z"), runs[0]!.id));
      expect(names[0]).toMatch(/^homebase-20260301T030000\.000Z-[0-9a-f]{8}\.sqlite$/);
      expect(listBackups(dir)).toEqual(names.slice(2).reverse());
      expect(readdirSync(dir).sort()).toEqual([...names.slice(2), "notes.txt"].sort());
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      for (const name of names.slice(2)) expect(statSync(join(dir, name)).mode & 0o777).toBe(0o600);

      // Each file is what its run recorded: size, sha256, content checksum and rows.
      const newest = runs[4]!;
      expect(statSync(newest.file!).size).toBe(newest.bytes!);
      expect(await fileSha256(newest.file!)).toBe(newest.sha256!);
      const copy = new Database(newest.file!, { readonly: true, strict: true });
      const summary = summarize(copy);
      copy.close();
      expect(summary.checksum).toBe(newest.checksum!);
      expect(summary.tables.notes).toBe(50);
      // A backup does not hold its own run: it is recorded after the copy is made.
      expect(summary.tables.backup_runs).toBe(4);

      const recorded = recentBackupRuns(app.platform.db, 10);
      expect(recorded.map((r) => r.id)).toEqual(runs.map((r) => r.id).reverse());
      expect(recorded[0]).toEqual(newest);
      expect(newest.startedAt).toBe("2026-03-01T03:04:00.000Z");

      expect(await metric(app, "homebase_backup_runs_total")).toBe(
        'homebase_backup_runs_total{result="ok"} 5\nhomebase_backup_runs_total{result="failed"} 0',
      );
      expect(await metric(app, "homebase_backup_last_success_timestamp_seconds")).toBe(
        `homebase_backup_last_success_timestamp_seconds ${Date.parse("2026-03-01T03:04:00Z") / 1000}`,
      );
      expect(await metric(app, "homebase_backup_last_size_bytes")).toBe(`homebase_backup_last_size_bytes ${newest.bytes}`);
    } finally {
      process.umask(umask);
      await app.close();
    }
  });

  test("a failed run is recorded with its error and counted, leaves no file behind, and prunes nothing", async () => {
    const dir = freshDir("fail");
    const { app, clock, write } = await backupApp(mode, { HOMEBASE_BACKUP_DIR: dir, HOMEBASE_BACKUP_KEEP: "1" });
    // The same app's database, but a scheduler reading a file that is not a database: a real failure.
    const broken = join(scratch, `broken-${++seq}.sqlite`);
    writeFileSync(broken, "this is not an SQLite database, and VACUUM INTO must refuse to copy it".repeat(100));
    const registry = new Registry();
    const failing = new BackupScheduler({
      db: app.platform.db,
      writer: app.platform.writer,
      dbPath: broken,
      settings: { ...app.platform.config.backup, keep: 1 },
      locks: app.platform.locks,
      clock,
      logger: createLogger("silent"),
      registry,
    });
    try {
      // Two good backups: with KEEP=1 only the newest stays.
      await write(3);
      await app.platform.backups.run("schedule");
      clock.advance(1000);
      const good = await app.platform.backups.run("manual");
      expect(listBackups(dir)).toEqual([good.file!.slice(dir.length + 1)]);
      // An operator's copy, older by name, that the next successful run would prune.
      const older = backupFileName(Date.parse("2026-01-01T00:00:00Z"), Bun.randomUUIDv7());
      writeFileSync(join(dir, older), "an older backup");
      clock.advance(1000);

      const failed = await failing.run("schedule");
      expect(failed).toMatchObject({
        ok: false,
        file: null,
        bytes: null,
        sha256: null,
        checksum: null,
        uploaded: null,
        trigger: "schedule",
      });
      expect(failed.error).toMatch(/not a database|file is not a database|malformed/i);
      expect(failed.finishedAt).not.toBeNull();
      // Nothing pruned, nothing half-written left.
      expect(listBackups(dir).sort()).toEqual([older, good.file!.slice(dir.length + 1)].sort());
      expect(readdirSync(dir).filter((n) => n.endsWith(".partial"))).toEqual([]);

      expect(recentBackupRuns(app.platform.db, 1)[0]).toEqual(failed);
      const text = await registry.metrics();
      expect(text).toContain('homebase_backup_runs_total{result="failed"} 1');
      expect(text).toContain('homebase_backup_runs_total{result="ok"} 2');
      // The last success is still the good run.
      expect(text).toContain(`homebase_backup_last_success_timestamp_seconds ${Date.parse(good.finishedAt!) / 1000}`);

      // A backup dir that cannot be made (its parent is a file) fails the same way.
      const blocked = new BackupScheduler({
        db: app.platform.db,
        writer: app.platform.writer,
        dbPath: join(app.dataDir, "homebase.sqlite"),
        settings: { ...app.platform.config.backup, dir: join(broken, "backups") },
        locks: app.platform.locks,
        clock,
        logger: createLogger("silent"),
        registry: new Registry(),
      });
      const refused = await blocked.run("schedule");
      expect(refused.ok).toBe(false);
      expect(refused.error).toMatch(/ENOTDIR|not a directory/i);
    } finally {
      await app.close();
    }
  });

  test("two workers on one slot: one takes the backup; the next slot is taken again", async () => {
    const dir = freshDir("slot");
    const { app, clock, write } = await backupApp(mode, { HOMEBASE_BACKUP_DIR: dir, HOMEBASE_BACKUP_CRON: "0 3 * * *" });
    // A second worker: its own lock client (its own Redis connection in the real mode).
    const redis = app.platform.config.redisUrl ? createRedis(app.platform.config.redisUrl, createLogger("silent")) : null;
    const otherLocks = redis ? createLockManager(redis, clock) : app.platform.locks;
    const other = new BackupScheduler({
      db: app.platform.db,
      writer: app.platform.writer,
      dbPath: join(app.dataDir, "homebase.sqlite"),
      settings: app.platform.config.backup,
      locks: otherLocks,
      clock,
      logger: createLogger("silent"),
      registry: new Registry(),
    });
    try {
      await write(5);
      // Slots unique to this test: the real mode's Redis is shared with other test apps.
      const slot = Date.parse("2026-03-01T03:00:00Z") + Math.floor(Math.random() * 1e6) * 86_400_000;
      const [a, b] = await Promise.all([app.platform.backups.runScheduled(slot), other.runScheduled(slot)]);
      expect([a, b].filter((r) => r !== null)).toHaveLength(1);
      // The winner finished before the late one asks: the slot stays taken.
      expect(await other.runScheduled(slot)).toBeNull();
      clock.advance(86_400_000);
      const next = await other.runScheduled(slot + 86_400_000);
      expect(next?.ok).toBe(true);
      expect(recentBackupRuns(app.platform.db, 10)).toHaveLength(2);
      expect(listBackups(dir)).toHaveLength(2);
    } finally {
      if (redis) {
        await otherLocks.close();
        redis.disconnect();
      }
      await app.close();
    }
  });
});

describe("upload to an S3-compatible bucket (the harness's S3 server)", () => {
  let s3: S3Server;
  beforeAll(async () => {
    s3 = await startS3Server();
  }, 60_000);

  test("a verified backup is uploaded under its file name, byte for byte; a missing bucket fails the run and prunes nothing", async () => {
    const bucket = `backups-${Bun.randomUUIDv7().slice(-8)}`;
    await s3.createBucket(bucket);
    const secretFile = join(scratch, `s3-secret-${++seq}`);
    writeFileSync(secretFile, `${s3.secretAccessKey}\n`, { mode: 0o600 });
    const dir = freshDir("s3");
    const env = {
      HOMEBASE_BACKUP_DIR: dir,
      HOMEBASE_BACKUP_KEEP: "1",
      HOMEBASE_BACKUP_S3_BUCKET: bucket,
      HOMEBASE_BACKUP_S3_ENDPOINT: s3.endpoint,
      HOMEBASE_BACKUP_S3_REGION: s3.region,
      HOMEBASE_BACKUP_S3_ACCESS_KEY_ID: s3.accessKeyId,
      HOMEBASE_BACKUP_S3_SECRET_ACCESS_KEY_FILE: secretFile,
    };
    const { app, clock, write } = await backupApp("embedded", env);
    try {
      expect(app.platform.config.backup.s3).toEqual({
        bucket,
        endpoint: s3.endpoint,
        region: s3.region,
        accessKeyId: s3.accessKeyId,
        secretAccessKey: s3.secretAccessKey,
      });
      await write(20);
      const run = await app.platform.backups.run("schedule");
      expect(run).toMatchObject({ ok: true, uploaded: true, error: null });
      const key = run.file!.slice(dir.length + 1);
      const stored = new Uint8Array(await s3Client(app.platform.config.backup.s3!).file(key).arrayBuffer());
      expect(stored.byteLength).toBe(run.bytes!);
      expect(new Bun.CryptoHasher("sha256").update(stored).digest("hex")).toBe(run.sha256!);

      // The bucket goes away: the backup is written and kept locally, but the run failed.
      const gone = new BackupScheduler({
        db: app.platform.db,
        writer: app.platform.writer,
        dbPath: join(app.dataDir, "homebase.sqlite"),
        settings: { ...app.platform.config.backup, s3: { ...app.platform.config.backup.s3!, bucket: `${bucket}-missing` } },
        locks: app.platform.locks,
        clock,
        logger: createLogger("silent"),
        registry: new Registry(),
      });
      clock.advance(1000);
      const failed = await gone.run("schedule");
      expect(failed).toMatchObject({ ok: false, uploaded: false });
      expect(failed.error).toContain(`upload to s3://${bucket}-missing/`);
      // KEEP=1, yet the earlier backup stays: a failed run prunes nothing.
      expect(listBackups(dir).sort()).toEqual([key, failed.file!.slice(dir.length + 1)].sort());
    } finally {
      await app.close();
    }
  });
});

describe("manual backups", () => {
  test("homebase backup <file> records a manual run, ok or failed", async () => {
    const { app } = await backupApp("embedded", { HOMEBASE_BACKUP_DIR: freshDir("manual") });
    try {
      const dbPath = join(app.dataDir, "homebase.sqlite");
      const target = join(scratch, `manual-${++seq}.sqlite`);
      const { backup, recorded } = await manualBackup(dbPath, target);
      expect(recorded).toBe(true);
      expect(statSync(target).mode & 0o777).toBe(0o600);
      const [run] = recentBackupRuns(app.platform.db, 1);
      expect(run).toMatchObject({
        ok: true,
        trigger: "manual",
        file: target,
        bytes: backup.bytes,
        sha256: backup.sha256,
        checksum: backup.summary.checksum,
        uploaded: null,
      });
      // The same target again: refused, and recorded as a failed manual run.
      await expect(manualBackup(dbPath, target)).rejects.toThrow(/exists/);
      expect(recentBackupRuns(app.platform.db, 1)[0]).toMatchObject({
        ok: false,
        trigger: "manual",
        error: expect.stringContaining("exists"),
      });
    } finally {
      await app.close();
    }
  });
});

describe("the schedule's slot", () => {
  test("workers firing a few ms apart (or on the dot) name the same slot; the next tick is another", () => {
    const job = new Cron("*/2 * * * * *", { timezone: "UTC", paused: true });
    const slot = Date.parse("2026-03-01T03:00:04Z");
    for (const late of [0, 1, 7, 480, 1999]) expect(scheduledSlot(job, new Date(slot + late))).toBe(slot);
    expect(scheduledSlot(job, new Date(slot + 2000))).toBe(slot + 2000);
    job.stop();
    const daily = new Cron("0 3 * * *", { timezone: "UTC", paused: true });
    expect(scheduledSlot(daily, new Date("2026-03-01T03:00:00.042Z"))).toBe(Date.parse("2026-03-01T03:00:00Z"));
    daily.stop();
  });
});

describe("the backup command", () => {
  test("homebase backup <file> prints the verified backup's sha256 and summary and records a manual run", async () => {
    const env = { PATH: process.env.PATH ?? "", HOMEBASE_DATA_DIR: freshDir("cli-data") };
    expect(Bun.spawnSync(homebaseCommand(["migrate"]), { env }).exitCode).toBe(0);
    const target = join(scratch, `cli-backup-${++seq}.sqlite`);
    const proc = Bun.spawnSync(homebaseCommand(["backup", target]), { env });
    expect(proc.stderr.toString()).toBe("");
    expect(proc.exitCode).toBe(0);
    const out = JSON.parse(proc.stdout.toString()) as { backup: string; bytes: number; sha256: string; checksum: string };
    expect(out.backup).toBe(target);
    expect(out.bytes).toBe(statSync(target).size);
    expect(out.sha256).toBe(await fileSha256(target));
    const db = new Database(join(env.HOMEBASE_DATA_DIR, "homebase.sqlite"), { readonly: true, strict: true });
    const [run] = recentBackupRuns(db, 1);
    db.close();
    expect(run).toMatchObject({ ok: true, trigger: "manual", file: target, sha256: out.sha256, checksum: out.checksum });
    // Again to the same file: refused (exit 1), recorded as failed.
    const again = Bun.spawnSync(homebaseCommand(["backup", target]), { env });
    expect(again.exitCode).toBe(1);
    expect(again.stderr.toString()).toContain("exists");
  });
});

describe("backup variables", () => {
  const load = (env: Record<string, string>) => loadConfig({ HOMEBASE_DATA_DIR: join(scratch, "cfg"), ...env }, []);

  test("defaults: no schedule, keep 7, <data dir>/backups, no bucket", () => {
    expect(load({}).backup).toEqual({ cron: null, keep: 7, dir: join(scratch, "cfg", "backups"), s3: null });
    expect(load({ HOMEBASE_BACKUP_CRON: "*/2 * * * * *", HOMEBASE_BACKUP_KEEP: "30" }).backup).toMatchObject({
      cron: "*/2 * * * * *",
      keep: 30,
    });
  });

  test("a bad cron expression, keep or bucket setting is refused naming the variable", () => {
    expect(() => load({ HOMEBASE_BACKUP_CRON: "every night" })).toThrow(ConfigError);
    expect(() => load({ HOMEBASE_BACKUP_CRON: "61 * * * *" })).toThrow(/HOMEBASE_BACKUP_CRON: expected a cron expression/);
    expect(() => load({ HOMEBASE_BACKUP_KEEP: "0" })).toThrow(/HOMEBASE_BACKUP_KEEP/);
    expect(() => load({ HOMEBASE_BACKUP_S3_ENDPOINT: "http://127.0.0.1:9000" })).toThrow(/HOMEBASE_BACKUP_S3_BUCKET/);
    expect(() => load({ HOMEBASE_BACKUP_S3_BUCKET: "b", HOMEBASE_BACKUP_S3_SECRET_ACCESS_KEY_FILE: join(scratch, "missing") })).toThrow(
      /HOMEBASE_BACKUP_S3_SECRET_ACCESS_KEY_FILE: expected a readable file holding the secret access key/,
    );
  });

  test("the binary exits 2 on a bad HOMEBASE_BACKUP_CRON, naming it", () => {
    const proc = Bun.spawnSync(homebaseCommand(["worker"]), {
      env: { PATH: process.env.PATH ?? "", HOMEBASE_DATA_DIR: join(scratch, "cli"), HOMEBASE_BACKUP_CRON: "0 3 * *" },
    });
    expect(proc.exitCode).toBe(2);
    expect(proc.stderr.toString()).toContain("HOMEBASE_BACKUP_CRON");
  });
});
