// The challenges module's use cases, wired to one store, cache and clock: the catalog
// (challenges.ts), membership and logs (membership.ts), reads and leaderboards (reads.ts). This
// is the module's api and what its event consumers call.
import type Redis from "ioredis";
import type { CacheAside } from "../../platform/cache/cache-aside";
import type { Clock } from "../../platform/clock";
import type { Logger } from "../../platform/logger";
import type { UserDeleted, UserRegistered, UserUpdated } from "../accounts";
import { ChallengeCatalog } from "./challenges";
import type { ChallengesEventHandlers } from "./events";
import { Memberships } from "./membership";
import { ChallengeReads, type ChallengesSettings } from "./reads";
import type { ChallengesStore } from "./store";

export class ChallengesService implements ChallengesEventHandlers {
  readonly catalog: ChallengeCatalog;
  readonly members: Memberships;
  readonly reads: ChallengeReads;

  constructor(store: ChallengesStore, cache: CacheAside, redis: Redis | null, clock: Clock, settings: ChallengesSettings, logger: Logger) {
    this.reads = new ChallengeReads(store, cache, redis, settings, logger);
    this.catalog = new ChallengeCatalog(store, this.reads, clock);
    this.members = new Memberships(store, this.reads, clock);
  }

  applyUserRegistered(event: UserRegistered): void {
    this.members.applyUserRegistered(event);
  }

  applyUserUpdated(event: UserUpdated): void {
    this.members.applyUserUpdated(event);
  }

  applyUserDeleted(event: UserDeleted): void {
    this.members.applyUserDeleted(event);
  }

  refreshViews(subject: string, payload: unknown): Promise<void> {
    return this.reads.refreshViews(subject, payload);
  }
}
