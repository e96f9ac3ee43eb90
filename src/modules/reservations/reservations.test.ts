import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { getSchemaValidator } from "elysia";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, moduleConfig } from "../../config";
import { createPlatform, type Platform } from "../../platform";
import { ManualClock } from "../../platform/clock";
import { createLogger } from "../../platform/logger";
import { createTestApp, newUser, signupAndLogin, type TestApp } from "../../testing/app";
import { backendEnv, modes, type Mode } from "../../testing/modes";
import { homebaseCommand, startServer, type RunningServer } from "../../testing/process";
import { startRealBackends, startRedis, stopRedis } from "../../testing/servers";
import { waitFor } from "../../testing/wait";
import { createModules } from "../../app";
import { accountsModule } from "../accounts";
import { contiguousSeats, seatRefusal } from "./booking";
import { allSeats } from "./catalog";
import { orThrow } from "./errors";
import { type Notification, type Notifier, type ReservationsApi, reservations, reservationsModule } from "./index";
import { NowShowing } from "./model";
import { listTtlMs, nowShowingCacheName } from "./now-showing";
import { parseSeedArgs, seedMovies } from "./seed";
import { seededRandom } from "../../platform/random";

type User = Awaited<ReturnType<typeof signupAndLogin>>;

interface MovieBody {
  id: string;
  title: string;
  genre: string;
  releaseDate: string;
  runningTime: number;
}
interface ScreeningBody {
  id: string;
  movieId: string;
  theaterId: string;
  theaterName: string;
  startTime: string;
  endTime: string;
}
interface ListItem extends Omit<MovieBody, "runningTime"> {
  runningTime: number;
  screenings: Array<{ id: string; theaterName: string; startTime: string; endTime: string }>;
}
interface ReservationBody {
  id: string;
  screeningId: string;
  seats: string[];
  status: "confirmed" | "cancelled";
  cancelledAt: string | null;
}
interface ProblemBody {
  status: number;
  code: string;
  seats?: string[];
  retryAfterSeconds?: number;
  errors?: Array<{ field: string; message: string }>;
  [extension: string]: unknown;
}

const nowShowingSchema = getSchemaValidator(NowShowing);
const minute = 60_000;
/** A UTC calendar day relative to today. */
const day = (offset = 0) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
let seq = 0;
/** A token no other test's titles contain, so a title search isolates one test's movies. */
const token = () => `zq${Date.now().toString(36)}x${(++seq).toString(36)}`;

async function expectProblem(res: Response, status: number, code: string): Promise<ProblemBody> {
  expect({ status: res.status, type: res.headers.get("content-type") }).toEqual({ status, type: expect.stringContaining("application/problem+json") });
  const body = (await res.json()) as ProblemBody;
  expect(body.code).toBe(code);
  return body;
}

/** n overlapping requests: 1-3 consecutive seats in a random row. */
function seatSets(n: number, seed: number): string[][] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, () => {
    const row = "ABCDE"[Math.floor(random() * 5)]!;
    const size = 1 + Math.floor(random() * 3);
    const first = 1 + Math.floor(random() * (6 - size));
    return Array.from({ length: size }, (_, i) => `${row}${first + i}`);
  });
}

/** A movie released yesterday, a theater of its own, and a screening of it an hour from now, through the catalog use cases. */
async function bookableScreening(api: ReservationsApi, prefix: string, genre: "FAMILY" | "ANIMATION" | "MYSTERY" = "FAMILY") {
  const [m, h] = await Promise.all([
    api.catalog.createMovie({ title: `${prefix} ${token()}`, grade: "ALL", genre, releaseDate: day(-1), thumbnailUrl: "https://img.example.com/b.jpg", runningTime: 90 }),
    api.catalog.createTheater({ name: `Hall ${token()}` }),
  ]);
  return orThrow(await api.catalog.createScreening({ movieId: orThrow(m).id, theaterId: orThrow(h).id, startTime: new Date(Date.now() + 60 * minute).toISOString() }));
}

/**
 * The never-double-book assertions over a set of answered booking requests and the seats the
 * store holds: winners' seats are disjoint and are exactly what the store holds, each person holds
 * at most 5, every loser got 409 for a reason that holds.
 */
async function assertNoDoubleBooking(
  results: Array<{ userId: string; seats: string[]; res: Response }>,
  heldInStore: Array<{ seat: string; reservation_id: string }>,
) {
  const booked = new Map<string, string>();
  const perUser = new Map<string, number>();
  const losers: Array<{ seats: string[]; problem: ProblemBody }> = [];
  for (const { userId, seats, res } of results) {
    if (res.status === 201) {
      const r = (await res.json()) as ReservationBody;
      expect(r.seats).toEqual(seats);
      for (const seat of r.seats) {
        expect(booked.has(seat)).toBe(false);
        booked.set(seat, r.id);
      }
      perUser.set(userId, (perUser.get(userId) ?? 0) + r.seats.length);
    } else {
      expect(res.status).toBe(409);
      losers.push({ seats, problem: (await res.json()) as ProblemBody });
    }
  }
  expect(booked.size).toBeGreaterThan(0);
  expect(losers.length).toBeGreaterThan(0);
  for (const n of perUser.values()) expect(n).toBeLessThanOrEqual(5);
  // What the store holds is exactly what the winners were told.
  expect(new Map(heldInStore.map((r) => [r.seat, r.reservation_id]))).toEqual(booked);
  for (const { seats, problem } of losers) {
    expect(["seats_taken", "seat_limit_reached"]).toContain(problem.code);
    if (problem.code === "seats_taken") {
      expect(problem.seats!.length).toBeGreaterThan(0);
      for (const seat of problem.seats!) {
        expect(seats).toContain(seat);
        expect(booked.has(seat)).toBe(true);
      }
    }
  }
  return booked;
}

// ---------------------------------------------------------------------------------------------
// Pure rules

