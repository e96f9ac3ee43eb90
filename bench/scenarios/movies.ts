// Scenario "movies": GET /movies (now showing) and a title search on the seeded catalog
// (`homebase seed movies`: 500 movies, 1,600 screenings, 12 theaters), three ways — the
// reference measured the same ladder (no index → indexes → cache):
//   1. no index: the search indexes dropped (bench only: this scenario drops them in the data
//      file of a running server; SQLite re-plans its prepared statements), cache off;
//   2. indexes: recreated from the very statements that were dropped, cache off;
//   3. cached: another server with the list cache on (a title search is never cached), also
//      with Accept-Encoding br and gzip, each beside a Bun.serve of the compressed size.
// The per-IP limit stays on, at a limit the load can't reach, so its cost is in every row.
import { Database } from "bun:sqlite";
import { join } from "node:path";
import type { RunningServer } from "../../src/testing/process";
import { releaseBinary, runLoad, scrape, startCeiling, startHomebase, type BenchContext, type LoadResult, type Scenario } from "../lib";

/** The indexes the now-showing query uses (see src/migrations/0005_reservations.sql). */
const searchIndexes = ["movies_release", "movies_genre_release", "screenings_movie_start"];
const title = "midnight";

export function seedMovies(server: RunningServer): string {
  const seeded = Bun.spawnSync([releaseBinary(), "seed", "movies"], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", HOMEBASE_DATA_DIR: server.dataDir, HOMEBASE_LOG_LEVEL: "warn" },
    stdout: "pipe",
    stderr: "pipe",
  });
  if (seeded.exitCode !== 0) throw new Error(`seed movies failed: ${seeded.stderr.toString()}`);
  return seeded.stdout.toString().trim();
}

/** Drops the search indexes in the server's database file; returns a function that recreates them. */
function dropSearchIndexes(dataDir: string): () => void {
  const db = new Database(join(dataDir, "homebase.sqlite"));
  db.exec("PRAGMA busy_timeout = 5000");
  const placeholders = searchIndexes.map(() => "?").join(", ");
  const saved = db
    .query<{ name: string; sql: string }, string[]>(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name IN (${placeholders})`)
    .all(...searchIndexes);
  if (saved.length !== searchIndexes.length) throw new Error(`expected indexes ${searchIndexes.join(", ")}, found ${saved.map((s) => s.name).join(", ")}`);
  for (const { name } of saved) db.exec(`DROP INDEX ${name}`);
  db.close();
  return () => {
    const again = new Database(join(dataDir, "homebase.sqlite"));
    again.exec("PRAGMA busy_timeout = 5000");
    for (const { sql } of saved) again.exec(sql);
    again.close();
  };
}

async function hitRatio(server: RunningServer, run: () => Promise<LoadResult>): Promise<LoadResult> {
  const count = (result: string) => scrape(server.url, "homebase_cache_requests_total", { cache: "now_showing", result });
  const [h0, m0] = [await count("hit"), await count("miss")];
  const result = await run();
  const [hits, misses] = [(await count("hit")) - h0, (await count("miss")) - m0];
  return { ...result, extra: { ...result.extra, "hit ratio": hits + misses > 0 ? `${((100 * hits) / (hits + misses)).toFixed(1)} %` : "–" } };
}

export const movies: Scenario = {
  name: "movies",
  title: "movies: GET /movies and a title search — no index vs indexes vs cached",
  async run(ctx: BenchContext) {
    const env = { HOMEBASE_MOVIES_RATE_LIMIT: "1000000000" };
    const connections = ctx.quick ? 16 : 32;
    const load = (server: RunningServer, variant: string, query = "") =>
      runLoad(ctx, variant, { url: `${server.url}/movies${query}`, connections, seconds: ctx.seconds });

    ctx.progress("seeding the uncached server");
    const uncached = await startHomebase(ctx, { ...env, HOMEBASE_MOVIES_CACHE_TTL_MS: "0" });
    const summary = seedMovies(uncached);
    const listBytes = (await (await fetch(`${uncached.url}/movies`)).arrayBuffer()).byteLength;
    const searchBytes = (await (await fetch(`${uncached.url}/movies?title=${title}`)).arrayBuffer()).byteLength;
    process.stderr.write(`\n[bench] ${summary}; GET /movies = ${listBytes} B, ?title=${title} = ${searchBytes} B\n`);

    const results: LoadResult[] = [];
    const ceiling = await startCeiling(ctx, listBytes);
    results.push({ ...(await runLoad(ctx, `ceiling: Bun.serve, ${listBytes} B JSON`, { url: ceiling, connections, seconds: ctx.seconds })), isCeiling: true });

    const recreate = dropSearchIndexes(uncached.dataDir);
    results.push(await load(uncached, "GET /movies — no index"));
    results.push(await load(uncached, `GET /movies?title=${title} — no index`, `?title=${title}`));
    recreate();
    results.push(await load(uncached, "GET /movies — indexes"));
    results.push(await load(uncached, `GET /movies?title=${title} — indexes`, `?title=${title}`));

    ctx.progress("seeding the cached server");
    const cached = await startHomebase(ctx, env);
    seedMovies(cached);
    results.push(await hitRatio(cached, () => load(cached, "GET /movies — cached")));
    // The same cached list compressed (each variant compressed once, then served as stored
    // bytes), each beside a Bun.serve answering a body of its wire size.
    for (const coding of ["br", "gzip"] as const) {
      const headers = { "accept-encoding": coding };
      const wire = (await (await fetch(`${cached.url}/movies`, { headers, decompress: false } as RequestInit)).arrayBuffer()).byteLength;
      const same = await runLoad(ctx, `ceiling: Bun.serve, ${wire} B JSON`, { url: await startCeiling(ctx, wire), connections, seconds: ctx.seconds });
      const r = await hitRatio(cached, () => runLoad(ctx, `GET /movies — cached, ${coding}`, { url: `${cached.url}/movies`, headers, connections, seconds: ctx.seconds }));
      results.push(same, { ...r, extra: { ...r.extra, "body B": wire, "% of same-size": same.rps > 0 ? `${((100 * r.rps) / same.rps).toFixed(1)} %` : "–" } });
    }
    results.push(await hitRatio(cached, () => load(cached, "GET /movies?genre=DRAMA — cached", "?genre=DRAMA")));
    return results;
  },
};
