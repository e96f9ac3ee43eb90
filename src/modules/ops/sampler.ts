// The process's own figures, sampled every second from its prom-client registry (read metric by
// metric, by name: chat's and the shop's series too, without importing them) into a ring:
// raw counters for the last minute (windowed rates, per-route quantiles from histogram bucket
// deltas) and one derived point per second for the last ten minutes (the page's charts).
// Rates use the monotonic clock between samples (real elapsed time), wire times the injected clock.
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { Registry } from "prom-client";

const httpHistogram = "homebase_http_request_duration_seconds";

interface RouteCounts {
  method: string;
  route: string;
  count: number;
  errors: number;
  clientErrors: number;
  /** Cumulative bucket counts, in the order of `Snapshot.bounds`. */
  buckets: number[];
}

export interface Snapshot {
  /** performance.now() at the sample. */
  mono: number;
  /** The injected clock at the sample (epoch ms). */
  wall: number;
  /** Upper bounds of the request-duration buckets (seconds; the last is +Inf). */
  bounds: number[];
  routes: Map<string, RouteCounts>;
  caches: Map<string, { hit: number; miss: number; error: number }>;
  consumers: Map<string, { pending: number; redeliveries: number; processed: number; failed: number; deadLettered: number }>;
  outboxBacklog: number;
  relayLagSeconds: number;
  openSockets: number;
  breakers: Map<string, number>;
  rssBytes: number;
  cpuMicros: number;
  loopLagP99Ms: number;
  loopLagMaxMs: number;
}

/** One second of the charts. */
export interface Point {
  at: number;
  rps: number;
  errorRate: number;
  p50Ms: number | null;
  p99Ms: number | null;
  cacheHitRatio: number | null;
  rssBytes: number;
  cpuPercent: number;
  loopLagMs: number;
  outboxBacklog: number;
  consumerPending: number;
  openSockets: number;
}

interface MetricValue {
  labels: Record<string, string | number | undefined>;
  value: number;
  metricName?: string;
}

async function values(registry: Registry, name: string): Promise<MetricValue[]> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return [];
  return ((await metric.get()) as { values: MetricValue[] }).values;
}

const sum = (vs: MetricValue[]) => vs.reduce((n, v) => n + v.value, 0);

/** The q-quantile (0..1) of a histogram given as cumulative bucket counts, interpolated within its bucket (like PromQL). */
export function quantile(q: number, bounds: number[], cumulative: number[]): number | null {
  const total = cumulative.at(-1) ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    const c = cumulative[i]!;
    if (c < rank) continue;
    const upper = bounds[i]!;
    const lower = i === 0 ? 0 : bounds[i - 1]!;
    if (!Number.isFinite(upper)) return lower;
    const below = i === 0 ? 0 : cumulative[i - 1]!;
    return c === below ? upper : lower + ((upper - lower) * (rank - below)) / (c - below);
  }
  return bounds.at(-2) ?? null;
}

