// The runtime's ceiling for a benchmark: a bare Bun.serve answering a JSON body of a given
// size, measured with the same load generator in the same run as the real scenario.
//   bun bench/ceiling.ts <port> <bodyBytes>
const port = Number(process.argv[2] ?? 3999);
const size = Number(process.argv[3] ?? 64);
const body = JSON.stringify({ pad: "x".repeat(Math.max(0, size - 10)) });
const server = Bun.serve({
  hostname: "127.0.0.1",
  port,
  fetch: () => new Response(body, { headers: { "content-type": "application/json" } }),
});
console.log(`ceiling on http://127.0.0.1:${server.port} (${body.length} bytes)`);
