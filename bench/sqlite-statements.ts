// What a cached statement costs per execution with bare parameters (SQLite re-prepares it when
// its planner looked at a bound value) and with the +? parameters openDatabase writes
// (src/platform/db/parameters.ts): every SELECT the app prepares, on a test app's empty
// database, each parameter bound to 1. An empty database times the statement, not its rows.
//   node_modules/.bin/bun bench/sqlite-statements.ts [--all]
// Prints µs per execution both ways, the statements that differ most first (all with --all).
import { Database } from "bun:sqlite";
import { opaqueParameters } from "../src/platform/db/parameters";

const texts = new Set<string>();
const prototype = Database.prototype as unknown as Record<
  "query" | "prepare",
  (this: Database, sql: string, ...rest: unknown[]) => unknown
>;
for (const method of ["query", "prepare"] as const) {
  const original = prototype[method];
  prototype[method] = function (this: Database, sql: string, ...rest: unknown[]) {
    // What reaches the prototype from openDatabase's connections is already rewritten: undone
    // here (the app's own SQL writes no +? of its own).
    texts.add(sql.replace(/\+(\?\d*|[:@$][A-Za-z_]\w*)/g, "$1"));
    return original.call(this, sql, ...rest);
  };
}
// Imported after the hook: the app's stores prepare their statements when built.
const { createTestApp } = await import("../src/testing/app");
const app = await createTestApp("embedded");
const db = app.platform.db;
// The prototype's prepare: this connection's own (openDatabase's) would rewrite the bare text too.
const compile = (sql: string) => Database.prototype.prepare.call(db, sql);

const microseconds = (run: () => unknown, times: number): number => {
  const start = performance.now();
  for (let i = 0; i < times; i++) run();
  return ((performance.now() - start) * 1000) / times;
};

const rows: Array<{ bare: number; opaque: number; sql: string }> = [];
for (const sql of texts) {
  if (!/^\s*(SELECT|WITH)\b/i.test(sql) || opaqueParameters(sql) === sql) continue;
  const bare = compile(sql);
  const opaque = compile(opaqueParameters(sql));
  const names = [...new Set([...sql.matchAll(/[:@$][A-Za-z_]\w*/g)].map((m) => m[0]))];
  const args: unknown[] =
    names.length > 0 ? [Object.fromEntries(names.map((n) => [n, 1]))] : Array.from({ length: bare.paramsCount }, () => 1);
  const all = (st: typeof bare) => () => st.all(...(args as []));
  microseconds(all(bare), 300);
  microseconds(all(opaque), 300);
  rows.push({ bare: microseconds(all(bare), 3000), opaque: microseconds(all(opaque), 3000), sql: sql.replace(/\s+/g, " ").trim() });
  bare.finalize();
  opaque.finalize();
}
await app.close();

rows.sort((a, b) => b.bare - b.opaque - (a.bare - a.opaque));
const slower = rows.filter((r) => r.bare - r.opaque > 2);
console.log(`${rows.length} SELECTs with parameters; ${slower.length} cost over 2 µs more with bare parameters`);
console.log("  bare µs  +? µs  statement");
for (const r of process.argv.includes("--all") ? rows : rows.slice(0, 25)) {
  console.log(`${r.bare.toFixed(1).padStart(9)} ${r.opaque.toFixed(1).padStart(6)}  ${r.sql.slice(0, 150)}`);
}
