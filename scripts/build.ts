// Builds the single executable dist/homebase.
//
// Not minified, not even whitespace or syntax: Elysia reads each hook's and handler's source text
// to decide what a request needs (its "sucrose" inference: parse the query, the headers, the
// cookies?) and what to await. Reprinted on one line, method-shorthand hooks (the auth macro's)
// are misread, and 94 of the 152 routes parsed every request's headers, cookies and query;
// arrow bodies such as `=>{if(` read as async, so every composed handler awaited hooks that return
// nothing (GET /me: 6.1-6.5 µs per request through app.handle minified, 4.5 not). Full --minify
// also renames what the inference looks for. build.test.ts compares the composed handlers of a
// bundle built with these flags with the source's.
import { $ } from "bun";
import { statSync } from "node:fs";

/** How the release bundle is built, besides --compile and the output (build.test.ts builds with them too). */
export const bundleFlags = ["--target=bun", "--sourcemap=inline"];

if (import.meta.main) {
  const outfile = process.env.HOMEBASE_BUILD_OUT ?? "dist/homebase";
  const started = performance.now();
  const build =
    await $`${process.execPath} build src/main.ts src/platform/db/backup-worker.ts src/platform/db/checkpoint-worker.ts --compile ${bundleFlags} --outfile ${outfile}`
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
}
