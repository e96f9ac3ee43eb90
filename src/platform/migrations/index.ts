// The platform's own tables (outbox, processed events, dead letters), embedded in the binary.
// Append only: never edit a landed migration.
import type { MigrationSet } from "../db/sqlite";
import platform from "./0001_platform.sql" with { type: "text" };
import backupRuns from "./0002_backup_runs.sql" with { type: "text" };

export const platformMigrations: MigrationSet = {
  module: "platform",
  migrations: [
    { version: 1, name: "platform", sql: platform, legacyVersion: 1 },
    { version: 2, name: "backup_runs", sql: backupRuns },
  ],
};
