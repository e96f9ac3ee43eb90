// Scenario "shop": the supplement catalog (`homebase seed shop`, 2,000 items) and the order +
// pay flow through the built-in sandbox payment gateway.
//   1. GET /items with filters and a sort (category + on-sale by price; keyword + price range by sales);
//   2. GET /items/main, cached (hit ratio from homebase_cache_requests_total);
//   3. order + pay: POST /orders → POST /orders/{id}/payment (gateway ready) → the buyer's
//      checkout redirect (pg_token) → POST /orders/{id}/payment/approve (gateway approve),
//      four requests and two gateway round trips per flow; and the same with 20 % of gateway
//      calls failing (503, retried with backoff).
// oha drives the reads. The flow needs state between requests, so this file is also its load
// client (`bun bench/scenarios/shop.ts --flow <json>`), pinned to the load generator's CPU.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { cpus } from "node:os";
import { newUser } from "../../src/testing/app";
import type { RunningServer } from "../../src/testing/process";
import { releaseBinary, runLoad, scrape, withWriterFigures, startCeiling, startHomebase, type BenchContext, type LoadResult, type Scenario } from "../lib";

interface FlowPlan {
  url: string;
  itemId: string;
  tokens: string[];
  seconds: number;
}

const json = { "content-type": "application/json" };

function seedShop(server: RunningServer): string {
  const seeded = Bun.spawnSync([releaseBinary(), "seed", "shop", "--items", "2000", "--stock", "100000000"], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", HOMEBASE_DATA_DIR: server.dataDir, HOMEBASE_LOG_LEVEL: "warn" },
    stdout: "pipe",
    stderr: "pipe",
  });
  if (seeded.exitCode !== 0) throw new Error(`seed shop failed: ${seeded.stderr.toString()}`);
  return seeded.stdout.toString().trim();
}

async function signup(url: string): Promise<string> {
  const user = newUser("shopper");
  await fetch(`${url}/auth/signup`, { method: "POST", headers: json, body: JSON.stringify(user) });
  const login = await fetch(`${url}/auth/login`, { method: "POST", headers: json, body: JSON.stringify({ email: user.email, password: user.password }) });
  return ((await login.json()) as { accessToken: string }).accessToken;
}

/** One buyer's loop: order, ready, checkout, approve — retrying what a client retries (503, 409 order_busy). */
async function flowLoop(plan: FlowPlan, token: string, deadline: number, latencies: number[], counts: { ok: number; failed: number; requests: number }) {
  const auth = { ...json, authorization: `Bearer ${token}` };
  const call = async (path: string, body: unknown): Promise<Response> => {
    for (let attempt = 0; ; attempt++) {
      counts.requests++;
      const res = await fetch(`${plan.url}${path}`, { method: "POST", headers: auth, body: JSON.stringify(body) });
      if ((res.status !== 503 && res.status !== 409) || attempt >= 20) return res;
      const problem = (await res.json()) as { code: string };
      if (res.status === 409 && problem.code !== "order_busy") return new Response(JSON.stringify(problem), { status: 409 });
      await Bun.sleep(5);
    }
  };
  while (Date.now() < deadline) {
    const start = performance.now();
    try {
      const order = await call("/orders", { kind: "NORMAL", items: [{ itemId: plan.itemId, quantity: 1 }] });
      if (order.status !== 201) throw new Error(`order ${order.status}`);
      const { id } = (await order.json()) as { id: string };
      const ready = await call(`/orders/${id}/payment`, {});
      if (ready.status !== 201) throw new Error(`ready ${ready.status}`);
      const { redirectUrl } = (await ready.json()) as { redirectUrl: string };
      counts.requests++;
      const checkout = await fetch(redirectUrl, { redirect: "manual" });
      const pgToken = new URL(checkout.headers.get("location") ?? "http://x/").searchParams.get("pg_token");
      if (!pgToken) throw new Error(`checkout ${checkout.status}`);
      const approve = await call(`/orders/${id}/payment/approve`, { pgToken });
      if (approve.status !== 200) throw new Error(`approve ${approve.status}`);
      await approve.arrayBuffer();
      latencies.push(performance.now() - start);
      counts.ok++;
    } catch {
      counts.failed++;
    }
  }
}

/** The flow load client (run in its own process): prints a LoadResult as JSON. */
async function runFlowClient(plan: FlowPlan, variant: string): Promise<LoadResult> {
  const latencies: number[] = [];
  const counts = { ok: 0, failed: 0, requests: 0 };
  const started = performance.now();
  const deadline = Date.now() + plan.seconds * 1000;
  await Promise.all(plan.tokens.map((token) => flowLoop(plan, token, deadline, latencies, counts)));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? Number.NaN;
  return {
    variant,
    rps: counts.ok / elapsed,
    p50: q(0.5),
    p95: q(0.95),
    p99: q(0.99),
    max: latencies.at(-1) ?? Number.NaN,
    errors: counts.failed,
    total: counts.ok + counts.failed,
    extra: { "HTTP req/s": Math.round(counts.requests / elapsed) },
  };
}

