// Micro-benchmark of the request pipeline through app.handle (no socket, no load generator):
// µs per request for GET /health/live and GET /me on an embedded app, beside a bare function
// answering the same body. Lower noise than the oha scenarios on a busy box; run alternately
// before and after a change:  bun bench/pipeline.ts [iterations] [health|me]
import { createTestApp, newUser } from "../src/testing/app";

const drain = () => new Promise<void>((resolve) => setImmediate(resolve));
const iterations = Number(process.argv[2] ?? 50_000);
const only = process.argv[3];

async function perRequest(label: string, make: () => Request, handle: (r: Request) => Promise<Response> | Response): Promise<number> {
  for (let i = 0; i < 5_000; i++) await (await handle(make())).arrayBuffer();
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 5; round++) {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) {
      const res = await handle(make());
      await res.arrayBuffer();
      // Work a request queued for after its response (Elysia's onAfterResponse) runs in a
      // later turn of the event loop: let it run, inside the timed section.
      if (i % 100 === 99) await drain();
    }
    await drain();
    best = Math.min(best, ((performance.now() - start) * 1000) / iterations);
  }
  console.log(`${label.padEnd(28)} ${best.toFixed(2)} µs/request (best of 5 × ${iterations})`);
  return best;
}

const t = await createTestApp("embedded");
try {
  const user = newUser("pipe");
  await t.request("POST", "/auth/signup", { body: user });
  const login = (await (await t.request("POST", "/auth/login", { body: { email: user.email, password: user.password } })).json()) as { accessToken: string };
  const auth = { authorization: `Bearer ${login.accessToken}` };
  const meBody = await (await t.request("GET", "/me", { token: login.accessToken })).text();
  const handle = (r: Request) => t.app.handle(r);
  if (only !== "me") await perRequest("bare function (15 B)", () => new Request("http://localhost.test/health/live"), () => Response.json({ status: "ok" }));
  if (only !== "me") await perRequest("GET /health/live", () => new Request("http://localhost.test/health/live"), handle);
  if (only !== "health") await perRequest(`bare function (${meBody.length} B)`, () => new Request("http://localhost.test/me", { headers: auth }), () => new Response(meBody, { headers: { "content-type": "application/json" } }));
  if (only !== "health") await perRequest("GET /me", () => new Request("http://localhost.test/me", { headers: auth }), handle);
  const status = (await t.request("GET", "/me", { token: login.accessToken })).status;
  if (status !== 200) throw new Error(`GET /me answered ${status}`);
} finally {
  await t.close();
}
