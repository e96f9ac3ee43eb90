// Numbered migrations, embedded in the binary as text. Append only: never edit a landed one.
import type { Migration } from "../platform/db/sqlite";
import platform from "./0001_platform.sql" with { type: "text" };
import accounts from "./0002_accounts.sql" with { type: "text" };

export const migrations: readonly Migration[] = [
  { version: 1, name: "platform", sql: platform },
  { version: 2, name: "accounts", sql: accounts },
];
