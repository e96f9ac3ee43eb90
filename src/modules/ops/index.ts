// The ops module: the operator's page (/ops, embedded, admin-only data) and its API. It reads the
// process's own metrics (the platform's registry, by series name) and state, and acts on the
// platform's dead letters. Registered last, so it sees every other module's metrics and consumers.
import { DeadLetters } from "../../platform/events";
import { defineModule } from "../../platform/module";
import { accountsModule } from "../accounts";
import { OpsActions } from "./actions";
import { Instances } from "./instances";
import opsSql from "./migrations/0001_ops.sql" with { type: "text" };
import { opsController } from "./routes";
import { Sampler } from "./sampler";
import { SqliteOpsStore } from "./store.sqlite";
import { SummaryBuilder } from "./summary";

export interface OpsApi {
  sampler: Sampler;
  instances: Instances;
  summary: SummaryBuilder;
  actions: OpsActions;
}

export const opsModule = defineModule({
  name: "ops",
  tag: { name: "operator", description: "The /ops page's API (admin): live figures, backends, instances, dead letters" },
  migrations: [{ version: 1, name: "ops", sql: opsSql }],
  setup({ platform, logger, use, isDraining }) {
    const store = new SqliteOpsStore(platform.db, platform.writer);
    const sampler = new Sampler({ registry: platform.metrics.registry, now: () => platform.clock.now(), refreshGauges: () => platform.events.refreshConsumerLag() });
    const instances = new Instances(store, platform.clock, logger, { role: platform.config.role, port: platform.config.port });
    const deadLetters = new DeadLetters(platform.db, platform.writer, platform.events);
    const summary = new SummaryBuilder(platform, sampler, deadLetters, instances);
    const actions = new OpsActions(deadLetters, store, platform.clock, logger, instances.self.id);
    // Every role samples and beats: each process answers for itself.
    sampler.start();
    instances.start();
    return {
      api: { sampler, instances, summary, actions } satisfies OpsApi,
      routes: [opsController({ accounts: use(accountsModule), actions, summary, sampler, isDraining })],
      async close() {
        sampler.stop();
        await instances.stop();
      },
    };
  },
});
