// The test command (`npm test`): prepare tools, typecheck, then `bun test` in both modes.
// Extra arguments go to `bun test` (e.g. `npm test -- src/modules/accounts`).
// bun test's own summary (" N pass", " N fail") is the last thing printed; CI reads it.
import { join, resolve } from "node:path";
import { ensureTestTools } from "./ensure-tools";

const root = resolve(import.meta.dir, "..");

function run(cmd: string[]): Promise<number> {
  console.error(`[test] $ ${cmd.join(" ")}`);
  const proc = Bun.spawn(cmd, { cwd: root, stdio: ["inherit", "inherit", "inherit"] });
  return proc.exited;
}

try {
  for (const line of ensureTestTools()) console.error(`[ensure-tools] ${line}`);
} catch (err) {
  console.error(`[ensure-tools] FAILED: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}

const tsc = await run([join(root, "node_modules/.bin/tsc"), "--noEmit", "-p", "."]);
if (tsc !== 0) console.error(`[test] typecheck failed (exit ${tsc}); running the tests anyway`);
// process.execPath is the bun running this script (the npm devDependency).
// bunfig.toml's [test] timeout is not applied by this bun; the flag is. Real processes and a
// browser under a loaded 2-core machine need more than the 5 s default.
const tests = await run([process.execPath, "test", "--timeout", "60000", ...process.argv.slice(2)]);
// The first failure decides the exit code.
process.exit(tsc !== 0 ? tsc : tests);
