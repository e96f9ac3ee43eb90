// Online backup while the group-commit writer keeps writing, and restore rules.
import { afterEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { platformMigrations } from "../migrations";
import { BackupError, backupDatabase, backupDatabaseOffThread, restoreDatabase, summarize } from "./backup";
import { GroupCommitWriter, migrate, openDatabase } from "./sqlite";

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "homebase-backup-"));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function liveDatabase() {
  const dir = tempDir();
  const db = openDatabase(join(dir, "homebase.sqlite"), { synchronous: "FULL" });
  migrate(db, [platformMigrations]);
  db.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
  return { dir, db, writer: new GroupCommitWriter(db) };
}

describe("backup and restore", () => {
  test("a backup taken during concurrent writes is a consistent snapshot; restore reproduces it exactly", async () => {
    const live = liveDatabase();
    let stop = false;
    let written = 0;
    const insert = live.db.prepare("INSERT INTO notes (body) VALUES (?)");
    const writers = Array.from({ length: 8 }, async () => {
      while (!stop) {
        // Two rows per transaction: a torn snapshot would show an odd count.
        await live.writer.write(() => {
          insert.run("a");
          insert.run("b");
        });
        written += 2;
      }
    });
    while (written < 200) await Bun.sleep(5);
    const file = join(tempDir(), "snapshot.sqlite");
    const summary = backupDatabase(join(live.dir, "homebase.sqlite"), file);
    while (written < 400) await Bun.sleep(5);
    stop = true;
    await Promise.all(writers);

    expect(summary.tables.notes! % 2).toBe(0);
    expect(summary.tables.notes!).toBeGreaterThanOrEqual(200);
    expect(summary.migrations).toBe(platformMigrations.migrations.length);
    // The live database moved on; the backup did not.
    expect(summarize(live.db).tables.notes!).toBeGreaterThan(summary.tables.notes!);

    const target = tempDir();
    const restored = restoreDatabase(file, target, false);
    expect(restored).toEqual(summary);
    const db = new Database(join(target, "homebase.sqlite"), { readonly: true, strict: true });
    expect(summarize(db)).toEqual(summary);
    db.close();
    await live.writer.close();
    live.db.close();
  });

  test("restore refuses a running database, an existing one without --force, and a file that is not a homebase backup", async () => {
    const live = liveDatabase();
    await live.writer.write(() => live.db.query("INSERT INTO notes (body) VALUES ('x')").run());
    const file = join(tempDir(), "b.sqlite");
    backupDatabase(join(live.dir, "homebase.sqlite"), file);
    expect(() => backupDatabase(join(live.dir, "homebase.sqlite"), file)).toThrow(/exists/);

    // The live database is open (as by a running homebase).
    expect(() => restoreDatabase(file, live.dir, true)).toThrow(/in use: stop homebase/);
    await live.writer.close();
    live.db.close();
    expect(() => restoreDatabase(file, live.dir, false)).toThrow(/pass --force/);
    expect(restoreDatabase(file, live.dir, true).tables.notes).toBe(1);

    const junk = join(tempDir(), "junk.sqlite");
    writeFileSync(junk, "not a database at all, just text that is long enough to look like something");
    expect(() => restoreDatabase(junk, tempDir(), false)).toThrow(BackupError);
    const foreign = join(tempDir(), "foreign.sqlite");
    const other = new Database(foreign);
    other.exec("CREATE TABLE t (x)");
    other.close();
    expect(() => restoreDatabase(foreign, tempDir(), false)).toThrow(/not a homebase database/);
  });

  test("the backup file is 0600 and a restore makes the data dir 0700 and the database 0600, whatever the umask", async () => {
    const umask = process.umask(0o022);
    try {
      const live = liveDatabase();
      await live.writer.write(() => live.db.query("INSERT INTO notes (body) VALUES ('x')").run());
      const file = join(tempDir(), "b.sqlite");
      backupDatabase(join(live.dir, "homebase.sqlite"), file);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      await live.writer.close();
      live.db.close();

      const target = join(tempDir(), "data");
      mkdirSync(target, { mode: 0o755 });
      chmodSync(target, 0o755);
      chmodSync(file, 0o644);
      restoreDatabase(file, target, false);
      expect(statSync(target).mode & 0o777).toBe(0o700);
      expect(statSync(join(target, "homebase.sqlite")).mode & 0o777).toBe(0o600);
    } finally {
      process.umask(umask);
    }
  });
});

test("backupDatabaseOffThread copies on a worker thread: the event loop turns while it runs, and the copy equals the database", async () => {
  const dir = tempDir();
  const dbPath = join(dir, "big.sqlite");
  const db = new Database(dbPath, { strict: true });
  db.exec("PRAGMA journal_mode = WAL; CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)");
  const insert = db.query("INSERT INTO blobs (data) VALUES (?)");
  db.transaction(() => {
    for (let i = 0; i < 400; i++) insert.run(new Uint8Array(64 * 1024).fill(i % 251));
  })();
  const expected = summarize(db);
  db.close();
  let turns = 0;
  let done = false;
  const copy = backupDatabaseOffThread(dbPath, join(dir, "copy.sqlite")).finally(() => (done = true));
  // A copy made on this thread would be over before the first turn (25 MiB to copy and check).
  while (!done) {
    await Bun.sleep(0);
    turns++;
  }
  expect(turns).toBeGreaterThan(1);
  expect(await copy).toEqual(expected);
  expect(statSync(join(dir, "copy.sqlite")).mode & 0o777).toBe(0o600);
  await expect(backupDatabaseOffThread(join(dir, "missing.sqlite"), join(dir, "x.sqlite"))).rejects.toBeInstanceOf(BackupError);
});
