// Scenario "uploads": the server's memory while `parallel` 50 MiB uploads (POST /files, video)
// stream in at once — issue 13's M4: held whole, 4 of them took the RSS from 177 to 498 MiB;
// streamed, 10 of them should grow it by 64 MiB at most. Each round: VmRSS of the server
// process before (its peak reset through /proc/<pid>/clear_refs), VmHWM during (the peak) and
// VmRSS right after and 2 s later; `rounds` rounds on one server (a leak would climb from round
// to round). Beside it, the runtime's floor in the same run: a bare Bun.serve that streams the
// same bodies to disk (upload-ceiling.ts), pinned to the same CPU and measured the same way —
// with its own small heap, and with live objects making the heap about homebase's size.
// The release binary is reused when present: after changing the upload code, run with
// HOMEBASE_BENCH_REBUILD=1.
//
//   bun run bench uploads [--quick] [--parallel=10] [--rounds=3] [--mib=50]
//   (or HOMEBASE_BENCH_UPLOADS_PARALLEL, _ROUNDS, _MIB)
//
// Latency columns are per upload (send until the 201); RPS is uploads per second.
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { newUser } from "../../src/testing/app";
import { freePort } from "../../src/testing/ports";
import { waitFor } from "../../src/testing/wait";
import { startHomebase, type BenchContext, type LoadResult, type Scenario } from "../lib";

const MiB = 1024 * 1024;

function option(name: string, env: string, fallback: number): number {
  const raw = process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? process.env[env];
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} / ${env}: expected a positive integer, got ${raw}`);
  return n;
}

/** VmRSS and VmHWM of a process, in MiB. */
function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const mib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1]) / 1024;
  return { rss: mib("VmRSS"), peak: mib("VmHWM") };
}

/** One multipart body of a `file` part holding an MP4 of `bytes` bytes. */
function uploadBody(video: Uint8Array) {
  const boundary = `----homebasebench${Bun.randomUUIDv7()}`;
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="clip.mp4"\r\nContent-Type: video/mp4\r\n\r\n`;
  return { contentType: `multipart/form-data; boundary=${boundary}`, body: new Blob([head, video, `\r\n--${boundary}--\r\n`]) };
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

interface Target {
  label: string;
  pid: number;
  url: string;
  headers: Record<string, string>;
  /** Removes what a round stored (homebase: DELETE each file, so the quota never binds). */
  afterRound(responses: Response[]): Promise<void>;
}

async function rounds(ctx: BenchContext, target: Target, parallel: number, count: number, video: Uint8Array): Promise<LoadResult[]> {
  const one = async () => {
    const { contentType, body } = uploadBody(video);
    const started = performance.now();
    const res = await fetch(target.url, { method: "POST", headers: { ...target.headers, "content-type": contentType }, body });
    const ms = performance.now() - started;
    return { res, ms, ok: res.status === 201 || res.status === 200 };
  };
  // One upload first: code paths loaded, allocator warm; not measured.
  const warm = await one();
  await target.afterRound([warm.res]);
  await Bun.sleep(1000);
  const results: LoadResult[] = [];
  for (let round = 1; round <= count; round++) {
    ctx.progress(`${target.label}: round ${round}/${count}, ${parallel} × ${video.length / MiB} MiB`);
    await Bun.write(`/proc/${target.pid}/clear_refs`, "5");
    const before = memory(target.pid);
    const started = performance.now();
    const done = await Promise.all(Array.from({ length: parallel }, one));
    const seconds = (performance.now() - started) / 1000;
    const after = memory(target.pid);
    await target.afterRound(done.map((d) => d.res));
    await Bun.sleep(2000);
    const settled = memory(target.pid);
    const ms = done.map((d) => d.ms).sort((a, b) => a - b);
    results.push({
      variant: `${target.label}, round ${round}`,
      rps: parallel / seconds,
      p50: quantile(ms, 0.5),
      p95: quantile(ms, 0.95),
      p99: quantile(ms, 0.99),
      max: ms.at(-1) ?? Number.NaN,
      errors: done.filter((d) => !d.ok).length,
      total: parallel,
      isCeiling: target.label === "ceiling: Bun.serve streaming to disk" && round === 1 ? true : undefined,
      extra: {
        "RSS before MiB": before.rss.toFixed(0),
        "peak growth MiB": (after.peak - before.rss).toFixed(0),
        "growth after MiB": (after.rss - before.rss).toFixed(0),
        "growth 2 s later MiB": (settled.rss - before.rss).toFixed(0),
      },
    });
  }
  return results;
}

