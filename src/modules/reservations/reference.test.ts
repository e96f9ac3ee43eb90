// What users of the reference movie service still missed (issue 16), through the HTTP API in both
// modes: GET /api/v1/movies in the reference's exact shape and value formats (a fixture written
// from REFERENCE.md's field list, README.md's mapping), with /movies' rules, cache and rate limit;
// booking refusals in the order a user needs them; the closed seat map of a past screening; 405
// with Allow on the whole app's routes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { getSchemaValidator } from "elysia";
import { ManualClock } from "../../platform/clock";
import { createTestApp, signupAndLogin, type TestApp } from "../../testing/app";
import { modes } from "../../testing/modes";
import { orThrow } from "./errors";
import type { ReservationsApi } from "./index";
import { ReferenceMovies } from "./model";
import { nowShowingCacheName } from "./now-showing";
import { localDateTime, referenceFormat } from "./reference-api";
import fixture from "./reference-movies.fixture.json" with { type: "json" };

type User = Awaited<ReturnType<typeof signupAndLogin>>;
interface ProblemBody {
  status: number;
  code: string;
  errors?: Array<{ field: string; message: string }>;
  [extension: string]: unknown;
}

const minute = 60_000;
const referenceSchema = getSchemaValidator(ReferenceMovies);

async function expectProblem(res: Response, status: number, code: string): Promise<ProblemBody> {
  expect({ status: res.status, type: res.headers.get("content-type") }).toEqual({
    status,
    type: expect.stringContaining("application/problem+json"),
  });
  const body = (await res.json()) as ProblemBody;
  expect(body.code).toBe(code);
  return body;
}

/**
 * The fixture's catalog: four movies (one per grade) and their screenings, plus what the list
 * leaves out — a movie released after today, a screening that already started. Fixed dates: the
 * screenings are in 2031, the releases in 2026 (before any day this runs).
 */
async function seedFixtureCatalog(api: ReservationsApi) {
  const { catalog } = api;
  const theater = async (name: string) => orThrow(await catalog.createTheater({ name }));
  const [imax, hall1, hall2] = await Promise.all([theater("IMAX"), theater("Hall 1"), theater("Hall 2")]);
  const movie = async (
    title: string,
    grade: "ALL" | "12" | "15" | "18",
    genre: "THRILLER" | "COMEDY" | "ACTION" | "HORROR",
    releaseDate: string,
    runningTime: number,
  ) =>
    orThrow(
      await catalog.createMovie({
        title,
        grade,
        genre,
        releaseDate,
        thumbnailUrl: `https://img.example.com/movies/${encodeURIComponent(title)}.jpg`,
        runningTime,
      }),
    );
  const longNight = await movie("The Long Night", "15", "THRILLER", "2026-11-20", 124);
  const paradies = await movie("Ärger im Paradies", "ALL", "COMEDY", "2026-10-02", 95);
  const harbor = await movie("Iron Harbor", "12", "ACTION", "2026-03-14", 131);
  const hollow = await movie("Hollow Tide", "18", "HORROR", "2026-01-09", 88);
  const upcoming = await movie("Not Yet", "12", "ACTION", "2035-01-01", 100);
  const at = async (movieId: string, theaterId: string, startTime: string) =>
    orThrow(await catalog.createScreening({ movieId, theaterId, startTime }));
  // Created out of order: the list sorts screenings by start time.
  await at(longNight.id, hall1.id, "2031-05-01T21:30:00.000Z");
  await at(longNight.id, imax.id, "2031-05-01T18:00:00.000Z");
  await at(longNight.id, hall2.id, "2026-01-20T10:00:00.000Z"); // started long ago: not listed
  await at(paradies.id, hall2.id, "2031-05-02T09:15:00.000Z");
  await at(harbor.id, imax.id, "2031-05-01T12:00:00.000Z");
  await at(hollow.id, hall1.id, "2031-05-01T23:45:00.000Z");
  await at(upcoming.id, hall2.id, "2035-01-02T10:00:00.000Z"); // released after today: not listed
}

