// Liveness, readiness and Prometheus metrics: on the API port, and on a process's own metrics
// listener (HOMEBASE_METRICS_PORT), which every role has, the worker included.
import { Elysia, t } from "elysia";
import type { Platform } from "..";

export interface MetricsListener {
  /** The bound port. */
  port: number;
  stop(): Promise<void>;
}

/**
 * A separate listener answering for this process only: GET /metrics, /health/live and
 * /health/ready. Several API instances share one SO_REUSEPORT port, where a scrape reaches any
 * of them; each has its own metrics port (systemd: HOMEBASE_METRICS_PORT=91%i), so Prometheus
 * scrapes every instance and the worker, each as its own target. Not reusePort: a second
 * process on the same metrics port is a configuration mistake and fails to start.
 */
export function startMetricsListener(platform: Platform, options: { host: string; port: number; isDraining: () => boolean }): MetricsListener {
  const server = Bun.serve({
    hostname: options.host,
    port: options.port,
    reusePort: false,
    async fetch(req) {
      const { pathname } = new URL(req.url);
      if (req.method !== "GET" && req.method !== "HEAD") return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
      if (pathname === "/metrics") {
        await platform.events.refreshConsumerLag();
        return new Response(await platform.metrics.registry.metrics(), { headers: { "content-type": platform.metrics.registry.contentType } });
      }
      if (pathname === "/health/live") return Response.json({ status: "ok" });
      if (pathname === "/health/ready") {
        const checks = await platform.readiness();
        const draining = options.isDraining();
        const ready = !draining && Object.values(checks).every(Boolean);
        return Response.json({ status: ready ? "ready" : "unavailable", draining, checks }, { status: ready ? 200 : 503 });
      }
      return new Response("not found: this port serves /metrics, /health/live and /health/ready\n", { status: 404 });
    },
  });
  return { port: server.port ?? options.port, stop: () => server.stop(true) };
}

const tags = ["ops"];

export function opsRoutes(platform: Platform, isDraining: () => boolean) {
  return new Elysia({ name: "homebase.ops" })
    .get("/health/live", () => ({ status: "ok" as const }), {
      response: { 200: t.Object({ status: t.Literal("ok") }) },
      detail: { tags, summary: "Liveness: the process answers" },
    })
    .get(
      "/health/ready",
      async ({ status }) => {
        const checks = await platform.readiness();
        const draining = isDraining();
        if (!draining && Object.values(checks).every(Boolean)) return { status: "ready" as const, draining, checks };
        return status(503, { status: "unavailable" as const, draining, checks });
      },
      {
        response: {
          200: t.Object({ status: t.Literal("ready"), draining: t.Boolean(), checks: t.Record(t.String(), t.Boolean()) }),
          503: t.Object({ status: t.Literal("unavailable"), draining: t.Boolean(), checks: t.Record(t.String(), t.Boolean()) }),
        },
        detail: {
          tags,
          summary: "Readiness: SQLite and every configured backend answer, and the process is not draining",
        },
      },
    )
    .get(
      "/metrics",
      async () => {
        // Refreshes the outbox backlog, relay lag and per-consumer pending gauges.
        await platform.events.refreshConsumerLag();
        return new Response(await platform.metrics.registry.metrics(), {
          headers: { "content-type": platform.metrics.registry.contentType },
        });
      },
      {
        detail: {
          tags,
          summary: "Prometheus metrics (text exposition format)",
          responses: {
            200: {
              description: "Metrics in the Prometheus text format 0.0.4",
              content: {
                "text/plain": {
                  schema: { type: "string" },
                  example: "# TYPE homebase_outbox_backlog gauge\nhomebase_outbox_backlog 0\n",
                },
              },
            },
          },
        },
      },
    );
}
