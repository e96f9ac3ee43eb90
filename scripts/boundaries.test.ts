// Import boundaries, checked on resolved paths (type-only imports included):
//  (a) nothing under src/platform/ reaches src/modules/: neither directly nor through a file outside
//      the platform (src/app.ts, src/migrations/, ...) that does;
//  (b) a module's files (src/modules/<x>/**) import only the platform, their own folder and accounts'
//      public index (src/modules/accounts/index.ts). Its tests (*.test.ts) and test kits (testkit.ts,
//      testing.ts) may also use the harness (src/testing/) and the composition root (src/app.ts,
//      src/config.ts, src/migrations/, src/modules/index.ts).
// biome.jsonc states the same rules by import name (noRestrictedImports), for the editor and
// `npm run lint`; this test is the exact check, and proves biome's rules catch a new module's violation.
import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import * as ts from "typescript";

const repoRoot = resolve(import.meta.dir, "..");
const code = /\.(ts|tsx|mts|cts|js|mjs|cjs)$/;
const testCode = /(\.test\.[a-z]+|\/testkit\.ts|\/testing\.ts)$/;
const transpilers = {
  ts: new Bun.Transpiler({ loader: "ts" }),
  tsx: new Bun.Transpiler({ loader: "tsx" }),
  js: new Bun.Transpiler({ loader: "js" }),
};

interface Edge {
  spec: string;
  line: number;
  /** Repo-relative, "/"-separated; for an import that does not resolve, the path it names. */
  target: string;
  typeOnly: boolean;
}

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (code.test(name)) out.push(path);
  }
  return out;
}

/** Relative imports of one file: Bun's scanner for runtime imports, TypeScript's for type-only ones. */
function edges(root: string, file: string): Edge[] {
  const source = readFileSync(file, "utf8");
  const ext = file.endsWith(".tsx") ? "tsx" : /\.[mc]?ts$/.test(file) ? "ts" : "js";
  const all = new Set(ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName));
  let runtime: Set<string>;
  try {
    runtime = new Set(transpilers[ext].scanImports(source).map((i) => i.path));
  } catch {
    runtime = all; // a syntax error (tsc reports it): TypeScript's list, none taken as type-only
  }
  for (const spec of runtime) all.add(spec);
  const lines = source.split("\n");
  const out: Edge[] = [];
  for (const spec of all) {
    if (!spec.startsWith(".")) continue; // a package or a builtin
    let target: string;
    try {
      target = Bun.resolveSync(spec, dirname(file));
    } catch {
      target = resolve(dirname(file), spec); // tsc reports it; judge it by the path it names
    }
    const index = lines.findIndex((l) => l.includes(`"${spec}"`) || l.includes(`'${spec}'`));
    out.push({ spec, line: index + 1, target: relative(root, target).split(sep).join("/"), typeOnly: !runtime.has(spec) });
  }
  return out;
}

const under = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`);
const stripExt = (path: string) => path.replace(code, "");

export function checkBoundaries(root: string): string[] {
  const files = walk(join(root, "src")).map((f) => relative(root, f).split(sep).join("/"));
  const graph = new Map(files.map((f) => [f, edges(root, join(root, f))]));

  // The shortest chain from a file to src/modules/, if any (breadth-first over relative imports).
  const chainToModules = (start: string): string[] | null => {
    const seen = new Set([start]);
    const queue: string[][] = [[start]];
    while (queue.length > 0) {
      const chain = queue.shift()!;
      const at = chain[chain.length - 1]!;
      if (under(at, "src/modules")) return chain;
      for (const e of graph.get(at) ?? []) {
        if (seen.has(e.target)) continue;
        seen.add(e.target);
        queue.push([...chain, e.target]);
      }
    }
    return null;
  };

  const violations: string[] = [];
  const where = (file: string, e: Edge) => `${file}:${e.line} imports${e.typeOnly ? " type" : ""} "${e.spec}"`;
  for (const [file, fileEdges] of graph) {
    if (under(file, "src/platform")) {
      for (const e of fileEdges) {
        if (under(e.target, "src/platform")) continue; // judged where the chain leaves the platform
        const chain = chainToModules(e.target);
        if (chain) violations.push(`(a) ${where(file, e)}: the platform reaches a module: ${chain.join(" → ")}`);
      }
      continue;
    }
    const [, , mod, ...rest] = file.split("/");
    if (!under(file, "src/modules") || rest.length === 0) continue; // not inside a module's folder
    const own = `src/modules/${mod}`;
    const isTest = testCode.test(file);
    for (const e of fileEdges) {
      const t = e.target;
      if (under(t, "src/platform") || under(t, own) || stripExt(t) === "src/modules/accounts/index" || t === "src/modules/accounts")
        continue;
      const harness =
        under(t, "src/testing") || under(t, "src/migrations") || ["src/app", "src/config", "src/modules/index"].includes(stripExt(t));
      if (under(t, "src/modules") && !harness) {
        violations.push(`(b) ${where(file, e)}: another module's file (${t}); use the platform, or ../accounts (its index)`);
        continue;
      }
      if (isTest && harness) continue;
      violations.push(`(b) ${where(file, e)}: ${t} is outside the platform and the module${harness ? " (allowed in tests only)" : ""}`);
    }
  }
  return violations.sort();
}

