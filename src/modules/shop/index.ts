// The shop module: catalog, reviews, carts, orders, payments through a PaymentGateway behind
// timeout/retry/circuit breaker, subscriptions with recurring billing, internal endpoints.
// The gateway is KakaoPay, or the sandbox PG (its own module, reached over HTTP like any PG).
import { existsSync, statSync } from "node:fs";
import type { Check } from "../../platform/doctor";
import { createInternalGuard } from "../../platform/http/internal";
import { defineModule } from "../../platform/module";
import { accountsModule } from "../accounts";
import { BillingService } from "./billing";
import { CartsService } from "./carts";
import { CatalogService } from "./catalog";
import { resolveShopConfig, type ShopConfig, shopConfigSchema } from "./config";
import { shopConsumers } from "./events";
import shopSql from "./migrations/0001_shop.sql" with { type: "text" };
import checkoutsSql from "./migrations/0002_checkouts_and_cycles.sql" with { type: "text" };
import unpaidPerUserSql from "./migrations/0003_unpaid_per_user.sql" with { type: "text" };
import { ChargeNotices, LogShopNotifier } from "./notices";
import { OrdersService } from "./orders";
import { KakaoPayGateway } from "./payments/kakaopay-gateway";
import type { PaymentGateway } from "./payments/port";
import { ResilientGateway } from "./payments/resilience";
import { SandboxGateway } from "./payments/sandbox-gateway";
import { RefundsService } from "./refunds";
import { ReviewsService } from "./reviews";
import { cartRoutes } from "./routes/carts";
import { catalogRoutes } from "./routes/catalog";
import { internalRoutes } from "./routes/internal";
import { orderRoutes } from "./routes/orders";
import { paymentPageRoutes } from "./routes/payment-pages";
import { reviewRoutes } from "./routes/reviews";
import { subscriptionRoutes } from "./routes/subscriptions";
import { parseShopSeedArgs, seedShop } from "./seed";
import { sqliteStores } from "./store";
import { SubscriptionsService } from "./subscriptions";
import { Visitors } from "./visitors";
import { ShopWorker } from "./worker";

export { shopEvents } from "./events";
export type { ShopConfig } from "./config";

/** What the shop offers seeders, tests and other callers in the process. */
export interface ShopModule {
  catalog: CatalogService;
  reviews: ReviewsService;
  carts: CartsService;
  orders: OrdersService;
  refunds: RefundsService;
  subscriptions: SubscriptionsService;
  billing: BillingService;
  /** The notices before each recurring charge (the worker sends them before each billing run). */
  notices: ChargeNotices;
  /** The configured adapter wrapped in timeout, retry and the circuit breaker. */
  gateway: ResilientGateway;
  /** Daily recurring billing and the unpaid-order sweep: the module's job, run in worker roles. */
  worker: ShopWorker;
}

function adapter(s: ShopConfig): PaymentGateway {
  if (s.pg === "kakaopay") {
    return new KakaoPayGateway({
      baseUrl: s.pgUrl,
      secretKey: s.kakaopaySecretKey ?? "",
      cid: s.kakaopayCid,
      subscriptionCid: s.kakaopaySubscriptionCid,
    });
  }
  return new SandboxGateway(s.pgUrl, s.sandboxSecretKey);
}

/** Said at start and by `homebase doctor`: whether money really moves. */
export function paymentsCheck(s: ShopConfig): Check {
  if (s.pg === "kakaopay") return { status: "pass", name: "payments", detail: `real: KakaoPay at ${s.pgUrl}` };
  return {
    status: "warn",
    name: "payments",
    detail: `SIMULATED: the shop pays through the sandbox PG at ${s.pgUrl}; no money moves (HOMEBASE_SHOP_PG=kakaopay for real payments)`,
  };
}

function internalTokenCheck(s: ShopConfig): Check {
  const { source, file } = s.internal;
  if (source === "secret-file") return { status: "pass", name: "internal token", detail: `from HOMEBASE_INTERNAL_TOKEN_FILE (${file})` };
  if (!existsSync(file)) return { status: "warn", name: "internal token", detail: `${file} does not exist yet (generated on first start)` };
  const mode = statSync(file).mode & 0o777;
  return mode & 0o077
    ? { status: "fail", name: "internal token", detail: `${file} is readable by others (mode ${mode.toString(8)}); chmod 600` }
    : { status: "pass", name: "internal token", detail: `generated, ${file} mode ${mode.toString(8)}` };
}

