// Schemas for the reservations routes: the single source for validation, types and OpenAPI.
import { t, type Static } from "elysia";
import { nonBlank } from "../../platform/http/schemas";
import { CursorPage, cursorQuery } from "../../platform/http/paging";
import { referenceGrades } from "./reference-api";

export const genres = [
  "ACTION",
  "ADVENTURE",
  "ANIMATION",
  "COMEDY",
  "CRIME",
  "DOCUMENTARY",
  "DRAMA",
  "FAMILY",
  "FANTASY",
  "HORROR",
  "MUSICAL",
  "MYSTERY",
  "ROMANCE",
  "SCI_FI",
  "THRILLER",
  "WAR",
] as const;
export type Genre = (typeof genres)[number];

/** Age ratings: all ages, 12+, 15+, adults only. */
export const grades = ["ALL", "12", "15", "18"] as const;
export type Grade = (typeof grades)[number];

/** Every theater has the same 5 x 5 grid: rows A-E, columns 1-5. */
export const seatRows = ["A", "B", "C", "D", "E"] as const;
export const seatColumns = 5;
export const maxSeatsPerUser = 5;

const uuid = t.String({ format: "uuid" });
const isoDateTime = t.String({ format: "date-time" });

const exampleMovie = {
  id: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2a20",
  title: "The Long Night",
  grade: "15",
  genre: "THRILLER",
  releaseDate: "2026-11-20",
  thumbnailUrl: "https://img.example.com/movies/the-long-night.jpg",
  runningTime: 124,
  createdAt: "2026-11-01T09:00:00.000Z",
};

const exampleScreening = {
  id: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2a30",
  theaterName: "Hall 1",
  startTime: "2026-11-24T18:00:00.000Z",
  endTime: "2026-11-24T20:04:00.000Z",
};

const exampleReservation = {
  id: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2a40",
  screeningId: exampleScreening.id,
  movieId: exampleMovie.id,
  movieTitle: exampleMovie.title,
  theaterName: "Hall 1",
  startTime: exampleScreening.startTime,
  endTime: exampleScreening.endTime,
  seats: ["C2", "C3"],
  status: "confirmed",
  createdAt: "2026-11-23T10:00:00.000Z",
  cancelledAt: null,
};

export const Movie = t.Object(
  {
    id: uuid,
    title: t.String(),
    grade: t.UnionEnum(grades),
    genre: t.UnionEnum(genres),
    releaseDate: t.String({ format: "date" }),
    thumbnailUrl: t.String(),
    runningTime: t.Integer({ description: "Minutes" }),
    createdAt: isoDateTime,
  },
  { examples: [exampleMovie] },
);
export type Movie = Static<typeof Movie>;

export const CreateMovieBody = t.Object(
  {
    title: nonBlank({ maxLength: 255 }),
    grade: t.UnionEnum(grades, { description: "Age rating: ALL, 12, 15 or 18" }),
    genre: t.UnionEnum(genres),
    releaseDate: t.String({ format: "date", description: "YYYY-MM-DD (UTC)" }),
    thumbnailUrl: t.String({ format: "uri", maxLength: 2048, pattern: "^https?://" }),
    runningTime: t.Integer({ minimum: 1, maximum: 600, description: "Minutes" }),
  },
  {
    examples: [
      {
        title: exampleMovie.title,
        grade: exampleMovie.grade,
        genre: exampleMovie.genre,
        releaseDate: exampleMovie.releaseDate,
        thumbnailUrl: exampleMovie.thumbnailUrl,
        runningTime: exampleMovie.runningTime,
      },
    ],
  },
);
export type CreateMovieBody = Static<typeof CreateMovieBody>;