export interface RouteFigures {
  method: string;
  route: string;
  requests: number;
  rps: number;
  errorRate: number;
  clientErrorRate: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

/** Per-route figures between two snapshots (older → newer), busiest first. */
export function routeFigures(older: Snapshot | null, newer: Snapshot): RouteFigures[] {
  const seconds = older ? Math.max(0.001, (newer.mono - older.mono) / 1000) : 1;
  const out: RouteFigures[] = [];
  for (const [key, now] of newer.routes) {
    const then = older?.routes.get(key);
    const count = now.count - (then?.count ?? 0);
    if (count <= 0) continue;
    const buckets = now.buckets.map((c, i) => c - (then?.buckets[i] ?? 0));
    const p50 = quantile(0.5, newer.bounds, buckets);
    const p99 = quantile(0.99, newer.bounds, buckets);
    out.push({
      method: now.method,
      route: now.route,
      requests: count,
      rps: count / seconds,
      errorRate: (now.errors - (then?.errors ?? 0)) / count,
      clientErrorRate: (now.clientErrors - (then?.clientErrors ?? 0)) / count,
      p50Ms: p50 === null ? null : p50 * 1000,
      p99Ms: p99 === null ? null : p99 * 1000,
    });
  }
  return out.sort((a, b) => b.requests - a.requests || a.route.localeCompare(b.route));
}

/** Totals over every route between two snapshots. */
export function totals(older: Snapshot | null, newer: Snapshot) {
  const seconds = older ? Math.max(0.001, (newer.mono - older.mono) / 1000) : 1;
  let count = 0;
  let errors = 0;
  const buckets = newer.bounds.map(() => 0);
  for (const [key, now] of newer.routes) {
    const then = older?.routes.get(key);
    count += now.count - (then?.count ?? 0);
    errors += now.errors - (then?.errors ?? 0);
    now.buckets.forEach((c, i) => (buckets[i]! += c - (then?.buckets[i] ?? 0)));
  }
  let hits = 0;
  let lookups = 0;
  for (const [name, now] of newer.caches) {
    const then = older?.caches.get(name);
    const h = now.hit - (then?.hit ?? 0);
    hits += h;
    lookups += h + now.miss - (then?.miss ?? 0) + now.error - (then?.error ?? 0);
  }
  const p50 = quantile(0.5, newer.bounds, buckets);
  const p99 = quantile(0.99, newer.bounds, buckets);
  return {
    requests: count,
    rps: count / seconds,
    errorRate: count > 0 ? errors / count : 0,
    p50Ms: p50 === null ? null : p50 * 1000,
    p99Ms: p99 === null ? null : p99 * 1000,
    cacheHitRatio: lookups > 0 ? hits / lookups : null,
    cpuPercent: older ? (100 * (newer.cpuMicros - older.cpuMicros)) / 1000 / Math.max(1, newer.mono - older.mono) : 0,
  };
}

export interface SamplerOptions {
  registry: Registry;
  now: () => number;
  /** Refreshes the outbox and consumer gauges (the bus's refreshConsumerLag), bounded in time. */
  refreshGauges: () => Promise<void>;
  /** Raw snapshots kept (seconds of windows). */
  keepSnapshots?: number;
  /** Chart points kept. */
  keepPoints?: number;
}

export class Sampler {
  private readonly snapshots: Snapshot[] = [];
  private readonly points: Point[] = [];
  private readonly loop = monitorEventLoopDelay({ resolution: 10 });
  private timer: ReturnType<typeof setInterval> | null = null;
  private sampling: Promise<Snapshot> | null = null;
  private readonly listeners = new Set<(s: Snapshot) => void>();

  constructor(private readonly options: SamplerOptions) {
    this.loop.enable();
  }