export const shopModule = defineModule({
  name: "shop",
  tag: {
    name: "shop",
    description:
      "Supplement shop: catalog, reviews, carts, orders, payments (KakaoPay-style), subscriptions with recurring billing, internal billing endpoints",
  },
  config: { schema: shopConfigSchema, resolve: resolveShopConfig },
  migrations: [
    { version: 1, name: "shop", sql: shopSql, legacyVersion: 7 },
    { version: 2, name: "checkouts_and_cycles", sql: checkoutsSql },
    { version: 3, name: "unpaid_per_user", sql: unpaidPerUserSql },
  ],
  doctor: (s) => [paymentsCheck(s), internalTokenCheck(s)],
  setup({ platform, config: s, logger, use }) {
    const { clock, locks } = platform;
    const payments = paymentsCheck(s);
    if (payments.status === "warn") logger.warn("payments are simulated: no money moves", { detail: payments.detail });
    const stores = sqliteStores(platform.db, platform.writer, platform.events);
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
    const catalog = new CatalogService(stores.catalog, new Visitors(stores.catalog, platform.redis, logger), platform.cache, clock, {
      mainTtlMs: s.mainTtlMs,
    });
    const reviews = new ReviewsService(stores.reviews, stores.catalog, clock);
    const carts = new CartsService(stores.carts, clock);
    const orders = new OrdersService(
      stores.orders,
      stores.carts,
      locks,
      gateway,
      clock,
      {
        publicUrl: s.publicUrl,
        checkoutSecret: s.internal.token,
        orderTtlMin: s.orderTtlMin,
        unpaidOrdersMax: s.unpaidOrdersMax,
        unpaidUnitsMax: s.unpaidUnitsMax,
      },
      logger,
    );
    const refunds = new RefundsService(stores.orders, orders, locks, gateway, clock);
    const lockTtlMs = 30_000;
    const subscriptions = new SubscriptionsService(stores.subscriptions, stores.orders, locks, gateway, clock, { lockTtlMs }, logger);
    const billing = new BillingService(stores.subscriptions, locks, gateway, clock, { chunk: s.billingChunk, lockTtlMs }, logger);
    const notices = new ChargeNotices(
      stores.subscriptions,
      new LogShopNotifier(logger),
      clock,
      { noticeDays: s.chargeNoticeDays, chunk: s.billingChunk },
      logger,
    );
    const worker = new ShopWorker(
      billing,
      () => orders.expireUnpaid(),
      { cron: s.billingCron, retryBaseMs: 60_000 },
      clock,
      logger,
      (day) => notices.run(day),
    );
    const accounts = use(accountsModule);
    const shop: ShopModule = { catalog, reviews, carts, orders, refunds, subscriptions, billing, notices, gateway, worker };
    return {
      api: shop,
      routes: [
        catalogRoutes(catalog, accounts, platform.clientIp),
        reviewRoutes(reviews, accounts),
        cartRoutes(carts, orders, accounts),
        orderRoutes(orders, refunds, accounts),
        paymentPageRoutes(orders, s.publicUrl),
        subscriptionRoutes(subscriptions, accounts),
        internalRoutes(
          billing,
          notices,
          createInternalGuard({
            allow: s.internalAllow,
            token: s.internal.token,
            clientIp: platform.clientIp,
            logger,
            registry: platform.metrics.registry,
          }),
        ),
      ],
      consumers: shopConsumers({
        applyOrderPaid(e) {
          stores.catalog.addSales(e.items, 1);
          if (e.fromCart)
            stores.carts.removeItems(
              e.userId,
              e.kind,
              e.items.map((l) => l.itemId),
            );
        },
        applyOrderRefunded: (e) => stores.catalog.addSales(e.items, -1),
        applySubscriptionCharged: (e) => stores.catalog.addSales(e.items, 1),
        sendChargeNotice: (id, e) => notices.send(id, e),
        recordChargeNotice: (id, e) => notices.record(id, e),
        applyUserDeleted(e) {
          stores.carts.clearUser(e.userId);
          subscriptions.applyUserDeleted(e);
        },
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
