// The reservations module: now-showing search with a cache, 5×5 seat maps, contiguous bookings
// without double booking, rate limits, confirmations through a notifier.
import { defineModule } from "../../platform/module";
import { accountsModule } from "../accounts";
import { reservationsConfigSchema, resolveReservationsConfig } from "./config";
import { reservationConsumers } from "./events";
import reservationsSql from "./migrations/0001_reservations.sql" with { type: "text" };
import { LogNotifier, type Notifier } from "./notifier";
import { ReservationsRepository } from "./repository";
import { reservationsController } from "./routes";
import { parseSeedArgs, seedMovies } from "./seed";
import { ReservationsService } from "./service";

export { reservationEvents, type ReservationCancelled, type ReservationConfirmed } from "./events";
export type { Notification, Notifier } from "./notifier";
export type { ReservationsService } from "./service";
export type { ReservationsConfig } from "./config";

export interface ReservationsOptions {
  /** Replaces the default log notifier (a real push service, or a test's). */
  notifier?: Notifier;
}

/** The module with options; the list holds reservations() with the defaults. */
export function reservations(options: ReservationsOptions = {}) {
  return defineModule({
    name: "reservations",
    tag: { name: "reservations", description: "Movies now showing, theaters, screenings, seat booking" },
    config: { schema: reservationsConfigSchema, resolve: resolveReservationsConfig },
    migrations: [{ version: 1, name: "reservations", sql: reservationsSql, legacyVersion: 5 }],
    setup({ platform, config, logger, use }) {
      const service = new ReservationsService(
        new ReservationsRepository(platform.db),
        platform.writer,
        platform.events,
        platform.cache,
        platform.locks,
        platform.limiter,
        options.notifier ?? new LogNotifier(logger, config.notifierLatencyMs),
        {
          moviesCacheTtlMs: config.moviesCacheTtlMs,
          moviesRateRule:
            config.moviesRateLimit > 0
              ? { name: "movies", limit: config.moviesRateLimit, windowMs: config.moviesRateWindowMs, blockMs: config.moviesRateBlockMs }
              : null,
          bookingRateRule: config.bookingRateLimit > 0 ? { name: "booking", limit: config.bookingRateLimit, windowMs: config.bookingRateWindowMs } : null,
          // The reference's lease; renewed by withLock while a batch runs.
          lockTtlMs: 3_000,
          lockWaitMs: 5_000,
        },
        logger,
        platform.metrics.registry,
      );
      return {
        api: service,
        routes: [reservationsController(service, use(accountsModule), platform.clientIp)],
        consumers: reservationConsumers(service),
      };
    },
    // After setup: TypeScript infers the API type from setup, then types run() with it.
    seeders: {
      movies: {
        describe: "12 theaters, 500 movies, ~1,600 screenings around today ([--movies N] [--screenings N] [--theaters N] [--seed N])",
        run: (service, args) => seedMovies(service, parseSeedArgs(args)),
      },
    },
  });
}

export const reservationsModule = reservations();
