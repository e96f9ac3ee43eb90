// The sandbox PG's control panel: its injected faults and its ledger, behind the platform's
// internal guard (the IP allowlist and the internal token): a fault switch is a payment outage,
// and the ledger lists every SID.
import { t } from "elysia";
import { type InternalGuard, internalInstance, internalResponses } from "../../../platform/http/internal";
import { problemResponses } from "../../../platform/http/problem";
import type { SandboxPg } from "../engine";
import { tags } from "./json";

const FaultsSchema = t.Object({
  errorPct: t.Integer({ minimum: 0, maximum: 100, description: "% of calls answered 503 before processing" }),
  timeoutPct: t.Integer({ minimum: 0, maximum: 100, description: "% of calls processed, then held back hangMs" }),
  declinePct: t.Integer({ minimum: 0, maximum: 100, description: "% of approvals and charges declined" }),
  latencyMs: t.Integer({ minimum: 0, maximum: 60_000 }),
  hangMs: t.Integer({ minimum: 0, maximum: 600_000 }),
  declineUsers: t.Array(t.String({ maxLength: 100 }), { maxItems: 10_000, description: "partner_user_ids always declined" }),
});

const access =
  "Only from HOMEBASE_SHOP_INTERNAL_ALLOW (loopback by default; 403) with `Authorization: Bearer <internal token>` (HOMEBASE_INTERNAL_TOKEN_FILE, or internal.token in the data dir; 401).";

export function controlRoutes(engine: SandboxPg, guard: InternalGuard) {
  return internalInstance("homebase.sandbox-pg.control", "/sandbox-pg", guard)
    .get("/control", () => engine.faults, {
      response: { 200: FaultsSchema, ...internalResponses },
      detail: { tags, summary: "Sandbox PG: current fault injection (internal)", description: access },
    })
    .put("/control", ({ body }) => engine.configure(body), {
      body: t.Partial(FaultsSchema, { minProperties: 1 }),
      response: { 200: FaultsSchema, ...internalResponses, ...problemResponses(422) },
      detail: {
        tags,
        summary: "Sandbox PG: change fault injection (internal)",
        description: `Percentages of calls that fail with 503, hang past the caller's timeout after processing, or are declined; latency per call. ${access}`,
      },
    })
    .get("/control/payments", ({ query }) => engine.payments(query.partnerOrderId), {
      query: t.Object({ partnerOrderId: t.Optional(t.String({ maxLength: 100 })) }),
      response: { 200: t.Array(t.Unknown()), ...internalResponses, ...problemResponses(422) },
      detail: { tags, summary: "Sandbox PG: the ledger (internal)", description: access },
    });
}
