// The module's use cases wired to the platform: what setup() hands to the routes, the
// consumers, the seeders and other callers (tests, the CLI).
import type { Platform } from "../../platform";
import type { Logger } from "../../platform/logger";
import { Booking } from "./booking";
import { Catalog } from "./catalog";
import type { ReservationsConfig } from "./config";
import { Confirmations } from "./confirmations";
import type { ReservationsEventHandlers } from "./events";
import type { Notifier } from "./notifier";
import { type ListFormat, NowShowingList } from "./now-showing";
import { referenceFormat } from "./reference-api";
import { SqliteReservationsStore } from "./store.sqlite";
import { UserReservations } from "./user-reservations";

export interface ReservationsApi {
  catalog: Catalog;
  nowShowing: NowShowingList;
  /** How GET /api/v1/movies encodes the list (the reference's shape, in the configured zone). */
  referenceFormat: ListFormat;
  booking: Booking;
  userReservations: UserReservations;
  confirmations: Confirmations;
}

export function createReservationsApi(platform: Platform, config: ReservationsConfig, notifier: Notifier, logger: Logger): ReservationsApi {
  const { clock } = platform;
  const store = new SqliteReservationsStore(platform.db, platform.writer, platform.events);
  const nowShowing = new NowShowingList(
    store,
    platform.cache,
    platform.limiter,
    clock,
    {
      cacheTtlMs: config.moviesCacheTtlMs,
      rateRule:
        config.moviesRateLimit > 0
          ? { name: "movies", limit: config.moviesRateLimit, windowMs: config.moviesRateWindowMs, blockMs: config.moviesRateBlockMs }
          : null,
    },
    logger,
  );
  const booking = new Booking(
    store,
    platform.locks,
    platform.limiter,
    clock,
    {
      rateRule: config.bookingRateLimit > 0 ? { name: "booking", limit: config.bookingRateLimit, windowMs: config.bookingRateWindowMs } : null,
      // The reference's lease; renewed by withLock while a batch runs.
      lockTtlMs: 3_000,
      lockWaitMs: 5_000,
    },
    logger,
    platform.metrics.registry,
  );
  return {
    catalog: new Catalog(store, clock, () => nowShowing.catalogChanged()),
    nowShowing,
    referenceFormat: referenceFormat(config.moviesV1TimeZone),
    booking,
    userReservations: new UserReservations(store, clock),
    confirmations: new Confirmations(store, notifier, clock),
  };
}

/** What the module's consumers call (events.ts). */
export function eventHandlers(api: ReservationsApi): ReservationsEventHandlers {
  return {
    sendConfirmation: (eventId, e) => api.confirmations.send(eventId, e),
    recordConfirmation: (eventId, e) => api.confirmations.record(eventId, e),
    applyUserDeleted: (e) => api.userReservations.cancelAllOfDeletedUser(e),
  };
}
