// The challenges module: challenges, daily logs (cache-aside reads), leaderboards, member
// profiles kept from accounts' events.
import { defineModule } from "../../platform/module";
import { accountsModule } from "../accounts";
import { challengesConfigSchema, resolveChallengesConfig } from "./config";
import { challengeConsumers } from "./events";
import challengesSql from "./migrations/0001_challenges.sql" with { type: "text" };
import nicknameAtSql from "./migrations/0002_profile_nickname_at.sql" with { type: "text" };
import { challengesController } from "./routes";
import { ChallengesService } from "./service";
import { SqliteChallengesStore } from "./store.sqlite";

export { challengeEvents } from "./events";
export { challengesErrors } from "./errors";
export type { ChallengesService } from "./service";

export const challengesModule = defineModule({
  name: "challenges",
  tag: { name: "challenges", description: "Challenges, membership, daily logs, leaderboards" },
  config: { schema: challengesConfigSchema, resolve: resolveChallengesConfig },
  migrations: [
    { version: 1, name: "challenges", sql: challengesSql, legacyVersion: 3 },
    { version: 2, name: "profile_nickname_at", sql: nicknameAtSql },
  ],
  setup({ platform, config, logger, use }) {
    const store = new SqliteChallengesStore(platform.db, platform.writer, platform.events);
    const service = new ChallengesService(store, platform.cache, platform.redis, platform.clock, config, logger);
    return { api: service, routes: [challengesController(service, use(accountsModule))], consumers: challengeConsumers(service) };
  },
});