describe("import boundaries", () => {
  test("hold in src/", () => {
    expect(checkBoundaries(repoRoot)).toEqual([]);
  });

  test("biome.jsonc refuses another module's files in any module folder, a new one included", () => {
    const root = mkdtempSync(join(tmpdir(), "boundaries-biome-"));
    try {
      const files: Record<string, string> = {
        "biome.jsonc": readFileSync(join(repoRoot, "biome.jsonc"), "utf8").replace('"enabled": true, "clientKind": "git", "useIgnoreFile": true', '"enabled": false'),
        "src/modules/brandnew/index.ts": [
          'import { a } from "../chat";',
          'import { b } from "../chat/hub";',
          'import type { c } from "../accounts/service";',
          'import { d } from "../accounts";',
          'import { e } from "../../platform/http/problem";',
          'import { f } from "./own";',
          "export { a, b, d, e, f };",
          "export type { c };",
          "",
        ].join("\n"),
        "src/modules/brandnew/deeper/file.ts": ['import { g } from "../../todos/store";', 'import { h } from "../../accounts";', 'import { i } from "../own";', "export { g, h, i };", ""].join("\n"),
      };
      for (const [path, text] of Object.entries(files)) {
        mkdirSync(dirname(join(root, path)), { recursive: true });
        writeFileSync(join(root, path), text);
      }
      const r = Bun.spawnSync([join(repoRoot, "node_modules/.bin/biome"), "lint", "--reporter=concise", "--max-diagnostics=50", "src"], { cwd: root, stdout: "pipe", stderr: "pipe" });
      const out = r.stdout.toString() + r.stderr.toString();
      const flagged = [...out.matchAll(/(src\/modules\/\S+?):(\d+):\d+: lint\/style\/noRestrictedImports/g)].map((m) => `${m[1]}:${m[2]}`).sort();
      expect(flagged).toEqual(["src/modules/brandnew/deeper/file.ts:1", "src/modules/brandnew/index.ts:1", "src/modules/brandnew/index.ts:2", "src/modules/brandnew/index.ts:3"]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test("the check finds each kind of violation", () => {
    const root = mkdtempSync(join(tmpdir(), "boundaries-"));
    try {
      const files: Record<string, string> = {
        "src/app.ts": 'import { chat } from "./modules/chat";\nexport const app = chat;\n',
        "src/testing/app.ts": 'export { app } from "../app";\n',
        "src/platform/index.ts": 'import { x } from "./db";\nexport const p = x;\n',
        "src/platform/db.ts": "export const x = 1;\n",
        "src/platform/direct.ts": 'import { hub } from "../modules/chat/hub";\nexport const d = hub;\n',
        "src/platform/through.ts": 'import type { app } from "../app";\nexport type T = typeof app;\n',
        "src/platform/fine.ts": 'import { d } from "./direct";\nexport const f = d;\n',
        "src/modules/index.ts": 'export * from "./chat";\n',
        "src/modules/accounts/index.ts": 'export * from "./service";\n',
        "src/modules/accounts/service.ts": "export const accounts = 1;\n",
        "src/modules/todos/index.ts": "export const todos = 1;\n",
        "src/modules/chat/index.ts": 'export { hub as chat } from "./hub";\n',
        "src/modules/chat/hub.ts": [
          'import { accounts } from "../accounts";',
          'import "../accounts/index.ts";',
          'import { p } from "../../platform";',
          'import { x } from "../../platform/db";',
          'import { accounts as internal } from "../accounts/service";',
          'import type { todos } from "../todos";',
          'import { app } from "../../testing/app";',
          "export const hub = [accounts, p, x, internal, app];",
          "export type T = typeof todos;",
          "",
        ].join("\n"),
        "src/modules/chat/sub/deep.ts":
          'import { hub } from "../hub";\nimport { todos } from "../../todos/index";\nexport const deep = [hub, todos];\n',
        "src/modules/chat/hub.test.ts":
          'import { app } from "../../testing/app";\nimport { modules } from "../index";\nimport { todos } from "../todos";\nexport const t = [app, modules, todos];\n',
      };
      for (const [path, text] of Object.entries(files)) {
        mkdirSync(dirname(join(root, path)), { recursive: true });
        writeFileSync(join(root, path), text);
      }
      expect(checkBoundaries(root)).toEqual([
        '(a) src/platform/direct.ts:1 imports "../modules/chat/hub": the platform reaches a module: src/modules/chat/hub.ts',
        '(a) src/platform/through.ts:1 imports type "../app": the platform reaches a module: src/app.ts → src/modules/chat/index.ts',
        '(b) src/modules/chat/hub.test.ts:3 imports "../todos": another module\'s file (src/modules/todos/index.ts); use the platform, or ../accounts (its index)',
        '(b) src/modules/chat/hub.ts:5 imports "../accounts/service": another module\'s file (src/modules/accounts/service.ts); use the platform, or ../accounts (its index)',
        '(b) src/modules/chat/hub.ts:6 imports type "../todos": another module\'s file (src/modules/todos/index.ts); use the platform, or ../accounts (its index)',
        '(b) src/modules/chat/hub.ts:7 imports "../../testing/app": src/testing/app.ts is outside the platform and the module (allowed in tests only)',
        '(b) src/modules/chat/sub/deep.ts:2 imports "../../todos/index": another module\'s file (src/modules/todos/index.ts); use the platform, or ../accounts (its index)',
      ]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
