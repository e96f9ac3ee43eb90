// The ops API's `t` schemas: validation, types and the OpenAPI document.
import { t } from "elysia";
import { cursorQuery, CursorPage } from "../../platform/http/paging";

const iso = (description: string) => t.String({ format: "date-time", description });
const nullableNumber = (description: string) => t.Union([t.Number(), t.Null()], { description });
const consumerName = t.String({ pattern: "^[A-Za-z0-9_-]{1,64}$", description: "Durable consumer name" });

export const Instance = t.Object({
  id: t.String({ description: "Made at start (UUIDv7)" }),
  role: t.String({ description: "serve, worker or all" }),
  pid: t.Integer(),
  hostname: t.String(),
  port: t.Integer({ description: "HOMEBASE_PORT as configured (0 = any free port)" }),
  startedAt: iso("When the process started"),
  lastSeenAt: iso("Its last heartbeat (every 5 s)"),
  self: t.Boolean({ description: "The instance that answered" }),
  alive: t.Boolean({ description: "Seen in the last 30 s" }),
});

export const Point = t.Object({
  at: iso("End of the second"),
  rps: t.Number({ description: "Requests per second over every route" }),
  errorRate: t.Number({ description: "Share of 5xx answers (0–1)" }),
  p50Ms: nullableNumber("Median request duration (ms); null without requests"),
  p99Ms: nullableNumber("99th percentile (ms)"),
  cacheHitRatio: nullableNumber("Hits / lookups over every cache; null without lookups"),
  rssBytes: t.Number(),
  cpuPercent: t.Number({ description: "CPU time / wall time, 100 = one core" }),
  loopLagMs: t.Number({ description: "Largest event-loop delay in the second" }),
  outboxBacklog: t.Number(),
  consumerPending: t.Number({ description: "Pending events over every consumer" }),
  openSockets: t.Number(),
});

const RouteFigures = t.Object({
  method: t.String(),
  route: t.String({ description: "Route template" }),
  requests: t.Number({ description: "In the window" }),
  rps: t.Number(),
  errorRate: t.Number({ description: "5xx share (0–1)" }),
  clientErrorRate: t.Number({ description: "4xx share (0–1)" }),
  p50Ms: nullableNumber("Median (ms), from the histogram buckets"),
  p99Ms: nullableNumber("99th percentile (ms), from the histogram buckets"),
});

const BackupRun = t.Object({
  id: t.String(),
  startedAt: t.String(),
  finishedAt: t.Union([t.String(), t.Null()]),
  file: t.Union([t.String(), t.Null()]),
  bytes: t.Union([t.Number(), t.Null()]),
  sha256: t.Union([t.String(), t.Null()], { description: "sha256 of the backup file (hex)" }),
  checksum: t.Union([t.String(), t.Null()], { description: "Content checksum of the backup (hex)" }),
  ok: t.Boolean(),
  error: t.Union([t.String(), t.Null()]),
  uploaded: t.Union([t.Boolean(), t.Null()]),
  trigger: t.String({ description: "schedule or manual" }),
});

