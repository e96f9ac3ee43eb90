// The module contract. A domain is one folder under src/modules and one entry in the module list
// (src/modules/index.ts); it exports one definition, and main.ts and app.ts iterate the list.
// Modelled on PocketBase's plugin registration: the definition declares what it brings, and
// setup() wires it to the platform and returns what runs.
//
//   export const todosModule = defineModule({
//     name: "todos",
//     tag: { name: "todos", description: "…" },
//     config: { schema: t.Object({ HOMEBASE_TODOS_WRITE_MODE: env.oneOf(…) }), resolve: (v) => ({ … }) },
//     migrations: [{ version: 1, name: "todos", sql }],
//     setup(ctx) { … return { api, routes, consumers, jobs, readiness, close }; },
//   });
import type { AnyElysia, Static } from "elysia";
import type { EnvObject, VariableFamily } from "./config/env";
import type { Check } from "./doctor";
import type { Migration, MigrationSet } from "./db/sqlite";
import type { ConsumerSpec } from "./events/bus";
import type { Logger } from "./logger";
import { platformMigrations } from "./migrations";
import type { Platform, PlatformConfig } from "./index";

export interface ModuleConfig<S extends EnvObject = EnvObject, C = unknown> {
  /** One property per environment variable, declared with the `env` builders. */
  schema: S;
  /**
   * Sets of variables named after the entries of one of `schema`'s list variables (one set per
   * configured OIDC provider, say): read, validated, documented and redacted like the schema's.
   */
  families?: readonly VariableFamily[];
  /** Typed values (the families' too) → the module's settings; throws ConfigError for rules across variables. */
  resolve(values: Static<S> & Record<string, unknown>, platform: PlatformConfig): C;
}

/** A background job: started only in worker roles, stopped on shutdown before the platform closes. */
export interface Job {
  name: string;
  start(): void;
  stop(): Promise<void>;
}

export interface Seeder<A> {
  describe: string;
  /** Returns a one-line summary of what was created. */
  run(api: A, args: string[]): Promise<string>;
}

/** Options of the one WebSocket handler the app may have (Bun's server-wide settings). */
export interface WebSocketSettings {
  idleTimeout?: number;
  maxPayloadLength?: number;
  backpressureLimit?: number;
  closeOnBackpressureLimit?: boolean;
  perMessageDeflate?: boolean;
  sendPings?: boolean;
}

export interface ModuleContext<C> {
  platform: Platform;
  /** This module's settings, as its config.resolve returned them. */
  config: C;
  /** The platform logger with { module: name }. */
  logger: Logger;
  /** Tells the app that the process is draining (SIGTERM); e.g. sockets refuse new joins. */
  isDraining(): boolean;
  /** The public API of a module set up earlier in the list (accounts' authentication, say). */
  // biome-ignore lint/suspicious/noExplicitAny: any config type; only the API type matters here
  use<A>(module: ModuleDefinition<any, A, string>): A;
}

export interface ModuleRuntime<A> {
  /** What other modules (through ctx.use), seeders and CLI commands may call. */
  api: A;
  /** Elysia instances with this module's routes; their guards stay scoped to them. */
  routes?: AnyElysia[];
  /** Registered on the bus before it starts. */
  consumers?: ConsumerSpec[];
  jobs?: Job[];
  /** Named readiness checks, shown on /health/ready. */
  readiness?: Record<string, () => Promise<boolean>>;
  /** Request bodies above the platform limit for a few routes, keyed "METHOD /path". */
  bodyLimits?: Record<string, number>;
  websocket?: WebSocketSettings;
  /** Runs on shutdown after the HTTP listener stopped and jobs ended, before the platform closes. */
  close?(): Promise<void>;
}

export interface ModuleDefinition<C = unknown, A = unknown, N extends string = string> {
  /** Lower-case name; also the metrics/log label and the migrations' key. */
  name: N;
  /** The OpenAPI tag its routes use. */
  tag?: { name: string; description: string };
  config?: ModuleConfig<EnvObject, C>;
  /** Numbered from 1 within the module; append only. */
  migrations?: readonly Migration[];
  seeders?: Record<string, Seeder<NoInfer<A>>>;
  /** Extra `homebase doctor` checks for this module's settings. */
  doctor?(config: NoInfer<C>): Check[];
  setup(ctx: ModuleContext<C>): ModuleRuntime<A> | Promise<ModuleRuntime<A>>;
}

/** Any module, whatever its config and API types: what a module list holds. */
// biome-ignore lint/suspicious/noExplicitAny: a list holds modules of every config and API type
export type AnyModule = ModuleDefinition<any, any, any>;

/** Identity, for inference: `defineModule({ … })` types config and api from what it is given. */
export function defineModule<const N extends string, S extends EnvObject, C, A>(
  definition: Omit<ModuleDefinition<C, A, N>, "config"> & { config?: ModuleConfig<S, C> },
): ModuleDefinition<C, A, N> {
  return definition as ModuleDefinition<C, A, N>;
}

/** The API type a definition's setup returns. */
// biome-ignore lint/suspicious/noExplicitAny: any config type; only the API type is read
export type ApiOf<M> = M extends ModuleDefinition<any, infer A, string> ? A : never;

/** The platform's migrations, then each module's, in list order. */
export function migrationSets(modules: readonly AnyModule[]): MigrationSet[] {
  return [platformMigrations, ...modules.filter((m) => m.migrations?.length).map((m) => ({ module: m.name, migrations: m.migrations! }))];
}
