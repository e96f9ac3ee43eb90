// The commit watch under the auth check's caches (store.sqlite.cache.ts): the -shm header, read
// from a shared mapping (pread where none can be made), says "changed" after any connection's or
// process's commit and only then, one descriptor per file and process, never closed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../platform/db/sqlite";
import { CommitWatch } from "./store.sqlite.cache";

const openDescriptors = () => readdirSync("/proc/self/fd").length;

describe("CommitWatch", () => {
  let dir: string;
  let path: string;
  let db: Database;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "homebase-watch-"));
    path = join(dir, "w.sqlite");
    db = openDatabase(path, { synchronous: "NORMAL" });
    db.exec("CREATE TABLE t (n INTEGER)");
    db.query("SELECT COUNT(*) FROM t").get();
  });
  afterAll(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("changed after a commit of this connection or another, and not otherwise", () => {
    const watch = new CommitWatch(path);
    expect(watch.changed()).toBe(true); // the first look has nothing to compare with
    expect(watch.changed()).toBe(false);
    db.query("INSERT INTO t VALUES (1)").run();
    expect(watch.changed()).toBe(true);
    expect(watch.changed()).toBe(false);
    // Reads, of this connection or another, change nothing.
    const other = new Database(path);
    try {
      other.query("SELECT COUNT(*) FROM t").get();
      db.query("SELECT COUNT(*) FROM t").get();
      expect(watch.changed()).toBe(false);
      other.query("INSERT INTO t VALUES (2)").run();
      expect(watch.changed()).toBe(true);
      expect(watch.changed()).toBe(false);
      // A rolled-back transaction commits nothing.
      other.exec("BEGIN IMMEDIATE; INSERT INTO t VALUES (3); ROLLBACK");
      expect(watch.changed()).toBe(false);
    } finally {
      other.close();
    }
  });

  test("on Linux the header is read from the mapping, and it sees another process's commit", async () => {
    const watch = new CommitWatch(path);
    watch.changed();
    expect(watch.reads).toBe(process.platform === "linux" ? "mapped" : "pread");
    expect(watch.changed()).toBe(false);
    const insert = `const { Database } = require("bun:sqlite"); new Database(${JSON.stringify(path)}).query("INSERT INTO t VALUES (4)").run();`;
    const child = Bun.spawn([process.execPath, "-e", insert], { stderr: "inherit" });
    expect(await child.exited).toBe(0);
    expect(watch.changed()).toBe(true);
    expect(watch.changed()).toBe(false);
  });

  test("every watch of a file shares one descriptor, kept open when the watches close", () => {
    const first = new CommitWatch(path);
    first.changed();
    const before = openDescriptors();
    const watches = Array.from({ length: 50 }, () => new CommitWatch(path));
    for (const w of watches) w.changed();
    expect(openDescriptors()).toBe(before);
    for (const w of [first, ...watches]) w.close();
    // Closing a descriptor of the -shm would drop this process's SQLite locks on it.
    expect(openDescriptors()).toBe(before);
    expect(watches[0]!.changed()).toBe(true); // closed: always "changed"
  });

  test("an in-memory database or a missing -shm: always changed", () => {
    expect(new CommitWatch(":memory:").changed()).toBe(true);
    const none = new CommitWatch(join(dir, "absent.sqlite"));
    expect(none.changed()).toBe(true);
    expect(none.changed()).toBe(true);
  });
});
