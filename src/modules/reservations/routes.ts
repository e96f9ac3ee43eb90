// Reservations controller: routes only. The use cases answer domain outcomes; each route lists
// the codes it can answer per HTTP status (the `…Failures` maps), which both documents them in
// OpenAPI and turns a failure into its status — answer() does not compile while a code the use
// case can return is missing from the route's map.
import { Elysia, t } from "elysia";
import type { ClientIpResolver } from "../../platform/http/client-ip";
import { storedResponse, type StoredResponseOptions } from "../../platform/http/compression";
import { platformErrors as P } from "../../platform/http/errors";
import { decodeCursor, encodeCursor } from "../../platform/http/paging";
import { HttpProblem, problemResponses, problems } from "../../platform/http/problem";
import { adminFailures, authFailures, authPlugin, type AccountsService } from "../accounts";
import type { ReservationsApi } from "./api";
import type { NowShowingList } from "./now-showing";
import { reservationErrors as E, type Failure, type Outcome, type ReservationErrorCode } from "./errors";
import {
  BookBody,
  CreateMovieBody,
  CreateScreeningBody,
  CreateTheaterBody,
  Movie,
  NowShowing,
  NowShowingQuery,
  ReferenceMovies,
  Reservation,
  ReservationIdParams,
  ReservationListQuery,
  ReservationPage,
  Screening,
  ScreeningIdParams,
  SeatMap,
  Theater,
} from "./model";

const tags = ["reservations"];

type FailureMap = { readonly [status: number]: readonly string[] };

// What the platform answers a route that takes a JSON body before the handler runs.
const bodyFailures = { 400: [P.malformedBody, P.bodyTooDeep], 411: [P.lengthRequired], 413: [P.bodyTooLarge] } as const;
const invalid = [P.validationFailed] as const;
const admin = { 401: authFailures, 403: adminFailures } as const;

const moviesFailures = { 422: [P.validationFailed, E.unknownGenre], 429: [E.moviesRateLimited] } as const;
const createMovieFailures = { 422: [P.validationFailed] } as const;
const createTheaterFailures = { 409: [E.theaterNameTaken], 422: [P.validationFailed] } as const;
const createScreeningFailures = {
  404: [E.movieNotFound, E.theaterNotFound],
  409: [E.screeningOverlaps],
  422: [P.validationFailed, E.invalidStartTime],
} as const;
const bookingFailures = {
  404: [E.screeningNotFound],
  409: [E.seatLimitReached, E.seatsTaken],
  422: [P.validationFailed, E.seatsNotContiguous, E.screeningStarted],
  429: [E.bookingRateLimited],
  503: [E.screeningBusy, E.bookingUnavailable],
} as const;
// Refused once the screening started: a conflict with the reservation's state (booking it is a 422).
const cancelFailures = { 404: [E.reservationNotFound], 409: [E.screeningStarted], 422: invalid } as const;

type CodesOf<F> = { [S in keyof F]: F[S] extends readonly (infer C)[] ? C : never }[keyof F];

/** A failure as problem+json: facts and the field at fault in the body, Retry-After when known. */
function problemOf(f: Failure, status: number): HttpProblem {
  const extensions: Record<string, unknown> = { ...f.facts, ...(f.field ? { errors: [f.field] } : {}) };
  const headers: Record<string, string> = {};
  if (f.retryAfterMs !== undefined) {
    const seconds = Math.max(1, Math.ceil(f.retryAfterMs / 1000));
    extensions.retryAfterSeconds = seconds;
    headers["retry-after"] = String(seconds);
  }
  return new HttpProblem(status, f.code, f.detail, extensions, headers);
}

/** The outcome's value, or its failure thrown with the status the route's map gives its code. */
function answer<T, C extends ReservationErrorCode, F extends FailureMap>(
  outcome: Outcome<T, C>,
  failures: F & ([Exclude<C, CodesOf<F>>] extends [never] ? unknown : { missingCodes: Exclude<C, CodesOf<F>> }),
): T {
  if (outcome.ok) return outcome.value;
  const { code } = outcome.failure;
  const status = Object.entries(failures).find(([, codes]) => (codes as readonly string[]).includes(code))?.[0];
  throw problemOf(outcome.failure, Number(status ?? 500));
}

function found<T>(value: T | null, code: ReservationErrorCode, detail: string): T {
  if (value === null) throw problems.notFound(code, detail);
  return value;
}

