// `homebase seed movies`: a realistic catalog for demos and benchmarks, written through the
// catalog use cases (every rule applies): 12 theaters, 500 movies released over the last two years (plus
// some upcoming), and a schedule of ~1,600 screenings from two days ago to about two weeks ahead,
// mostly of recent releases, back to back with a cleaning break. Deterministic for a given
// --seed, relative to the day it runs.
import { genres, grades, type CreateMovieBody, type Genre } from "./model";
import { seededRandom } from "../../platform/random";
import type { Catalog } from "./catalog";
import { orThrow } from "./errors";

export interface SeedOptions {
  movies: number;
  screenings: number;
  theaters: number;
  seed: number;
}

const adjectives = [
  "Silent", "Crimson", "Last", "Hidden", "Broken", "Golden", "Midnight", "Frozen", "Burning", "Lost",
  "Electric", "Quiet", "Wild", "Final", "Distant", "Iron", "Paper", "Velvet", "Hollow", "Bright",
  "Secret", "Northern", "Endless", "Fallen", "Scarlet", "Glass", "Savage", "Little", "Eternal", "Restless",
];
const nouns = [
  "Harbor", "Protocol", "Kingdom", "Garden", "Signal", "Horizon", "Witness", "Orchard", "Empire", "Frontier",
  "Letters", "Machine", "River", "Summer", "Station", "Mirror", "Archive", "Voyage", "Island", "Circus",
  "Promise", "Tide", "Colony", "Lantern", "Winter", "Escape", "Canyon", "Requiem", "Heist", "Parade",
];

const dayMs = 86_400_000;

export function parseSeedArgs(args: string[]): SeedOptions {
  const options: SeedOptions = { movies: 500, screenings: 1_600, theaters: 12, seed: 42 };
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]!;
    const name = flag.replace(/^--/, "") as keyof SeedOptions;
    const value = Number(args[i + 1]);
    if (!flag.startsWith("--") || !(name in options) || !Number.isInteger(value) || value < 1 || value > 100_000) {
      throw new Error(`usage: homebase seed movies [--movies N] [--screenings N] [--theaters N] [--seed N]; bad argument ${flag}`);
    }
    options[name] = value;
    i++;
  }
  return options;
}

export async function seedMovies(catalog: Catalog, options: SeedOptions): Promise<string> {
  const existing = await catalog.movieCount();
  if (existing > 0) return `movies: already seeded (${existing} movies); use a fresh data dir to seed again`;
  const random = seededRandom(options.seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  // Relative to the wall clock of the day it runs (a CLI command, not a use case).
  const now = Date.now();
  const today = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), new Date(now).getUTCDate());

  const theaters = await Promise.all(
    Array.from({ length: options.theaters }, async (_, i) => {
      const name = i === 0 ? "IMAX" : i === 1 ? "4DX" : `Hall ${i - 1}`;
      return (await catalog.theaterByName(name)) ?? orThrow(await catalog.createTheater({ name }));
    }),
  );

  // Titles: adjective + noun, then sequels ("… II", "… III") once the pairs run out.
  const used = new Set<string>();
  const bodies: CreateMovieBody[] = [];
  while (bodies.length < options.movies) {
    const base = `The ${pick(adjectives)} ${pick(nouns)}`;
    let title = base;
    for (let n = 2; used.has(title); n++) title = `${base} ${n === 2 ? "II" : n === 3 ? "III" : n}`;
    used.add(title);
    // 90 % released over the last two years (a quarter of them in the last ~10 weeks), 10 % upcoming.
    const roll = random();
    const offsetDays = roll < 0.1 ? Math.ceil(random() * 60) : roll < 0.32 ? -Math.floor(random() * 70) : -Math.floor(70 + random() * 660);
    const genre: Genre = pick(genres);
    bodies.push({
      title,
      grade: pick(grades),
      genre,
      releaseDate: new Date(today + offsetDays * dayMs).toISOString().slice(0, 10),
      thumbnailUrl: `https://img.example.com/movies/${encodeURIComponent(title.toLowerCase().replaceAll(" ", "-"))}.jpg`,
      runningTime: 80 + Math.floor(random() * 90),
    });
  }
  const movies = await Promise.all(bodies.map(async (b) => orThrow(await catalog.createMovie(b))));

  // Screening schedule: each theater, each day from two days ago, 09:00-24:00 UTC, back to back
  // with a 20-minute break; mostly movies released in the last ten weeks, some older ones.
  const running = movies.filter((m) => {
    const released = Date.parse(`${m.releaseDate}T00:00:00Z`);
    return released <= today && released > today - 70 * dayMs;
  });
  const classics = movies.filter((m) => Date.parse(`${m.releaseDate}T00:00:00Z`) <= today - 70 * dayMs);
  const slots: Array<{ movieId: string; theaterId: string; startTime: string }> = [];
  for (let day = -2; slots.length < options.screenings && running.length + classics.length > 0; day++) {
    for (const theater of theaters) {
      let start = today + day * dayMs + 9 * 3_600_000 + Math.floor(random() * 4) * 15 * 60_000;
      const close = today + (day + 1) * dayMs;
      for (;;) {
        const movie = running.length > 0 && (random() < 0.85 || classics.length === 0) ? pick(running) : pick(classics);
        const end = start + movie.runningTime * 60_000;
        if (end > close || slots.length >= options.screenings) break;
        slots.push({ movieId: movie.id, theaterId: theater.id, startTime: new Date(start).toISOString() });
        // Next show on a quarter hour after a 20-minute break.
        start = Math.ceil((end + 20 * 60_000) / (15 * 60_000)) * 15 * 60_000;
      }
    }
  }
  await Promise.all(slots.map(async (s) => orThrow(await catalog.createScreening(s))));
  const upcoming = slots.filter((s) => Date.parse(s.startTime) > now).length;
  return `movies: ${theaters.length} theaters, ${movies.length} movies (${running.length} in their first ten weeks), ${slots.length} screenings (${upcoming} upcoming)`;
}
