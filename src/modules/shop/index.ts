// The shop module: catalog, carts, orders, payments through a PaymentGateway behind
// timeout/retry/circuit breaker, subscriptions with recurring billing, and the built-in sandbox PG.
import { defineModule } from "../../platform/module";
import { accountsModule } from "../accounts";
import { ShopWorker, SubscriptionsService } from "./billing";
import { CatalogService } from "./catalog";
import { resolveShopConfig, type ShopConfig, shopConfigSchema } from "./config";
import { shopConsumers } from "./events";
import { internalGuard } from "./internal";
import shopSql from "./migrations/0001_shop.sql" with { type: "text" };
import { OrdersService } from "./orders";
import { KakaoPayGateway } from "./payments/kakaopay-gateway";
import type { PaymentGateway } from "./payments/port";
import { ResilientGateway } from "./payments/resilience";
import { SandboxGateway } from "./payments/sandbox-gateway";
import { ShopRepository } from "./repository";
import { type ShopModule, shopController } from "./routes";
import { SandboxPg } from "./sandbox/engine";
import { parseShopSeedArgs, seedShop } from "./seed";

export { shopEvents } from "./events";
export type { ShopModule } from "./routes";
export type { ShopConfig } from "./config";

function adapter(s: ShopConfig): PaymentGateway {
  if (s.pg === "kakaopay") {
    return new KakaoPayGateway({ baseUrl: s.pgUrl, secretKey: s.kakaopaySecretKey ?? "", cid: s.kakaopayCid, subscriptionCid: s.kakaopaySubscriptionCid });
  }
  return new SandboxGateway(s.pgUrl, s.sandbox.secretKey);
}

export const shopModule = defineModule({
  name: "shop",
  tag: { name: "shop", description: "Supplement shop: catalog, reviews, carts, orders, payments (KakaoPay-style, sandbox PG built in), subscriptions with recurring billing, internal billing endpoints" },
  config: { schema: shopConfigSchema, resolve: resolveShopConfig },
  migrations: [{ version: 1, name: "shop", sql: shopSql, legacyVersion: 7 }],
  setup({ platform, config: s, logger, use }) {
    const repo = new ShopRepository(platform.db);
    const gateway = new ResilientGateway(
      adapter(s),
      {
        timeoutMs: s.pgTimeoutMs,
        retries: s.pgRetries,
        backoffMs: s.pgBackoffMs,
        backoffMaxMs: s.pgBackoffMaxMs,
        breakerWindow: s.breakerWindow,
        breakerMinCalls: s.breakerMinCalls,
        breakerFailurePct: s.breakerFailurePct,
        breakerOpenMs: s.breakerOpenMs,
        breakerHalfOpenCalls: s.breakerHalfOpenCalls,
      },
      platform.metrics.registry,
    );
    const catalog = new CatalogService(repo, platform.writer, platform.cache, platform.redis, { mainTtlMs: s.mainTtlMs }, logger);
    const orders = new OrdersService(repo, platform.writer, platform.events, platform.locks, gateway, { publicUrl: s.publicUrl, orderTtlMin: s.orderTtlMin }, logger);
    const subscriptions = new SubscriptionsService(repo, platform.writer, platform.events, platform.locks, gateway, { chunk: s.billingChunk, lockTtlMs: 30_000 }, logger);
    const sandbox = s.sandbox.enabled
      ? new SandboxPg(platform.db, platform.writer, `${s.publicUrl}/sandbox-pg/checkout`, s.sandbox, logger.child({ component: "sandbox-pg" }))
      : null;
    // Daily recurring billing and the unpaid-order sweep: a worker-role job.
    const worker = new ShopWorker(subscriptions, () => orders.expireUnpaid(), { cron: s.billingCron, retryBaseMs: 60_000 }, logger);
    const shop: ShopModule = {
      catalog,
      orders,
      subscriptions,
      gateway,
      sandbox,
      worker,
      internalOnly: internalGuard(s.internalAllow, platform.config.trustedProxies),
      sandboxSecretKey: s.sandbox.secretKey,
      clientIp: platform.clientIp,
    };
    return {
      api: shop,
      routes: [shopController(shop, use(accountsModule))],
      consumers: shopConsumers({
        applyOrderPaid: (e) => orders.applyOrderPaid(e),
        applyOrderRefunded: (e) => orders.applyOrderRefunded(e),
        applySubscriptionCharged: (e) => subscriptions.applySubscriptionCharged(e),
        applyUserDeleted: (e) => subscriptions.applyUserDeleted(e),
      }),
      jobs: [{ name: "shop-billing", start: () => worker.start(), stop: () => worker.stop() }],
    };
  },
  // After setup: TypeScript infers the API type from setup, then types run() with it.
  seeders: {
    shop: {
      describe: "a supplement catalog: 200 items over 9 categories and 12 brands, stock 500 each ([--items N] [--stock N] [--seed N])",
      run: (shop, args) => seedShop(shop.catalog, parseShopSeedArgs(args)),
    },
  },
});
