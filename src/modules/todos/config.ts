// Todos' environment variables.
import { t, type Static } from "elysia";
import { env } from "../../platform/config";

export const todosConfigSchema = t.Object({
  HOMEBASE_TODOS_WRITE_MODE: env.oneOf(["direct", "async"], {
    default: "direct",
    description: "direct: applied in the request's transaction (201); async: write-behind through the outbox (202), reads still show it.",
  }),
});

export interface TodosConfig {
  writeMode: "direct" | "async";
}

export const resolveTodosConfig = (v: Static<typeof todosConfigSchema>): TodosConfig => ({ writeMode: v.HOMEBASE_TODOS_WRITE_MODE });