describe("reservation rules", () => {
  test("seats must be one row, consecutive; any order is accepted and sorted", () => {
    expect(orThrow(contiguousSeats(["C3", "C1", "C2"]))).toEqual(["C1", "C2", "C3"]);
    expect(orThrow(contiguousSeats(["E5"]))).toEqual(["E5"]);
    expect(orThrow(contiguousSeats(["A1", "A2", "A3", "A4", "A5"]))).toEqual(["A1", "A2", "A3", "A4", "A5"]);
    const why = (seats: string[]) => {
      const outcome = contiguousSeats(seats);
      return outcome.ok ? "accepted" : `${outcome.failure.code}: ${outcome.failure.field?.message}`;
    };
    expect(why(["A1", "B1"])).toBe("seats_not_contiguous: seats span several rows");
    expect(why(["A1", "A3"])).toBe("seats_not_contiguous: seats are not consecutive");
    expect(why(["D2", "D4", "D3"])).toBe("accepted");
    expect(allSeats).toHaveLength(25);
    expect([allSeats[0], allSeats[24]]).toEqual(["A1", "E5"]);
  });

  test("at most 5 seats per person per screening, earlier bookings counted; taken seats are named", () => {
    const state = (heldByUser: number, taken: string[] = []) => ({ heldByUser, taken: new Set(taken) });
    expect(seatRefusal(["A1", "A2"], state(3))).toBeNull();
    expect(seatRefusal(["A1", "A2", "A3"], state(3))).toMatchObject({ code: "seat_limit_reached", facts: { held: 3, limit: 5 } });
    expect(seatRefusal(["C2", "C3", "C4"], state(0, ["C3", "C4", "D1"]))).toMatchObject({ code: "seats_taken", facts: { seats: ["C3", "C4"] } });
    // Over the cap, that answer comes first, whatever seats are taken.
    expect(seatRefusal(["C2", "C3"], state(4, ["C3"]))?.code).toBe("seat_limit_reached");
  });

  test("configuration: the reference's limits by default; bad values name the variable", () => {
    const dir = mkdtempSync(join(tmpdir(), "homebase-reservations-config-"));
    try {
      expect(moduleConfig(loadConfig({ HOMEBASE_DATA_DIR: dir }), reservationsModule)).toEqual({
        moviesCacheTtlMs: 3_600_000,
        moviesRateLimit: 50,
        moviesRateWindowMs: 60_000,
        moviesRateBlockMs: 3_600_000,
        moviesV1TimeZone: "UTC",
        bookingRateLimit: 1,
        bookingRateWindowMs: 300_000,
        notifierLatencyMs: 500,
      });
      const bad: Array<[string, string]> = [
        ["HOMEBASE_MOVIES_RATE_LIMIT", "-1"],
        ["HOMEBASE_MOVIES_RATE_WINDOW_MS", "0"],
        ["HOMEBASE_MOVIES_CACHE_TTL_MS", "1h"],
        ["HOMEBASE_BOOKING_RATE_WINDOW_MS", "0"],
        ["HOMEBASE_NOTIFIER_LATENCY_MS", "60001"],
        ["HOMEBASE_MOVIES_V1_TIME_ZONE", "Mars/Olympus_Mons"],
      ];
      for (const [name, value] of bad) {
        expect(() => loadConfig({ HOMEBASE_DATA_DIR: dir, [name]: value })).toThrow(name);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a cached list never outlives the UTC day it was computed on", () => {
    const noon = Date.parse("2026-11-23T12:00:00.000Z");
    expect(listTtlMs(noon, 3_600_000)).toBe(3_600_000);
    expect(listTtlMs(Date.parse("2026-11-23T23:59:59.000Z"), 3_600_000)).toBe(1_000);
    expect(listTtlMs(Date.parse("2026-12-31T23:30:00.000Z"), 3_600_000)).toBe(30 * minute);
    expect(listTtlMs(Date.parse("2026-11-23T23:59:59.999Z"), 3_600_000)).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------
// The HTTP API in both modes

describe.each(modes)("reservations (%s)", (mode) => {
  let t: TestApp;
  let admin: User;
  // The module's "now": screenings start when the test moves it, not after a sleep.
  const clock = new ManualClock(Date.now());

  beforeAll(async () => {
    t = await createTestApp(
      mode,
      {
        // Limits have their own describe below; here they would only get in the way.
        HOMEBASE_BOOKING_RATE_LIMIT: "0",
        HOMEBASE_MOVIES_RATE_LIMIT: "0",
        HOMEBASE_NOTIFIER_LATENCY_MS: "0",
      },
      undefined,
      undefined,
      { clock },
    );
    admin = await signupAndLogin(t, "admin");
    await t.modules.apis.accounts.promoteByEmail(admin.email);
  }, 30_000);
  afterAll(() => t.close());

  const as = (u: User) => u.tokens.accessToken;

  async function theater(name = `Hall ${token()}`) {
    const res = await t.request("POST", "/theaters", { token: as(admin), body: { name } });
    if (res.status !== 201) throw new Error(`theater: ${res.status} ${await res.text()}`);
    return (await res.json()) as { id: string; name: string };
  }

  async function movie(body: Partial<{ title: string; genre: string; releaseDate: string; runningTime: number }> = {}) {
    const res = await t.request("POST", "/movies", {
      token: as(admin),
      body: { title: `Movie ${token()}`, grade: "12", genre: "DRAMA", releaseDate: day(-3), thumbnailUrl: "https://img.example.com/m.jpg", runningTime: 100, ...body },
    });
    if (res.status !== 201) throw new Error(`movie: ${res.status} ${await res.text()}`);
    return (await res.json()) as MovieBody;
  }

  async function screening(movieId: string, theaterId: string, startMs: number) {
    const res = await t.request("POST", "/screenings", { token: as(admin), body: { movieId, theaterId, startTime: new Date(startMs).toISOString() } });
    if (res.status !== 201) throw new Error(`screening: ${res.status} ${await res.text()}`);
    return (await res.json()) as ScreeningBody;
  }

  /** A bookable screening (an hour from now) in a theater of its own. */
  async function upcoming(startMs = clock.now() + 60 * minute) {
    const [m, h] = await Promise.all([movie(), theater()]);
    return screening(m.id, h.id, startMs);
  }

  async function list(query = ""): Promise<ListItem[]> {
    const res = await t.request("GET", `/movies${query}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("application/json");
    expect(res.headers.get("x-request-id")).toBeTruthy();
    const body = await res.json();
    // The route returns pre-encoded JSON, so Elysia does not check it: the test does.
    expect(nowShowingSchema.Check(body)).toBe(true);
    return (body as { items: ListItem[] }).items;
  }

  const book = (u: User, screeningId: string, seats: string[]) => t.request("POST", "/reservations", { token: as(u), body: { screeningId, seats } });

  async function cacheCount(result: "hit" | "miss"): Promise<number> {
    const { values } = await t.platform.metrics.cacheRequests.get();
    return values.find((v) => v.labels.cache === nowShowingCacheName && v.labels.result === result)?.value ?? 0;
  }

  describe("catalog", () => {
    test("admins create theaters, movies and screenings; endTime = start + running time", async () => {
      const h = await theater();
      expect(h).toMatchObject({ rows: ["A", "B", "C", "D", "E"], columns: 5 });
      const m = await movie({ title: "  The Long Night  ", genre: "THRILLER", runningTime: 124 });
      expect(m).toMatchObject({ title: "The Long Night", genre: "THRILLER", runningTime: 124 });
      const start = Date.parse("2031-05-01T18:00:00.000Z");
      const s = await screening(m.id, h.id, start);
      expect(s).toMatchObject({ movieId: m.id, theaterId: h.id, theaterName: h.name, movieTitle: "The Long Night", startTime: "2031-05-01T18:00:00.000Z", endTime: "2031-05-01T20:04:00.000Z" });
      expect((await (await t.request("GET", `/screenings/${s.id}`)).json()) as ScreeningBody).toEqual(s);
      expect(((await (await t.request("GET", "/theaters")).json()) as Array<{ id: string }>).map((x) => x.id)).toContain(h.id);
      expect(((await (await t.request("GET", `/movies/${m.id}`)).json()) as MovieBody).title).toBe("The Long Night");
    });

    test("only admins write the catalog; names are unique; bad input is 422; unknown references 404", async () => {
      const user = await signupAndLogin(t);
      await expectProblem(await t.request("POST", "/theaters", { token: as(user), body: { name: "Mine" } }), 403, "admin_only");
      // A valid body: Elysia validates it before the auth macro runs.
      const valid = { title: "x", grade: "ALL", genre: "DRAMA", releaseDate: day(0), thumbnailUrl: "https://img.example.com/x.jpg", runningTime: 90 };
      await expectProblem(await t.request("POST", "/movies", { body: valid }), 401, "missing_token");
      await expectProblem(await t.request("POST", "/movies", { body: valid, token: as(user) }), 403, "admin_only");
      const h = await theater();
      await expectProblem(await t.request("POST", "/theaters", { token: as(admin), body: { name: h.name.toUpperCase() } }), 409, "theater_name_taken");

      const post = (body: Record<string, unknown>) =>
        t.request("POST", "/movies", {
          token: as(admin),
          body: { title: "T", grade: "ALL", genre: "COMEDY", releaseDate: day(0), thumbnailUrl: "https://img.example.com/t.jpg", runningTime: 90, ...body },
        });
      for (const bad of [{ genre: "SOAP" }, { grade: "21" }, { runningTime: 0 }, { runningTime: 601 }, { releaseDate: "2026-02-30" }, { thumbnailUrl: "ftp://x/y" }, { title: "x".repeat(256) }]) {
        await expectProblem(await post(bad), 422, "validation_failed");
      }
      const blank = await expectProblem(await post({ title: "   " }), 422, "validation_failed");
      expect(blank.errors).toEqual([{ field: "/title", message: "must not be blank (at most 255 characters)" }]);

      const m = await movie();
      const at = new Date(clock.now() + 60 * minute).toISOString();
      const unknown = Bun.randomUUIDv7();
      await expectProblem(await t.request("POST", "/screenings", { token: as(admin), body: { movieId: unknown, theaterId: h.id, startTime: at } }), 404, "movie_not_found");
      await expectProblem(await t.request("POST", "/screenings", { token: as(admin), body: { movieId: m.id, theaterId: unknown, startTime: at } }), 404, "theater_not_found");
      await expectProblem(await t.request("POST", "/screenings", { token: as(admin), body: { movieId: m.id, theaterId: h.id, startTime: "tomorrow" } }), 422, "validation_failed");
      await expectProblem(await t.request("GET", `/screenings/${unknown}`), 404, "screening_not_found");
    });

    test("overlapping screenings in one theater → 409; back to back and other theaters are fine", async () => {
      const [h, other, m] = await Promise.all([theater(), theater(), movie({ runningTime: 120 })]);
      const start = Date.parse("2031-06-01T10:00:00.000Z");
      const first = await screening(m.id, h.id, start);
      for (const offset of [0, 60 * minute, -60 * minute, 119 * minute, -119 * minute]) {
        const res = await t.request("POST", "/screenings", { token: as(admin), body: { movieId: m.id, theaterId: h.id, startTime: new Date(start + offset).toISOString() } });
        expect((await expectProblem(res, 409, "screening_overlaps")).screeningId).toBe(first.id);
      }
      await screening(m.id, h.id, start + 120 * minute); // starts when the first ends
      await screening(m.id, h.id, start - 120 * minute); // ends when the first starts
      await screening(m.id, other.id, start);
    });
  });

  describe("now showing", () => {
    test("released by today, screenings from now on, newest release first, screenings by start", async () => {
      const tag = token();
      const [h1, h2] = await Promise.all([theater(), theater()]);
      const now = clock.now();
      const today = await movie({ title: `Today ${tag}`, releaseDate: day(0) });
      const older = await movie({ title: `Older ${tag}`, releaseDate: day(-30) });
      const tomorrow = await movie({ title: `Tomorrow ${tag}`, releaseDate: day(1) });
      const pastOnly = await movie({ title: `Past only ${tag}`, releaseDate: day(-10) });
      await movie({ title: `Unscheduled ${tag}`, releaseDate: day(-10) });
      const late = await screening(today.id, h1.id, now + 5 * 60 * minute);
      const early = await screening(today.id, h2.id, now + 60 * minute);
      const gone = await screening(today.id, h2.id, now - 4 * 60 * minute);
      const olderShow = await screening(older.id, h1.id, now + 2 * 60 * minute);
      await screening(tomorrow.id, h1.id, now + 26 * 60 * minute);
      await screening(pastOnly.id, h1.id, now - 3 * 60 * minute);

      const found = await list(`?title=${tag}`);
      expect(found.map((m) => m.id)).toEqual([today.id, older.id]);
      expect(found[0]!.screenings.map((s) => s.id)).toEqual([early.id, late.id]);
      expect(found[0]!.screenings.map((s) => s.id)).not.toContain(gone.id);
      expect(found[0]!.screenings[0]).toEqual({ id: early.id, theaterName: h2.name, startTime: early.startTime, endTime: early.endTime });
      expect(found[1]).toMatchObject({ title: `Older ${tag}`, releaseDate: day(-30), genre: "DRAMA", grade: "12", runningTime: 100, screenings: [{ id: olderShow.id }] });

      // The unfiltered (cached) list agrees, and is ordered by release date, newest first.
      const all = await list();
      const ours = all.filter((m) => m.title.endsWith(tag));
      expect(ours.map((m) => m.id)).toEqual([today.id, older.id]);
      const dates = all.map((m) => m.releaseDate);
      expect(dates).toEqual([...dates].sort().reverse());
      for (const m of all) for (const s of m.screenings) expect(Date.parse(s.startTime)).toBeGreaterThan(now);
    });

    test("title is a case-insensitive contains-match; genre filters; unknown genre and long titles are 422", async () => {
      const tag = token();
      const h = await theater();
      const a = await movie({ title: `Ärger im ${tag} Paradies`, genre: "COMEDY" });
      const b = await movie({ title: `${tag.toUpperCase()} Returns`, genre: "HORROR" });
      await screening(a.id, h.id, clock.now() + 60 * minute);
      await screening(b.id, h.id, clock.now() + 4 * 60 * minute);
      expect((await list(`?title=${tag.toUpperCase()}`)).map((m) => m.id).sort()).toEqual([a.id, b.id].sort());
      expect((await list(`?title=${encodeURIComponent(`ärger im ${tag}`)}`)).map((m) => m.id)).toEqual([a.id]);
      expect((await list(`?title=${tag}&genre=HORROR`)).map((m) => m.id)).toEqual([b.id]);
      expect((await list("?genre=HORROR")).map((m) => m.id)).toContain(b.id);
      expect((await list("?genre=HORROR")).every((m) => m.genre === "HORROR")).toBe(true);
      // % and _ are literal characters, not wildcards.
      expect(await list(`?title=${tag}%25`)).toEqual([]);
      const unknown = await expectProblem(await t.request("GET", "/movies?genre=SOAP"), 422, "unknown_genre");
      expect(unknown.errors?.[0]?.message).toContain("THRILLER");
      await expectProblem(await t.request("GET", `/movies?title=${"x".repeat(256)}`), 422, "validation_failed");
      expect((await t.request("GET", `/movies?title=${"x".repeat(255)}`)).status).toBe(200);
    });

    test("every search shape uses the indexes: no full scan of screenings", async () => {
      const shapes = [{}, { genre: "ACTION" as const }, { title: "night" }, { genre: "ACTION" as const, title: "night" }];
      for (const shape of shapes) {
        const plan = await t.modules.apis.reservations.nowShowing.plan(shape);
        expect(plan).toContain("SEARCH s USING INDEX screenings_movie_start (movie_id=? AND start_time>?)");
        expect(plan.some((line) => /^SCAN (s|screenings)\b/.test(line) || line.includes("AUTOMATIC"))).toBe(false);
        expect(plan).toContain(shape.genre ? "SEARCH m USING INDEX movies_genre_release (genre=? AND release_date<?)" : "SEARCH m USING INDEX movies_release (release_date<?)");
      }
    });

    test("cached per genre, invalidated by catalog changes, and trimmed as screenings start", async () => {
      const h = await theater();
      const m = await movie({ genre: "WAR", releaseDate: day(-1) });
      const soon = await screening(m.id, h.id, clock.now() + 1_500);
      const later = await screening(m.id, h.id, clock.now() + 3 * 60 * minute);

      const [hits0, misses0] = [await cacheCount("hit"), await cacheCount("miss")];
      const first = await list("?genre=WAR");
      expect(first.find((x) => x.id === m.id)?.screenings.map((s) => s.id)).toEqual([soon.id, later.id]);
      await list("?genre=WAR");
      expect([(await cacheCount("hit")) - hits0, (await cacheCount("miss")) - misses0]).toEqual([1, 1]);

      // Once one of its screenings has started, the cached list is found stale and reloaded.
      clock.advance(2_000);
      expect(clock.now()).toBeGreaterThan(Date.parse(soon.startTime));
      const reloaded = await list("?genre=WAR");
      expect(reloaded.find((x) => x.id === m.id)?.screenings.map((s) => s.id)).toEqual([later.id]);
      expect([(await cacheCount("hit")) - hits0, (await cacheCount("miss")) - misses0]).toEqual([2, 2]);
      await list("?genre=WAR");
      expect([(await cacheCount("hit")) - hits0, (await cacheCount("miss")) - misses0]).toEqual([3, 2]);

      // A new screening invalidates every cached variant.
      const added = await screening(m.id, h.id, clock.now() + 6 * 60 * minute);
      const fresh = await list("?genre=WAR");
      expect(fresh.find((x) => x.id === m.id)?.screenings.map((s) => s.id)).toEqual([later.id, added.id]);
      expect((await cacheCount("miss")) - misses0).toBe(3);
    });
  });

  describe("booking", () => {
    test("books 1-5 consecutive seats of one row; the seat map and my reservations show it", async () => {
      const s = await upcoming();
      const user = await signupAndLogin(t);
      const res = await book(user, s.id, ["B4", "B2", "B3"]);
      expect(res.status).toBe(201);
      const r = (await res.json()) as ReservationBody;
      expect(r).toMatchObject({ screeningId: s.id, seats: ["B2", "B3", "B4"], status: "confirmed", cancelledAt: null });
      const map = (await (await t.request("GET", `/screenings/${s.id}/seats`)).json()) as { taken: string[]; available: string[] };
      expect(map.taken).toEqual(["B2", "B3", "B4"]);
      expect(map.available).toHaveLength(22);
      const mine = (await (await t.request("GET", "/reservations/me", { token: as(user) })).json()) as { items: ReservationBody[] };
      expect(mine.items.map((x) => x.id)).toEqual([r.id]);
      expect((await t.request("GET", `/reservations/${r.id}`, { token: as(user) })).status).toBe(200);
    });

    test("bad seat sets → 422; unknown screening → 404; a screening that started → 422", async () => {
      const s = await upcoming();
      const user = await signupAndLogin(t);
      for (const seats of [["A1", "B1"], ["A1", "A3"], ["C5", "C3", "C4", "C1"]]) {
        await expectProblem(await book(user, s.id, seats), 422, "seats_not_contiguous");
      }
      for (const seats of [[], ["A1", "A2", "A3", "A4", "A5", "A5"], ["F1"], ["A0"], ["A6"], ["a1"], ["A1", "A1"]]) {
        await expectProblem(await book(user, s.id, seats), 422, "validation_failed");
      }
      await expectProblem(await book(user, Bun.randomUUIDv7(), ["A1"]), 404, "screening_not_found");
      const started = await upcoming(clock.now() - minute);
      await expectProblem(await book(user, started.id, ["A1"]), 422, "screening_started");
      await expectProblem(await t.request("POST", "/reservations", { body: { screeningId: s.id, seats: ["A1"] } }), 401, "missing_token");
      expect(((await (await t.request("GET", `/screenings/${s.id}/seats`)).json()) as { taken: string[] }).taken).toEqual([]);
    });

    test("all or nothing: taken seats → 409 naming them, and none of the request is booked", async () => {
      const s = await upcoming();
      const [a, b] = await Promise.all([signupAndLogin(t), signupAndLogin(t)]);
      expect((await book(a, s.id, ["C3", "C4"])).status).toBe(201);
      const taken = await expectProblem(await book(b, s.id, ["C2", "C3", "C4", "C5"]), 409, "seats_taken");
      expect(taken.seats).toEqual(["C3", "C4"]);
      const map = (await (await t.request("GET", `/screenings/${s.id}/seats`)).json()) as { taken: string[] };
      expect(map.taken).toEqual(["C3", "C4"]);
      expect((await book(b, s.id, ["C1", "C2"])).status).toBe(201);
    });

    test("a person holds at most 5 seats per screening, counting earlier bookings", async () => {
      const [s, other] = await Promise.all([upcoming(), upcoming()]);
      const user = await signupAndLogin(t);
      expect((await book(user, s.id, ["A1", "A2", "A3"])).status).toBe(201);
      const limit = await expectProblem(await book(user, s.id, ["B1", "B2", "B3"]), 409, "seat_limit_reached");
      expect(limit).toMatchObject({ held: 3, limit: 5 });
      expect((await book(user, s.id, ["B1", "B2"])).status).toBe(201);
      await expectProblem(await book(user, s.id, ["E5"]), 409, "seat_limit_reached");
      // Per screening: another one is unaffected.
      expect((await book(user, other.id, ["A1", "A2", "A3", "A4", "A5"])).status).toBe(201);
    });

    test("cancel frees the seats; only the holder can see or cancel; not after the start", async () => {
      const s = await upcoming();
      const [a, b] = await Promise.all([signupAndLogin(t), signupAndLogin(t)]);
      const r = (await (await book(a, s.id, ["D1", "D2"])).json()) as ReservationBody;
      await expectProblem(await t.request("GET", `/reservations/${r.id}`, { token: as(b) }), 404, "reservation_not_found");
      await expectProblem(await t.request("DELETE", `/reservations/${r.id}`, { token: as(b) }), 404, "reservation_not_found");
      await expectProblem(await book(b, s.id, ["D2", "D3"]), 409, "seats_taken");

      expect((await t.request("DELETE", `/reservations/${r.id}`, { token: as(a) })).status).toBe(204);
      expect((await t.request("DELETE", `/reservations/${r.id}`, { token: as(a) })).status).toBe(204);
      const mine = (await (await t.request("GET", "/reservations/me", { token: as(a) })).json()) as { items: ReservationBody[] };
      expect(mine.items[0]).toMatchObject({ id: r.id, status: "cancelled", seats: ["D1", "D2"] });
      expect(mine.items[0]!.cancelledAt).not.toBeNull();
      expect((await book(b, s.id, ["D1", "D2", "D3"])).status).toBe(201);
      // Cancelled seats don't count toward the 5-seat cap either.
      expect((await book(a, s.id, ["E1", "E2", "E3", "E4", "E5"])).status).toBe(201);

      const soon = await upcoming(clock.now() + 400);
      const late = (await (await book(a, soon.id, ["A1"])).json()) as ReservationBody;
      clock.advance(1_000);
      expect(clock.now()).toBeGreaterThan(Date.parse(soon.startTime));
      await expectProblem(await t.request("DELETE", `/reservations/${late.id}`, { token: as(a) }), 409, "screening_started");
    });

    test("my reservations page newest first", async () => {
      const user = await signupAndLogin(t);
      const screenings = await Promise.all([upcoming(), upcoming(), upcoming()]);
      const ids: string[] = [];
      for (const s of screenings) ids.push(((await (await book(user, s.id, ["A1"])).json()) as ReservationBody).id);
      const page = async (q: string) => (await (await t.request("GET", `/reservations/me${q}`, { token: as(user) })).json()) as { items: ReservationBody[]; nextCursor: string | null };
      const p1 = await page("?limit=2");
      expect(p1.items.map((r) => r.id)).toEqual([ids[2]!, ids[1]!]);
      const p2 = await page(`?limit=2&cursor=${p1.nextCursor}`);
      expect(p2).toMatchObject({ items: [{ id: ids[0] }], nextCursor: null });
      await expectProblem(await t.request("GET", "/reservations/me?cursor=bm9wZQ", { token: as(user) }), 400, "invalid_cursor");
    });

    test("a confirmation is sent and recorded once per booking, after the response", async () => {
      const s = await upcoming();
      const user = await signupAndLogin(t);
      const r = (await (await book(user, s.id, ["E1", "E2"])).json()) as ReservationBody;
      const confirmations = t.modules.apis.reservations.confirmations;
      await waitFor(async () => (await confirmations.of(r.id)).length > 0, { what: "the confirmation" });
      const sent = await confirmations.of(r.id);
      expect(sent).toHaveLength(1);
      expect(sent[0]).toMatchObject({ reservationId: r.id, userId: user.user.id, channel: "log" });
      expect(sent[0]!.message).toContain("E1, E2");
    });

    test("a deleted account's upcoming reservations are cancelled and their seats freed", async () => {
      const s = await upcoming();
      const user = await signupAndLogin(t);
      const r = (await (await book(user, s.id, ["C1", "C2"])).json()) as ReservationBody;
      expect((await t.request("DELETE", "/me", { token: as(user), body: { password: user.password } })).status).toBe(204);
      const seats = async () => ((await (await t.request("GET", `/screenings/${s.id}/seats`)).json()) as { taken: string[] }).taken;
      await waitFor(async () => (await seats()).length === 0, { what: "the seats to be freed" });
      const status = t.platform.db.query<{ status: string }, [string]>("SELECT status FROM reservations WHERE id = ?").get(r.id);
      expect(status?.status).toBe("cancelled");
    });

    test("200 concurrent overlapping requests on one screening never double-book; every loser gets 409", async () => {
      const s = await upcoming();
      const users = await Promise.all(Array.from({ length: 10 }, () => signupAndLogin(t)));
      const requests = seatSets(200, mode === "embedded" ? 1 : 2).map((seats, i) => ({ user: users[i % users.length]!, seats }));
      const results = await Promise.all(requests.map(async ({ user, seats }) => ({ userId: user.user.id, seats, res: await book(user, s.id, seats) })));
      const held = t.platform.db
        .query<{ seat: string; reservation_id: string }, [string]>("SELECT seat, reservation_id FROM reservation_seats WHERE screening_id = ?")
        .all(s.id);
      const booked = await assertNoDoubleBooking(results, held);
      // Ten people, five seats each at most: the grid can fill up (and with 200 tries it does, nearly).
      expect(booked.size).toBeGreaterThanOrEqual(20);
    }, 20_000);
  });
});

// ---------------------------------------------------------------------------------------------
// Rate limits: exact under concurrency, and the blocks expire

describe.each(modes)("reservation rate limits (%s)", (mode) => {
  let strict: TestApp;
  let brief: TestApp;
  let baseUrl: string;

  beforeAll(async () => {
    const common = { HOMEBASE_NOTIFIER_LATENCY_MS: "0", HOMEBASE_TRUSTED_PROXIES: "127.0.0.1,::1" };
    // The production limits (50 per minute then a 1 h block; one booking per 5 min)...
    strict = await createTestApp(mode, common);
    // ...and the same rules with short windows, to watch them expire.
    brief = await createTestApp(mode, {
      ...common,
      HOMEBASE_MOVIES_RATE_LIMIT: "2",
      HOMEBASE_MOVIES_RATE_BLOCK_MS: "300",
      HOMEBASE_BOOKING_RATE_WINDOW_MS: "300",
    });
    // Over a socket, so the limit keys on the peer address (and X-Forwarded-For from a trusted proxy).
    strict.app.listen({ hostname: "127.0.0.1", port: 0 });
    baseUrl = `http://127.0.0.1:${strict.app.server!.port}`;
  }, 30_000);
  afterAll(async () => {
    await strict.app.stop(true);
    await Promise.all([strict.close(), brief.close()]);
  });

  async function bookable(t: TestApp) {
    const admin = await signupAndLogin(t, "admin");
    await t.modules.apis.accounts.promoteByEmail(admin.email);
    return bookableScreening(t.modules.apis.reservations, "Limits");
  }

  test("GET /movies: request 51 within a minute blocks the IP — exactly, under 200 concurrent requests", async () => {
    const from = (ip: string) => ({ headers: { "x-forwarded-for": `198.51.100.1, ${ip}` } });
    const responses = await Promise.all(Array.from({ length: 200 }, () => fetch(`${baseUrl}/movies`, from("203.0.113.7"))));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(50);
    expect(statuses.filter((s) => s === 429)).toHaveLength(150);
    const refused = responses.find((r) => r.status === 429)!;
    const problem = await expectProblem(refused, 429, "movies_rate_limited");
    // Blocked for an hour from the 51st request.
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(3_500);
    expect(problem.retryAfterSeconds).toBe(Number(refused.headers.get("retry-after")));
    await Promise.all(responses.map((r) => (r.bodyUsed ? null : r.arrayBuffer())));
    // Other clients are not affected: another forwarded address, and the proxy itself.
    expect((await fetch(`${baseUrl}/movies`, from("203.0.113.8"))).status).toBe(200);
    expect((await fetch(`${baseUrl}/movies`)).status).toBe(200);
    expect((await fetch(`${baseUrl}/movies`, from("203.0.113.7"))).status).toBe(429);
  });

  test("GET /movies: the block expires", async () => {
    const get = () => brief.request("GET", "/movies");
    expect([(await get()).status, (await get()).status]).toEqual([200, 200]);
    await expectProblem(await get(), 429, "movies_rate_limited");
    await waitFor(async () => (await get()).status === 200, { timeoutMs: 10_000, what: "the block to expire" });
  });

  test("POST /reservations: one booking per user per screening — exactly 1 of 200 concurrent; failures don't use it up", async () => {
    const s = await bookable(strict);
    const [user, other] = await Promise.all([signupAndLogin(strict), signupAndLogin(strict)]);
    const seats = seatSets(200, 7);
    const results = await Promise.all(seats.map((set) => strict.request("POST", "/reservations", { token: user.tokens.accessToken, body: { screeningId: s.id, seats: set } })));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((x) => x === 201)).toHaveLength(1);
    const won = (await results.find((r) => r.status === 201)!.json()) as ReservationBody;
    // The others wait out the limit, except those the seat rule refuses first (held + asked > 5).
    const overRule = seats.map((set, i) => (results[i]!.status === 201 ? null : won.seats.length + set.length > 5));
    expect(statuses.filter((x, i) => x === 429 && overRule[i] === false)).toHaveLength(overRule.filter((x) => x === false).length);
    expect(statuses.filter((x, i) => x === 409 && overRule[i] === true)).toHaveLength(overRule.filter((x) => x === true).length);
    const refused = results.find((r) => r.status === 429)!;
    await expectProblem(refused, 429, "booking_rate_limited");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(250);

    // A failed attempt (seats taken) does not use up the other user's slot.
    const book = (seatsWanted: string[]) => strict.request("POST", "/reservations", { token: other.tokens.accessToken, body: { screeningId: s.id, seats: seatsWanted } });
    await expectProblem(await book(won.seats), 409, "seats_taken");
    const free = ["A1", "B1", "C1", "D1", "E1"].find((x) => !won.seats.includes(x))!;
    expect((await book([free])).status).toBe(201);
    const another = allSeats.find((x) => !won.seats.includes(x) && x !== free)!;
    await expectProblem(await book([another]), 429, "booking_rate_limited");
  }, 20_000);

  test("POST /reservations: the limit is asked once per booking under it (under the lock), before queueing only once at it", async () => {
    const s = await bookable(strict);
    const user = await signupAndLogin(strict);
    const limiter = strict.platform.limiter;
    const { peek, peekAll } = limiter;
    const peeked: string[] = [];
    limiter.peek = (key, rule) => {
      peeked.push(key);
      return peek.call(limiter, key, rule);
    };
    limiter.peekAll = (checks) => {
      peeked.push(...checks.map((c) => c.key));
      return peekAll.call(limiter, checks);
    };
    try {
      const book = (seat: string) => strict.request("POST", "/reservations", { token: user.tokens.accessToken, body: { screeningId: s.id, seats: [seat] } });
      expect((await book("A1")).status).toBe(201);
      expect(peeked).toHaveLength(1);
      // The slot is used: the next attempt is refused by one peek before it queues.
      await expectProblem(await book("A2"), 429, "booking_rate_limited");
      expect(peeked).toHaveLength(2);
      expect(new Set(peeked).size).toBe(1);
    } finally {
      Object.assign(limiter, { peek, peekAll });
    }
  });

  test("POST /reservations: the slot comes back when the window ends", async () => {
    const s = await bookable(brief);
    const user = await signupAndLogin(brief);
    const book = (seat: string) => brief.request("POST", "/reservations", { token: user.tokens.accessToken, body: { screeningId: s.id, seats: [seat] } });
    expect((await book("A1")).status).toBe(201);
    await expectProblem(await book("A2"), 429, "booking_rate_limited");
    // Refused attempts book nothing, so the same seat can be tried until the window ends.
    await waitFor(async () => (await book("A2")).status === 201, { timeoutMs: 4_000, intervalMs: 25, what: "the booking window to end" });
  });
});

// ---------------------------------------------------------------------------------------------
// The notifier port, against the service (its own platform, so the notifier can be a test's)

describe.each(modes)("reservation notifications (%s)", (mode: Mode) => {
  let platform: Platform;
  let service: ReservationsApi;
  let dataDir: string;
  let behaviour: (n: Notification) => Promise<void> = async () => {};
  const calls: Notification[] = [];
  const notifier: Notifier = {
    channel: "test",
    async send(n) {
      calls.push(n);
      await behaviour(n);
    },
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "homebase-reservations-"));
    const config = loadConfig({
      HOMEBASE_DATA_DIR: dataDir,
      HOMEBASE_LOG_LEVEL: "silent",
      HOMEBASE_EVENT_RETRY_MS: "10",
      HOMEBASE_BOOKING_RATE_LIMIT: "0",
      HOMEBASE_EVENT_NAMESPACE: `t${Bun.randomUUIDv7().replaceAll("-", "").slice(-12)}`,
      ...(await backendEnv(mode)),
    });
    platform = await createPlatform(config, { logger: createLogger("silent") });
    service = createModules(platform, [accountsModule, reservations({ notifier })]).apis.reservations;
    await platform.events.start();
  }, 30_000);
  afterAll(async () => {
    await platform.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const bookable = () => bookableScreening(service, "Notify");
  const book = async (seats: string[], screeningId: string) => orThrow(await service.booking.book(Bun.randomUUIDv7(), { screeningId, seats }));
  const sentFor = (reservationId: string) => service.confirmations.of(reservationId);

  test("a slow notifier never holds up a booking", async () => {
    const s = await bookable();
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    behaviour = () => gate;
    const first = await book(["A1"], s.id);
    await waitFor(() => calls.some((c) => c.reservationId === first.id), { what: "the notifier to be called" });
    // The notifier is stuck on the first confirmation; bookings still complete.
    const second = await book(["A2"], s.id);
    expect(second.status).toBe("confirmed");
    expect(await sentFor(first.id)).toEqual([]);
    open();
    await waitFor(async () => (await sentFor(first.id)).length === 1 && (await sentFor(second.id)).length === 1, { what: "both confirmations" });
    expect((await sentFor(second.id))[0]).toMatchObject({ channel: "test", reservationId: second.id });
  });

  test("a failing notifier is retried until it succeeds, and the send is recorded once", async () => {
    const s = await bookable();
    let failures = 2;
    behaviour = async () => {
      if (failures-- > 0) throw new Error("push service unavailable");
    };
    const r = await book(["B1", "B2"], s.id);
    await waitFor(async () => (await sentFor(r.id)).length === 1, { what: "the retried confirmation" });
    const attempts = calls.filter((c) => c.reservationId === r.id);
    expect(attempts).toHaveLength(3);
    // One idempotency key for every attempt: the event id.
    expect(new Set(attempts.map((c) => c.id)).size).toBe(1);
    expect(await sentFor(r.id)).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------------------------
// `homebase seed movies`, through the catalog use cases

describe("seed movies", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp("embedded", { HOMEBASE_NOTIFIER_LATENCY_MS: "0" });
  }, 30_000);
  afterAll(() => t.close());

  test("a small catalog: theaters, movies, non-overlapping screenings; a second run changes nothing", async () => {
    const { catalog, nowShowing } = t.modules.apis.reservations;
    const summary = await seedMovies(catalog, parseSeedArgs(["--movies", "30", "--screenings", "60", "--theaters", "3", "--seed", "7"]));
    expect(summary).toStartWith("movies: 3 theaters, 30 movies");
    expect(await catalog.movieCount()).toBe(30);
    expect((await catalog.theaters()).map((h) => h.name).sort()).toEqual(["4DX", "Hall 1", "IMAX"]);
    // Whatever it scheduled passed the overlap rule; the list shows released movies only.
    const items = orThrow(await nowShowing.list({})).items;
    expect(items.length).toBeGreaterThan(0);
    for (const m of items) expect(m.releaseDate <= day(0)).toBe(true);
    expect(await seedMovies(catalog, parseSeedArgs([]))).toContain("already seeded (30 movies)");
    expect(() => parseSeedArgs(["--movies", "0"])).toThrow("usage: homebase seed movies");
  });
});

// ---------------------------------------------------------------------------------------------
// Redis down: the list keeps answering from SQLite; booking refuses rather than run unserialized

describe.if(modes.includes("real"))("reservations while redis is down", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp("real", { HOMEBASE_NOTIFIER_LATENCY_MS: "0" });
  }, 30_000);
  afterAll(() => t.close());

  test("GET /movies still answers (cache and limiter degrade); POST /reservations → 503 until redis is back", async () => {
    const service = t.modules.apis.reservations;
    const s = await bookableScreening(service, "Outage", "MYSTERY");
    const user = await signupAndLogin(t);
    const book = (seat: string) => t.request("POST", "/reservations", { token: user.tokens.accessToken, body: { screeningId: s.id, seats: [seat] } });
    try {
      await stopRedis();
      const listed = await t.request("GET", "/movies?genre=MYSTERY");
      expect(listed.status).toBe(200);
      expect(((await listed.json()) as { items: ListItem[] }).items.map((x) => x.id)).toContain(s.movieId);
      const refused = await book("A1");
      await expectProblem(refused, 503, "booking_unavailable");
      expect(refused.headers.get("retry-after")).toBe("1");
    } finally {
      await startRedis();
    }
    await waitFor(async () => await t.platform.cacheStore.ping(), { timeoutMs: 10_000, intervalMs: 50, what: "redis to reconnect" });
    expect((await book("A1")).status).toBe(201);
    expect((await service.catalog.seatMap(s.id))?.taken).toEqual(["A1"]);
  }, 20_000);
});

// ---------------------------------------------------------------------------------------------
// Two processes on one data dir and one Redis: the lock serializes them

describe.if(modes.includes("real"))("reservations across two processes", () => {
  let a: RunningServer;
  let b: RunningServer;
  let dataDir: string;

  beforeAll(async () => {
    const { redisUrl, natsUrl } = await startRealBackends();
    dataDir = mkdtempSync(join(tmpdir(), "homebase-two-"));
    const env = {
      REDIS_URL: redisUrl,
      NATS_URL: natsUrl,
      HOMEBASE_EVENT_NAMESPACE: `t${Bun.randomUUIDv7().replaceAll("-", "").slice(-12)}`,
      HOMEBASE_BOOKING_RATE_LIMIT: "0",
      HOMEBASE_NOTIFIER_LATENCY_MS: "0",
      HOMEBASE_LOG_LEVEL: "warn",
      HOMEBASE_DRAIN_MS: "0",
    };
    // Both `all`: a `serve`-only process with NATS_URL never turns ready (its readiness pings a
    // relay it does not run). Two relays on one outbox are fine: Nats-Msg-Id dedupes.
    a = await startServer(env, { dataDir, args: ["all"] });
    b = await startServer(env, { dataDir, args: ["all"] });
  }, 30_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function call(base: string, method: string, path: string, body?: unknown, accessToken?: string) {
    return fetch(`${base}${path}`, {
      method,
      headers: { "content-type": "application/json", ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  async function account(base: string) {
    const u = newUser();
    expect((await call(base, "POST", "/auth/signup", u)).status).toBe(201);
    const login = (await (await call(base, "POST", "/auth/login", { email: u.email, password: u.password })).json()) as { accessToken: string };
    const me = (await (await call(base, "GET", "/me", undefined, login.accessToken)).json()) as { id: string };
    return { ...u, id: me.id, accessToken: login.accessToken };
  }

  test("200 concurrent overlapping requests split over both processes never double-book", async () => {
    const admin = await account(a.url);
    const promote = Bun.spawnSync(homebaseCommand(["promote", admin.email]), {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", HOMEBASE_DATA_DIR: dataDir, HOMEBASE_LOG_LEVEL: "silent" },
    });
    expect(promote.exitCode).toBe(0);
    const post = async (path: string, body: unknown) => {
      const res = await call(a.url, "POST", path, body, admin.accessToken);
      if (res.status !== 201) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as { id: string };
    };
    const [m, h] = await Promise.all([
      post("/movies", { title: `Two ${token()}`, grade: "ALL", genre: "DRAMA", releaseDate: day(-1), thumbnailUrl: "https://img.example.com/2.jpg", runningTime: 95 }),
      post("/theaters", { name: `Hall ${token()}` }),
    ]);
    const s = await post("/screenings", { movieId: m.id, theaterId: h.id, startTime: new Date(Date.now() + 60 * minute).toISOString() });

    const users = await Promise.all(Array.from({ length: 10 }, (_, i) => account(i % 2 === 0 ? a.url : b.url)));
    const results = await Promise.all(
      seatSets(200, 3).map(async (seats, i) => {
        const user = users[i % users.length]!;
        // Alternate instances, independently of the user: one person's requests hit both.
        const res = await call(i % 2 === 0 ? a.url : b.url, "POST", "/reservations", { screeningId: s.id, seats }, user.accessToken);
        return { userId: user.id, seats, res };
      }),
    );
    const db = new Database(join(dataDir, "homebase.sqlite"), { readonly: true });
    try {
      const held = db.query<{ seat: string; reservation_id: string }, [string]>("SELECT seat, reservation_id FROM reservation_seats WHERE screening_id = ?").all(s.id);
      await assertNoDoubleBooking(results, held);
    } finally {
      db.close();
    }
  }, 20_000);
});