export const Theater = t.Object(
  {
    id: uuid,
    name: t.String(),
    rows: t.Array(t.String(), { description: "Seat rows, front to back" }),
    columns: t.Integer({ description: "Seats per row" }),
    createdAt: isoDateTime,
  },
  { examples: [{ id: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2a50", name: "Hall 1", rows: [...seatRows], columns: seatColumns, createdAt: "2026-11-01T09:00:00.000Z" }] },
);
export type Theater = Static<typeof Theater>;

export const CreateTheaterBody = t.Object(
  { name: nonBlank({ maxLength: 100, description: "Unique, case-insensitively" }) },
  { examples: [{ name: "Hall 1" }] },
);

export const Screening = t.Object(
  {
    id: uuid,
    movieId: uuid,
    movieTitle: t.String(),
    theaterId: uuid,
    theaterName: t.String(),
    startTime: isoDateTime,
    endTime: isoDateTime,
  },
  { examples: [{ ...exampleScreening, movieId: exampleMovie.id, movieTitle: exampleMovie.title, theaterId: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2a50" }] },
);
export type Screening = Static<typeof Screening>;

export const CreateScreeningBody = t.Object(
  {
    movieId: uuid,
    theaterId: uuid,
    startTime: t.String({ format: "date-time", description: "UTC; endTime is startTime + the movie's running time" }),
  },
  { examples: [{ movieId: exampleMovie.id, theaterId: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2a50", startTime: exampleScreening.startTime }] },
);
export type CreateScreeningBody = Static<typeof CreateScreeningBody>;

export const ScreeningIdParams = t.Object({ id: uuid });

export const SeatMap = t.Object(
  {
    screeningId: uuid,
    startTime: isoDateTime,
    closed: t.Boolean({ description: "True once the screening has started: nothing can be booked or cancelled" }),
    rows: t.Array(t.String()),
    columns: t.Integer(),
    taken: t.Array(t.String(), { description: "Seats held by confirmed reservations (still shown once closed)" }),
    available: t.Array(t.String(), { description: "Seats that can be booked now (none once closed)" }),
  },
  {
    examples: [
      {
        screeningId: exampleScreening.id,
        startTime: exampleScreening.startTime,
        closed: false,
        rows: [...seatRows],
        columns: seatColumns,
        taken: ["C2", "C3"],
        available: ["A1", "A2", "…"],
      },
    ],
  },
);
export type SeatMap = Static<typeof SeatMap>;

export const NowShowingQuery = t.Object({
  title: t.Optional(t.String({ maxLength: 255, description: "Contains-match, case-insensitive" })),
  // Checked by the service (422 unknown_genre listing the known ones): TypeBox's own message
  // for an enum miss ("Expected kind 'UnionEnum'") tells a client nothing. `enum` documents it.
  genre: t.Optional(t.String({ maxLength: 32, enum: [...genres], description: "One of the fixed genres" })),
});
export type NowShowingQuery = { title?: string; genre?: string };

export const NowShowingScreening = t.Object({
  id: t.String({ description: "The screening id a reservation is made with" }),
  theaterName: t.String(),
  startTime: isoDateTime,
  endTime: isoDateTime,
});

export const NowShowingMovie = t.Object({
  id: t.String(),
  title: t.String(),
  grade: t.UnionEnum(grades),
  genre: t.UnionEnum(genres),
  releaseDate: t.String({ format: "date" }),
  thumbnailUrl: t.String(),
  runningTime: t.Integer(),
  screenings: t.Array(NowShowingScreening),
});
export type NowShowingMovie = Static<typeof NowShowingMovie>;

export const NowShowing = t.Object(
  { items: t.Array(NowShowingMovie) },
  {
    examples: [
      {
        items: [
          {
            id: exampleMovie.id,
            title: exampleMovie.title,
            grade: exampleMovie.grade,
            genre: exampleMovie.genre,
            releaseDate: exampleMovie.releaseDate,
            thumbnailUrl: exampleMovie.thumbnailUrl,
            runningTime: exampleMovie.runningTime,
            screenings: [exampleScreening],
          },
        ],
      },
    ],
  },
);
export type NowShowing = Static<typeof NowShowing>;

export const Seat = t.String({ pattern: "^[A-E][1-5]$", description: "Row A-E and column 1-5, e.g. C3" });

export const BookBody = t.Object(
  {
    screeningId: uuid,
    seats: t.Array(Seat, {
      minItems: 1,
      maxItems: maxSeatsPerUser,
      uniqueItems: true,
      description: "1-5 seats in one row, consecutive columns (any order)",
    }),
  },
  { examples: [{ screeningId: exampleScreening.id, seats: ["C2", "C3"] }] },
);
export type BookBody = Static<typeof BookBody>;

export const reservationStatuses = ["confirmed", "cancelled"] as const;
export type ReservationStatus = (typeof reservationStatuses)[number];

export const Reservation = t.Object(
  {
    id: uuid,
    screeningId: uuid,
    movieId: uuid,
    movieTitle: t.String(),
    theaterName: t.String(),
    startTime: isoDateTime,
    endTime: isoDateTime,
    seats: t.Array(t.String()),
    status: t.UnionEnum(reservationStatuses),
    createdAt: isoDateTime,
    cancelledAt: t.Union([isoDateTime, t.Null()]),
  },
  { examples: [exampleReservation] },
);
export type Reservation = Static<typeof Reservation>;

export const ReservationIdParams = t.Object({ id: uuid });

export const ReservationListQuery = t.Object(cursorQuery());

export const ReservationPage = CursorPage(Reservation);
export type ReservationPage = Static<typeof ReservationPage>;

// GET /api/v1/movies: the reference's shape and value formats (reference-api.ts; README.md maps each field).
const localDateTime = t.String({ pattern: "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}$", description: "yyyy-MM-ddTHH:mm:ss, no offset: wall-clock time in HOMEBASE_MOVIES_V1_TIME_ZONE (default UTC)" });

export const ReferenceMovies = t.Object(
  {
    responses: t.Array(
      t.Object({
        title: t.String(),
        grade: t.UnionEnum(Object.values(referenceGrades) as [string, ...string[]], { description: "The Korea Media Rating Board's class of the grade ALL, 12, 15 or 18" }),
        genre: t.UnionEnum(genres),
        releaseDate: t.String({ format: "date", description: "yyyy-MM-dd" }),
        thumbnailImage: t.String({ description: "The thumbnail's URL" }),
        runningTime: t.Integer({ description: "Minutes" }),
        screeningTimes: t.Array(t.Object({ theaterName: t.String(), startTime: localDateTime, endTime: localDateTime })),
      }),
    ),
  },
  {
    examples: [
      {
        responses: [
          {
            title: exampleMovie.title,
            grade: "15세이상관람가",
            genre: exampleMovie.genre,
            releaseDate: exampleMovie.releaseDate,
            thumbnailImage: exampleMovie.thumbnailUrl,
            runningTime: exampleMovie.runningTime,
            screeningTimes: [{ theaterName: exampleScreening.theaterName, startTime: "2026-11-24T18:00:00", endTime: "2026-11-24T20:04:00" }],
          },
        ],
      },
    ],
  },
);
export type ReferenceMovies = Static<typeof ReferenceMovies>;
