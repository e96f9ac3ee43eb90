// The accounts module: signup, login, sessions, profile, roles. Its public face for the other
// modules is this file: the auth macro (authPlugin), Principal and the events it emits.
import { existsSync, statSync } from "node:fs";
import { defineModule } from "../../platform/module";
import { accountsConfigSchema, resolveAccountsConfig } from "./config";
import accountsSql from "./migrations/0001_accounts.sql" with { type: "text" };
import phoneSql from "./migrations/0002_accounts_phone.sql" with { type: "text" };
import oidcSql from "./migrations/0003_oidc.sql" with { type: "text" };
import passwordSetSql from "./migrations/0004_password_set.sql" with { type: "text" };
import authEpochSql from "./migrations/0005_auth_epoch.sql" with { type: "text" };
import { OidcSignIn } from "./oidc";
import { oidcFamily } from "./oidc.config";
import { oidcController } from "./oidc.routes";
import { SqliteOidcStore } from "./oidc.store.sqlite";
import { accountsController } from "./routes";
import { AccountsService } from "./service";
import { SqliteAccountsStore } from "./store.sqlite";

export { authPlugin } from "./routes";
export type { AccountsService, Principal } from "./service";
export { accountEvents, type SessionRevoked, type UserDeleted, type UserRegistered, type UserUpdated } from "./events";
export { accountsErrors, adminFailures, authFailures } from "./errors";
export type { AccountsConfig } from "./config";

export const accountsModule = defineModule({
  name: "accounts",
  tag: { name: "accounts", description: "Signup, login, sessions, profile, roles" },
  config: { schema: accountsConfigSchema, families: [oidcFamily], resolve: resolveAccountsConfig },
  migrations: [
    { version: 1, name: "accounts", sql: accountsSql, legacyVersion: 2 },
    { version: 2, name: "accounts_phone", sql: phoneSql },
    { version: 3, name: "oidc", sql: oidcSql },
    { version: 4, name: "password_set", sql: passwordSetSql },
    { version: 5, name: "auth_epoch", sql: authEpochSql },
  ],
  // Needs the data dir: the platform's doctor passes checks of a config it loaded.
  doctor(config) {
    if (config.jwtSecretSource !== "file") {
      return [{ status: "pass", name: "jwt secret", detail: config.jwtSecretSource === "env" ? "from HOMEBASE_JWT_SECRET" : "from HOMEBASE_JWT_SECRET_FILE" }];
    }
    const file = config.jwtSecretFile;
    if (!existsSync(file)) return [];
    const mode = statSync(file).mode & 0o777;
    return [
      mode & 0o077
        ? { status: "fail", name: "jwt secret", detail: `${file} is readable by others (mode ${mode.toString(8)}); chmod 600` }
        : { status: "pass", name: "jwt secret", detail: `generated, ${file} mode ${mode.toString(8)}` },
    ];
  },
  setup({ platform, config, logger }) {
    const store = new SqliteAccountsStore(platform.db, platform.writer, platform.events);
    const accounts = new AccountsService(store, platform.limiter, platform.clock, config, logger);
    const oidc = new OidcSignIn(config.oidc, new SqliteOidcStore(platform.db, platform.writer), store, accounts, platform.clock, logger);
    return {
      api: accounts,
      routes: [accountsController(accounts, platform.clientIp), oidcController(oidc, platform.clientIp)],
      // Before the database closes: the store drops its caches (store.sqlite.cache.ts).
      close: async () => store.close(),
    };
  },
});
