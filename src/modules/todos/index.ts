// The todos module: projects, tasks and subtasks with idempotent client ids, direct or
// write-behind writes, and the failure coach.
import { defineModule } from "../../platform/module";
import { accountsModule } from "../accounts";
import { resolveTodosConfig, todosConfigSchema } from "./config";
import { todoConsumers } from "./events";
import todosSql from "./migrations/0001_todos.sql" with { type: "text" };
import { createPendingStore } from "./pending";
import { TodosRepository } from "./repository";
import { todosController } from "./routes";
import { TodosService } from "./service";

export { todoEvents } from "./events";
export type { TodosService, WriteMode } from "./service";

/** Cached task lists also expire on their own, as a backstop to invalidation. */
const listTtlMs = 60_000;

export const todosModule = defineModule({
  name: "todos",
  tag: { name: "todos", description: "Projects, tasks, subtasks, and the failure coach (insights, re-plans)" },
  config: { schema: todosConfigSchema, resolve: resolveTodosConfig },
  migrations: [{ version: 1, name: "todos", sql: todosSql, legacyVersion: 4 }],
  setup({ platform, config, logger, use }) {
    const service = new TodosService(
      new TodosRepository(platform.db),
      platform.db,
      platform.writer,
      platform.events,
      platform.cache,
      createPendingStore(platform.redis, logger),
      { writeMode: config.writeMode, listTtlMs },
      logger,
    );
    return { api: service, routes: [todosController(service, use(accountsModule))], consumers: todoConsumers(service) };
  },
});
