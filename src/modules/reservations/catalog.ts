// Catalog administration: movies, theaters and screenings, and a screening's seat map. Every
// committed change that can alter the now-showing list calls `changed` (the list's invalidation).
import type { Clock } from "../../platform/clock";
import { textKey } from "../../platform/text";
import { iso } from "./calendar";
import { fail, ok, reservationErrors as errors, type Outcome } from "./errors";
import { seatColumns, seatRows, type CreateMovieBody, type CreateScreeningBody, type Movie, type Screening, type SeatMap, type Theater } from "./model";
import type { MovieRecord, ReservationsStore, ScreeningView, TheaterRecord } from "./store";

export const allSeats: string[] = seatRows.flatMap((row) => Array.from({ length: seatColumns }, (_, i) => `${row}${i + 1}`));

/** How titles and theater names compare: the platform's one text key (NFC, case-insensitive). */
export { textKey };

export function toMovie(m: MovieRecord): Movie {
  return {
    id: m.id,
    title: m.title,
    grade: m.grade,
    genre: m.genre,
    releaseDate: m.releaseDate,
    thumbnailUrl: m.thumbnailUrl,
    runningTime: m.runningTime,
    createdAt: iso(m.createdAt),
  };
}

function toTheater(t: TheaterRecord): Theater {
  return { id: t.id, name: t.name, rows: [...seatRows], columns: seatColumns, createdAt: iso(t.createdAt) };
}

function toScreening(s: ScreeningView): Screening {
  return {
    id: s.id,
    movieId: s.movieId,
    movieTitle: s.movieTitle,
    theaterId: s.theaterId,
    theaterName: s.theaterName,
    startTime: iso(s.startTime),
    endTime: iso(s.endTime),
  };
}

export class Catalog {
  constructor(
    private readonly store: ReservationsStore,
    private readonly clock: Clock,
    /** After a committed change to movies or screenings. A crash in between: lists stay stale until their TTL. */
    private readonly changed: () => Promise<void>,
  ) {}

  // Blank titles and names are refused by the schema (nonBlank): 422 validation_failed.
  async createMovie(body: CreateMovieBody): Promise<Outcome<Movie, never>> {
    const title = body.title.trim();
    const movie: MovieRecord = {
      id: Bun.randomUUIDv7(),
      title,
      titleKey: textKey(title),
      grade: body.grade,
      genre: body.genre,
      releaseDate: body.releaseDate,
      thumbnailUrl: body.thumbnailUrl,
      runningTime: body.runningTime,
      createdAt: this.clock.now(),
    };
    await this.store.insertMovie(movie);
    await this.changed();
    return ok(toMovie(movie));
  }

  async movie(id: string): Promise<Movie | null> {
    const movie = await this.store.movie(id);
    return movie ? toMovie(movie) : null;
  }

  movieCount(): Promise<number> {
    return this.store.movieCount();
  }

  async createTheater(body: { name: string }): Promise<Outcome<Theater, typeof errors.theaterNameTaken>> {
    const name = body.name.trim();
    const theater: TheaterRecord = { id: Bun.randomUUIDv7(), name, nameKey: textKey(name), createdAt: this.clock.now() };
    if (!(await this.store.insertTheater(theater))) return fail(errors.theaterNameTaken, `a theater named "${name}" exists`);
    return ok(toTheater(theater));
  }

  async theaters(): Promise<Theater[]> {
    return (await this.store.theaters()).map(toTheater);
  }

  async theaterByName(name: string): Promise<Theater | null> {
    const theater = await this.store.theaterByNameKey(textKey(name));
    return theater ? toTheater(theater) : null;
  }

  /** endTime = startTime + the movie's running time; refused when it overlaps another screening in the theater. */
  async createScreening(
    body: CreateScreeningBody,
  ): Promise<Outcome<Screening, typeof errors.invalidStartTime | typeof errors.movieNotFound | typeof errors.theaterNotFound | typeof errors.screeningOverlaps>> {
    const start = Date.parse(body.startTime);
    if (!Number.isFinite(start)) {
      return fail(errors.invalidStartTime, "startTime is not a date-time", { field: { field: "/startTime", message: "not a date-time" } });
    }
    // Movies are never changed or deleted, so its running time read here still holds at the insert.
    const movie = await this.store.movie(body.movieId);
    if (!movie) return fail(errors.movieNotFound, "no such movie");
    const inserted = await this.store.insertScreening({
      id: Bun.randomUUIDv7(),
      movieId: movie.id,
      theaterId: body.theaterId,
      startTime: start,
      endTime: start + movie.runningTime * 60_000,
      createdAt: this.clock.now(),
    });
    switch (inserted.kind) {
      case "movie_not_found":
        return fail(errors.movieNotFound, "no such movie");
      case "theater_not_found":
        return fail(errors.theaterNotFound, "no such theater");
      case "overlaps":
        return fail(errors.screeningOverlaps, `the theater is busy from ${iso(inserted.clash.startTime)} to ${iso(inserted.clash.endTime)}`, {
          facts: { screeningId: inserted.clash.id },
        });
      case "inserted":
        await this.changed();
        return ok(toScreening(inserted.screening));
    }
  }

  async screening(id: string): Promise<Screening | null> {
    const screening = await this.store.screening(id);
    return screening ? toScreening(screening) : null;
  }

  /**
   * Null when there is no such screening. Once it has started the map is closed: its booked seats
   * stay shown (reservations are kept), none is available.
   */
  async seatMap(screeningId: string): Promise<SeatMap | null> {
    const screening = await this.store.screening(screeningId);
    if (!screening) return null;
    const taken = new Set(await this.store.takenSeats(screeningId));
    const closed = screening.startTime <= this.clock.now();
    return {
      screeningId,
      startTime: iso(screening.startTime),
      closed,
      rows: [...seatRows],
      columns: seatColumns,
      taken: allSeats.filter((s) => taken.has(s)),
      available: closed ? [] : allSeats.filter((s) => !taken.has(s)),
    };
  }
}
