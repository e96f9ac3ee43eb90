// The challenges module: challenges, daily logs (cache-aside reads), leaderboards, member
// profiles kept from accounts' events.
import { defineModule } from "../../platform/module";
import { accountsModule } from "../accounts";
import { challengesConfigSchema, resolveChallengesConfig } from "./config";
import { challengeConsumers } from "./events";
import challengesSql from "./migrations/0001_challenges.sql" with { type: "text" };
import { ChallengesRepository } from "./repository";
import { challengesController } from "./routes";
import { ChallengesService } from "./service";

export { challengeEvents } from "./events";
export type { ChallengesService } from "./service";

export const challengesModule = defineModule({
  name: "challenges",
  tag: { name: "challenges", description: "Challenges, membership, daily logs, leaderboards" },
  config: { schema: challengesConfigSchema, resolve: resolveChallengesConfig },
  migrations: [{ version: 1, name: "challenges", sql: challengesSql, legacyVersion: 3 }],
  setup({ platform, config, logger, use }) {
    const service = new ChallengesService(
      new ChallengesRepository(platform.db),
      platform.writer,
      platform.events,
      platform.cache,
      platform.redis,
      config,
      logger,
    );
    return { api: service, routes: [challengesController(service, use(accountsModule))], consumers: challengeConsumers(service) };
  },
});
