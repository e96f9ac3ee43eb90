// The summary: the sampler's figures plus what only the process and its data dir can tell —
// file sizes, the last backup, dead letters, backends (readiness and the doctor's live checks,
// cached), and the instances on this data dir.
import { statSync } from "node:fs";
import { join } from "node:path";
import type { Static } from "elysia";
import type { Platform } from "../../platform";
import { lastSuccessfulBackupRun, recentBackupRuns } from "../../platform/db/backup-runs";
import { type Check, liveChecks } from "../../platform/doctor";
import type { DeadLetters } from "../../platform/events";
import type { Instances } from "./instances";
import type { Point as PointSchema, Summary as SummarySchema } from "./model";
import { type Point, routeFigures, type Sampler, type Snapshot, totals } from "./sampler";

export type Summary = Static<typeof SummarySchema>;
export type WirePoint = Static<typeof PointSchema>;

const windowSeconds = 10;
const readinessTtlMs = 3_000;
const checksTtlMs = 10_000;
const breakerStates = ["closed", "open", "half-open"] as const;

const fileSize = (path: string) => {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
};

export const wirePoint = (p: Point): WirePoint => ({ ...p, at: new Date(p.at).toISOString() });

/** Runs `load` at most once per `ttlMs`; callers get the last value meanwhile (the first call waits). */
function cached<T>(ttlMs: number, load: () => Promise<T>) {
  let value: { at: number; data: T } | null = null;
  let loading: Promise<T> | null = null;
  const refresh = () =>
    (loading ??= load()
      .then((data) => {
        value = { at: performance.now(), data };
        return data;
      })
      .finally(() => {
        loading = null;
      }));
  return {
    async get(): Promise<{ data: T; at: number }> {
      if (!value) await refresh();
      else if (performance.now() - value.at > ttlMs) void refresh().catch(() => undefined);
      return value!;
    },
  };
}

export class SummaryBuilder {
  private readonly readiness;
  private readonly checks;
  private checkedAt: number | null = null;

  constructor(
    private readonly platform: Platform,
    private readonly sampler: Sampler,
    private readonly deadLetters: DeadLetters,
    private readonly instances: Instances,
  ) {
    this.readiness = cached(readinessTtlMs, () => platform.readiness());
    this.checks = cached(checksTtlMs, async (): Promise<Check[]> => {
      const checks = await liveChecks(platform.config).catch((err: unknown): Check[] => [{ status: "fail", name: "doctor", detail: String(err) }]);
      this.checkedAt = platform.clock.now();
      return checks;
    });
  }

  /** The figures of the latest sample (taking one if none was taken yet). */
  async build(): Promise<Summary> {
    const latest = this.sampler.latest() ?? (await this.sampler.sample());
    return this.fromSnapshot(latest);
  }

  async fromSnapshot(latest: Snapshot): Promise<Summary> {
    const { platform } = this;
    const older = this.sampler.before(windowSeconds);
    const t = totals(older, latest);
    const window = older ? (latest.mono - older.mono) / 1000 : 0;
    const dbPath = join(platform.config.dataDir, "homebase.sqlite");
    const [readiness, checks, instances] = await Promise.all([this.readiness.get(), this.checks.get(), this.instances.list()]);
    const points = this.sampler.history();
    const point = points.at(-1) ?? { ...emptyPoint, at: latest.wall, rssBytes: latest.rssBytes };
    return {
      at: new Date(latest.wall).toISOString(),
      windowSeconds: Math.round(window * 10) / 10,
      instance: instances.find((i) => i.self) ?? this.instances.selfWire(),
      instances,
      http: {
        rps: older ? t.rps : 0,
        requests: older ? t.requests : 0,
        errorRate: t.errorRate,
        p50Ms: older ? t.p50Ms : null,
        p99Ms: older ? t.p99Ms : null,
        routes: older ? routeFigures(older, latest).slice(0, 50) : [],
      },
      caches: [...latest.caches].map(([cache, c]) => {
        const then = older?.caches.get(cache);
        const wHits = c.hit - (then?.hit ?? 0);
        const wLookups = wHits + c.miss - (then?.miss ?? 0) + c.error - (then?.error ?? 0);
        const lookups = c.hit + c.miss + c.error;
        return {
          cache,
          hits: c.hit,
          misses: c.miss,
          errors: c.error,
          hitRatio: lookups > 0 ? c.hit / lookups : null,
          windowHitRatio: older && wLookups > 0 ? wHits / wLookups : null,
        };
      }),
      events: {
        transport: platform.events.kind,
        outboxBacklog: latest.outboxBacklog,
        relayLagSeconds: latest.relayLagSeconds,
        deadLetters: this.deadLetters.count(),
        consumers: [...latest.consumers].map(([consumer, c]) => ({ consumer, ...c })).sort((a, b) => a.consumer.localeCompare(b.consumer)),
      },
      sockets: { open: latest.openSockets },
      breakers: [...latest.breakers].map(([breaker, v]) => ({ breaker, state: breakerStates[v] ?? "open" })),
      process: {
        rssBytes: latest.rssBytes,
        cpuPercent: older ? t.cpuPercent : 0,
        eventLoopLagMs: { p99: latest.loopLagP99Ms, max: latest.loopLagMaxMs },
        uptimeSeconds: Math.round(process.uptime()),
      },
      sqlite: { bytes: fileSize(dbPath), walBytes: fileSize(`${dbPath}-wal`) },
      backup: { last: recentBackupRuns(platform.db, 1)[0] ?? null, lastOk: lastSuccessfulBackupRun(platform.db) },
      backends: {
        configured: { redis: platform.redis !== null, nats: platform.config.natsUrl !== null, mongo: platform.mongo !== null },
        readiness: readiness.data,
        checks: checks.data,
        checkedAt: this.checkedAt === null ? null : new Date(this.checkedAt).toISOString(),
      },
      point: wirePoint(point),
    };
  }
}

const emptyPoint: Point = {
  at: 0,
  rps: 0,
  errorRate: 0,
  p50Ms: null,
  p99Ms: null,
  cacheHitRatio: null,
  rssBytes: 0,
  cpuPercent: 0,
  loopLagMs: 0,
  outboxBacklog: 0,
  consumerPending: 0,
  openSockets: 0,
};
