// The request-duration histogram without label hashing per request. prom-client 15's
// Histogram.observe(labels, v) (and the child labels() returns, which calls the same code) checks
// and hashes the label object on every call. Here each (route, method, status) series is found
// once, through nested maps keyed by the values themselves (no string built per request), and
// its buckets are counted in place, exactly as observe would count them.
//
// That in-place count reads two things prom-client keeps on the histogram: `hashMap` (series by
// label hash, replaced by reset()) and each series' {labels, bucketValues, sum, count}. The
// version is pinned (package.json); route-durations.test.ts compares the result with plain
// observe() calls, so an upgrade that changes either fails there, and anything unexpected at run
// time falls back to observe().
import type { Histogram } from "prom-client";

type Labels = "route" | "method" | "status";

interface Series {
  labels: Record<string, string | number>;
  bucketValues: Record<number, number>;
  sum: number;
  count: number;
}

interface Cell {
  /** The histogram's series map the series belongs to: another one after a reset(). */
  map: Record<string, Series>;
  series: Series | null;
}

interface Internals {
  hashMap?: Record<string, Series>;
  upperBounds?: number[];
}

export class RouteDurations {
  private readonly routes = new Map<string, Map<string, Map<number, Cell>>>();
  private readonly bounds: number[] | null;
  /** Each bound as the key prom-client's bucketValues uses: no number-to-string per request. */
  private readonly keys: string[];

  constructor(private readonly histogram: Histogram<Labels>) {
    const bounds = (histogram as unknown as Internals).upperBounds;
    this.bounds = Array.isArray(bounds) ? bounds : null;
    this.keys = (this.bounds ?? []).map(String);
  }

  observe(route: string, method: string, status: number, seconds: number): void {
    let methods = this.routes.get(route);
    if (methods === undefined) this.routes.set(route, (methods = new Map()));
    let statuses = methods.get(method);
    if (statuses === undefined) methods.set(method, (statuses = new Map()));
    const cell = statuses.get(status);
    const map = (this.histogram as unknown as Internals).hashMap;
    if (cell !== undefined && cell.map === map) {
      const series = cell.series;
      if (series === null || this.bounds === null) {
        this.histogram.observe({ route, method, status: String(status) }, seconds);
        return;
      }
      series.sum += seconds;
      series.count += 1;
      // prom-client's findBound: the first upper bound ≥ the value; past the last, only +Inf.
      const bounds = this.bounds;
      for (let i = 0; i < bounds.length; i++) {
        if (seconds <= bounds[i]!) {
          const key = this.keys[i]!;
          const buckets = series.bucketValues as Record<string, number>;
          if (key in buckets) buckets[key]! += 1;
          break;
        }
      }
      return;
    }
    // A new series (or the histogram was reset): the public call records it, then it is found once.
    const labels = { route, method, status: String(status) };
    this.histogram.observe(labels, seconds);
    const now = (this.histogram as unknown as Internals).hashMap;
    if (now === undefined || typeof now !== "object") return;
    statuses.set(status, { map: now, series: findSeries(now, labels) });
  }
}

function findSeries(map: Record<string, Series>, labels: Record<Labels, string>): Series | null {
  for (const series of Object.values(map)) {
    const l = series?.labels;
    if (l && l.route === labels.route && l.method === labels.method && String(l.status) === labels.status) {
      return typeof series.sum === "number" && typeof series.count === "number" && typeof series.bucketValues === "object" ? series : null;
    }
  }
  return null;
}
