// The sandbox payment gateway: a small PG that lives in the binary, for offline use, demos,
// benchmarks and tests, mounted at /sandbox-pg (HOMEBASE_SANDBOX_PG; by default when the shop
// pays through it). The shop reaches it over HTTP like any PG and imports nothing from here:
// an installation may leave this module out of the list and pay through KakaoPay.
//   /sandbox-pg/v1/…                       its native API (the shop's SandboxGateway adapter)
//   /sandbox-pg/kakao/online/v1/payment/…  the same engine in KakaoPay's shapes
//   /sandbox-pg/checkout/:tid              the buyer's approval page (redirects with pg_token)
//   /sandbox-pg/control                    fault injection and the ledger (internal IPs with the internal token)
import { existsSync, statSync } from "node:fs";
import type { Check } from "../../platform/doctor";
import { createInternalGuard } from "../../platform/http/internal";
import { defineModule } from "../../platform/module";
import { resolveSandboxPgConfig, type SandboxPgConfig, sandboxPgConfigSchema } from "./config";
import { SandboxPg } from "./engine";
import sandboxSql from "./migrations/0001_sandbox_pg.sql" with { type: "text" };
import idempotencyRowidSql from "./migrations/0002_idempotency_rowid.sql" with { type: "text" };
import { controlRoutes } from "./routes/control";
import { kakaoRoutes } from "./routes/kakao";
import { checkoutRoutes, nativeRoutes } from "./routes/native";

export type { SandboxPgConfig } from "./config";
export type { SandboxFaults, SandboxPayment } from "./engine";

export interface SandboxPgModule {
  /** The engine, when mounted. */
  engine: SandboxPg | null;
}

/** `homebase doctor`: a mounted sandbox takes payments that are not real; its generated key stays private. */
function sandboxChecks(s: SandboxPgConfig): Check[] {
  if (!s.enabled) return [{ status: "pass", name: "sandbox pg", detail: "not mounted" }];
  const out: Check[] = [
    {
      status: "warn",
      name: "sandbox pg",
      detail: `mounted at /sandbox-pg: payments through it are SIMULATED, no money moves (HOMEBASE_SANDBOX_PG=off with HOMEBASE_SHOP_PG=kakaopay)`,
    },
  ];
  if (s.secretSource.kind === "file" && existsSync(s.secretSource.file)) {
    const file = s.secretSource.file;
    const mode = statSync(file).mode & 0o777;
    out.push(
      mode & 0o077
        ? { status: "fail", name: "sandbox pg key", detail: `${file} is readable by others (mode ${mode.toString(8)}); chmod 600` }
        : { status: "pass", name: "sandbox pg key", detail: `generated, ${file} mode ${mode.toString(8)}` },
    );
  } else if (s.secretSource.kind === "env")
    out.push({ status: "pass", name: "sandbox pg key", detail: "from HOMEBASE_SANDBOX_PG_SECRET_KEY" });
  return out;
}

export const sandboxPgModule = defineModule({
  name: "sandbox-pg",
  tag: {
    name: "sandbox-pg",
    description:
      "The built-in sandbox payment gateway (KakaoPay-style): its native API, the buyer's checkout page, fault injection and ledger",
  },
  config: { schema: sandboxPgConfigSchema, resolve: resolveSandboxPgConfig },
  migrations: [
    { version: 1, name: "sandbox_pg", sql: sandboxSql },
    { version: 2, name: "idempotency_rowid", sql: idempotencyRowidSql },
  ],
  doctor: sandboxChecks,
  setup({ platform, config: s, logger }) {
    if (s.enabled) {
      logger.warn("the sandbox payment gateway is mounted at /sandbox-pg: payments through it are simulated, no money moves", {
        secretKey: s.secretSource.kind === "file" ? `generated, ${s.secretSource.file}` : "from HOMEBASE_SANDBOX_PG_SECRET_KEY",
      });
    }
    // Off, the module only keeps its tables (the migration ran): no routes.
    const engine = s.enabled ? new SandboxPg(platform.db, platform.writer, s.publicUrl, s, platform.clock, logger, s.secretKey) : null;
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
