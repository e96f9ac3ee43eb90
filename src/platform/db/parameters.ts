// Statements planned once. Bun's SQLite (3.54) lets the query planner look at the values bound to a
// statement's parameters — in joins, ORDER BY, LIMIT — and then marks the statement to be planned
// again whenever a parameter is re-bound: each execution of such a cached statement re-prepares
// it. That cost 6–35 µs per execution (bench/sqlite-statements.ts: the screening view of every
// booking 15.4 → 1.7 µs, a project's task list 16.1 → 1.9 µs), more than the read itself.
//
// Writing a parameter as `+?` keeps its value out of the planner: unary + is a no-op on any value
// and, like a bare parameter, has no affinity, so comparisons, index use and results are the same
// (SQLite's "Type Conversions Prior To Comparison"). The statements of a connection opened with
// openDatabase get their parameters written so, once per SQL text. Not done for LIKE/GLOB
// patterns, whose index optimisation needs the value (homebase has none).
import type { Database } from "bun:sqlite";

// A string literal, a quoted identifier, a comment, or a parameter (?, ?NNN, :name, @name, $name)
// not already behind a unary +.
const token =
  /'(?:[^']|'')*'|"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\]|--[^\n]*|\/\*[\s\S]*?\*\/|(?<!\+\s*)(\?\d*|[:@$][A-Za-z_][A-Za-z0-9_]*)/g;

/** Only statements that read or change rows (and EXPLAIN of them: shown as they run). */
const dataStatement = /^\s*(?:EXPLAIN\s+(?:QUERY\s+PLAN\s+)?)?(?:SELECT|WITH|INSERT|REPLACE|UPDATE|DELETE)\b/i;

/** The SQL with each parameter written `+param` (string literals, identifiers and comments untouched). */
export function opaqueParameters(sql: string): string {
  if (!dataStatement.test(sql) || /\b(?:LIKE|GLOB)\b/i.test(sql)) return sql;
  return sql.replace(token, (match, parameter: string | undefined) => (parameter === undefined ? match : `+${parameter}`));
}

/** Past this many distinct SQL texts, rewrites are no longer remembered (they stay correct). */
const rememberedTexts = 4096;

/** Makes `db.query` and `db.prepare` compile their SQL with opaque parameters. */
export function planOnce(db: Database): void {
  const rewritten = new Map<string, string>();
  const rewrite = (sql: string): string => {
    let out = rewritten.get(sql);
    if (out === undefined) {
      out = opaqueParameters(sql);
      if (rewritten.size < rememberedTexts) rewritten.set(sql, out);
    }
    return out;
  };
  const query = db.query.bind(db);
  const prepare = db.prepare.bind(db);
  Object.assign(db, {
    query: (sql: string) => query(rewrite(sql)),
    prepare: (sql: string, params?: Parameters<Database["prepare"]>[1]) => prepare(rewrite(sql), params),
  });
}