describe("the reference's value formats", () => {
  test("local date-times: yyyy-MM-ddTHH:mm:ss without offset, the wall clock of the configured zone", () => {
    const instant = Date.parse("2031-05-01T18:00:00.000Z");
    expect(localDateTime("UTC")(instant)).toBe("2031-05-01T18:00:00");
    // Seoul is UTC+9 all year; across midnight the date moves too.
    expect(localDateTime("Asia/Seoul")(instant)).toBe("2031-05-02T03:00:00");
    // Daylight saving: New York is UTC-4 in May, UTC-5 in January.
    expect(localDateTime("America/New_York")(instant)).toBe("2031-05-01T14:00:00");
    expect(localDateTime("America/New_York")(Date.parse("2031-01-15T00:30:05.999Z"))).toBe("2031-01-14T19:30:05");
    const body = JSON.parse(
      referenceFormat("Asia/Seoul").encode([
        {
          id: "x",
          title: "T",
          grade: "18",
          genre: "WAR",
          releaseDate: "2026-01-01",
          thumbnailUrl: "https://img.example.com/t.jpg",
          runningTime: 90,
          screenings: [{ id: "s", theaterName: "Hall 1", startTime: "2031-05-01T18:00:00.000Z", endTime: "2031-05-01T19:30:00.000Z" }],
        },
      ]),
    );
    expect(body).toEqual({
      responses: [
        {
          title: "T",
          grade: "청소년관람불가",
          genre: "WAR",
          releaseDate: "2026-01-01",
          thumbnailImage: "https://img.example.com/t.jpg",
          runningTime: 90,
          screeningTimes: [{ theaterName: "Hall 1", startTime: "2031-05-02T03:00:00", endTime: "2031-05-02T04:30:00" }],
        },
      ],
    });
  });
});

