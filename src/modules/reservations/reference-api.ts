// GET /api/v1/movies: the now-showing list in the reference's shape and value formats, so the
// reference's clients work unchanged. Same list as GET /movies (the rules, the search, the cache
// and its invalidation, the per-IP limit); only the encoding differs. The mapping, field by field,
// is in this module's README.md.
// model.ts imports referenceGrades from here: ReferenceMovies is only read inside referenceFormat().
import { type Grade, type NowShowingMovie, ReferenceMovies } from "./model";
import type { ListFormat } from "./now-showing";

/** The reference's age ratings: the Korea Media Rating Board's class names (a Record: a new grade without one does not compile). */
export const referenceGrades: Record<Grade, string> = {
  ALL: "전체관람가",
  "12": "12세이상관람가",
  "15": "15세이상관람가",
  "18": "청소년관람불가",
};

/** `yyyy-MM-dd'T'HH:mm:ss` — a Java LocalDateTime as Jackson writes it: no offset, no fraction. */
export type LocalDateTime = (ms: number) => string;

/** True when `zone` is an IANA time zone this runtime knows (e.g. UTC, Asia/Seoul). */
export function knownTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The wall-clock date-time of an instant in `zone`, as the reference writes its LocalDateTime values. */
export function localDateTime(zone: string): LocalDateTime {
  if (zone === "UTC" || zone === "Etc/UTC") return (ms) => new Date(ms).toISOString().slice(0, 19);
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: zone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
  return (ms) => {
    const p: Record<string, string> = {};
    for (const { type, value } of parts.formatToParts(ms)) p[type] = value;
    return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}`;
  };
}

/** The reference's body: { responses: [{ title, grade, genre, releaseDate, thumbnailImage, runningTime, screeningTimes }] }. */
export function referenceFormat(zone: string): ListFormat {
  const local = localDateTime(zone);
  const shape = (items: NowShowingMovie[]) => ({
    responses: items.map((m) => ({
      title: m.title,
      grade: referenceGrades[m.grade],
      genre: m.genre,
      releaseDate: m.releaseDate,
      thumbnailImage: m.thumbnailUrl,
      runningTime: m.runningTime,
      screeningTimes: m.screenings.map((s) => ({
        theaterName: s.theaterName,
        startTime: local(Date.parse(s.startTime)),
        endTime: local(Date.parse(s.endTime)),
      })),
    })),
  });
  // The zone is part of the encoding: another zone is another cache entry.
  return { name: `v1:${zone}`, schema: ReferenceMovies, shape, encode: (items) => JSON.stringify(shape(items)) };
}
