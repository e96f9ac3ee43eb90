// Numbered migrations, embedded in the binary as text. Append only: never edit a landed one.
import type { Migration } from "../platform/db/sqlite";
import platform from "./0001_platform.sql" with { type: "text" };
import accounts from "./0002_accounts.sql" with { type: "text" };
import challenges from "./0003_challenges.sql" with { type: "text" };
import todos from "./0004_todos.sql" with { type: "text" };
import reservations from "./0005_reservations.sql" with { type: "text" };
import chat from "./0006_chat.sql" with { type: "text" };
import shop from "./0007_shop.sql" with { type: "text" };

export const migrations: readonly Migration[] = [
  { version: 1, name: "platform", sql: platform },
  { version: 2, name: "accounts", sql: accounts },
  { version: 3, name: "challenges", sql: challenges },
  { version: 4, name: "todos", sql: todos },
  { version: 5, name: "reservations", sql: reservations },
  { version: 6, name: "chat", sql: chat },
  { version: 7, name: "shop", sql: shop },
];
