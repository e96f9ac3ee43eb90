// Scenario "reference-movies": the reference's own movie experiment, as REFERENCE.md describes it,
// against its own route: 20 users for 10 s, each pausing 1 s between requests, on ~1,500
// screenings, GET /api/v1/movies. The reference (k6) reported avg 638 ms → 138 ms and p90
// 1.19 s → 215 ms over its ladder (no index … cache); these rows are set beside those figures.
//
// "20 users, a 1 s pause between requests" with oha: 20 connections at a fixed 20 requests/s
// in all (`-c 20 -q 20`; oha's -q is the rate of the whole run, not per connection). k6's users
// each send one request, wait for it, then sleep 1 s: 20 / (1 s + latency) requests/s, which is
// 20/s while latency is small against a second. A fixed rate never slows down when the server
// does (k6's users would), and `--latency-correction` counts any queueing behind the schedule, so
// the comparison is, if anything, harsher on homebase.
import type { RunningServer } from "../../src/testing/process";
import { releaseBinary, runLoad, scrape, startCeiling, startHomebase, type BenchContext, type LoadResult, type Scenario } from "../lib";

const users = 20;
const screenings = 1_500;

function seed(server: RunningServer): string {
  const seeded = Bun.spawnSync([releaseBinary(), "seed", "movies", "--screenings", String(screenings)], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", HOMEBASE_DATA_DIR: server.dataDir, HOMEBASE_LOG_LEVEL: "warn" },
    stdout: "pipe",
    stderr: "pipe",
  });
  if (seeded.exitCode !== 0) throw new Error(`seed movies failed: ${seeded.stderr.toString()}`);
  return seeded.stdout.toString().trim();
}

/** The reference's two figures, from oha's JSON: the mean and p90, in ms. */
function avgAndP90(result: LoadResult): Record<string, string> {
  const raw = result.raw as { summary?: { average?: number }; latencyPercentiles?: Record<string, number | null> } | undefined;
  const ms = (s: number | null | undefined) => (typeof s === "number" ? (s * 1000).toFixed(2) : "–");
  return { "avg ms": ms(raw?.summary?.average), "p90 ms": ms(raw?.latencyPercentiles?.p90) };
}

async function withHits(server: RunningServer | null, run: () => Promise<LoadResult>): Promise<LoadResult> {
  const count = (result: string) => (server ? scrape(server.url, "homebase_cache_requests_total", { cache: "now_showing", result }) : Promise.resolve(0));
  const [h0, m0] = [await count("hit"), await count("miss")];
  const result = await run();
  const [hits, misses] = [(await count("hit")) - h0, (await count("miss")) - m0];
  const ratio = hits + misses > 0 ? `${((100 * hits) / (hits + misses)).toFixed(1)} %` : "–";
  return { ...result, extra: { ...avgAndP90(result), "hit ratio": ratio } };
}

export const referenceMovies: Scenario = {
  name: "reference-movies",
  title: `reference movie experiment: GET /api/v1/movies, ${users} users × 1 req/s, ~${screenings} screenings`,
  async run(ctx: BenchContext) {
    // The reference's own limit (50 a minute per IP) would block this load from one address; the
    // limiter still runs on every request, at a limit the load can't reach.
    const env = { HOMEBASE_MOVIES_RATE_LIMIT: "1000000000" };
    const seconds = ctx.quick ? ctx.seconds : 10;
    const load = (server: RunningServer, variant: string, query = "") =>
      withHits(server, () => runLoad(ctx, variant, { url: `${server.url}/api/v1/movies${query}`, connections: users, rate: users, seconds }));

    ctx.progress("seeding the uncached server");
    const uncached = await startHomebase(ctx, { ...env, HOMEBASE_MOVIES_CACHE_TTL_MS: "0" });
    const summary = seed(uncached);
    const bytes = (await (await fetch(`${uncached.url}/api/v1/movies`)).arrayBuffer()).byteLength;
    process.stderr.write(`\n[bench] ${summary}; GET /api/v1/movies = ${bytes} B\n`);

    const results: LoadResult[] = [];
    const ceiling = await startCeiling(ctx, bytes);
    results.push({
      ...(await withHits(null, () => runLoad(ctx, `ceiling: Bun.serve, ${bytes} B JSON`, { url: ceiling, connections: users, rate: users, seconds }))),
      isCeiling: true,
    });
    results.push(await load(uncached, "GET /api/v1/movies — cache off (indexes)"));
    results.push(await load(uncached, "GET /api/v1/movies?title=night — indexes (never cached)", "?title=night"));

    ctx.progress("seeding the cached server");
    const cached = await startHomebase(ctx, env);
    seed(cached);
    results.push(await load(cached, "GET /api/v1/movies — cached"));
    results.push(await load(cached, "GET /api/v1/movies?genre=DRAMA — cached", "?genre=DRAMA"));
    return results;
  },
};
