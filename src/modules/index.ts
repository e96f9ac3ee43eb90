// The module list: the one place that names every domain. app.ts, main.ts, the config loader
// and the tests iterate it. A module listed later may use() those before it.
import { accountsModule } from "./accounts";
import { challengesModule } from "./challenges";
import { chatModule } from "./chat";
import { opsModule } from "./ops";
import { reservationsModule } from "./reservations";
import { sandboxPgModule } from "./sandbox-pg";
import { shopModule } from "./shop";
import { todosModule } from "./todos";

export const modules = [accountsModule, challengesModule, todosModule, reservationsModule, chatModule, shopModule, sandboxPgModule, opsModule] as const;
