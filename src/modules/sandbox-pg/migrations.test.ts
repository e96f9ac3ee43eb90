// Migration 0002 rebuilds the idempotency records as a rowid table: what a version-1 database
// holds comes through unchanged, a key still answers once, and a record no longer needs an
// overflow page.
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { migrate } from "../../platform/db/sqlite";
import { sandboxPgModule } from "./index";

function atVersion(version: number): Database {
  const db = new Database(":memory:", { strict: true });
  migrate(db, [{ module: "sandbox-pg", migrations: sandboxPgModule.migrations!.filter((m) => m.version <= version) }]);
  return db;
}

// A record the size the engine writes: a ~570-byte fingerprint and a ~450-byte answer.
const record = (i: number) => ({
  key: new Bun.CryptoHasher("sha256").update(String(i)).digest("hex"),
  operation: i % 2 ? "approve" : "ready",
  fingerprint: JSON.stringify(["ready", { partnerOrderId: `order-${i}`, pad: "f".repeat(520) }]),
  status: i % 5 ? 200 : 402,
  body: JSON.stringify({ ok: true, value: { tid: `T${i}`, pad: "b".repeat(400) } }),
  createdAt: 1_700_000_000_000 + i,
});

function seed(db: Database, n: number) {
  const insert = db.query(
    "INSERT INTO shop_sandbox_idempotency (key, operation, fingerprint, status, body, created_at) VALUES ($key, $operation, $fingerprint, $status, $body, $createdAt)",
  );
  db.transaction(() => {
    for (let i = 0; i < n; i++) insert.run(record(i));
  })();
}

const contents = (db: Database) => db.query("SELECT * FROM shop_sandbox_idempotency ORDER BY key").all();
const withoutRowid = (db: Database) => db.query("SELECT wr FROM pragma_table_list WHERE name = 'shop_sandbox_idempotency'").get();
const pages = (db: Database) =>
  db.query<{ pages: number }, []>("SELECT count(*) AS pages FROM dbstat WHERE name = 'shop_sandbox_idempotency'").get()!.pages;

describe("sandbox-pg migration 0002: idempotency records in a rowid table", () => {
  test("keeps every record, the age index and the unique key, in fewer pages than one per record", () => {
    const db = atVersion(1);
    seed(db, 400);
    const before = contents(db);
    expect(withoutRowid(db)).toEqual({ wr: 1 });
    // Each record overflows an index page: more than one page per record.
    expect(pages(db)).toBeGreaterThan(400);

    migrate(db, [{ module: "sandbox-pg", migrations: sandboxPgModule.migrations! }]);

    expect(withoutRowid(db)).toEqual({ wr: 0 });
    expect(contents(db)).toEqual(before);
    expect(pages(db)).toBeLessThan(200);
    expect(db.query("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'shop_sandbox_idempotency_age'").get()).toEqual({
      name: "shop_sandbox_idempotency_age",
    });
    const again = record(7);
    expect(() =>
      db
        .query("INSERT INTO shop_sandbox_idempotency (key, operation, fingerprint, status, body, created_at) VALUES (?, 'ready', 'x', 200, '{}', 1)")
        .run(again.key),
    ).toThrow(/UNIQUE/);
    expect(db.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
  });
});
