// Reservations controller: routes only.
import { Elysia, t } from "elysia";
import type { ClientIpResolver } from "../../platform/http/client-ip";
import { problemResponses } from "../../platform/http/problem";
import { authPlugin, type AccountsService } from "../accounts";
import {
  BookBody,
  CreateMovieBody,
  CreateScreeningBody,
  CreateTheaterBody,
  Movie,
  NowShowing,
  NowShowingQuery,
  Reservation,
  ReservationIdParams,
  ReservationListQuery,
  ReservationPage,
  Screening,
  ScreeningIdParams,
  SeatMap,
  Theater,
} from "./model";
import type { ReservationsService } from "./service";

const tags = ["reservations"];

export function reservationsController(
  reservations: ReservationsService,
  accounts: AccountsService,
  clientIp: ClientIpResolver,
) {
  return new Elysia({ name: "homebase.reservations" })
    .use(authPlugin(accounts))
    .get(
      "/movies",
      async ({ query, request, server }) => {
        await reservations.admitListRequest(clientIp(request, server));
        // Already-encoded JSON (cached lists are kept encoded; see the service). The schema below
        // documents it; tests hold the shape.
        return new Response(await reservations.nowShowingJson(query), { headers: { "content-type": "application/json" } });
      },
      {
        query: NowShowingQuery,
        response: { 200: NowShowing, ...problemResponses(422, 429) },
        detail: {
          tags,
          summary: "Movies now showing",
          description:
            "Movies released on or before today (UTC) with screenings from now on, newest release first, each with its upcoming screenings by start time; a screening's id is what POST /reservations takes. " +
            "title: case-insensitive contains-match; genre: one of the fixed list (another value → 422). Lists without a title are cached per genre (HOMEBASE_MOVIES_CACHE_TTL_MS, cut at UTC midnight) and invalidated by catalog changes. " +
            "More than HOMEBASE_MOVIES_RATE_LIMIT requests (default 50) per HOMEBASE_MOVIES_RATE_WINDOW_MS (1 min) from one IP block it for HOMEBASE_MOVIES_RATE_BLOCK_MS (1 h): 429 movies_rate_limited with Retry-After.",
        },
      },
    )
    .get("/movies/:id", ({ params }) => reservations.movie(params.id), {
      params: ReservationIdParams,
      response: { 200: Movie, ...problemResponses(404, 422) },
      detail: { tags, summary: "One movie" },
    })
    .post("/movies", async ({ body, status }) => status(201, await reservations.createMovie(body)), {
      admin: true,
      body: CreateMovieBody,
      response: { 201: Movie, ...problemResponses(400, 401, 403, 422) },
      detail: { tags, summary: "Add a movie (admin)" },
    })
    .get("/theaters", () => reservations.theaters(), {
      response: { 200: t.Array(Theater) },
      detail: { tags, summary: "Theaters", description: "Every theater has a 5 x 5 seat grid, A1-E5." },
    })
    .post("/theaters", async ({ body, status }) => status(201, await reservations.createTheater(body)), {
      admin: true,
      body: CreateTheaterBody,
      response: { 201: Theater, ...problemResponses(400, 401, 403, 409, 422) },
      detail: { tags, summary: "Add a theater (admin)", description: "Names are unique case-insensitively (409 theater_name_taken)." },
    })
    .post("/screenings", async ({ body, status }) => status(201, await reservations.createScreening(body)), {
      admin: true,
      body: CreateScreeningBody,
      response: { 201: Screening, ...problemResponses(400, 401, 403, 404, 409, 422) },
      detail: {
        tags,
        summary: "Schedule a screening (admin)",
        description: "endTime = startTime + the movie's running time. A screening overlapping another in the same theater → 409 screening_overlaps.",
      },
    })
    .get("/screenings/:id", ({ params }) => reservations.screening(params.id), {
      params: ScreeningIdParams,
      response: { 200: Screening, ...problemResponses(404, 422) },
      detail: { tags, summary: "One screening" },
    })
    .get("/screenings/:id/seats", ({ params }) => reservations.seatMap(params.id), {
      params: ScreeningIdParams,
      response: { 200: SeatMap, ...problemResponses(404, 422) },
      detail: { tags, summary: "Taken and available seats of a screening" },
    })
    .post("/reservations", async ({ principal, body, status }) => status(201, await reservations.book(principal, body)), {
      auth: true,
      body: BookBody,
      response: { 201: Reservation, ...problemResponses(400, 401, 404, 409, 422, 429, 503) },
      detail: {
        tags,
        summary: "Book seats",
        description:
          "1-5 seats in one row, consecutive columns; all or nothing. A person holds at most 5 seats per screening (409 seat_limit_reached); " +
          "seats someone holds → 409 seats_taken naming them (`seats`); a screening that started → 422 screening_started. " +
          "One successful booking per user per screening per HOMEBASE_BOOKING_RATE_WINDOW_MS (default 5 min; failures don't count) → 429 booking_rate_limited. " +
          "Emits homebase.reservations.reservation.confirmed; the confirmation is sent afterwards, never delaying this response.",
      },
    })
    // Declared before /reservations/:id so "me" is never read as an id.
    .get("/reservations/me", ({ principal, query }) => reservations.myReservations(principal, query.limit ?? 20, query.cursor), {
      auth: true,
      query: ReservationListQuery,
      response: { 200: ReservationPage, ...problemResponses(400, 401, 422) },
      detail: { tags, summary: "The caller's reservations", description: "Newest first, cancelled ones included; pass nextCursor for the next page." },
    })
    .get("/reservations/:id", ({ principal, params }) => reservations.reservation(principal, params.id), {
      auth: true,
      params: ReservationIdParams,
      response: { 200: Reservation, ...problemResponses(401, 404, 422) },
      detail: { tags, summary: "One of the caller's reservations" },
    })
    .delete(
      "/reservations/:id",
      async ({ principal, params, status }) => {
        await reservations.cancel(principal, params.id);
        return status(204, undefined);
      },
      {
        auth: true,
        params: ReservationIdParams,
        response: { 204: t.Void(), ...problemResponses(401, 404, 409, 422) },
        detail: {
          tags,
          summary: "Cancel a reservation",
          description:
            "Only before the screening starts (409 screening_started); frees the seats. Cancelling a cancelled reservation is a no-op. Emits homebase.reservations.reservation.cancelled.",
        },
      },
    );
}