export const uploads: Scenario = {
  name: "uploads",
  title: "uploads: server RSS while 10 × 50 MiB uploads stream in at once (POST /files) — target growth ≤ 64 MiB",
  async run(ctx) {
    const parallel = option("parallel", "HOMEBASE_BENCH_UPLOADS_PARALLEL", 10);
    const count = option("rounds", "HOMEBASE_BENCH_UPLOADS_ROUNDS", ctx.quick ? 1 : 3);
    const mib = option("mib", "HOMEBASE_BENCH_UPLOADS_MIB", 50);
    const video = new Uint8Array(mib * MiB);
    video.set([0, 0, 0, 0x18, ...new TextEncoder().encode("ftypisom")]);

    // The runtime's floor: the same bodies streamed to disk by a bare Bun.serve, with its own
    // small heap and with one about homebase's (400,000 live objects: ~105 MiB RSS at rest).
    const floor: LoadResult[] = [];
    for (const [label, objects] of [
      ["ceiling: Bun.serve streaming to disk", 0],
      ["ceiling: the same, homebase-sized heap", 400_000],
    ] as const) {
      const ceilingPort = await freePort();
      // Pinned to CPU 0 like homebase (taskset execs, so the pid is the server's).
      const pinned = cpus().length >= 2 && Bun.which("taskset") ? ["taskset", "-c", "0"] : [];
      const ceiling = Bun.spawn(
        [...pinned, process.execPath, join(import.meta.dir, "upload-ceiling.ts"), String(ceilingPort), String(objects)],
        {
          stdout: "ignore",
          stderr: "inherit",
        },
      );
      const stop = async () => {
        ceiling.kill();
        await ceiling.exited;
      };
      ctx.cleanup.push(stop);
      const ceilingUrl = `http://127.0.0.1:${ceilingPort}/`;
      await waitFor(
        () =>
          fetch(ceilingUrl).then(
            (r) => r.ok,
            () => false,
          ),
        { what: "the upload ceiling server" },
      );
      floor.push(
        ...(await rounds(
          ctx,
          { label, pid: ceiling.pid, url: ceilingUrl, headers: {}, afterRound: async () => {} },
          parallel,
          count,
          video,
        )),
      );
      await stop();
    }

    const server = await startHomebase(ctx, { HOMEBASE_CHAT_UPLOADS_PER_MIN: "100000" });
    const user = newUser("bench-up");
    const json = { "content-type": "application/json" };
    const signup = await fetch(`${server.url}/auth/signup`, { method: "POST", headers: json, body: JSON.stringify(user) });
    if (signup.status !== 201) throw new Error(`signup: ${signup.status} ${await signup.text()}`);
    const login = await fetch(`${server.url}/auth/login`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ email: user.email, password: user.password }),
    });
    const { accessToken } = (await login.json()) as { accessToken: string };
    const auth = { authorization: `Bearer ${accessToken}` };
    const homebase = await rounds(
      ctx,
      {
        label: "homebase POST /files",
        pid: server.proc.pid,
        url: `${server.url}/files`,
        headers: auth,
        async afterRound(responses) {
          for (const res of responses) {
            if (res.status !== 201) continue;
            const { url } = (await res.json()) as { url: string };
            await fetch(`${server.url}${url}`, { method: "DELETE", headers: auth });
          }
        },
      },
      parallel,
      count,
      video,
    );
    // The peak during the uploads is what MemoryMax sees, not what is left after them.
    const worst = Math.max(...homebase.map((r) => Number(r.extra?.["peak growth MiB"])));
    const last = homebase.at(-1);
    if (last)
      last.extra = {
        ...last.extra,
        verdict: `${worst <= 64 ? "met" : "MISSED"}: worst peak growth in a round ${worst.toFixed(0)} MiB (≤ 64)`,
      };
    return [...floor, ...homebase];
  },
};