describe.each(modes)("reference fidelity (%s)", (mode) => {
  let t: TestApp;
  let limited: TestApp;
  const clock = new ManualClock(Date.now());

  beforeAll(async () => {
    [t, limited] = await Promise.all([
      // The reference's booking limit (one per user per screening per 5 min) stays on here.
      createTestApp(mode, { HOMEBASE_MOVIES_RATE_LIMIT: "0", HOMEBASE_NOTIFIER_LATENCY_MS: "0" }, undefined, undefined, { clock }),
      createTestApp(mode, { HOMEBASE_MOVIES_RATE_LIMIT: "3", HOMEBASE_NOTIFIER_LATENCY_MS: "0" }),
    ]);
    await seedFixtureCatalog(t.modules.apis.reservations);
  }, 30_000);
  afterAll(() => Promise.all([t.close(), limited.close()]));

  async function cacheCount(result: "hit" | "miss"): Promise<number> {
    const { values } = await t.platform.metrics.cacheRequests.get();
    return values.find((v) => v.labels.cache === nowShowingCacheName && v.labels.result === result)?.value ?? 0;
  }

  describe("GET /api/v1/movies", () => {
    test("answers exactly the reference's body: shape, key order and value formats", async () => {
      const res = await t.request("GET", "/api/v1/movies");
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toStartWith("application/json");
      const text = await res.text();
      // Byte for byte: the fixture's keys in the fixture's order, nothing more.
      expect(text).toBe(JSON.stringify(fixture));
      expect(referenceSchema.Check(JSON.parse(text))).toBe(true);
    });

    test("the same rules as /movies: the same movies and screenings in the same order; title and genre search", async () => {
      const [v1, items] = await Promise.all([
        t.request("GET", "/api/v1/movies").then((r) => r.json() as Promise<typeof fixture>),
        t
          .request("GET", "/movies")
          .then(
            (r) => r.json() as Promise<{ items: Array<{ title: string; screenings: Array<{ theaterName: string; startTime: string }> }> }>,
          ),
      ]);
      expect(v1.responses.map((m) => m.title)).toEqual(items.items.map((m) => m.title));
      expect(v1.responses.map((m) => m.screeningTimes.map((s) => s.theaterName))).toEqual(
        items.items.map((m) => m.screenings.map((s) => s.theaterName)),
      );
      expect(v1.responses.flatMap((m) => m.screeningTimes.map((s) => `${s.startTime}.000Z`))).toEqual(
        items.items.flatMap((m) => m.screenings.map((s) => s.startTime)),
      );

      const get = async (query: string) => ((await (await t.request("GET", `/api/v1/movies${query}`)).json()) as typeof fixture).responses;
      expect(await get("?title=LONG")).toEqual([fixture.responses[0]!]);
      expect(await get(`?title=${encodeURIComponent("ärger")}`)).toEqual([fixture.responses[1]!]);
      expect(await get("?genre=HORROR")).toEqual([fixture.responses[3]!]);
      expect(await get("?genre=ACTION&title=iron")).toEqual([fixture.responses[2]!]);
      expect(await get("?title=not%20yet")).toEqual([]);
      expect(await get("?genre=WAR")).toEqual([]);
      const unknown = await expectProblem(await t.request("GET", "/api/v1/movies?genre=SOAP"), 422, "unknown_genre");
      expect(unknown.errors?.[0]).toMatchObject({ field: "/genre" });
      await expectProblem(await t.request("GET", `/api/v1/movies?title=${"x".repeat(256)}`), 422, "validation_failed");
    });

    test("the same cache: entries per genre, invalidated by the catalog changes that invalidate /movies", async () => {
      const [hits0, misses0] = [await cacheCount("hit"), await cacheCount("miss")];
      const delta = async () => [(await cacheCount("hit")) - hits0, (await cacheCount("miss")) - misses0];
      const thrillers = async () => ((await (await t.request("GET", "/api/v1/movies?genre=THRILLER")).json()) as typeof fixture).responses;
      expect((await thrillers())[0]!.screeningTimes).toHaveLength(2);
      await thrillers();
      expect(await delta()).toEqual([1, 1]);
      // Its own entry beside /movies' (another body), in the same generation.
      await t.request("GET", "/movies?genre=THRILLER");
      expect(await delta()).toEqual([1, 2]);
      // A new screening drops every cached variant, this one included.
      const catalog = t.modules.apis.reservations.catalog;
      const movie = orThrow(
        await catalog.createMovie({
          title: "Fresh Thriller",
          grade: "15",
          genre: "THRILLER",
          releaseDate: "2026-06-01",
          thumbnailUrl: "https://img.example.com/f.jpg",
          runningTime: 100,
        }),
      );
      const theater = orThrow(await catalog.createTheater({ name: "Hall 9" }));
      orThrow(await catalog.createScreening({ movieId: movie.id, theaterId: theater.id, startTime: "2031-06-01T10:00:00.000Z" }));
      const fresh = await thrillers();
      expect(fresh.map((m) => m.title)).toEqual(["The Long Night", "Fresh Thriller"]);
      expect(fresh[1]!.screeningTimes).toEqual([
        { theaterName: "Hall 9", startTime: "2031-06-01T10:00:00", endTime: "2031-06-01T11:40:00" },
      ]);
      expect(await delta()).toEqual([1, 3]);
    });

    test("the same rate limit: one budget per client with /movies, then 429 movies_rate_limited", async () => {
      expect((await limited.request("GET", "/movies")).status).toBe(200);
      expect((await limited.request("GET", "/api/v1/movies")).status).toBe(200);
      expect((await limited.request("GET", "/movies?genre=WAR")).status).toBe(200);
      const refused = await limited.request("GET", "/api/v1/movies");
      await expectProblem(refused, 429, "movies_rate_limited");
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(3_500);
      await expectProblem(await limited.request("GET", "/movies"), 429, "movies_rate_limited");
    });
  });

  describe("booking errors in the order a user needs them", () => {
    async function screeningIn(ms: number) {
      const catalog = t.modules.apis.reservations.catalog;
      const suffix = Bun.randomUUIDv7().slice(-12);
      const movie = orThrow(
        await catalog.createMovie({
          title: `Order ${suffix}`,
          grade: "ALL",
          genre: "FAMILY",
          releaseDate: "2026-02-01",
          thumbnailUrl: "https://img.example.com/o.jpg",
          runningTime: 90,
        }),
      );
      const theater = orThrow(await catalog.createTheater({ name: `Hall ${suffix}` }));
      return orThrow(
        await catalog.createScreening({ movieId: movie.id, theaterId: theater.id, startTime: new Date(clock.now() + ms).toISOString() }),
      );
    }
    const book = (u: User, screeningId: string, seats: string[]) =>
      t.request("POST", "/reservations", { token: u.tokens.accessToken, body: { screeningId, seats } });

    test("more than 5 seats is told by the seat rule before the 5-minute limit; within the rule, the limit", async () => {
      const s = await screeningIn(60 * minute);
      const user = await signupAndLogin(t);
      expect((await book(user, s.id, ["A1", "A2", "A3"])).status).toBe(201);
      // 3 held + 3 asked: the seat rule, not "come back in 5 minutes".
      const over = await expectProblem(await book(user, s.id, ["B1", "B2", "B3"]), 409, "seat_limit_reached");
      expect(over).toMatchObject({ held: 3, requested: 3, limit: 5 });
      expect(over.detail).toContain("at most 5");
      // Within the rule, the limit answers.
      await expectProblem(await book(user, s.id, ["B1", "B2"]), 429, "booking_rate_limited");
      // More than 5 in one request is refused by the schema, before any limit, naming the rule.
      const six = await expectProblem(await book(user, s.id, ["C1", "C2", "C3", "C4", "C5", "C5"]), 422, "validation_failed");
      expect(six.errors).toEqual([{ field: "/seats", message: "must be an array of at most 5 items" }]);
      // The seats someone holds come after the limit: the user can't book before it ends anyway.
      await expectProblem(await book(user, s.id, ["A3"]), 429, "booking_rate_limited");
    });

    test("in one batch too: two requests at once, the second over the rule → seat_limit_reached, not the limit", async () => {
      const s = await screeningIn(60 * minute);
      const user = await signupAndLogin(t);
      const [a, b] = await Promise.all([book(user, s.id, ["D1", "D2", "D3"]), book(user, s.id, ["E1", "E2", "E3"])]);
      const statuses = [a.status, b.status].sort();
      expect(statuses).toEqual([201, 409]);
      await expectProblem(a.status === 409 ? a : b, 409, "seat_limit_reached");
    });

    test("the seat map of a past screening shows its booked seats and says it is closed", async () => {
      const s = await screeningIn(500);
      const [a, b] = await Promise.all([signupAndLogin(t), signupAndLogin(t)]);
      expect((await book(a, s.id, ["C2", "C3"])).status).toBe(201);
      expect((await book(b, s.id, ["E5"])).status).toBe(201);
      const map = async () =>
        (await (await t.request("GET", `/screenings/${s.id}/seats`)).json()) as Record<string, unknown> & { available: string[] };
      expect(await map()).toMatchObject({ closed: false, startTime: s.startTime, taken: ["C2", "C3", "E5"] });
      expect((await map()).available).toHaveLength(22);
      clock.advance(1_000);
      expect(clock.now()).toBeGreaterThan(Date.parse(s.startTime));
      expect(await map()).toEqual({
        screeningId: s.id,
        startTime: s.startTime,
        closed: true,
        rows: ["A", "B", "C", "D", "E"],
        columns: 5,
        taken: ["C2", "C3", "E5"],
        available: [],
      });
      const user = await signupAndLogin(t);
      await expectProblem(await book(user, s.id, ["A1"]), 422, "screening_started");
    });
  });

  describe("405 with Allow", () => {
    test("an unsupported method on a known path → 405 problem+json listing the path's methods; unknown paths stay 404", async () => {
      const cases: Array<[string, string, string]> = [
        ["PUT", "/api/v1/movies", "GET, HEAD, OPTIONS"],
        ["DELETE", "/movies", "GET, HEAD, POST, OPTIONS"],
        ["PATCH", `/reservations/${Bun.randomUUIDv7()}`, "GET, HEAD, DELETE, OPTIONS"],
        ["POST", "/screenings/00000000-0000-7000-8000-000000000000/seats", "GET, HEAD, OPTIONS"],
      ];
      for (const [method, path, allow] of cases) {
        const res = await t.request(method, path);
        const problem = await expectProblem(res, 405, "method_not_allowed");
        expect([path, res.headers.get("allow")]).toEqual([path, allow]);
        expect(problem.allowed).toEqual(allow.split(", "));
      }
      await expectProblem(await t.request("PUT", "/api/v1/nope"), 404, "route_not_found");
      await expectProblem(await t.request("GET", "/api/v2/movies"), 404, "route_not_found");
    });
  });
});
