// Scenario "overhead": the layers between the runtime and a cached read, in one run, each
// beside a bare Bun.serve answering a body of its size (same run, same load):
//   1. bare Bun.serve (the ceiling), 2. a bare Elysia route (the framework alone),
//   3. homebase GET /health/live (+ the platform's hooks, openapi, cors, module controllers),
//   4. GET /me (+ JWT, session check, a user read), 5. a cached read — GET /challenges/logs/:id
//   from the memory cache, its stored bytes — without and with Accept-Encoding (br over 1 KB).
// So a change shows which layer it moved. "% of ceiling" is against the first (15 B) ceiling;
// "% of same-size" against the Bun.serve row with the same body size (the compressed size for
// the br row), which is the figure the goals are stated in.
//   bun bench/scenarios/overhead.ts elysia <port> <bodyBytes>   (the bare Elysia server)
import { cpus } from "node:os";
import { Elysia } from "elysia";
import { newUser } from "../../src/testing/app";
import { freePort } from "../../src/testing/ports";
import { waitFor } from "../../src/testing/wait";
import { runLoad, startCeiling, startHomebase, type BenchContext, type LoadResult, type Scenario } from "../lib";

const padded = (size: number) => ({ pad: "x".repeat(Math.max(0, size - 10)) });

if (import.meta.main && process.argv[2] === "elysia") {
  const port = Number(process.argv[3]);
  const body = padded(Number(process.argv[4] ?? 15));
  new Elysia().get("/", () => body).listen({ hostname: "127.0.0.1", port });
  console.log(`bare elysia on http://127.0.0.1:${port}/ (${JSON.stringify(body).length} bytes)`);
}

/** A bare Elysia app answering a JSON object of `bytes` bytes, pinned like the ceiling (CPU 0). */
async function startBareElysia(ctx: BenchContext, bytes: number): Promise<string> {
  const port = await freePort();
  const cmd = [process.execPath, import.meta.path, "elysia", String(port), String(bytes)];
  const pinned = cpus().length >= 2 && Bun.which("taskset") ? ["taskset", "-c", "0", ...cmd] : cmd;
  const proc = Bun.spawn(pinned, { stdout: "ignore", stderr: "inherit" });
  ctx.cleanup.push(async () => {
    proc.kill();
    await proc.exited;
  });
  const url = `http://127.0.0.1:${port}/`;
  await waitFor(
    () =>
      fetch(url).then(
        (r) => r.ok,
        () => false,
      ),
    { what: "the bare Elysia server" },
  );
  return url;
}

/** Bytes on the wire per response (oha's summary), else what one request returns. */
async function wireBytes(url: string, headers: Record<string, string>): Promise<number> {
  const res = await fetch(url, { headers, decompress: false } as RequestInit);
  return (await res.arrayBuffer()).byteLength;
}

export const overhead: Scenario = {
  name: "overhead",
  title: "overhead: Bun.serve → bare Elysia → /health/live → GET /me → a cached read (identity, br)",
  async run(ctx) {
    const connections = ctx.quick ? 16 : 64;
    const server = await startHomebase(ctx, { HOMEBASE_LOGIN_MAX_ATTEMPTS: "1000" });
    const json = { "content-type": "application/json" };
    const user = newUser("bench");
    const signup = await fetch(`${server.url}/auth/signup`, { method: "POST", headers: json, body: JSON.stringify(user) });
    const { id: userId } = (await signup.json()) as { id: string };
    const login = await fetch(`${server.url}/auth/login`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ email: user.email, password: user.password }),
    });
    const auth = { authorization: `Bearer ${((await login.json()) as { accessToken: string }).accessToken}` };
    // 20 logs: GET /challenges/logs/:id?count=20 is ~1.7 KB, over the compression threshold.
    ctx.progress("seeding 20 challenges with a log each");
    const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    for (let i = 0; i < 20; i++) {
      const c = await fetch(`${server.url}/challenges`, {
        method: "POST",
        headers: { ...json, ...auth },
        body: JSON.stringify({ title: `overhead ${i}`, startDate: day(-1), endDate: day(1) }),
      });
      const { id } = (await c.json()) as { id: string };
      const logged = await fetch(`${server.url}/challenges/${id}/logs`, { method: "POST", headers: auth });
      if (logged.status !== 201) throw new Error(`log: ${logged.status} ${await logged.text()}`);
    }

    const health = `${server.url}/health/live`;
    const me = `${server.url}/me`;
    const logs = `${server.url}/challenges/logs/${userId}?count=20`;
    const br = { "accept-encoding": "gzip, deflate, br" };
    const sizes = {
      health: await wireBytes(health, {}),
      me: await wireBytes(me, auth),
      logs: await wireBytes(logs, auth),
      logsBr: await wireBytes(logs, { ...auth, ...br }),
    };
    const rows: LoadResult[] = [];
    const ceilings = new Map<number, LoadResult>();
    const ceilingRow = async (bytes: number) => {
      const known = ceilings.get(bytes);
      if (known) return known;
      const url = await startCeiling(ctx, bytes);
      const r = await runLoad(ctx, `ceiling: Bun.serve, ${bytes} B JSON`, { url, connections, seconds: ctx.seconds });
      const row = { ...r, ...(ceilings.size === 0 ? { isCeiling: true } : {}), extra: { "body B": bytes, "% of same-size": "100.0 %" } };
      ceilings.set(bytes, row);
      rows.push(row);
      return row;
    };
    const measured = async (variant: string, url: string, headers: Record<string, string>, bytes: number) => {
      const ceiling = await ceilingRow(bytes);
      const r = await runLoad(ctx, variant, { url, headers, connections, seconds: ctx.seconds });
      rows.push({
        ...r,
        extra: { "body B": bytes, "% of same-size": ceiling.rps > 0 ? `${((100 * r.rps) / ceiling.rps).toFixed(1)} %` : "–" },
      });
    };

    await measured("bare Elysia route", await startBareElysia(ctx, sizes.health), {}, sizes.health);
    await measured("homebase GET /health/live", health, {}, sizes.health);
    await measured("GET /me", me, auth, sizes.me);
    await measured("GET /challenges/logs/:id?count=20, cached (memory)", logs, auth, sizes.logs);
    await measured("same, Accept-Encoding: gzip, deflate, br", logs, { ...auth, ...br }, sizes.logsBr);
    return rows;
  },
};
