// Scenario 1, challenge logs: GET /challenges/logs/:userId?count=5|10|20 over many users, with
// the logs cache off, in memory, in Redis, and two-level (an in-process level in front of Redis,
// invalidated over NATS: its hit path against Redis-only) — at a fixed 3,000 req/s (the reference's peak
// arrival rate; oha corrects latency for coordinated omission) and at the maximum rate. The hit
// ratio comes from /metrics. Seeded once through the API; every variant reuses that data dir.
// Each cache variant runs once more at max with Accept-Encoding: gzip, deflate, br.
// Reference (NestJS + Redis, Artillery ramp to 3,000 arrivals/s): p95 6,440 ms cache off →
// 1,979 ms cache on, hit ratio 40 %.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { newUser } from "../../src/testing/app";
import { startRealBackends, stopRealBackends } from "../../src/testing/servers";
import { runLoad, scrape, startCeiling, startHomebase, type BenchContext, type LoadResult, type Scenario } from "../lib";

const counts = [5, 10, 20];

/** The logs URLs oha picks from (a random line per request): every user × count, at `origin`. */
function writeLogsUrls(file: string, origin: string, userIds: string[]): void {
  writeFileSync(file, userIds.flatMap((id) => counts.map((n) => `${origin}/challenges/logs/${id}?count=${n}`)).join("\n") + "\n");
}
const rate = 3000;

async function pool<T>(items: T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: size }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

/** Users, challenges they joined, one log per user per challenge — through the HTTP API. */
async function seed(ctx: BenchContext, dataDir: string, users: number, challenges: number) {
  const server = await startHomebase(ctx, { HOMEBASE_LOGIN_MAX_ATTEMPTS: "1000" }, dataDir);
  const api = async (method: string, path: string, body?: unknown, token?: string) => {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(`${server.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.status === 204 ? null : res.json();
  };
  const signup = async () => {
    const u = newUser("bench");
    const { id } = (await api("POST", "/auth/signup", u)) as { id: string };
    const { accessToken } = (await api("POST", "/auth/login", { email: u.email, password: u.password })) as { accessToken: string };
    return { id, token: accessToken };
  };
  const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
  ctx.progress(`seeding ${users} users × ${challenges} logs`);
  const owner = await signup();
  const ids: string[] = [];
  for (let i = 0; i < challenges; i++) {
    ids.push(((await api("POST", "/challenges", { title: `bench ${i}`, startDate: day(-1), endDate: day(1) }, owner.token)) as { id: string }).id);
  }
  const members: Array<{ id: string; token: string }> = [];
  await pool(Array.from({ length: users }), 8, async () => void members.push(await signup()));
  await pool(members, 16, async (u) => {
    for (const id of ids) {
      await api("POST", `/challenges/${id}/members`, undefined, u.token);
      await api("POST", `/challenges/${id}/logs`, undefined, u.token);
    }
  });
  await server.stop();
  return { token: owner.token, userIds: members.map((m) => m.id) };
}

export const challenges: Scenario = {
  name: "challenges",
  title: "challenge logs: cache off vs memory vs Redis, fixed 3,000 req/s and max",
  async run(ctx) {
    const dataDir = mkdtempSync(join(tmpdir(), "homebase-bench-challenges-"));
    ctx.cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const { token, userIds } = await seed(ctx, dataDir, ctx.quick ? 30 : 200, ctx.quick ? 3 : 10);
    const auth = { authorization: `Bearer ${token}` };
    const connections = 64;

    let redisUrl: string | null = null;
    let natsUrl: string | null = null;
    try {
      ({ redisUrl, natsUrl } = await startRealBackends());
      ctx.cleanup.push(() => stopRealBackends());
    } catch (err) {
      process.stderr.write(`\n[bench] no Redis variant: ${err instanceof Error ? err.message : String(err)}\n`);
    }
    const variants: Array<[string, Record<string, string>]> = [
      ["off", { HOMEBASE_CHALLENGE_LOGS_TTL_MS: "0" }],
      ["memory", {}],
      ...(redisUrl ? ([["redis", { REDIS_URL: redisUrl, HOMEBASE_CACHE: "redis" }]] as Array<[string, Record<string, string>]>) : []),
      // The same Redis with each process's local level in front (hits answered in-process).
      ...(redisUrl && natsUrl ? ([["two-level", { REDIS_URL: redisUrl, NATS_URL: natsUrl, HOMEBASE_CACHE: "two-level" }]] as Array<[string, Record<string, string>]>) : []),
    ];

    const results: LoadResult[] = [];
    let bodyBytes = 0;
    const urlsFile = join(dataDir, "urls.txt");
    for (const [cache, env] of variants) {
      const server = await startHomebase(ctx, env, dataDir);
      writeLogsUrls(urlsFile, server.url, userIds);
      bodyBytes ||= (await (await fetch(`${server.url}/challenges/logs/${userIds[0]}?count=10`, { headers: auth })).text()).length;
      // The last run asks for compression: bodies over 1 KB (count=20 of enough logs) come br-encoded, smaller ones as they are.
      for (const [fixed, compressed] of [[true, false], [false, false], [false, true]] as const) {
        const before = await Promise.all(["hit", "miss", "error"].map((result) => scrape(server.url, "homebase_cache_requests_total", { cache: "challenge_logs", result })));
        const headers = compressed ? { ...auth, "accept-encoding": "gzip, deflate, br" } : auth;
        const variant = `cache ${cache}, ${fixed ? `${rate}/s` : "max"}${compressed ? ", Accept-Encoding: br" : ""}`;
        const r = await runLoad(ctx, variant, { url: server.url, urlsFile, headers, connections, seconds: ctx.seconds, rate: fixed ? rate : undefined });
        const after = await Promise.all(["hit", "miss", "error"].map((result) => scrape(server.url, "homebase_cache_requests_total", { cache: "challenge_logs", result })));
        const [hits, misses, errors] = after.map((a, i) => a - before[i]!) as [number, number, number];
        const lookups = hits + misses + errors;
        results.push({ ...r, extra: { "hit ratio": lookups > 0 ? `${((100 * hits) / lookups).toFixed(1)} %` : "–" } });
      }
      await server.stop();
    }
    const ceiling = await startCeiling(ctx, bodyBytes);
    // The ratios are to the ceiling under the same load: oha picking each request's URL from the
    // same list, with the same header. Picking costs oha ~10 % of its rate, which it loses against
    // the real server as much as against the ceiling; the single-URL ceiling is shown beside it.
    const ceilingUrls = join(dataDir, "ceiling-urls.txt");
    writeLogsUrls(ceilingUrls, new URL(ceiling).origin, userIds);
    results.unshift(
      {
        ...(await runLoad(ctx, `ceiling: Bun.serve, ${bodyBytes} B JSON, max, same URL list`, { url: ceiling, urlsFile: ceilingUrls, headers: auth, connections, seconds: ctx.seconds })),
        isCeiling: true,
      },
      await runLoad(ctx, `ceiling: Bun.serve, ${bodyBytes} B JSON, max, one URL`, { url: ceiling, connections, seconds: ctx.seconds }),
      await runLoad(ctx, `ceiling: Bun.serve, ${rate}/s`, { url: ceiling, connections, seconds: ctx.seconds, rate }),
    );
    return results;
  },
};
