// One prom-client registry for the process. prom-client's default Node metrics are partly
// wrong under Bun, so we export RSS, CPU and event-loop lag ourselves.
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { WriterStats } from "./db/sqlite";

/**
 * Counts per label value, for a counter on a hot path: one Map lookup and an increment, where
 * prom-client's counter.inc(labels) checks and hashes the label object on every call. The
 * counter's collect() drains the tally into it, so a scrape, or counter.get(), sees every count
 * made before it.
 */
export class Tally {
  private readonly counts = new Map<string, { n: number }>();

  add(value: string): void {
    const cell = this.counts.get(value);
    if (cell === undefined) this.counts.set(value, { n: 1 });
    else cell.n++;
  }

  /** Hands over every count made since the last drain, and forgets them. */
  drain(into: (value: string, n: number) => void): void {
    for (const [value, cell] of this.counts) {
      if (cell.n === 0) continue;
      const n = cell.n;
      cell.n = 0;
      into(value, n);
    }
  }
}

/** A Tally over two label values. */
export class PairTally {
  private readonly counts = new Map<string, Tally>();

  add(first: string, second: string): void {
    let inner = this.counts.get(first);
    if (inner === undefined) this.counts.set(first, (inner = new Tally()));
    inner.add(second);
  }

  drain(into: (first: string, second: string, n: number) => void): void {
    for (const [first, inner] of this.counts) inner.drain((second, n) => into(first, second, n));
  }
}

export class Metrics {
  readonly registry = new Registry();

