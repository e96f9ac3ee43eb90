// The backup_runs record the /ops page reads: every run, ok or failed, newest first.
import { describe, expect, test } from "bun:test";
import { platformMigrations } from "../migrations";
import { lastSuccessfulBackupRun, recentBackupRuns, recordBackupRun } from "./backup-runs";
import { migrate, openDatabase } from "./sqlite";

function database() {
  const db = openDatabase(":memory:", { synchronous: "FULL" });
  migrate(db, [platformMigrations]);
  return db;
}

describe("backup runs", () => {
  test("recorded runs come back newest first, with wire times and booleans", () => {
    const db = database();
    expect(recentBackupRuns(db, 10)).toEqual([]);
    expect(lastSuccessfulBackupRun(db)).toBeNull();
    recordBackupRun(db, {
      id: "a",
      startedAt: Date.UTC(2025, 0, 1, 3, 0, 0),
      finishedAt: Date.UTC(2025, 0, 1, 3, 0, 2),
      file: "/b/homebase-20250101T030000Z.sqlite",
      bytes: 4096,
      sha256: "f".repeat(64),
      checksum: "c".repeat(64),
      ok: true,
      error: null,
      uploaded: true,
      trigger: "schedule",
    });
    recordBackupRun(db, {
      id: "b",
      startedAt: Date.UTC(2025, 0, 2, 3, 0, 0),
      finishedAt: Date.UTC(2025, 0, 2, 3, 0, 1),
      file: null,
      bytes: null,
      sha256: null,
      checksum: null,
      ok: false,
      error: "disk full",
      uploaded: null,
      trigger: "manual",
    });
    const runs = recentBackupRuns(db, 10);
    expect(runs.map((r) => r.id)).toEqual(["b", "a"]);
    expect(runs[0]).toEqual({
      id: "b",
      startedAt: "2025-01-02T03:00:00.000Z",
      finishedAt: "2025-01-02T03:00:01.000Z",
      file: null,
      bytes: null,
      sha256: null,
      checksum: null,
      ok: false,
      error: "disk full",
      uploaded: null,
      trigger: "manual",
    });
    expect(runs[1]!.ok).toBe(true);
    expect(runs[1]!.uploaded).toBe(true);
    expect(recentBackupRuns(db, 1).map((r) => r.id)).toEqual(["b"]);
    expect(lastSuccessfulBackupRun(db)?.id).toBe("a");
    db.close();
  });
});