  start(intervalMs = 1000): void {
    if (this.timer) return;
    void this.sample().catch(() => undefined);
    this.timer = setInterval(() => void this.sample().catch(() => undefined), intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.loop.disable();
    this.listeners.clear();
  }

  /** Called after every sample (the live stream). Returns the unsubscribe function. */
  onSample(fn: (s: Snapshot) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  latest(): Snapshot | null {
    return this.snapshots.at(-1) ?? null;
  }

  /** The newest snapshot at least `seconds` older than the latest (or the oldest kept). */
  before(seconds: number): Snapshot | null {
    const latest = this.latest();
    if (!latest) return null;
    for (let i = this.snapshots.length - 2; i >= 0; i--) {
      if (latest.mono - this.snapshots[i]!.mono >= seconds * 1000 - 50) return this.snapshots[i]!;
    }
    return this.snapshots.length > 1 ? this.snapshots[0]! : null;
  }

  history(): Point[] {
    return [...this.points];
  }

  /** Takes one sample now (the timer calls it; tests too). One at a time. */
  sample(): Promise<Snapshot> {
    this.sampling ??= this.take().finally(() => {
      this.sampling = null;
    });
    return this.sampling;
  }

  private async take(): Promise<Snapshot> {
    const { registry } = this.options;
    await this.options.refreshGauges().catch(() => undefined);
    const [http, cache, pending, redeliveries, deliveries, dead, backlog, lag, sockets, breakers] = await Promise.all([
      values(registry, httpHistogram),
      values(registry, "homebase_cache_requests_total"),
      values(registry, "homebase_consumer_pending"),
      values(registry, "homebase_consumer_redeliveries_total"),
      values(registry, "homebase_consumer_deliveries_total"),
      values(registry, "homebase_dead_letters_total"),
      values(registry, "homebase_outbox_backlog"),
      values(registry, "homebase_relay_lag_seconds"),
      values(registry, "homebase_ws_connections"),
      values(registry, "homebase_circuit_breaker_state"),
    ]);
    const cpu = process.cpuUsage();
    const snapshot: Snapshot = {
      mono: performance.now(),
      wall: this.options.now(),
      bounds: [],
      routes: new Map(),
      caches: new Map(),
      consumers: new Map(),
      outboxBacklog: sum(backlog),
      relayLagSeconds: sum(lag),
      openSockets: sum(sockets),
      breakers: new Map(breakers.map((v) => [String(v.labels.breaker ?? ""), v.value])),
      rssBytes: process.memoryUsage.rss(),
      cpuMicros: cpu.user + cpu.system,
      loopLagP99Ms: this.loop.percentile(99) / 1e6 || 0,
      loopLagMaxMs: this.loop.max / 1e6 || 0,
    };
    this.loop.reset();
    this.readHttp(http, snapshot);
    for (const v of cache) {
      const name = String(v.labels.cache ?? "");
      const c = snapshot.caches.get(name) ?? { hit: 0, miss: 0, error: 0 };
      const result = String(v.labels.result);
      if (result === "hit" || result === "miss" || result === "error") c[result] += v.value;
      snapshot.caches.set(name, c);
    }
    const consumer = (name: string) => {
      let c = snapshot.consumers.get(name);
      if (!c) snapshot.consumers.set(name, (c = { pending: 0, redeliveries: 0, processed: 0, failed: 0, deadLettered: 0 }));
      return c;
    };
    for (const v of pending) consumer(String(v.labels.consumer)).pending += v.value;
    for (const v of redeliveries) consumer(String(v.labels.consumer)).redeliveries += v.value;
    for (const v of dead) consumer(String(v.labels.consumer)).deadLettered += v.value;
    for (const v of deliveries) {
      const c = consumer(String(v.labels.consumer));
      if (v.labels.outcome === "processed") c.processed += v.value;
      else if (v.labels.outcome === "failed" || v.labels.outcome === "invalid") c.failed += v.value;
    }
    this.push(snapshot);
    return snapshot;
  }

  private readHttp(http: MetricValue[], snapshot: Snapshot): void {
    const bounds = new Set<number>();
    for (const v of http) if (v.metricName?.endsWith("_bucket")) bounds.add(v.labels.le === "+Inf" ? Infinity : Number(v.labels.le));
    snapshot.bounds = [...bounds].sort((a, b) => a - b);
    const index = new Map(snapshot.bounds.map((b, i) => [b, i]));
    for (const v of http) {
      const method = String(v.labels.method ?? "");
      const route = String(v.labels.route ?? "");
      const key = `${method} ${route}`;
      let r = snapshot.routes.get(key);
      if (!r) snapshot.routes.set(key, (r = { method, route, count: 0, errors: 0, clientErrors: 0, buckets: snapshot.bounds.map(() => 0) }));
      if (v.metricName?.endsWith("_bucket")) {
        const i = index.get(v.labels.le === "+Inf" ? Infinity : Number(v.labels.le));
        if (i !== undefined) r.buckets[i]! += v.value;
      } else if (v.metricName?.endsWith("_count")) {
        r.count += v.value;
        const status = Number(v.labels.status);
        if (status >= 500) r.errors += v.value;
        else if (status >= 400) r.clientErrors += v.value;
      }
    }
  }

  private push(snapshot: Snapshot): void {
    const previous = this.latest();
    this.snapshots.push(snapshot);
    if (this.snapshots.length > (this.options.keepSnapshots ?? 61)) this.snapshots.shift();
    const t = totals(previous, snapshot);
    this.points.push({
      at: snapshot.wall,
      rps: previous ? t.rps : 0,
      errorRate: t.errorRate,
      p50Ms: t.p50Ms,
      p99Ms: t.p99Ms,
      cacheHitRatio: t.cacheHitRatio,
      rssBytes: snapshot.rssBytes,
      cpuPercent: t.cpuPercent,
      loopLagMs: snapshot.loopLagMaxMs,
      outboxBacklog: snapshot.outboxBacklog,
      consumerPending: [...snapshot.consumers.values()].reduce((n, c) => n + c.pending, 0),
      openSockets: snapshot.openSockets,
    });
    if (this.points.length > (this.options.keepPoints ?? 600)) this.points.shift();
    for (const fn of this.listeners) {
      try {
        fn(snapshot);
      } catch {
        // A listener's failure (a closed stream) is its own.
      }
    }
  }
}
