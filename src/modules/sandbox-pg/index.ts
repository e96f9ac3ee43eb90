// The sandbox payment gateway: a small PG that lives in the binary, for offline use, demos,
// benchmarks and tests, mounted at /sandbox-pg (HOMEBASE_SANDBOX_PG; by default when the shop
// pays through it). The shop reaches it over HTTP like any PG and imports nothing from here:
// an installation may leave this module out of the list and pay through KakaoPay.
//   /sandbox-pg/v1/…                       its native API (the shop's SandboxGateway adapter)
//   /sandbox-pg/kakao/online/v1/payment/…  the same engine in KakaoPay's shapes
//   /sandbox-pg/checkout/:tid              the buyer's approval page (redirects with pg_token)
//   /sandbox-pg/control                    fault injection and the ledger (internal IPs with the internal token)
import { createInternalGuard } from "../../platform/http/internal";
import { defineModule } from "../../platform/module";
import { resolveSandboxPgConfig, sandboxPgConfigSchema } from "./config";
import { SandboxPg } from "./engine";
import sandboxSql from "./migrations/0001_sandbox_pg.sql" with { type: "text" };
import { controlRoutes } from "./routes/control";
import { kakaoRoutes } from "./routes/kakao";
import { checkoutRoutes, nativeRoutes } from "./routes/native";

export type { SandboxPgConfig } from "./config";
export type { SandboxFaults, SandboxPayment } from "./engine";

export interface SandboxPgModule {
  /** The engine, when mounted. */
  engine: SandboxPg | null;
}

export const sandboxPgModule = defineModule({
  name: "sandbox-pg",
  tag: {
    name: "sandbox-pg",
    description:
      "The built-in sandbox payment gateway (KakaoPay-style): its native API, the buyer's checkout page, fault injection and ledger",
  },
  config: { schema: sandboxPgConfigSchema, resolve: resolveSandboxPgConfig },
  migrations: [{ version: 1, name: "sandbox_pg", sql: sandboxSql }],
  setup({ platform, config: s, logger }) {
    // Off, the module only keeps its tables (the migration ran): no routes.
    const engine = s.enabled
      ? new SandboxPg(platform.db, platform.writer, `${s.publicUrl}/sandbox-pg/checkout`, s, platform.clock, logger)
      : null;
    const api: SandboxPgModule = { engine };
    return {
      api,
      routes: engine
        ? [
            nativeRoutes(engine, s.secretKey),
            checkoutRoutes(engine),
            controlRoutes(
              engine,
              createInternalGuard({
                allow: s.controlAllow,
                token: s.internal.token,
                clientIp: platform.clientIp,
                logger,
                registry: platform.metrics.registry,
              }),
            ),
            kakaoRoutes(engine, s.secretKey),
          ]
        : [],
    };
  },
});
