// The todos module: projects, tasks and subtasks with idempotent client ids, direct or
// write-behind writes, the overdue job, and the failure coach.
import { defineModule } from "../../platform/module";
import { accountsModule } from "../accounts";
import { resolveTodosConfig, todosConfigSchema } from "./config";
import { todoConsumers } from "./events";
import todosSql from "./migrations/0001_todos.sql" with { type: "text" };
import statusesSql from "./migrations/0002_task_statuses.sql" with { type: "text" };
import rowidTablesSql from "./migrations/0003_rowid_tables.sql" with { type: "text" };
import { OverdueJob } from "./overdue";
import { createPendingStore } from "./pending";
import { Projects } from "./projects";
import { Reads } from "./reads";
import { Coach } from "./replan";
import { todosController } from "./routes";
import { SqliteTodosStore } from "./store.sqlite";
import { Tasks } from "./tasks";
import { WritePipeline } from "./writes";

export { todoEvents } from "./events";
export type { WriteMode } from "./writes";

/** Cached task lists also expire on their own, as a backstop to invalidation. */
const listTtlMs = 60_000;

/** The module's use cases (its api; the routes call them). */
export interface Todos {
  writes: WritePipeline;
  reads: Reads;
  projects: Projects;
  tasks: Tasks;
  coach: Coach;
  /** The overdue job (started in worker roles only; tests call its sweep()). */
  overdue: OverdueJob;
}

export const todosModule = defineModule({
  name: "todos",
  tag: { name: "todos", description: "Projects, tasks, subtasks, and the failure coach (insights, re-plans)" },
  config: { schema: todosConfigSchema, resolve: resolveTodosConfig },
  migrations: [
    { version: 1, name: "todos", sql: todosSql, legacyVersion: 4 },
    { version: 2, name: "task_statuses", sql: statusesSql },
    { version: 3, name: "rowid_tables", sql: rowidTablesSql },
  ],
  setup({ platform, config, logger, use }) {
    const { clock } = platform;
    const store = new SqliteTodosStore(platform.db, platform.writer, platform.events);
    const pending = createPendingStore(platform.redis, logger, clock);
    const writes = new WritePipeline(store, platform.cache, pending, clock, config.writeMode);
    const reads = new Reads(store, pending, platform.cache, writes, listTtlMs);
    const tasks = new Tasks(store, writes, reads, clock);
    const overdue = new OverdueJob(store, tasks, platform.locks, clock, logger);
    const todos: Todos = { writes, reads, projects: new Projects(store, writes, reads, clock), tasks, coach: new Coach(store, reads, tasks, clock), overdue };
    return {
      api: todos,
      routes: [todosController(todos, use(accountsModule))],
      consumers: todoConsumers(writes),
      jobs: [overdue],
      async close() {
        pending.close();
      },
    };
  },
});