  readonly httpDuration = new Histogram({
    name: "homebase_http_request_duration_seconds",
    help: "HTTP request duration by route template, method and status",
    labelNames: ["route", "method", "status"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  /** Tallied per lookup without label hashing (cacheLookups), added here when collected. */
  readonly cacheRequests: Counter<"cache" | "result">;
  /** Every cached read counts one: cacheLookups.add(cache, result). */
  readonly cacheLookups = new PairTally();

  /** Tallied per read without label hashing (cacheLocalReads), added here when collected. */
  readonly cacheLocal: Counter<"result">;
  /** Every two-level read counts one: cacheLocalReads.add(result). */
  readonly cacheLocalReads = new Tally();

  readonly cacheInvalidations = new Counter({
    name: "homebase_cache_invalidations_total",
    help: "Two-level cache: invalidation messages sent to (out) and received from (in) the other instances over NATS",
    labelNames: ["direction"] as const,
    registers: [this.registry],
  });

  /** 1, labelled with what this process is (set by main for serve, worker and all). */
  readonly processInfo = new Gauge({
    name: "homebase_process_info",
    help: "This process: its role (serve, worker, all), version and pid (1 while it runs)",
    labelNames: ["role", "version", "pid"] as const,
    registers: [this.registry],
  });

  readonly outboxBacklog = new Gauge({
    name: "homebase_outbox_backlog",
    help: "Outbox rows not yet relayed",
    registers: [this.registry],
  });

  readonly relayLag = new Gauge({
    name: "homebase_relay_lag_seconds",
    help: "Age of the oldest unrelayed outbox row",
    registers: [this.registry],
  });

  readonly eventsPublished = new Counter({
    name: "homebase_events_published_total",
    help: "Outbox events relayed, by outcome (sent, duplicate)",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });

  readonly consumerDeliveries = new Counter({
    name: "homebase_consumer_deliveries_total",
    help: "Event deliveries to consumers by consumer and outcome (processed, duplicate, failed, invalid: payload does not match its definition)",
    labelNames: ["consumer", "outcome"] as const,
    registers: [this.registry],
  });

  readonly consumerRedeliveries = new Counter({
    name: "homebase_consumer_redeliveries_total",
    help: "Deliveries that were not the first attempt for that event and consumer",
    labelNames: ["consumer"] as const,
    registers: [this.registry],
  });

  readonly deadLetters = new Counter({
    name: "homebase_dead_letters_total",
    help: "Events given up after the maximum number of attempts, or at once when the payload does not match its definition",
    labelNames: ["consumer"] as const,
    registers: [this.registry],
  });

  readonly eventsPruned = new Counter({
    name: "homebase_events_pruned_total",
    help: "Event rows deleted after their retention, by table (outbox, processed_events, dead_letters)",
    labelNames: ["table"] as const,
    registers: [this.registry],
  });

  readonly consumerPending = new Gauge({
    name: "homebase_consumer_pending",
    help: "Events relayed but not yet processed, per consumer (JetStream pending + unacked; embedded: unsent outbox rows)",
    labelNames: ["consumer"] as const,
    registers: [this.registry],
  });

  readonly rateLimited = new Counter({
    name: "homebase_rate_limited_total",
    help: "Requests refused by a rate limiter, by limiter name",
    labelNames: ["limiter"] as const,
    registers: [this.registry],
  });

  private readonly loop = monitorEventLoopDelay({ resolution: 10 });
  private lastCpu = process.cpuUsage();

  constructor() {
    this.loop.enable();
    const lookups = this.cacheLookups;
    this.cacheRequests = new Counter({
      name: "homebase_cache_requests_total",
      help: "Cache lookups by cache name and result (hit, miss, error)",
      labelNames: ["cache", "result"] as const,
      registers: [this.registry],
      collect() {
        lookups.drain((cache, result, n) => this.inc({ cache, result }, n));
      },
    });
    const localReads = this.cacheLocalReads;
    this.cacheLocal = new Counter({
      name: "homebase_cache_local_requests_total",
      help: "Two-level cache: reads answered by the in-process level (hit), passed to Redis (miss), or passed with the level off (off: NATS or Redis down)",
      labelNames: ["result"] as const,
      registers: [this.registry],
      collect() {
        localReads.drain((result, n) => this.inc({ result }, n));
      },
    });
    new Gauge({
      name: "process_resident_memory_bytes",
      help: "Resident memory size in bytes",
      registers: [this.registry],
      collect() {
        this.set(process.memoryUsage.rss());
      },
    });
    const self = this;
    new Counter({
      name: "process_cpu_seconds_total",
      help: "Total user and system CPU time spent in seconds",
      registers: [this.registry],
      collect() {
        const now = process.cpuUsage();
        const delta = (now.user - self.lastCpu.user + now.system - self.lastCpu.system) / 1e6;
        self.lastCpu = now;
        if (delta > 0) this.inc(delta);
      },
    });
    new Gauge({
      name: "homebase_event_loop_lag_seconds",
      help: "Event loop delay since the last scrape (p99 and max)",
      labelNames: ["quantile"] as const,
      registers: [this.registry],
      collect() {
        this.set({ quantile: "0.99" }, self.loop.percentile(99) / 1e9);
        this.set({ quantile: "max" }, self.loop.max / 1e9);
        self.loop.reset();
      },
    });
    new Gauge({
      name: "process_start_time_seconds",
      help: "Start time of the process since unix epoch in seconds",
      registers: [this.registry],
    }).set(Math.round(Date.now() / 1000 - process.uptime()));
  }

  /**
   * The SQLite writer's running totals (GroupCommitWriter.stats), exported as counters read at
   * scrape time: nothing per write. Rates of these say how many writes a batch and a sync carry
   * and what share of the event loop the commits take.
   */
  observeWriter(stats: Readonly<WriterStats>): void {
    const counter = (name: string, help: string, read: () => number) => {
      let seen = 0;
      new Counter({
        name,
        help,
        registers: [this.registry],
        collect() {
          const now = read();
          if (now > seen) this.inc(now - seen);
          seen = now;
        },
      });
    };
    counter("homebase_db_writes_total", "Writes committed by the SQLite writer", () => stats.writes);
    counter("homebase_db_write_batches_total", "Transactions the SQLite writer committed (group commits)", () => stats.batches);
    counter("homebase_db_wal_syncs_total", "fdatasyncs of the WAL that made commits durable (synchronous=FULL)", () => stats.syncs);
    counter("homebase_db_write_batch_seconds_total", "Event-loop time spent in write transactions: the writes and their COMMIT", () => stats.batchSeconds);
    counter("homebase_db_commit_seconds_total", "Event-loop time spent in COMMIT (writing the changed pages to the WAL)", () => stats.commitSeconds);
    counter("homebase_db_wal_sync_seconds_total", "Time the WAL syncs took (off the event loop)", () => stats.syncSeconds);
  }

  close(): void {
    this.loop.disable();
  }
}
