// Builds the Elysia app from the platform and the modules. One factory, used by main and tests.
import { Elysia } from "elysia";
import { cors } from "@elysiajs/cors";
import pkg from "../package.json" with { type: "json" };
import type { Platform } from "./platform";
import { httpPlatform } from "./platform/http";
import { openapiDocs } from "./platform/http/openapi";
import { opsRoutes } from "./platform/http/ops";
import { AccountsRepository, AccountsService, accountsController } from "./modules/accounts";
import { challengesController, createChallenges, type ChallengesService } from "./modules/challenges";
import { createTodos, todosController, type TodosService } from "./modules/todos";
import { createReservations, reservationsController, type ReservationsService } from "./modules/reservations";
import { createClientIp } from "./platform/http/client-ip";
import { chatController, chatWebSocketOptions, createChat, maxUploadBodyBytes, type ChatModule } from "./modules/chat";
import { createShop, shopController, type ShopModule } from "./modules/shop";

export const version: string = pkg.version;

export interface Modules {
  accounts: AccountsService;
  challenges: ChallengesService;
  todos: TodosService;
  reservations: ReservationsService;
  chat: ChatModule;
  shop: ShopModule;
}

/** Services of every module, wired to the platform; event consumers registered on the bus. */
export function createModules(platform: Platform): Modules {
  const { config } = platform;
  const accounts = new AccountsService(
    new AccountsRepository(platform.db),
    platform.writer,
    platform.events,
    platform.limiter,
    {
      jwtSecret: config.jwtSecret,
      accessTokenTtlSec: config.accessTokenTtlSec,
      refreshTokenTtlSec: config.refreshTokenTtlSec,
      loginMaxAttempts: config.loginMaxAttempts,
      loginWindowSec: config.loginWindowSec,
      loginBlockSec: config.loginBlockSec,
    },
    platform.logger.child({ module: "accounts" }),
  );
  const challenges = createChallenges(platform);
  const todos = createTodos(platform);
  const reservations = createReservations(platform);
  const chat = createChat(platform);
  const shop = createShop(platform);
  return { accounts, challenges, todos, reservations, chat, shop };
}

export interface AppState {
  /** Set during graceful shutdown: readiness turns 503 so a proxy stops sending. */
  draining: boolean;
}

export function createApp(platform: Platform, modules: Modules, state: AppState = { draining: false }) {
  const { config } = platform;
  return new Elysia({
    // Bun rejects larger bodies before they are buffered; the http plugin answers with problem+json.
    // POST /files takes up to 50 MiB (chat video); the http plugin keeps every other route at the body limit.
    serve: { maxRequestBodySize: Math.max(config.bodyLimitBytes, maxUploadBodyBytes) },
    websocket: chatWebSocketOptions(config),
  })
    .use(
      httpPlatform({
        logger: platform.logger,
        metrics: platform.metrics,
        bodyLimitBytes: config.bodyLimitBytes,
        routeBodyLimits: { "POST /files": maxUploadBodyBytes },
        isDraining: () => state.draining,
      }),
    )
    .use(
      cors({
        // No origin configured = same-origin only (the API is meant for the WireGuard network).
        origin: config.corsOrigins.length > 0 ? config.corsOrigins : false,
        credentials: false,
        maxAge: 600,
      }),
    )
    .use(openapiDocs(version))
    .use(opsRoutes(platform, () => state.draining))
    .use(accountsController(modules.accounts))
    .use(challengesController(modules.challenges, modules.accounts))
    .use(todosController(modules.todos, modules.accounts))
    .use(reservationsController(modules.reservations, modules.accounts, createClientIp(config.trustedProxies)))
    .use(chatController(modules.chat, modules.accounts, { clientIp: createClientIp(config.trustedProxies), isDraining: () => state.draining }))
    .use(shopController(modules.shop, modules.accounts));
}

export type App = ReturnType<typeof createApp>;
