// Builds the single executable dist/homebase. Full --minify breaks Elysia's generated
// handlers (DESIGN.md, Known traps), so only whitespace and syntax are minified.
import { $ } from "bun";
import { statSync } from "node:fs";

const outfile = process.env.HOMEBASE_BUILD_OUT ?? "dist/homebase";
const started = performance.now();
const build =
  await $`${process.execPath} build src/main.ts src/platform/db/backup-worker.ts src/platform/db/checkpoint-worker.ts --compile --target=bun --minify-whitespace --minify-syntax --sourcemap=inline --outfile ${outfile}`
    .quiet()
    .nothrow();
if (build.exitCode !== 0) {
  process.stderr.write(build.stdout);
  process.stderr.write(build.stderr);
  console.error(`build failed (exit ${build.exitCode})`);
  process.exit(build.exitCode);
}
const size = statSync(outfile).size;
console.log(`built ${outfile}: ${(size / 1048576).toFixed(1)} MiB in ${((performance.now() - started) / 1000).toFixed(1)} s`);
