// The cache lookups' tally: counted without prom-client's label hashing, seen by every reader
// of the counter (a scrape, counter.get()) exactly once.
import { describe, expect, test } from "bun:test";
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
