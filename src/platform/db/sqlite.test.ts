import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GroupCommitWriter, migrate, openDatabase, transaction } from "./sqlite";
import { platformMigrations } from "../migrations";

describe("sqlite platform", () => {
  let dir: string;
  let db: Database;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "homebase-sqlite-"));
    db = openDatabase(join(dir, "t.sqlite"), { synchronous: "FULL" });
    db.exec("CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)");
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("WAL and synchronous=FULL by default", () => {
    expect(db.query<{ journal_mode: string }, []>("PRAGMA journal_mode").get()?.journal_mode).toBe("wal");
    expect(db.query<{ synchronous: number }, []>("PRAGMA synchronous").get()?.synchronous).toBe(2);
  });

  test("migrations apply once, in order, each in a transaction", () => {
    const notes = { module: "notes", migrations: [{ version: 2, name: "body", sql: "ALTER TABLE notes ADD COLUMN body TEXT" }, { version: 1, name: "notes", sql: "CREATE TABLE notes (id INTEGER PRIMARY KEY)" }] };
    expect(migrate(db, [platformMigrations, notes])).toEqual(["platform@1", "platform@2", "notes@1", "notes@2"]);
    expect(migrate(db, [platformMigrations, notes])).toEqual([]);
    const broken = { module: "notes", migrations: [...notes.migrations, { version: 999, name: "broken", sql: "CREATE TABLE half (x); SELECT nope FROM missing;" }] };
    expect(() => migrate(db, [platformMigrations, broken])).toThrow();
    // The failed migration left nothing behind: neither its table nor its version row.
    expect(db.query("SELECT name FROM sqlite_master WHERE name = 'half'").get()).toBeNull();
    expect(db.query("SELECT 1 FROM module_migrations WHERE module = 'notes' AND version = 999").get()).toBeNull();
  });

  test("concurrent writes share transactions; each resolves after commit with its own result", async () => {
    const writer = new GroupCommitWriter(db);
    const insert = db.query<unknown, [string, number]>("INSERT INTO kv (k, v) VALUES (?, ?)");
    const results = await Promise.all(
      Array.from({ length: 500 }, (_, i) => writer.write(() => (insert.run(`k${i}`, i), i * 2))),
    );
    expect(results).toEqual(Array.from({ length: 500 }, (_, i) => i * 2));
    expect(db.query<{ n: number }, []>("SELECT count(*) AS n FROM kv").get()?.n).toBe(500);
    expect(writer.stats.writes).toBe(500);
    // Batched: far fewer commits than writes.
    expect(writer.stats.batches).toBeLessThan(10);
    expect(writer.stats.maxBatch).toBeGreaterThan(1);
  });

  test("a failing write rolls back only itself; its neighbours in the batch commit", async () => {
    const writer = new GroupCommitWriter(db);
    const insert = db.query<unknown, [string, number]>("INSERT INTO kv (k, v) VALUES (?, ?)");
    const outcomes = await Promise.allSettled([
      writer.write(() => insert.run("a", 1)),
      writer.write(() => {
        insert.run("b", 2);
        insert.run("a", 3); // duplicate key: this whole write must vanish, "b" included
      }),
      writer.write(() => insert.run("c", 3)),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    const keys = db.query<{ k: string }, []>("SELECT k FROM kv ORDER BY k").all().map((r) => r.k);
    expect(keys).toEqual(["a", "c"]);
  });

  test("transaction() nests as a savepoint", () => {
    const insert = db.query<unknown, [string, number]>("INSERT INTO kv (k, v) VALUES (?, ?)");
    transaction(db, () => {
      insert.run("outer", 1);
      expect(() =>
        transaction(db, () => {
          insert.run("inner", 2);
          throw new Error("inner fails");
        }),
      ).toThrow("inner fails");
    });
    const keys = db.query<{ k: string }, []>("SELECT k FROM kv").all().map((r) => r.k);
    expect(keys).toEqual(["outer"]);
  });

  test("writes after close are refused", async () => {
    const writer = new GroupCommitWriter(db);
    await writer.close();
    expect(writer.write(() => 1)).rejects.toThrow("closed");
  });
});

describe("file modes", () => {
  const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);
  let dir: string;
  let umask: number;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "homebase-modes-"));
    // The usual interactive umask: what made the files 0644 and the data dir 0755.
    umask = process.umask(0o022);
  });
  afterEach(() => {
    process.umask(umask);
    rmSync(dir, { recursive: true, force: true });
  });

  test("a new data dir is 0700 and the database, -wal and -shm 0600 under umask 022", () => {
    const data = join(dir, "data");
    const db = openDatabase(join(data, "homebase.sqlite"), { synchronous: "FULL" });
    db.exec("CREATE TABLE t (x)");
    db.exec("INSERT INTO t VALUES (1)");
    expect(existsSync(join(data, "homebase.sqlite-wal"))).toBe(true);
    expect([mode(data), mode(join(data, "homebase.sqlite")), mode(join(data, "homebase.sqlite-wal")), mode(join(data, "homebase.sqlite-shm"))]).toEqual(["700", "600", "600", "600"]);
    db.close();
  });

  test("an existing data dir 0755 and files 0644 (an older binary, another umask) are tightened on open", () => {
    const data = join(dir, "data");
    mkdirSync(data, { mode: 0o755 });
    const first = openDatabase(join(data, "homebase.sqlite"), { synchronous: "FULL" });
    first.exec("CREATE TABLE t (x)");
    for (const name of ["homebase.sqlite", "homebase.sqlite-wal", "homebase.sqlite-shm"]) chmodSync(join(data, name), 0o644);
    chmodSync(data, 0o755);
    // A second connection (the next start) while the WAL files exist.
    const second = openDatabase(join(data, "homebase.sqlite"), { synchronous: "FULL" });
    expect([mode(data), mode(join(data, "homebase.sqlite")), mode(join(data, "homebase.sqlite-wal")), mode(join(data, "homebase.sqlite-shm"))]).toEqual(["700", "600", "600", "600"]);
    second.close();
    first.close();
  });

  test("a database created next to other files keeps them as they are; only its own files change", () => {
    writeFileSync(join(dir, "notes.txt"), "x", { mode: 0o644 });
    openDatabase(join(dir, "homebase.sqlite"), { synchronous: "FULL" }).close();
    expect(mode(join(dir, "notes.txt"))).toBe("644");
    expect(mode(join(dir, "homebase.sqlite"))).toBe("600");
  });
});
