// Reservations' environment variables: list cache, rate limits, notifier.
import { t, type Static } from "elysia";
import { env } from "../../platform/config";
import { knownTimeZone } from "./reference-api";

export const reservationsConfigSchema = t.Object({
  HOMEBASE_MOVIES_CACHE_TTL_MS: env.integer({ default: 3_600_000, min: 0, max: 86_400_000, description: "TTL of the cached now-showing lists (also cut at the next UTC midnight); 0 = off." }),
  HOMEBASE_MOVIES_RATE_LIMIT: env.integer({ default: 50, min: 0, max: 1_000_000_000, description: "GET /movies and GET /api/v1/movies (one budget) per client IP per window before the IP is blocked; 0 = off." }),
  HOMEBASE_MOVIES_RATE_WINDOW_MS: env.integer({ default: 60_000, min: 1, max: 86_400_000, description: "Window of the movie-list limit." }),
  HOMEBASE_MOVIES_RATE_BLOCK_MS: env.integer({ default: 3_600_000, min: 0, max: 7 * 86_400_000, description: "How long a client IP over the movie-list limit is blocked." }),
  HOMEBASE_MOVIES_V1_TIME_ZONE: env.string({
    default: "UTC",
    check: (zone) => (knownTimeZone(zone) ? undefined : "an IANA time zone, e.g. UTC or Asia/Seoul"),
    description: "Time zone of the start and end times GET /api/v1/movies writes (the reference's zone-less LocalDateTime); Asia/Seoul for the reference's own clients.",
  }),
  HOMEBASE_BOOKING_RATE_LIMIT: env.integer({ default: 1, min: 0, max: 1_000_000, description: "Successful bookings per user per screening per window; 0 = off." }),
  HOMEBASE_BOOKING_RATE_WINDOW_MS: env.integer({ default: 300_000, min: 1, max: 86_400_000, description: "Window of the booking limit." }),
  HOMEBASE_NOTIFIER_LATENCY_MS: env.integer({ default: 500, min: 0, max: 60_000, description: "How long the default (log) notifier takes per confirmation, like the reference's push service." }),
});

export interface ReservationsConfig {
  /** TTL of the cached now-showing lists (also cut at the next UTC midnight); 0 turns the cache off. */
  moviesCacheTtlMs: number;
  /** GET /movies per client IP: more than `moviesRateLimit` in `moviesRateWindowMs` blocks the IP for `moviesRateBlockMs`; limit 0 = off. */
  moviesRateLimit: number;
  moviesRateWindowMs: number;
  moviesRateBlockMs: number;
  /** The zone GET /api/v1/movies writes its local date-times in. */
  moviesV1TimeZone: string;
  /** Successful bookings per user per screening in `bookingRateWindowMs`; 0 = off. */
  bookingRateLimit: number;
  bookingRateWindowMs: number;
  /** How long the default (log) notifier takes per confirmation, like the reference's push service. */
  notifierLatencyMs: number;
}

export const resolveReservationsConfig = (v: Static<typeof reservationsConfigSchema>): ReservationsConfig => ({
  moviesCacheTtlMs: v.HOMEBASE_MOVIES_CACHE_TTL_MS,
  moviesRateLimit: v.HOMEBASE_MOVIES_RATE_LIMIT,
  moviesRateWindowMs: v.HOMEBASE_MOVIES_RATE_WINDOW_MS,
  moviesRateBlockMs: v.HOMEBASE_MOVIES_RATE_BLOCK_MS,
  moviesV1TimeZone: v.HOMEBASE_MOVIES_V1_TIME_ZONE,
  bookingRateLimit: v.HOMEBASE_BOOKING_RATE_LIMIT,
  bookingRateWindowMs: v.HOMEBASE_BOOKING_RATE_WINDOW_MS,
  notifierLatencyMs: v.HOMEBASE_NOTIFIER_LATENCY_MS,
});
