// `bun run bench [scenario …] [--quick]`: runs the scenarios (all by default), each against the
// release binary with its same-run ceiling, and writes bench/results/<date>-<scenario>.{json,md,svg}.
// Everything it starts is stopped at the end, on failure and on Ctrl-C.
import { findLoadTool, writeResults, type BenchContext } from "./lib";
import { scenarios } from "./scenarios";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const wanted = args.filter((a) => !a.startsWith("--"));
if (args.includes("--list")) {
  for (const s of scenarios) console.log(`${s.name.padEnd(12)} ${s.pending ? `pending: ${s.pending}` : s.title}`);
  process.exit(0);
}
const unknown = wanted.filter((w) => !scenarios.some((s) => s.name === w));
if (unknown.length > 0) {
  console.error(`unknown scenario(s): ${unknown.join(", ")}; known: ${scenarios.map((s) => s.name).join(", ")}`);
  process.exit(2);
}
const selected = wanted.length > 0 ? scenarios.filter((s) => wanted.includes(s.name)) : scenarios;

const tool = findLoadTool();
const seconds = Number(process.env.HOMEBASE_BENCH_SECONDS ?? (quick ? 2 : 10));
const ctx: BenchContext = {
  quick,
  seconds,
  tool,
  cleanup: [],
  progress: (label) => process.stderr.write(`\r\x1b[2K[bench] ${current} · ${label}`),
};
let current = "";

async function cleanup(): Promise<void> {
  for (const step of ctx.cleanup.splice(0).reverse()) await Promise.resolve(step()).catch(() => {});
}
let interrupted = false;
process.on("SIGINT", () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  process.stderr.write("\n[bench] interrupted: stopping what was started…\n");
  void cleanup().then(() => process.exit(130));
});

console.log(`load generator: ${tool.note}; ${seconds}s per run${quick ? " (quick)" : ""}\n`);
let failed = false;
for (const scenario of selected) {
  current = scenario.name;
  if (scenario.pending) {
    console.log(`### ${scenario.title}\n\npending: ${scenario.pending}\n`);
    continue;
  }
  try {
    const results = await scenario.run(ctx);
    const ceiling = results.find((r) => r.isCeiling);
    for (const r of results) if (ceiling && ceiling.rps > 0) r.ofCeiling = r.rps / ceiling.rps;
    process.stderr.write("\r\x1b[2K");
    console.log(writeResults(scenario, tool, results, { quick, seconds }));
  } catch (err) {
    failed = true;
    process.stderr.write("\n");
    console.error(`[bench] ${scenario.name} failed: ${err instanceof Error ? err.stack : String(err)}`);
  } finally {
    await cleanup();
  }
}
process.exit(failed ? 1 : 0);
