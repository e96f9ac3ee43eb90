import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GroupCommitWriter, migrate, openDatabase, transaction } from "./sqlite";
import { WalFileSync, type WalSync } from "./wal-sync";
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

/** A WalSync the test finishes by hand; records what was committed when each sync started. */
class GatedSync implements WalSync {
  readonly started: number[] = [];
  private gates: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  closed = false;
  constructor(private readonly rowsNow: () => number) {}
  sync(): Promise<void> {
    this.started.push(this.rowsNow());
    return new Promise((resolve, reject) => this.gates.push({ resolve, reject }));
  }
  finish(): void {
    this.gates.shift()!.resolve();
  }
  fail(err: Error): void {
    this.gates.shift()!.reject(err);
  }
  close(): void {
    this.closed = true;
  }
}

/** What a promise has done so far, without awaiting it. */
function watch(p: Promise<unknown>): () => "pending" | "resolved" | "rejected" {
  let state: "pending" | "resolved" | "rejected" = "pending";
  p.then(
    () => (state = "resolved"),
    () => (state = "rejected"),
  );
  return () => state;
}

/** Lets the event loop turn a few times (timers, immediates, I/O callbacks). */
async function turns(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
}

describe("durable commits with the sync off the event loop", () => {
  let dir: string;
  let db: Database;
  let sync: GatedSync;
  let writer: GroupCommitWriter;
  const count = () => db.query<{ n: number }, []>("SELECT count(*) AS n FROM kv").get()!.n;
  const insert = (k: string) => () => db.query<unknown, [string, number]>("INSERT INTO kv (k, v) VALUES (?, ?)").run(k, 1);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "homebase-walsync-"));
    db = openDatabase(join(dir, "t.sqlite"), { synchronous: "FULL" });
    db.exec("CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)");
    sync = new GatedSync(count);
    writer = new GroupCommitWriter(db, { sync });
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a write's promise stays pending after its COMMIT until the sync that started after it has finished", async () => {
    const state = watch(writer.write(insert("a")));
    while (sync.started.length === 0) await turns(1);
    // The sync started after the commit: the row was already in the database then.
    expect(sync.started).toEqual([1]);
    expect(count()).toBe(1);
    await turns();
    expect(state()).toBe("pending");
    sync.finish();
    await turns(2);
    expect(state()).toBe("resolved");
  });

  test("writes committed while a sync runs wait for the next one; one sync covers every commit before it", async () => {
    const a = watch(writer.write(insert("a")));
    while (sync.started.length === 0) await turns(1);
    const b = writer.write(insert("b"));
    const c = writer.write(insert("c"));
    const bc = watch(Promise.all([b, c]));
    await turns();
    expect(count()).toBe(3); // b and c committed during the first sync…
    expect(sync.started).toEqual([1]); // …which covers a only; one sync at a time
    sync.finish();
    await turns(2);
    expect(a()).toBe("resolved");
    expect(bc()).toBe("pending");
    expect(sync.started).toEqual([1, 3]); // the next sync covers both
    sync.finish();
    await turns(2);
    expect(bc()).toBe("resolved");
    expect(writer.stats.syncs).toBe(2);
  });

  test("writeStaged tells of the commit at once and of durability after the sync; durable() waits for it too", async () => {
    const staged = writer.writeStaged(() => (insert("a")(), "done"));
    const rolledBack = writer.writeStaged(() => insert("a")()); // duplicate key
    expect(await staged.committed).toBe("done");
    await expect(rolledBack.committed).rejects.toThrow("UNIQUE"); // told at once, before any sync finished
    expect(sync.started.length).toBe(1);
    const durable = watch(staged.durable);
    const barrier = watch(writer.durable());
    await turns();
    expect([durable(), barrier()]).toEqual(["pending", "pending"]);
    sync.finish();
    await turns(2);
    expect([durable(), barrier()]).toEqual(["resolved", "resolved"]);
    expect(await writer.durable()).toBeUndefined(); // nothing unsynced: at once
  });

  test("a failed sync rejects the writes it covered and every write after it (nothing more is acknowledged)", async () => {
    const outcome = (p: Promise<unknown>) => p.then(() => "resolved", (err: Error) => err.message);
    const a = outcome(writer.write(insert("a")));
    while (sync.started.length === 0) await turns(1);
    const barrier = outcome(writer.durable());
    sync.fail(new Error("EIO"));
    expect(await a).toContain("WAL sync failed (EIO)");
    expect(await barrier).toContain("WAL sync failed (EIO)");
    await expect(writer.durable()).rejects.toThrow("WAL sync failed");
    await expect(writer.write(insert("b"))).rejects.toThrow("restart the process");
  });

  test("a rolled-back write is answered after the sync too, and only the writer's own commits skip the in-place sync", async () => {
    const first = writer.write(insert("a"));
    while (sync.started.length < 1) await turns(1);
    sync.finish();
    await first;
    const dup = watch(writer.write(insert("a"))); // duplicate key: rolled back
    const next = watch(writer.write(insert("b")));
    while (sync.started.length < 2) await turns(1);
    await turns();
    expect([dup(), next()]).toEqual(["pending", "pending"]);
    sync.finish();
    await turns(2);
    expect([dup(), next()]).toEqual(["rejected", "resolved"]);
    // Outside the writer's flush the connection stays synchronous=FULL (migrations, direct writes).
    expect(db.query<{ synchronous: number }, []>("PRAGMA synchronous").get()?.synchronous).toBe(2);
    await writer.close();
    expect(sync.closed).toBe(true);
  });

  test("the stats say where a write's time went: in the batch, in its COMMIT, in the sync", async () => {
    const spin = (ms: number) => {
      const until = performance.now() + ms;
      while (performance.now() < until);
    };
    const a = writer.write(() => (spin(5), insert("a")()));
    while (sync.started.length === 0) await turns(1);
    const { batchSeconds, commitSeconds } = writer.stats;
    expect(batchSeconds).toBeGreaterThanOrEqual(0.005); // the write's own 5 ms are in the batch…
    expect(commitSeconds).toBeGreaterThan(0);
    expect(commitSeconds).toBeLessThan(batchSeconds - 0.004); // …not in its COMMIT
    expect(writer.stats.syncSeconds).toBe(0); // counted when the sync is done
    await Bun.sleep(20);
    sync.finish();
    await a;
    expect(writer.stats.syncSeconds).toBeGreaterThanOrEqual(0.019);
  });

  test("with the real WAL sync every write resolves and is in the file", async () => {
    const real = new GroupCommitWriter(db, { sync: new WalFileSync(join(dir, "t.sqlite")) });
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => real.write(() => (insert(`r${i}`)(), i))));
    expect(results).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(real.stats.syncs).toBeGreaterThan(0);
    expect(real.stats.syncs).toBeLessThanOrEqual(real.stats.batches);
    await real.close();
    const other = openDatabase(join(dir, "t.sqlite"), { synchronous: "FULL" });
    expect(other.query<{ n: number }, []>("SELECT count(*) AS n FROM kv WHERE k LIKE 'r%'").get()!.n).toBe(300);
    other.close();
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
