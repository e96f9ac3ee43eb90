// The reservations module: now-showing search with a cache, 5×5 seat maps, contiguous bookings
// without double booking, rate limits, confirmations through a notifier.
import { defineModule } from "../../platform/module";
import { accountsModule } from "../accounts";
import { createReservationsApi, eventHandlers } from "./api";
import { reservationsConfigSchema, resolveReservationsConfig } from "./config";
import { reservationConsumers } from "./events";
import reservationsSql from "./migrations/0001_reservations.sql" with { type: "text" };
import { LogNotifier, type Notifier } from "./notifier";
import { reservationsController } from "./routes";
import { parseSeedArgs, seedMovies } from "./seed";

export { reservationEvents, type ReservationCancelled, type ReservationConfirmed } from "./events";
export type { Notification, Notifier } from "./notifier";
export type { ReservationsApi } from "./api";
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
      const api = createReservationsApi(platform, config, options.notifier ?? new LogNotifier(logger, config.notifierLatencyMs), logger);
      return {
        api,
        routes: [reservationsController(api, use(accountsModule), platform.clientIp)],
        consumers: reservationConsumers(eventHandlers(api)),
      };
    },
    // After setup: TypeScript infers the API type from setup, then types run() with it.
    seeders: {
      movies: {
        describe: "12 theaters, 500 movies, ~1,600 screenings around today ([--movies N] [--screenings N] [--theaters N] [--seed N])",
        run: (api, args) => seedMovies(api.catalog, parseSeedArgs(args)),
      },
    },
  });
}

export const reservationsModule = reservations();