/**
 * A now-showing list answered: the client's IP admitted, then the list's stored bytes. A hit
 * this process holds, under an in-process limiter, goes through with no await on the way.
 */
function movieList(
  nowShowing: NowShowingList,
  ip: string | null,
  request: Request,
  set: StoredResponseOptions["set"],
  list: () => ReturnType<NowShowingList["body"]>,
): Response | Promise<Response> {
  const respond = (admission: Awaited<ReturnType<NowShowingList["admit"]>>) => {
    answer(admission, moviesFailures);
    const body = list();
    const opts: StoredResponseOptions = { cacheControl: "no-cache", set };
    return body instanceof Promise ? body.then((b) => storedResponse(request, answer(b, moviesFailures), opts)) : storedResponse(request, answer(body, moviesFailures), opts);
  };
  const admission = nowShowing.admit(ip);
  return admission instanceof Promise ? admission.then(respond) : respond(admission);
}

export function reservationsController(api: ReservationsApi, accounts: AccountsService, clientIp: ClientIpResolver) {
  const { catalog, nowShowing, booking, userReservations, referenceFormat } = api;
  return new Elysia({ name: "homebase.reservations" })
    .use(authPlugin(accounts))
    .get(
      "/movies",
      // The stored bytes (checked against NowShowing when stored; see now-showing.ts): ETag/304, gzip/br.
      ({ query, request, set }) => movieList(nowShowing, clientIp(request), request, set, () => nowShowing.body(query)),
      {
        query: NowShowingQuery,
        response: { 200: NowShowing, ...problemResponses(moviesFailures) },
        detail: {
          tags,
          summary: "Movies now showing",
          description:
            "Movies released on or before today (UTC) with screenings from now on, newest release first, each with its upcoming screenings by start time; a screening's id is what POST /reservations takes. " +
            "title: case-insensitive contains-match; genre: one of the fixed list (another value → 422). Lists without a title are cached per genre (HOMEBASE_MOVIES_CACHE_TTL_MS, cut at UTC midnight) and invalidated by catalog changes. " +
            "More than HOMEBASE_MOVIES_RATE_LIMIT requests (default 50) per HOMEBASE_MOVIES_RATE_WINDOW_MS (1 min) from one IP block it for HOMEBASE_MOVIES_RATE_BLOCK_MS (1 h): 429 movies_rate_limited with Retry-After. " +
            "Cached lists carry a strong ETag (If-None-Match → 304 Not Modified, no body; Cache-Control: no-cache) and come gzip- or brotli-encoded when Accept-Encoding allows (Vary: Accept-Encoding).",
        },
      },
    )
    .get(
      "/api/v1/movies",
      // The same limit (one budget per IP with /movies), rules, cache and invalidation as /movies.
      ({ query, request, set }) => movieList(nowShowing, clientIp(request), request, set, () => nowShowing.body(query, referenceFormat)),
      {
        query: NowShowingQuery,
        response: { 200: ReferenceMovies, ...problemResponses(moviesFailures) },
        detail: {
          tags,
          summary: "Movies now showing, in the reference's shape",
          description:
            "GET /movies for the reference's clients: the same list (rules, title and genre search, cache, rate limit shared with /movies), as " +
            '{"responses":[{title, grade, genre, releaseDate, thumbnailImage, runningTime, screeningTimes:[{theaterName, startTime, endTime}]}]}. ' +
            "grade: the KMRB class name (ALL → 전체관람가, 12 → 12세이상관람가, 15 → 15세이상관람가, 18 → 청소년관람불가); releaseDate yyyy-MM-dd; thumbnailImage the URL; runningTime minutes; " +
            "startTime/endTime yyyy-MM-ddTHH:mm:ss without offset, the wall-clock time in HOMEBASE_MOVIES_V1_TIME_ZONE (default UTC). No screening ids: book with GET /movies' ids. " +
            "Errors are problem+json as everywhere (422 unknown_genre / validation_failed, 429 movies_rate_limited).",
        },
      },
    )
    .get("/movies/:id", async ({ params }) => found(await catalog.movie(params.id), E.movieNotFound, "no such movie"), {
      params: ReservationIdParams,
      response: { 200: Movie, ...problemResponses({ 404: [E.movieNotFound], 422: invalid }) },
      detail: { tags, summary: "One movie" },
    })
    .post("/movies", async ({ body, status }) => status(201, answer(await catalog.createMovie(body), createMovieFailures)), {
      admin: true,
      body: CreateMovieBody,
      response: { 201: Movie, ...problemResponses({ ...bodyFailures, ...admin, ...createMovieFailures }) },
      detail: { tags, summary: "Add a movie (admin)" },
    })
    .get("/theaters", () => catalog.theaters(), {
      response: { 200: t.Array(Theater) },
      detail: { tags, summary: "Theaters", description: "Every theater has a 5 x 5 seat grid, A1-E5." },
    })
    .post("/theaters", async ({ body, status }) => status(201, answer(await catalog.createTheater(body), createTheaterFailures)), {
      admin: true,
      body: CreateTheaterBody,
      response: { 201: Theater, ...problemResponses({ ...bodyFailures, ...admin, ...createTheaterFailures }) },
      detail: { tags, summary: "Add a theater (admin)", description: "Names are unique case-insensitively (409 theater_name_taken)." },
    })
    .post("/screenings", async ({ body, status }) => status(201, answer(await catalog.createScreening(body), createScreeningFailures)), {
      admin: true,
      body: CreateScreeningBody,
      response: { 201: Screening, ...problemResponses({ ...bodyFailures, ...admin, ...createScreeningFailures }) },
      detail: {
        tags,
        summary: "Schedule a screening (admin)",
        description: "endTime = startTime + the movie's running time. A screening overlapping another in the same theater → 409 screening_overlaps.",
      },
    })
    .get("/screenings/:id", async ({ params }) => found(await catalog.screening(params.id), E.screeningNotFound, "no such screening"), {
      params: ScreeningIdParams,
      response: { 200: Screening, ...problemResponses({ 404: [E.screeningNotFound], 422: invalid }) },
      detail: { tags, summary: "One screening" },
    })
    .get("/screenings/:id/seats", async ({ params }) => found(await catalog.seatMap(params.id), E.screeningNotFound, "no such screening"), {
      params: ScreeningIdParams,
      response: { 200: SeatMap, ...problemResponses({ 404: [E.screeningNotFound], 422: invalid }) },
      detail: {
        tags,
        summary: "Taken and available seats of a screening",
        description: "Once the screening has started the map is closed (closed: true): its booked seats stay in taken, available is empty.",
      },
    })
    .post("/reservations", async ({ principal, body, status }) => status(201, answer(await booking.book(principal.userId, body), bookingFailures)), {
      auth: true,
      body: BookBody,
      response: { 201: Reservation, ...problemResponses({ ...bodyFailures, 401: authFailures, ...bookingFailures }) },
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
    .get(
      "/reservations/me",
      async ({ principal, query }) => {
        const after = query.cursor === undefined ? null : decodeCursor(query.cursor, ["number", "string"]);
        const page = await userReservations.list(principal.userId, query.limit ?? 20, after && { createdAt: after[0], id: after[1] });
        return { items: page.items, nextCursor: page.next && encodeCursor([page.next.createdAt, page.next.id]) };
      },
      {
        auth: true,
        query: ReservationListQuery,
        response: { 200: ReservationPage, ...problemResponses({ 400: [P.invalidCursor], 401: authFailures, 422: invalid }) },
        detail: { tags, summary: "The caller's reservations", description: "Newest first, cancelled ones included; pass nextCursor for the next page." },
      },
    )
    .get(
      "/reservations/:id",
      async ({ principal, params }) => found(await userReservations.get(principal.userId, params.id), E.reservationNotFound, "no such reservation"),
      {
        auth: true,
        params: ReservationIdParams,
        response: { 200: Reservation, ...problemResponses({ 401: authFailures, 404: [E.reservationNotFound], 422: invalid }) },
        detail: { tags, summary: "One of the caller's reservations" },
      },
    )
    .delete(
      "/reservations/:id",
      async ({ principal, params, status }) => {
        answer(await userReservations.cancel(principal.userId, params.id), cancelFailures);
        return status(204, undefined);
      },
      {
        auth: true,
        params: ReservationIdParams,
        response: { 204: t.Void(), ...problemResponses({ 401: authFailures, ...cancelFailures }) },
        detail: {
          tags,
          summary: "Cancel a reservation",
          description:
            "Only before the screening starts (409 screening_started); frees the seats. Cancelling a cancelled reservation is a no-op. Emits homebase.reservations.reservation.cancelled.",
        },
      },
    );
}
