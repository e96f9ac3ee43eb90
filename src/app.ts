// Builds homebase from the platform and the module list. One factory, used by main and tests.
import { cors } from "@elysiajs/cors";
import { Elysia } from "elysia";
import pkg from "../package.json" with { type: "json" };
import { modules as moduleList } from "./modules";
import type { Platform } from "./platform";
import { migrate } from "./platform/db/sqlite";
import { httpPlatform, RouteMethods } from "./platform/http";
import { openapiDocs } from "./platform/http/openapi";
import { opsRoutes } from "./platform/http/ops";
import { type AnyModule, type ApiOf, type ModuleRuntime, migrationSets as platformMigrationSets } from "./platform/module";

export const version: string = pkg.version;

export type ModuleList = readonly AnyModule[];
/** Each listed module's API by its name: `modules.apis.accounts`. */
export type Apis<L extends ModuleList> = { [M in L[number] as M["name"]]: ApiOf<M> };

export interface AppState {
  /** Set during graceful shutdown: readiness turns 503 so a proxy stops sending. */
  draining: boolean;
}

export interface InstalledModule {
  definition: AnyModule;
  runtime: ModuleRuntime<unknown>;
}

export interface Modules<L extends ModuleList = typeof moduleList> {
  apis: Apis<L>;
  installed: InstalledModule[];
  state: AppState;
  /** Starts every module's jobs (worker roles). */
  startJobs(): void;
  /** Stops jobs, then closes modules in reverse order; once. */
  close(): Promise<void>;
}

/** The platform's migrations, then each listed module's, in list order. */
export const migrationSets = (list: ModuleList = moduleList) => platformMigrationSets(list);

/**
 * Applies each module's migrations, sets the modules up in list order and registers their
 * consumers (before the bus starts) and readiness checks. The platform closes them first.
 */
export function createModules<L extends ModuleList = typeof moduleList>(platform: Platform, list: L = moduleList as unknown as L): Modules<L> {
  const applied = migrate(platform.db, migrationSets(list));
  if (applied.length > 0) platform.logger.info("migrations applied", { migrations: applied });
  const state: AppState = { draining: false };
  const apis: Record<string, unknown> = {};
  const installed: InstalledModule[] = [];
  const byDefinition = new Map<AnyModule, unknown>();
  for (const definition of list) {
    if (definition.config && !(definition.name in platform.config.modules)) {
      throw new Error(`module ${definition.name}: its configuration was not loaded (pass the same module list to loadConfig)`);
    }
    const runtime = definition.setup({
      platform,
      config: platform.config.modules[definition.name],
      logger: platform.logger.child({ module: definition.name }),
      isDraining: () => state.draining,
      use(dependency) {
        if (!byDefinition.has(dependency)) throw new Error(`module ${definition.name} uses ${dependency.name}, which is not listed before it`);
        return byDefinition.get(dependency) as never;
      },
    }) as ModuleRuntime<unknown>;
    for (const consumer of runtime.consumers ?? []) platform.events.register(consumer);
    for (const [name, check] of Object.entries(runtime.readiness ?? {})) platform.addReadiness(name, check);
    byDefinition.set(definition, runtime.api);
    apis[definition.name] = runtime.api;
    installed.push({ definition, runtime });
  }
  let closing: Promise<void> | null = null;
  const modules: Modules<L> = {
    apis: apis as Apis<L>,
    installed,
    state,
    startJobs() {
      for (const { runtime } of installed) for (const job of runtime.jobs ?? []) job.start();
    },
    close: () =>
      (closing ??= (async () => {
        for (const { runtime } of installed) await Promise.all((runtime.jobs ?? []).map((job) => job.stop()));
        for (const { definition, runtime } of [...installed].reverse()) {
          await runtime.close?.().catch((err: unknown) => platform.logger.warn("module close failed", { module: definition.name, err: String(err) }));
        }
      })()),
  };
  platform.onClose(() => modules.close());
  return modules;
}

const noContent = () => new Response(null, { status: 204 });

/**
 * Browser origins allowed to call the API: the cors plugin. None configured = same-origin only
 * (the API is meant for the WireGuard network), and then nothing runs per request: the plugin's
 * app-wide onRequest would list every request's header names into two response headers that
 * mean nothing without Access-Control-Allow-Origin. A preflight still answers 204 (without CORS
 * headers, so the browser refuses the cross-origin call), as it did with the plugin.
 */
function corsOrSameOrigin(origins: string[]) {
  if (origins.length > 0) return cors({ origin: origins, credentials: false, maxAge: 600 });
  return new Elysia({ name: "homebase.same-origin" })
    .options("/", noContent, { detail: { hide: true } })
    .options("/*", noContent, { detail: { hide: true } });
}

export function createApp(platform: Platform, modules: Modules<ModuleList>) {
  const { config } = platform;
  const { state, installed } = modules;
  const bodyLimits = Object.assign({}, ...installed.map((m) => m.runtime.bodyLimits ?? {})) as Record<string, number>;
  const sockets = installed.filter((m) => m.runtime.websocket);
  if (sockets.length > 1) throw new Error(`only one module may serve WebSockets (${sockets.map((m) => m.definition.name).join(", ")})`);
  const tags = installed.flatMap((m) => (m.definition.tag ? [m.definition.tag] : []));
  const routeMethods = new RouteMethods();
  let app = new Elysia({
    // Bun rejects larger bodies before they are buffered; the http plugin answers with problem+json
    // and keeps every route but the modules' listed ones at the body limit.
    serve: { maxRequestBodySize: Math.max(config.bodyLimitBytes, ...Object.values(bodyLimits)) },
    websocket: sockets[0]?.runtime.websocket,
  })
    .use(
      httpPlatform({
        logger: platform.logger,
        metrics: platform.metrics,
        bodyLimitBytes: config.bodyLimitBytes,
        routeBodyLimits: bodyLimits,
        isDraining: () => state.draining,
        routeMethods,
      }),
    )
    .use(corsOrSameOrigin(config.corsOrigins))
    .use(openapiDocs(version, tags))
    .use(opsRoutes(platform, () => state.draining));
  for (const { runtime } of installed) for (const routes of runtime.routes ?? []) app = app.use(routes) as unknown as typeof app;
  // Once every route is in: a known path with another method answers 405 with Allow.
  routeMethods.build(app.routes);
  // The socket peers for platform.clientIp, once the app listens (not read from each handler's
  // context: see client-ip.ts).
  const served = app;
  platform.peers.attach(() => served.server);
  return app;
}

export type App = ReturnType<typeof createApp>;
