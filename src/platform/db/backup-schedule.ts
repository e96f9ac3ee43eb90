// Scheduled backups, run by worker roles (main starts them with the modules' jobs): on
// HOMEBASE_BACKUP_CRON (croner, UTC) one worker — the one that takes the slot's lock — writes a
// verified backup into HOMEBASE_BACKUP_DIR, uploads it when a bucket is configured, records the
// run in backup_runs and prunes the directory to the newest HOMEBASE_BACKUP_KEEP. A failed run
// is recorded too, and prunes nothing.
//
// The metrics are read from backup_runs at scrape time, so every process of an install (an API
// instance as well as the worker) reports the same, and they survive restarts.
import { Database } from "bun:sqlite";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Cron } from "croner";
import { Counter, Gauge, type Registry } from "prom-client";
import type { Clock } from "../clock";
import { withLock, type LockManager } from "../lock";
import type { Logger } from "../logger";
import type { BackupSettings } from "./backup-config";
import {
  backupFileName,
  prepareBackupDir,
  pruneBackups,
  removePartials,
  takeVerifiedBackup,
  uploadBackup,
  type VerifiedBackup,
} from "./backup-job";
import { type BackupRun, type BackupTrigger, backupRun, recordBackupRun } from "./backup-runs";
import type { GroupCommitWriter } from "./sqlite";

export interface BackupDeps {
  db: Database;
  writer: GroupCommitWriter;
  /** The live database file (<data dir>/homebase.sqlite). */
  dbPath: string;
  settings: BackupSettings;
  locks: LockManager;
  clock: Clock;
  logger: Logger;
  registry: Registry;
}

/** A slot's lock outlives every worker's tick for it (they differ by milliseconds to seconds). */
const slotLockMs = 10 * 60_000;
/** The lease is not renewed while a copy runs: it must outlast a long one. */
const runningLockMs = 15 * 60_000;

interface Totals {
  ok: number;
  failed: number;
  lastOk: { finished_at: number | null; started_at: number; bytes: number | null } | null;
}

function totals(db: Database): Totals {
  const counts = db.query<{ ok: number; n: number }, []>("SELECT ok, count(*) AS n FROM backup_runs GROUP BY ok").all();
  const lastOk = db
    .query<Totals["lastOk"] & object, []>(
      "SELECT finished_at, started_at, bytes FROM backup_runs WHERE ok = 1 ORDER BY started_at DESC, id DESC LIMIT 1",
    )
    .get();
  return { ok: counts.find((c) => c.ok === 1)?.n ?? 0, failed: counts.find((c) => c.ok === 0)?.n ?? 0, lastOk };
}

/** The backup metrics, computed from backup_runs on each scrape. */
export function registerBackupMetrics(registry: Registry, db: Database): void {
  const read = (): Totals | null => {
    try {
      return totals(db);
    } catch {
      return null; // closed database (shutdown) or a data dir not migrated yet
    }
  };
  new Counter({
    name: "homebase_backup_runs_total",
    help: "Backups taken (scheduled and `homebase backup`), by result: ok = written and verified, failed (from backup_runs)",
    labelNames: ["result"] as const,
    registers: [registry],
    collect() {
      const t = read();
      if (!t) return;
      this.reset();
      this.inc({ result: "ok" }, t.ok);
      this.inc({ result: "failed" }, t.failed);
    },
  });
  new Gauge({
    name: "homebase_backup_last_success_timestamp_seconds",
    help: "When the newest verified backup finished (unix seconds); 0 = none yet",
    registers: [registry],
    collect() {
      const t = read();
      if (t) this.set(t.lastOk ? (t.lastOk.finished_at ?? t.lastOk.started_at) / 1000 : 0);
    },
  });
  new Gauge({
    name: "homebase_backup_last_size_bytes",
    help: "Size of the newest verified backup",
    registers: [registry],
    collect() {
      const t = read();
      if (t) this.set(t.lastOk?.bytes ?? 0);
    },
  });
  new Gauge({
    name: "homebase_backup_last_duration_seconds",
    help: "How long the newest verified backup took (copy, checks, upload)",
    registers: [registry],
    collect() {
      const t = read();
      if (t) this.set(t.lastOk ? ((t.lastOk.finished_at ?? t.lastOk.started_at) - t.lastOk.started_at) / 1000 : 0);
    },
  });
}

/**
 * The schedule's time a run fired for (croner hands over when it actually fired, a few ms
 * later): every worker names the same slot, so the slot's lock is one per scheduled backup.
 */
export function scheduledSlot(job: Cron, firedAt: Date): number {
  // "A run earlier in the same second as the reference is included": +1 ms covers firing on the dot.
  return job.previousRuns(1, new Date(firedAt.getTime() + 1))[0]?.getTime() ?? firedAt.getTime();
}

export class BackupScheduler {
  private job: Cron | null = null;
  private running: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(private readonly deps: BackupDeps) {
    registerBackupMetrics(deps.registry, deps.db);
  }

