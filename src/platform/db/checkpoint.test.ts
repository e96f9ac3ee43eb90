// The WAL's checkpoints run on the worker's connection: the writer's connection checkpoints
// nothing itself, and the WAL is still checkpointed as commits go on.
import { afterEach, beforeEach, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../logger";
import { waitFor } from "../../testing/wait";
import { WalCheckpointer } from "./checkpoint";
import { GroupCommitWriter, openDatabase } from "./sqlite";
import { WalFileSync } from "./wal-sync";

let dir: string;
let path: string;
let db: Database;
/** Rows in the test table, read on the test's own connection. */
const rows = () => db.query<{ n: number }, []>("SELECT count(*) AS n FROM t").get()!.n;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "homebase-checkpoint-"));
  path = join(dir, "homebase.sqlite");
  db = openDatabase(path, { synchronous: "FULL" });
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

test("the writer's connection never checkpoints; the worker does, after commits, and the rows stay", async () => {
  const writer = new GroupCommitWriter(db, { sync: new WalFileSync(path) });
  const checkpointer = new WalCheckpointer(db, path, writer, createLogger("error"));
  expect(db.query<{ wal_autocheckpoint: number }, []>("PRAGMA wal_autocheckpoint").get()!.wal_autocheckpoint).toBe(0);
  const insert = db.query("INSERT INTO t (body) VALUES (?)");
  // ~8 MB of pages: past the 1,000-page threshold where the connection itself would checkpoint.
  for (let round = 0; round < 20; round++) {
    await Promise.all(Array.from({ length: 100 }, () => writer.write(() => insert.run("x".repeat(4000)))));
  }
  await waitFor(() => checkpointer.stats.runs > 0 && checkpointer.stats.lastCheckpointed === checkpointer.stats.lastLog, { what: "a complete checkpoint by the worker" });
  expect(checkpointer.stats.lastLog).toBeGreaterThan(0);
  // Everything is in the database file now: a checkpoint here finds nothing left to copy.
  const here = db.query<{ log: number; checkpointed: number }, []>("PRAGMA wal_checkpoint(PASSIVE)").get()!;
  expect(here.log).toBe(here.checkpointed);
  expect(rows()).toBe(2000);
  await writer.close();
  await checkpointer.close();
});

test("under writes that never stop, the WAL still starts over: it stays near the restart threshold, not the volume written", async () => {
  const writer = new GroupCommitWriter(db, { sync: new WalFileSync(path) });
  // 500 frames (~2 MB) before the writer is held so the WAL can start over; ~16 MB written
  // below, with no pause between batches.
  const checkpointer = new WalCheckpointer(db, path, writer, createLogger("error"), { restartFrames: 500, minHoldGapMs: 0, minCheckpointGapMs: 0 });
  const insert = db.query("INSERT INTO t (body) VALUES (?)");
  let largest = 0;
  for (let round = 0; round < 40; round++) {
    await Promise.all(Array.from({ length: 100 }, () => writer.write(() => insert.run("y".repeat(4000)))));
    largest = Math.max(largest, statSync(`${path}-wal`).size);
  }
  expect(checkpointer.stats.runs).toBeGreaterThan(0);
  expect(checkpointer.stats.holds).toBeGreaterThan(0);
  // PASSIVE checkpoints alone would leave every byte written in the WAL (≥ 16 MB).
  expect(largest).toBeLessThan(10 * 1024 * 1024);
  expect(rows()).toBe(4000);
  await writer.close();
  await checkpointer.close();
});

test("a write queued while the writer is held commits after the hold, not before, and is not refused", async () => {
  const writer = new GroupCommitWriter(db, { sync: new WalFileSync(path) });
  let release!: () => void;
  writer.holdWhile(new Promise<void>((resolve) => (release = resolve)));
  let done = false;
  const write = writer.write(() => db.query("INSERT INTO t (body) VALUES ('held')").run()).then(() => (done = true));
  await Bun.sleep(50);
  expect(done).toBe(false);
  expect(rows()).toBe(0);
  release();
  await write;
  expect(rows()).toBe(1);
  await writer.close();
});
