// The restore drill (issue 14 item 3), as an operator would run it: the binary takes scheduled
// backups (every 2 s) while clients keep writing through the HTTP API; the newest backup is
// restored into a fresh data dir with the documented one-liner (`homebase restore <file>`), the
// binary starts on it, and the data is what the backup recorded: the file's sha256, the content
// checksum and the row counts, with every write acknowledged before the backup began.
import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { summarize, type DatabaseSummary } from "./platform/db/backup";
import { fileSha256 } from "./platform/db/backup-job";
import { type BackupRun, recentBackupRuns } from "./platform/db/backup-runs";
import { newUser } from "./testing/app";
import { backendEnv, modes } from "./testing/modes";
import { homebaseCommand, startServer } from "./testing/process";

const scratch = mkdtempSync(join(tmpdir(), "homebase-drill-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const json = { "content-type": "application/json" };
// The same key on both sides, so the tokens issued before the backup still work after the restore.
const common = { HOMEBASE_JWT_SECRET: "d".repeat(48), HOMEBASE_TODOS_WRITE_MODE: "direct" };

function runs(dataDir: string): BackupRun[] {
  const db = new Database(join(dataDir, "homebase.sqlite"), { readonly: true, strict: true });
  try {
    db.exec("PRAGMA busy_timeout = 5000");
    return recentBackupRuns(db, 100);
  } finally {
    db.close();
  }
}

describe.each(modes)("restore drill (%s)", (mode) => {
  test("a scheduled backup taken during writes restores into a fresh data dir and the binary serves exactly it", async () => {
    // The real mode: Redis (the scheduled backup's locks, caches), NATS and MongoDB, own event namespace.
    const backends = { ...(await backendEnv(mode)), HOMEBASE_EVENT_NAMESPACE: `drill${Bun.randomUUIDv7().replaceAll("-", "").slice(-10)}` };
    const live = await startServer(
      { ...common, ...backends, HOMEBASE_BACKUP_CRON: "*/2 * * * * *", HOMEBASE_BACKUP_KEEP: "3" },
      { args: ["all"], dataDir: join(scratch, `live-${mode}`) },
    );
    const user = newUser("drill");
    let token = "";
    const acknowledged: Array<{ id: string; at: number }> = [];
    let chosen: BackupRun | undefined;
    try {
      expect((await fetch(`${live.url}/auth/signup`, { method: "POST", headers: json, body: JSON.stringify(user) })).status).toBe(201);
      const login = await fetch(`${live.url}/auth/login`, {
        method: "POST",
        headers: json,
        body: JSON.stringify({ email: user.email, password: user.password }),
      });
      token = ((await login.json()) as { accessToken: string }).accessToken;

      let stop = false;
      const failures: string[] = [];
      const writer = async () => {
        while (!stop) {
          const id = Bun.randomUUIDv7();
          const res = await fetch(`${live.url}/projects`, {
            method: "POST",
            headers: { ...json, authorization: `Bearer ${token}` },
            body: JSON.stringify({ id, title: `drill ${acknowledged.length}` }),
          });
          await res.arrayBuffer();
          if (res.status === 201) acknowledged.push({ id, at: Date.now() });
          else failures.push(`POST /projects ${res.status}`);
        }
      };
      const began = Date.now();
      const writers = Array.from({ length: 4 }, writer);
      // Wait for a scheduled backup that started after the writes did and finished while they went on.
      const deadline = Date.now() + 20_000;
      while (!chosen && Date.now() < deadline) {
        await Bun.sleep(200);
        const last = acknowledged.at(-1)?.at ?? 0;
        chosen = runs(live.dataDir).find(
          (r) =>
            r.ok &&
            r.trigger === "schedule" &&
            Date.parse(r.startedAt) > began + 200 &&
            r.finishedAt !== null &&
            last > Date.parse(r.finishedAt),
        );
      }
      stop = true;
      await Promise.all(writers);
      expect(failures).toEqual([]);
      expect(chosen).toBeDefined();
      expect(await live.stop("SIGTERM")).toBe(0);
    } finally {
      await live.stop();
    }
    const backup = chosen!;
    // Scheduled backups land in <data dir>/backups, pruned to the newest 3.
    const backupDir = join(live.dataDir, "backups");
    expect(backup.file!.startsWith(`${backupDir}/`)).toBe(true);
    expect(existsSync(backup.file!)).toBe(true);
    expect(statSync(backupDir).mode & 0o777).toBe(0o700);
    expect(statSync(backup.file!).mode & 0o777).toBe(0o600);
    expect(runs(live.dataDir).filter((r) => r.ok && r.trigger === "schedule").length).toBeGreaterThanOrEqual(1);
    expect(await fileSha256(backup.file!)).toBe(backup.sha256!);

    // The documented one-liner: HOMEBASE_DATA_DIR=<fresh dir> homebase restore <file>
    const fresh = join(scratch, `restored-${mode}`);
    const restore = Bun.spawnSync(homebaseCommand(["restore", backup.file!]), {
      env: { PATH: process.env.PATH ?? "", HOMEBASE_DATA_DIR: fresh },
    });
    expect(restore.stderr.toString()).toBe("");
    expect(restore.exitCode).toBe(0);
    const restored = JSON.parse(restore.stdout.toString()) as DatabaseSummary & { restored: string; dataDir: string };
    expect(restored.restored).toBe(backup.file!);
    expect(restored.checksum).toBe(backup.checksum!);
    expect(statSync(join(fresh, "homebase.sqlite")).mode & 0o777).toBe(0o600);

    // What the backup holds: a snapshot between the writes acknowledged before it began and all of them.
    const before = acknowledged.filter((a) => a.at < Date.parse(backup.startedAt));
    const projects = restored.tables.todo_projects!;
    expect(before.length).toBeGreaterThan(0);
    expect(projects).toBeGreaterThanOrEqual(before.length);
    expect(projects).toBeLessThan(acknowledged.length);

    // The binary on the restored data dir serves it: the same user, token and projects.
    const server = await startServer({ ...common, ...backends }, { args: ["serve"], dataDir: fresh });
    try {
      const res = await fetch(`${server.url}/projects`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      const ids = new Set(((await res.json()) as { items: Array<{ id: string }> }).items.map((p) => p.id));
      expect(ids.size).toBe(projects);
      expect(before.filter((a) => !ids.has(a.id))).toEqual([]);
      expect(await server.stop("SIGTERM")).toBe(0);
    } finally {
      await server.stop();
    }
    // Serving it changed nothing: row counts and checksum are still the backup's.
    const db = new Database(join(fresh, "homebase.sqlite"), { readonly: true, strict: true });
    const after = summarize(db);
    db.close();
    expect(after.tables).toEqual(restored.tables);
    expect(after.checksum).toBe(backup.checksum!);
  }, 60_000);
});