  /** Starts the schedule (worker roles); nothing when HOMEBASE_BACKUP_CRON is unset. */
  start(): void {
    const { settings, logger } = this.deps;
    if (this.job || this.stopped || !settings.cron) return;
    this.job = new Cron(settings.cron, { timezone: "UTC", protect: true }, (self: Cron) => {
      const slot = scheduledSlot(self, self.currentRun() ?? new Date());
      return this.track(this.runScheduled(slot)).then(
        () => undefined,
        (err: unknown) => logger.error("scheduled backup crashed", { err }),
      );
    });
    logger.info("scheduled backups", {
      cron: settings.cron,
      dir: settings.dir,
      keep: settings.keep,
      s3: settings.s3?.bucket ?? null,
      nextRun: this.job.nextRun()?.toISOString() ?? null,
    });
  }

  /** Stops scheduling and waits for a run in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.job?.stop();
    this.job = null;
    await this.running;
  }

  get scheduled(): boolean {
    return this.job !== null;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.running = Promise.allSettled([this.running, p]);
    return p;
  }

  /**
   * The run for the schedule's slot `slot` (epoch ms) — unless another worker took that slot, or
   * a backup is still running anywhere: null then.
   */
  async runScheduled(slot: number): Promise<BackupRun | null> {
    const { locks, logger } = this.deps;
    // Taken once per slot: the lease is left to expire, so a worker whose tick comes after the
    // first one finished does not take the slot again.
    const slotLease = await locks.acquire(`backup:slot:${slot}`, { ttlMs: slotLockMs, waitMs: 0 });
    if (!slotLease) {
      logger.debug("scheduled backup taken by another worker", { slot: new Date(slot).toISOString() });
      return null;
    }
    const run = await withLock(locks, "backup:running", { ttlMs: runningLockMs, waitMs: 0 }, () => this.run("schedule"));
    if (run === null) logger.warn("scheduled backup skipped: the previous one is still running", { slot: new Date(slot).toISOString() });
    return run;
  }

  /**
   * One backup into the backup directory: verify, upload (when configured), record, prune on
   * success. Never throws: a failure is recorded and returned.
   */
  async run(trigger: BackupTrigger): Promise<BackupRun> {
    const { settings, clock, logger, dbPath } = this.deps;
    const id = Bun.randomUUIDv7();
    const startedAt = clock.now();
    const began = performance.now();
    let backup: VerifiedBackup | null = null;
    let uploaded: boolean | null = null;
    let error: string | null = null;
    try {
      prepareBackupDir(settings.dir);
      removePartials(settings.dir);
      backup = await takeVerifiedBackup(dbPath, join(settings.dir, backupFileName(startedAt, id)));
      if (settings.s3) {
        uploaded = false;
        await uploadBackup(settings.s3, backup);
        uploaded = true;
      }
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    const ok = error === null;
    await this.deps.writer.write(() =>
      recordBackupRun(this.deps.db, {
        id,
        startedAt,
        finishedAt: clock.now(),
        file: backup?.file ?? null,
        bytes: backup?.bytes ?? null,
        sha256: backup?.sha256 ?? null,
        checksum: backup?.summary.checksum ?? null,
        ok,
        error,
        uploaded,
        trigger,
      }),
    );
    const ms = Math.round(performance.now() - began);
    if (ok && backup) {
      // Only after a verified (and, when configured, uploaded) backup: a failing run deletes nothing.
      const pruned = pruneBackups(settings.dir, settings.keep, backup.file);
      logger.info("backup done", {
        trigger,
        file: backup.file,
        bytes: backup.bytes,
        sha256: backup.sha256,
        checksum: backup.summary.checksum,
        uploaded,
        pruned,
        ms,
      });
    } else {
      logger.error("backup failed", { trigger, err: error, file: backup?.file ?? null, ms });
    }
    const recorded = backupRun(this.deps.db, id);
    if (!recorded) throw new Error(`backup run ${id} was not recorded`);
    return recorded;
  }
}

/**
 * `homebase backup <file>`: a verified backup to `file`, recorded in backup_runs as a manual run
 * (ok or failed) when the database has that table. Throws BackupError on failure, after recording.
 */
export async function manualBackup(
  dbPath: string,
  file: string,
  clock: Clock = { now: () => Date.now() },
): Promise<{ backup: VerifiedBackup; recorded: boolean }> {
  const id = Bun.randomUUIDv7();
  const startedAt = clock.now();
  let backup: VerifiedBackup | null = null;
  let failure: unknown = null;
  try {
    backup = await takeVerifiedBackup(dbPath, file);
  } catch (err) {
    failure = err;
  }
  let recorded = false;
  if (existsSync(dbPath)) {
    const db = new Database(dbPath, { strict: true });
    try {
      db.exec("PRAGMA busy_timeout = 5000");
      const hasTable = db.query("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'backup_runs'").get() !== null;
      if (hasTable) {
        recordBackupRun(db, {
          id,
          startedAt,
          finishedAt: clock.now(),
          file: backup?.file ?? null,
          bytes: backup?.bytes ?? null,
          sha256: backup?.sha256 ?? null,
          checksum: backup?.summary.checksum ?? null,
          ok: failure === null,
          error: failure === null ? null : failure instanceof Error ? failure.message : String(failure),
          uploaded: null,
          trigger: "manual",
        });
        recorded = true;
      }
    } finally {
      db.close();
    }
  }
  if (failure !== null || !backup) throw failure;
  return { backup, recorded };
}
