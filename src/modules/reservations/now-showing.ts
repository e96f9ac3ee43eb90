// The now-showing list (GET /movies): movies released on or before today (UTC) with screenings
// from now on, cached per genre, behind a per-IP rate limit.
import type { TSchema } from "elysia";
import type { CacheAside } from "../../platform/cache/cache-aside";
import { ResponseCache, type StoredBody } from "../../platform/cache/response";
import type { Clock } from "../../platform/clock";
import type { Logger } from "../../platform/logger";
import type { RateLimiter, RateLimitResult, RateLimitRule } from "../../platform/ratelimit/port";
import { iso, nextUtcMidnight, utcDay } from "./calendar";
import { textKey } from "./catalog";
import { fail, ok, reservationErrors as errors, type Outcome } from "./errors";
import { genres, type Genre, NowShowing, type NowShowingMovie, type NowShowingQuery } from "./model";
import type { NowShowingEntry, NowShowingFilter, ReservationsStore } from "./store";

export interface NowShowingSettings {
  /** TTL of cached lists; 0 = no cache. Always cut at the next UTC midnight. */
  cacheTtlMs: number;
  /** GET /movies per client IP; null = no limit. */
  rateRule: RateLimitRule | null;
}

/** The cache name in homebase_cache_requests_total. */
export const nowShowingCacheName = "now_showing";
/** Bumped after every catalog change: every cached list variant moves to a fresh key at once. */
const catalogNamespace = "reservations:catalog";

/** Cache TTL for a list computed at `now`: never past the next UTC midnight, when "released by today" changes. */
export function listTtlMs(now: number, ttlMs: number): number {
  return Math.max(1, Math.min(ttlMs, nextUtcMidnight(now) - now));
}

/** How a list is encoded into a response body: GET /movies' { items }, or the reference's shape (reference-api.ts). */
export interface ListFormat {
  /** Part of the cache key: each format has its own entries, in the same generation. */
  name: string;
  /** The route's response schema: a body is checked against it when it is made (once per cached list). */
  schema: TSchema;
  /** The response value for a list. */
  shape(items: NowShowingMovie[]): unknown;
  /** shape() as JSON text. */
  encode(items: NowShowingMovie[]): string;
}

export function listFormat(name: string, schema: TSchema, shape: (items: NowShowingMovie[]) => unknown): ListFormat {
  return { name, schema, shape, encode: (items) => JSON.stringify(shape(items)) };
}

/** GET /movies: { items: [...] }. */
export const itemsFormat: ListFormat = listFormat("items", NowShowing, (items) => ({ items }) satisfies NowShowing);

type UnknownGenre = typeof errors.unknownGenre;
type ListBody = Outcome<StoredBody, UnknownGenre>;
type Admission = Outcome<void, typeof errors.moviesRateLimited>;

const admitted: Admission = ok(undefined);
const admission = (result: RateLimitResult): Admission =>
  result.allowed ? admitted : fail(errors.moviesRateLimited, "too many movie list requests from this address; try again later", { retryAfterMs: result.retryAfterMs });

export class NowShowingList {
  private readonly responses: ResponseCache;

  constructor(
    private readonly store: ReservationsStore,
    private readonly cache: CacheAside,
    private readonly limiter: RateLimiter,
    private readonly clock: Clock,
    private readonly settings: NowShowingSettings,
    private readonly logger: Logger,
  ) {
    this.responses = new ResponseCache(cache);
  }

  /** Counts a request from a client against the per-IP limit; with no promise when the limiter is in-process. */
  admit(ip: string | null): Admission | Promise<Admission> {
    const rule = this.settings.rateRule;
    if (!rule) return admitted;
    const key = `movies:ip:${ip ?? "unknown"}`;
    if (this.limiter.hitNow) return admission(this.limiter.hitNow(key, rule));
    return this.limiter.hit(key, rule).then(admission, (err: unknown) => {
      // A read must not fail because the limiter's store is down: let it through, say so.
      this.logger.warn("movies rate limiter unavailable; request let through", { err });
      return admitted;
    });
  }