async function runFlow(ctx: BenchContext, variant: string, plan: FlowPlan): Promise<LoadResult> {
  ctx.progress(`${variant}: ${plan.seconds}s, ${plan.tokens.length} buyers`);
  const cmd = [process.execPath, import.meta.path, "--flow", JSON.stringify({ ...plan, variant })];
  const pinned = cpus().length >= 2 && Bun.which("taskset") ? ["taskset", "-c", "1", ...cmd] : cmd;
  const proc = Bun.spawn(pinned, { stdout: "pipe", stderr: "pipe" });
  ctx.cleanup.push(() => proc.kill());
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`flow client failed (${code}): ${err}`);
  return JSON.parse(out) as LoadResult;
}

async function hitRatio(server: RunningServer, run: () => Promise<LoadResult>): Promise<LoadResult> {
  const count = (result: string) => scrape(server.url, "homebase_cache_requests_total", { cache: "shop_main", result });
  const [h0, m0] = [await count("hit"), await count("miss")];
  const result = await run();
  const [hits, misses] = [(await count("hit")) - h0, (await count("miss")) - m0];
  return { ...result, extra: { ...result.extra, "hit ratio": hits + misses > 0 ? `${((100 * hits) / (hits + misses)).toFixed(1)} %` : "–" } };
}

async function sandboxFaults(server: RunningServer, faults: Record<string, unknown>): Promise<void> {
  // Internal routes need the internal token too (generated into the data dir when not configured).
  const token = readFileSync(join(server.dataDir, "internal.token"), "utf8").trim();
  const res = await fetch(`${server.url}/sandbox-pg/control`, { method: "PUT", headers: { ...json, authorization: `Bearer ${token}` }, body: JSON.stringify(faults) });
  if (res.status !== 200) throw new Error(`sandbox control: ${res.status} ${await res.text()}`);
}

export const shop: Scenario = {
  name: "shop",
  title: "shop: GET /items with filters and sort, GET /items/main (cached), order + pay through the sandbox PG",
  async run(ctx: BenchContext) {
    // Short gateway backoff so the faulty variant measures retries, not sleeping.
    // Failed payments leave orders unpaid: the per-user cap of unpaid orders is not what this measures.
    const server = await startHomebase(ctx, { HOMEBASE_SHOP_PG_BACKOFF_MS: "10", HOMEBASE_SHOP_PG_BACKOFF_MAX_MS: "200", HOMEBASE_SHOP_UNPAID_ORDERS_MAX: "0", HOMEBASE_SHOP_UNPAID_UNITS_MAX: "0" });
    ctx.progress("seeding the catalog");
    const summary = seedShop(server);
    const connections = ctx.quick ? 16 : 32;
    const filtered = "/items?category=EYE&onSale=true&sort=PRICE_L&size=8";
    const searched = "/items?keyword=omega&minPrice=10000&maxPrice=60000&sort=SALES&size=8";
    const listBytes = (await (await fetch(`${server.url}${filtered}`)).arrayBuffer()).byteLength;
    const mainBytes = (await (await fetch(`${server.url}/items/main`)).arrayBuffer()).byteLength;
    const top = (await (await fetch(`${server.url}/items?sort=SALES&size=1`)).json()) as { items: Array<{ id: string }> };
    process.stderr.write(`\n[bench] ${summary}; ${filtered} = ${listBytes} B, /items/main = ${mainBytes} B\n`);

    const results: LoadResult[] = [];
    const ceiling = await startCeiling(ctx, listBytes);
    results.push({ ...(await runLoad(ctx, `ceiling: Bun.serve, ${listBytes} B JSON`, { url: ceiling, connections, seconds: ctx.seconds })), isCeiling: true });
    results.push(await runLoad(ctx, "GET /items category+onSale, sort PRICE_L", { url: `${server.url}${filtered}`, connections, seconds: ctx.seconds }));
    results.push(await runLoad(ctx, "GET /items keyword+price range, sort SALES", { url: `${server.url}${searched}`, connections, seconds: ctx.seconds }));
    results.push(await hitRatio(server, () => runLoad(ctx, "GET /items/main (cached)", { url: `${server.url}/items/main`, connections, seconds: ctx.seconds })));

    ctx.progress("signing up buyers");
    const buyers = ctx.quick ? 8 : 16;
    const tokens = await Promise.all(Array.from({ length: buyers }, () => signup(server.url)));
    const plan: FlowPlan = { url: server.url, itemId: top.items[0]!.id, tokens, seconds: ctx.seconds };
    results.push(await withWriterFigures(server.url, () => runFlow(ctx, "order + pay (4 requests, 2 gateway calls)", plan)));
    await sandboxFaults(server, { errorPct: 20 });
    results.push(await runFlow(ctx, "order + pay, 20 % gateway errors (retried)", plan));
    await sandboxFaults(server, { errorPct: 0 });
    return results;
  },
};

if (import.meta.main && process.argv[2] === "--flow") {
  const { variant, ...plan } = JSON.parse(process.argv[3]!) as FlowPlan & { variant: string };
  process.stdout.write(JSON.stringify(await runFlowClient(plan, variant)));
}
