// The shape of src/modules (DESIGN.md): no source file over about 400 lines unless its header
// says why (a comment in its first lines containing "long because"), tests and test kits aside.
// And every module folder has the contract's entry point and vocabulary.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";

const repoRoot = resolve(import.meta.dir, "..");
const modulesDir = join(repoRoot, "src/modules");
const maxLines = 400;
const exempt = /(\.test\.ts|\/testkit\.ts|\/testing\.ts|\.d\.ts)$/;

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sources(path, out);
    else if (/\.(ts|js)$/.test(name) && !exempt.test(path)) out.push(path);
  }
  return out;
}

/** Files over the limit whose header does not explain it. */
export function oversized(root: string): string[] {
  return sources(root)
    .map((path) => ({ path, text: readFileSync(path, "utf8") }))
    .filter(({ text }) => text.split("\n").length > maxLines)
    .filter(({ text }) => !/long because/i.test(text.split("\n").slice(0, 8).join("\n")))
    .map(({ path, text }) => `${relative(repoRoot, path)}: ${text.split("\n").length} lines`);
}

describe("module shape", () => {
  test(`no file under src/modules is longer than ${maxLines} lines unless its header says why`, () => {
    expect(oversized(modulesDir)).toEqual([]);
  });

  test("every module folder has index.ts (its definition) and errors.ts (its codes)", () => {
    const folders = readdirSync(modulesDir).filter((name) => statSync(join(modulesDir, name)).isDirectory());
    const missing = folders.flatMap((m) => ["index.ts", "errors.ts"].filter((f) => !existsSync(join(modulesDir, m, f))).map((f) => `${m}/${f}`));
    expect(missing).toEqual([]);
  });
});