  /**
   * The list as the response body, because cached lists are kept as their stored bytes: a hit
   * costs no parse, no validation and no serialization (the body was checked against the
   * format's schema when it was stored). Newest release first, each movie with its upcoming
   * screenings by start time.
   *
   * Lists without a title filter are cached per genre. An entry is good until the first of its
   * screenings starts (or the UTC day ends, when "released by today" changes): a reader that finds
   * it past that point drops it and loads afresh, so the list is exact at any moment; catalog
   * changes move every entry to a new generation.
   */
  body(query: NowShowingQuery, format: ListFormat = itemsFormat): ListBody | Promise<ListBody> {
    const once = (items: NowShowingMovie[]) => ok(this.responses.once(format.schema, format.shape(items), nowShowingCacheName));
    const genre = query.genre === undefined ? undefined : knownGenre(query.genre);
    if (genre && !genre.ok) return genre;
    const now = this.clock.now();
    const title = query.title?.trim() ?? "";
    const filter: NowShowingFilter = { today: utcDay(now), now, ...(genre ? { genre: genre.value } : {}) };
    if (title !== "") return this.load({ ...filter, titleKey: textKey(title) }).then(once);
    const ttl = this.settings.cacheTtlMs;
    if (ttl === 0) return this.load(filter).then(once);
    const suffix = `:now-showing:${format.name}:${filter.today}:${genre?.value ?? "*"}`;
    const load = async (at: number) => {
      const items = await this.load({ ...filter, now: at });
      return { value: format.shape(items), validUntil: Math.min(nextUtcMidnight(at), firstStart(items)) };
    };
    const read = (at: number) => this.responses.versioned(nowShowingCacheName, catalogNamespace, suffix, listTtlMs(at, ttl), format.schema, () => load(at));
    const first = read(now);
    // A list this process holds, still exact: answered with no await on the way (the hot path).
    if (!(first instanceof Promise) && this.clock.now() < (first.validUntil ?? Number.POSITIVE_INFINITY)) return ok(first);
    return this.exactList(first, read, suffix, (at) => this.load({ ...filter, now: at }).then(once));
  }

  /** body() past its hot path: the cached list once read, replaced when a screening in it has started. */
  private async exactList(
    first: StoredBody | Promise<StoredBody>,
    read: (at: number) => StoredBody | Promise<StoredBody>,
    suffix: string,
    uncached: (at: number) => Promise<ListBody>,
  ): Promise<ListBody> {
    let cached = await first;
    if (this.clock.now() >= cached.validUntil) {
      // A screening in it has started since it was cached: replace it.
      await this.responses.invalidateVersioned(catalogNamespace, suffix);
      cached = await read(this.clock.now());
    }
    const at = this.clock.now();
    // Only when a reload raced another start (or the clocks of two instances disagree): load it
    // as of now, uncached.
    if (at >= cached.validUntil) return uncached(at);
    return ok(cached);
  }

  /** The decoded list (tests and internal callers). */
  async list(query: NowShowingQuery): Promise<Outcome<NowShowing, UnknownGenre>> {
    const body = await this.body(query);
    return body.ok ? ok(JSON.parse(await body.value.body.text()) as NowShowing) : body;
  }

  /** How the store runs each now-showing shape (the index test reads it). */
  plan(filter: { genre?: Genre; title?: string }): Promise<string[]> {
    const now = this.clock.now();
    return this.store.nowShowingPlan({
      today: utcDay(now),
      now,
      ...(filter.genre ? { genre: filter.genre } : {}),
      ...(filter.title ? { titleKey: textKey(filter.title) } : {}),
    });
  }

  /** After a committed catalog change: every cached list is dropped at once. */
  async catalogChanged(): Promise<void> {
    await this.cache.bump(catalogNamespace);
  }

  private async load(filter: NowShowingFilter): Promise<NowShowingMovie[]> {
    return groupByMovie(await this.store.nowShowing(filter));
  }
}

function knownGenre(raw: string): Outcome<Genre, UnknownGenre> {
  if ((genres as readonly string[]).includes(raw)) return ok(raw as Genre);
  return fail(errors.unknownGenre, `unknown genre "${raw.slice(0, 32)}"`, { field: { field: "/genre", message: `must be one of ${genres.join(", ")}` } });
}

/** Entries come sorted by movie, then start: one item per movie with its screenings in order. */
function groupByMovie(entries: NowShowingEntry[]): NowShowingMovie[] {
  const items: NowShowingMovie[] = [];
  let current: NowShowingMovie | undefined;
  for (const e of entries) {
    if (current?.id !== e.id) {
      current = {
        id: e.id,
        title: e.title,
        grade: e.grade,
        genre: e.genre,
        releaseDate: e.releaseDate,
        thumbnailUrl: e.thumbnailUrl,
        runningTime: e.runningTime,
        screenings: [],
      };
      items.push(current);
    }
    current.screenings.push({ id: e.screeningId, theaterName: e.theaterName, startTime: iso(e.startTime), endTime: iso(e.endTime) });
  }
  return items;
}

/** The earliest start among the lists' screenings (each movie's are sorted); Infinity when none. */
function firstStart(items: NowShowingMovie[]): number {
  let first = Infinity;
  for (const movie of items) {
    const start = movie.screenings[0] ? Date.parse(movie.screenings[0].startTime) : Infinity;
    if (start < first) first = start;
  }
  return first;
}
