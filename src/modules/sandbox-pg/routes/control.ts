// The sandbox PG's control panel (internal network only): its injected faults and its ledger.
import { t } from "elysia";
import type { ClientIpResolver } from "../../../platform/http/client-ip";
import { problemResponses } from "../../../platform/http/problem";
import type { SandboxPg } from "../engine";
import { sandboxPgErrors } from "../errors";
import { internalInstance } from "./guards";
import { tags } from "./json";

const FaultsSchema = t.Object({
  errorPct: t.Integer({ minimum: 0, maximum: 100, description: "% of calls answered 503 before processing" }),
  timeoutPct: t.Integer({ minimum: 0, maximum: 100, description: "% of calls processed, then held back hangMs" }),
  declinePct: t.Integer({ minimum: 0, maximum: 100, description: "% of approvals and charges declined" }),
  latencyMs: t.Integer({ minimum: 0, maximum: 60_000 }),
  hangMs: t.Integer({ minimum: 0, maximum: 600_000 }),
  declineUsers: t.Array(t.String({ maxLength: 100 }), { maxItems: 10_000, description: "partner_user_ids always declined" }),
});

export function controlRoutes(engine: SandboxPg, allowed: readonly string[], clientIp: ClientIpResolver) {
  return internalInstance("homebase.sandbox-pg.control", "/sandbox-pg", allowed, clientIp)
    .get("/control", () => engine.faults, {
      response: { 200: FaultsSchema, ...problemResponses({ 403: [sandboxPgErrors.internalOnly] }) },
      detail: { tags, summary: "Sandbox PG: current fault injection (internal)" },
    })
    .put("/control", ({ body }) => engine.configure(body), {
      body: t.Partial(FaultsSchema, { minProperties: 1 }),
      response: { 200: FaultsSchema, ...problemResponses({ 403: [sandboxPgErrors.internalOnly] }), ...problemResponses(422) },
      detail: {
        tags,
        summary: "Sandbox PG: change fault injection (internal)",
        description:
          "Percentages of calls that fail with 503, hang past the caller's timeout after processing, or are declined; latency per call.",
      },
    })
    .get("/control/payments", ({ query }) => engine.payments(query.partnerOrderId), {
      query: t.Object({ partnerOrderId: t.Optional(t.String({ maxLength: 100 })) }),
      response: { 200: t.Array(t.Unknown()), ...problemResponses({ 403: [sandboxPgErrors.internalOnly] }), ...problemResponses(422) },
      detail: { tags, summary: "Sandbox PG: the ledger (internal)" },
    });
}
