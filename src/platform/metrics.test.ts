// The cache lookups' tally: counted without prom-client's label hashing, seen by every reader
// of the counter (a scrape, counter.get()) exactly once.
import { describe, expect, test } from "bun:test";
import { GroupCommitWriter, openDatabase } from "./db/sqlite";
import { Metrics, PairTally } from "./metrics";

describe("cache lookups tallied, then collected", () => {
  test("counts reach homebase_cache_requests_total at a scrape and at get(), each once", async () => {
    const metrics = new Metrics();
    try {
      for (let i = 0; i < 3; i++) metrics.cacheLookups.add("logs", "hit");
      metrics.cacheLookups.add("logs", "miss");
      metrics.cacheLookups.add("movies", "hit");
      const scraped = await metrics.registry.metrics();
      expect(scraped).toContain('homebase_cache_requests_total{cache="logs",result="hit"} 3');
      expect(scraped).toContain('homebase_cache_requests_total{cache="logs",result="miss"} 1');
      expect(scraped).toContain('homebase_cache_requests_total{cache="movies",result="hit"} 1');
      // A second reader sees the same totals, not the counts added twice.
      metrics.cacheLookups.add("logs", "hit");
      const value = (cache: string, result: string, values: Array<{ labels: Record<string, unknown>; value: number }>) =>
        values.find((v) => v.labels.cache === cache && v.labels.result === result)?.value;
      const { values } = await metrics.cacheRequests.get();
      expect(value("logs", "hit", values)).toBe(4);
      expect(value("logs", "miss", values)).toBe(1);
      expect(value("movies", "hit", values)).toBe(1);
      expect(await metrics.registry.metrics()).toContain('homebase_cache_requests_total{cache="logs",result="hit"} 4');
    } finally {
      metrics.close();
    }
  });

  test("a drain hands over what was counted since the last one", () => {
    const tally = new PairTally();
    const drained = () => {
      const out: string[] = [];
      tally.drain((a, b, n) => out.push(`${a}/${b}=${n}`));
      return out;
    };
    tally.add("a", "x");
    tally.add("a", "x");
    tally.add("b", "y");
    expect(drained()).toEqual(["a/x=2", "b/y=1"]);
    expect(drained()).toEqual([]);
    tally.add("b", "y");
    expect(drained()).toEqual(["b/y=1"]);
  });
});

describe("the SQLite writer's totals", () => {
  test("reach the homebase_db_ counters at a scrape, each count once", async () => {
    const metrics = new Metrics();
    const db = openDatabase(":memory:", { synchronous: "FULL" });
    const writer = new GroupCommitWriter(db);
    try {
      metrics.observeWriter(writer.stats);
      db.exec("CREATE TABLE kv (k TEXT PRIMARY KEY)");
      const insert = db.query("INSERT INTO kv VALUES (?)");
      await Promise.all(["a", "b", "c"].map((k) => writer.write(() => insert.run(k))));
      await writer.write(() => insert.run("d"));
      const value = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
      const first = await metrics.registry.metrics();
      expect(value(first, "homebase_db_writes_total")).toBe(4);
      expect(value(first, "homebase_db_write_batches_total")).toBe(writer.stats.batches);
      expect(writer.stats.batches).toBe(2); // the three queued together, then the fourth
      expect(value(first, "homebase_db_write_batch_seconds_total")).toBeGreaterThan(0);
      expect(value(first, "homebase_db_commit_seconds_total")).toBeGreaterThan(0);
      expect(value(first, "homebase_db_commit_seconds_total")).toBeLessThanOrEqual(value(first, "homebase_db_write_batch_seconds_total"));
      expect(value(first, "homebase_db_wal_syncs_total")).toBe(0); // no WalSync: COMMIT synced in place
      // A second scrape adds only what happened since.
      await writer.write(() => insert.run("e"));
      const second = await metrics.registry.metrics();
      expect(value(second, "homebase_db_writes_total")).toBe(5);
      expect(value(second, "homebase_db_write_batches_total")).toBe(3);
    } finally {
      await writer.close();
      db.close();
      metrics.close();
    }
  });
});
