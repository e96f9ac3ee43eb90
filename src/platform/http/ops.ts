// Liveness, readiness and Prometheus metrics.
import { Elysia, t } from "elysia";
import type { Platform } from "..";

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