export const Summary = t.Object({
  at: iso("When the figures were sampled"),
  windowSeconds: t.Number({ description: "The window of the rates and quantiles (up to 10 s)" }),
  instance: Instance,
  instances: t.Array(Instance, { description: "Every instance heartbeating on this data dir, this one included" }),
  http: t.Object({
    rps: t.Number(),
    requests: t.Number({ description: "Requests in the window" }),
    errorRate: t.Number(),
    p50Ms: nullableNumber("Median over every route (ms)"),
    p99Ms: nullableNumber("99th percentile over every route (ms)"),
    routes: t.Array(RouteFigures, { description: "Routes with requests in the window, busiest first (at most 50)" }),
  }),
  caches: t.Array(
    t.Object({
      cache: t.String(),
      hits: t.Number({ description: "Since start" }),
      misses: t.Number(),
      errors: t.Number(),
      hitRatio: nullableNumber("Hits / lookups since start"),
      windowHitRatio: nullableNumber("Hits / lookups in the window; null without lookups"),
    }),
  ),
  events: t.Object({
    transport: t.String({ description: "nats or in-process" }),
    outboxBacklog: t.Number({ description: "Outbox rows not yet relayed" }),
    relayLagSeconds: t.Number({ description: "Age of the oldest unrelayed row" }),
    deadLetters: t.Number({ description: "Rows in the dead letters now" }),
    consumers: t.Array(
      t.Object({
        consumer: t.String(),
        pending: t.Number(),
        redeliveries: t.Number({ description: "Since start" }),
        processed: t.Number({ description: "Since start" }),
        failed: t.Number({ description: "Failed or invalid deliveries since start" }),
        deadLettered: t.Number({ description: "Since start" }),
      }),
    ),
  }),
  sockets: t.Object({ open: t.Number({ description: "Open chat WebSockets on this instance" }) }),
  breakers: t.Array(t.Object({ breaker: t.String(), state: t.UnionEnum(["closed", "open", "half-open"]) })),
  process: t.Object({
    rssBytes: t.Number(),
    cpuPercent: t.Number({ description: "In the window; 100 = one core" }),
    eventLoopLagMs: t.Object({ p99: t.Number(), max: t.Number() }, { description: "In the last second" }),
    uptimeSeconds: t.Number(),
  }),
  sqlite: t.Object({ bytes: t.Number({ description: "homebase.sqlite" }), walBytes: t.Number({ description: "homebase.sqlite-wal" }) }),
  backup: t.Object({
    last: t.Union([BackupRun, t.Null()], { description: "The newest run, ok or not" }),
    lastOk: t.Union([BackupRun, t.Null()], { description: "The newest successful run" }),
  }),
  backends: t.Object({
    configured: t.Object({ redis: t.Boolean(), nats: t.Boolean(), mongo: t.Boolean() }),
    readiness: t.Record(t.String(), t.Boolean(), { description: "As on /health/ready" }),
    checks: t.Array(t.Object({ status: t.UnionEnum(["pass", "warn", "fail"]), name: t.String(), detail: t.String() }), {
      description: "The doctor's live checks (data dir, backends, limits), at most every 10 s",
    }),
    checkedAt: t.Union([t.String(), t.Null()]),
  }),
  point: Point,
});

export const History = t.Object({ intervalSeconds: t.Number(), points: t.Array(Point, { description: "Oldest first, up to 10 minutes" }) });

export const Ticket = t.Object({
  ticket: t.String({ description: "Pass as ?ticket= to GET /ops/api/stream; works once" }),
  expiresAt: iso("Unused tickets stop working then (30 s)"),
});

export const StreamQuery = t.Object({ ticket: t.Optional(t.String({ maxLength: 200 })) });

export const DeadLetter = t.Object({
  consumer: t.String(),
  eventId: t.String(),
  subject: t.String(),
  payload: t.Unknown({ description: "The event's payload as stored" }),
  error: t.String({ description: "Why the consumer gave up" }),
  attempts: t.Integer(),
  failedAt: iso("When it was dead-lettered"),
  occurredAt: iso("When the event was emitted"),
});

export const DeadLetterPage = t.Object({ ...CursorPage(DeadLetter).properties, total: t.Integer({ description: "Dead letters now" }) });
export const DeadLetterQuery = t.Object(cursorQuery(20, 100));
export const DeadLetterParams = t.Object({ consumer: consumerName, eventId: t.String({ maxLength: 64 }) });

export const RetryOutcome = t.Object({
  outcome: t.UnionEnum(["processed", "duplicate", "dead"], {
    description: "processed: handled now; duplicate: it had been handled meanwhile; dead: it failed again (still a dead letter)",
  }),
  error: t.Union([t.String(), t.Null()], { description: "The new error when it failed again" }),
  attempts: t.Union([t.Integer(), t.Null()]),
});

export const AuditEntry = t.Object({
  id: t.String(),
  at: iso("When"),
  actorUserId: t.String(),
  instanceId: t.String(),
  action: t.UnionEnum(["dead_letter.retry", "dead_letter.discard"]),
  consumer: t.String(),
  eventId: t.String(),
  subject: t.Union([t.String(), t.Null()]),
  outcome: t.UnionEnum(["processed", "duplicate", "dead", "discarded"]),
  detail: t.Union([t.String(), t.Null()]),
});

export const AuditQuery = t.Object({ limit: t.Optional(t.Integer({ minimum: 1, maximum: 200, default: 50 })) });
