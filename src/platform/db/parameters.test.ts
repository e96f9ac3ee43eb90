// Parameters written +? (parameters.ts): the rewrite leaves literals, identifiers and comments
// alone, answers are the same as with bare parameters, and the planner no longer sees the values.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { opaqueParameters } from "./parameters";
import { openDatabase } from "./sqlite";

describe("opaqueParameters", () => {
  const cases: Array<[string, string]> = [
    ["SELECT * FROM t WHERE a = ? AND b > ?2 LIMIT ?", "SELECT * FROM t WHERE a = +? AND b > +?2 LIMIT +?"],
    ["INSERT INTO t (a, b) VALUES ($a, :b)", "INSERT INTO t (a, b) VALUES (+$a, +:b)"],
    ["UPDATE t SET a = @a WHERE id = ? RETURNING id", "UPDATE t SET a = +@a WHERE id = +? RETURNING id"],
    ["DELETE FROM t WHERE id IN (SELECT value FROM json_each(?))", "DELETE FROM t WHERE id IN (SELECT value FROM json_each(+?))"],
    [
      "SELECT json_extract(doc, '$.a?') AS \"x?\", [y?] FROM t WHERE z = ?",
      "SELECT json_extract(doc, '$.a?') AS \"x?\", [y?] FROM t WHERE z = +?",
    ],
    ["SELECT 'it''s ?' AS s -- why ?\nFROM t /* $x ? */ WHERE a = ?", "SELECT 'it''s ?' AS s -- why ?\nFROM t /* $x ? */ WHERE a = +?"],
    ["EXPLAIN QUERY PLAN SELECT * FROM t WHERE a = ?", "EXPLAIN QUERY PLAN SELECT * FROM t WHERE a = +?"],
    ["  with r AS (SELECT ? AS n) SELECT n FROM r", "  with r AS (SELECT +? AS n) SELECT n FROM r"],
    // Already opaque, or an addition: left as they are (the rewrite is idempotent).
    ["SELECT a + ? FROM t WHERE b = +?", "SELECT a + ? FROM t WHERE b = +?"],
    // The LIKE optimisation needs the pattern's value; DDL and PRAGMA take no parameters.
    ["SELECT * FROM t WHERE name LIKE ?", "SELECT * FROM t WHERE name LIKE ?"],
    ["CREATE TABLE t (a TEXT DEFAULT '?')", "CREATE TABLE t (a TEXT DEFAULT '?')"],
    ["PRAGMA user_version", "PRAGMA user_version"],
  ];
  for (const [sql, expected] of cases) {
    test(sql.replace(/\s+/g, " "), () => {
      expect(opaqueParameters(sql)).toBe(expected);
      expect(opaqueParameters(expected)).toBe(expected);
    });
  }
});

describe("a connection from openDatabase", () => {
  let dir: string;
  let db: Database;
  let plain: Database;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "homebase-params-"));
    db = openDatabase(join(dir, "p.sqlite"), { synchronous: "NORMAL" });
    db.exec(`
      CREATE TABLE owners (id TEXT PRIMARY KEY, name TEXT NOT NULL);
      CREATE TABLE things (id TEXT PRIMARY KEY, owner_id TEXT NOT NULL, label TEXT NOT NULL, n INTEGER NOT NULL, due INTEGER NOT NULL, status TEXT NOT NULL);
      CREATE INDEX things_owner ON things (owner_id, n);
      CREATE INDEX things_due ON things (due) WHERE status = 'ACTIVE';
    `);
    const owner = db.query("INSERT INTO owners VALUES (?, ?)");
    const thing = db.query("INSERT INTO things VALUES ($id, $owner, $label, $n, $due, $status)");
    db.transaction(() => {
      for (let o = 0; o < 20; o++) owner.run(`o${o}`, `Owner ${o}`);
      for (let i = 0; i < 2000; i++) {
        thing.run({
          $id: `t${String(i).padStart(4, "0")}`,
          $owner: `o${i % 20}`,
          $label: `${i % 7}`,
          $n: i,
          $due: i % 50,
          $status: i % 3 === 0 ? "ACTIVE" : "DONE",
        });
      }
    })();
    plain = new Database(join(dir, "p.sqlite"), { strict: true });
  });
  afterAll(() => {
    plain.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("answers as a plain connection does: joins, ORDER BY and LIMIT, named parameters, affinity", () => {
    const reads: Array<[string, unknown[]]> = [
      [
        "SELECT t.id, o.name FROM things t JOIN owners o ON o.id = t.owner_id WHERE t.owner_id = ? AND t.n > ? ORDER BY t.n DESC LIMIT ?",
        ["o3", 100, 7],
      ],
      ["SELECT id FROM things WHERE status = 'ACTIVE' AND due <= ? AND id > ? ORDER BY id LIMIT ?", [10, "t0100", 25]],
      ["SELECT id FROM things WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id", [JSON.stringify(["t0001", "t0002", "nope"])]],
      [
        "SELECT COUNT(*) AS c FROM things t JOIN owners o ON o.id = t.owner_id WHERE t.owner_id = $owner AND ($status = '' OR t.status = $status)",
        [{ $owner: "o1", $status: "DONE" }],
      ],
      // A TEXT column against a number and an INTEGER column against a string: the column's affinity
      // applies to the parameter either way.
      ["SELECT id FROM things WHERE label = ? AND n = ? ORDER BY id", [3, "3"]],
    ];
    for (const [sql, args] of reads) {
      const mine = db.query(sql).all(...(args as []));
      const theirs = plain.query(sql).all(...(args as []));
      expect(mine.length).toBeGreaterThan(0);
      expect(mine).toEqual(theirs);
    }
  });

  test("the plan no longer depends on the values bound (the planner looked at them: re-prepared at each execution)", () => {
    const sql = "SELECT id FROM things WHERE status = 'ACTIVE' AND due <= ? AND id > ? ORDER BY id LIMIT ?";
    const plan = (conn: Database, limit: number) =>
      conn
        .query<{ detail: string }, [number, string, number]>(`EXPLAIN QUERY PLAN ${sql}`)
        .all(10, "t0000", limit)
        .map((r) => r.detail)
        .join(" | ");
    // The premise: given bare parameters, SQLite plans by the bound LIMIT.
    expect(plan(plain, 1)).not.toBe(plan(plain, 100_000));
    expect(plan(db, 1)).toBe(plan(db, 100_000));
  });
});
