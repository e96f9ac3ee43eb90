// The module contract end to end: a throwaway module (src/testing/fixtures/notes: one folder)
// added to the list gets its route into the OpenAPI document, its migration applied, its
// variable validated and its consumer fed with another module's events. And the config loader's
// warning for a misspelt variable.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig, unknownVariableWarnings } from "./config";
import { modules } from "./modules";
import { createTestApp, signupAndLogin, type TestApp } from "./testing/app";
import { notesModule } from "./testing/fixtures/notes";
import { modes } from "./testing/modes";
import { waitFor } from "./testing/wait";

const withNotes = [...modules, notesModule] as const;

describe.each(modes)("a module added to the list (%s)", (mode) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(mode, { HOMEBASE_NOTES_MAX_LENGTH: "10" }, undefined, withNotes);
  });
  afterAll(() => t.close());

  test("its route is served and documented under its tag", async () => {
    const spec = (await (await t.request("GET", "/swagger/json")).json()) as {
      paths: Record<string, Record<string, { tags?: string[] }>>;
      tags: Array<{ name: string }>;
    };
    expect(spec.paths["/notes"]?.post?.tags).toEqual(["notes"]);
    expect(spec.tags.map((tag) => tag.name)).toContain("notes");
  });

  test("its migration is applied and recorded under its name", () => {
    const row = t.platform.db.query("SELECT module, version FROM module_migrations WHERE module = 'notes'").get();
    expect(row).toEqual({ module: "notes", version: 1 });
    expect(t.platform.db.query("SELECT name FROM sqlite_master WHERE name = 'notes'").get()).toEqual({ name: "notes" });
  });

  test("its variable is read: the configured limit applies", async () => {
    const { tokens } = await signupAndLogin(t, "notes");
    expect((await t.request("POST", "/notes", { token: tokens.accessToken, body: { body: "short" } })).status).toBe(201);
    const long = await t.request("POST", "/notes", { token: tokens.accessToken, body: { body: "far too long" } });
    expect(long.status).toBe(422);
    expect(((await long.json()) as { code: string }).code).toBe("note_too_long");
  });

  test("its consumer receives another module's events", async () => {
    const { user, email } = await signupAndLogin(t, "heard");
    const notes = (t.modules.apis as unknown as { notes: { knownUsers(): Array<{ user_id: string; email: string }> } }).notes;
    await waitFor(() => notes.knownUsers().some((u) => u.user_id === user.id && u.email === email), { what: "user.registered at the notes consumer" });
  });
});

describe("configuration of listed modules", () => {
  const dir = mkdtempSync(join(tmpdir(), "homebase-app-config-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("a bad value of a module's variable names it and what it expected", () => {
    try {
      loadConfig({ HOMEBASE_DATA_DIR: dir, HOMEBASE_NOTES_MAX_LENGTH: "0" }, withNotes);
      throw new Error("accepted");
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).variable).toBe("HOMEBASE_NOTES_MAX_LENGTH");
      expect((err as Error).message).toContain("an integer from 1 to 10000");
    }
  });

  test("a variable only an unlisted module declares is unknown", () => {
    const config = loadConfig({ HOMEBASE_DATA_DIR: dir, HOMEBASE_NOTES_MAX_LENGTH: "5" });
    expect(config.unknown.map((u) => u.name)).toEqual(["HOMEBASE_NOTES_MAX_LENGTH"]);
    expect(loadConfig({ HOMEBASE_DATA_DIR: dir, HOMEBASE_NOTES_MAX_LENGTH: "5" }, withNotes).unknown).toEqual([]);
  });

  test("a misspelt variable is reported with the closest known name; known ones are not", () => {
    const config = loadConfig({ HOMEBASE_DATA_DIR: dir, HOMEBASE_BOOKING_RATE_LIMIT_WINDOW_MS: "1000", HOMEBASE_PORT: "3001", PATH: "/bin" });
    expect(config.unknown).toEqual([{ name: "HOMEBASE_BOOKING_RATE_LIMIT_WINDOW_MS", closest: "HOMEBASE_BOOKING_RATE_WINDOW_MS" }]);
    expect(unknownVariableWarnings(config)).toEqual([
      "HOMEBASE_BOOKING_RATE_LIMIT_WINDOW_MS is not a homebase variable (did you mean HOMEBASE_BOOKING_RATE_WINDOW_MS?); it is ignored",
    ]);
  });
});

describe("a data dir made before modules kept their own migrations", () => {
  test("upgrades in place: nothing re-runs, every row stays", async () => {
    const { Database } = await import("bun:sqlite");
    const { migrationSets } = await import("./app");
    const { migrate, openDatabase } = await import("./platform/db/sqlite");
    const dir = mkdtempSync(join(tmpdir(), "homebase-legacy-"));
    try {
      // What the binary before per-module migrations did: one global numbered list (the same SQL
      // files, in the order they had), recorded in schema_migrations.
      const path = join(dir, "homebase.sqlite");
      const old = new Database(path, { create: true, strict: true });
      old.exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
      const all = migrationSets().flatMap((set) => set.migrations.map((m) => ({ ...m, module: set.module })));
      // The old list: the migrations that carry their old global number; later ones are new.
      const legacy = all.filter((m) => m.legacyVersion !== undefined);
      const added = all.filter((m) => m.legacyVersion === undefined);
      expect(legacy.map((m) => m.legacyVersion)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      for (const m of legacy) {
        old.exec(m.sql);
        old.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)").run(m.legacyVersion!, m.name, 1_700_000_000_000 + m.legacyVersion!);
      }
      old.exec("INSERT INTO outbox (id, subject, payload, created_at) VALUES ('e1', 'homebase.accounts.user.registered', '{}', 1)");
      const tables = old.query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all();
      old.close();

      const db = openDatabase(path, { synchronous: "FULL" });
      try {
        // Only the migrations added since run; the old ones are adopted with their dates.
        expect(migrate(db, migrationSets())).toEqual(added.map((m) => `${m.module}@${m.version}`));
        const adopted = db.query("SELECT module, version, applied_at FROM module_migrations WHERE applied_at < 1700000001000 ORDER BY applied_at").all();
        expect(adopted).toEqual(legacy.map((m) => ({ module: m.module, version: m.version, applied_at: 1_700_000_000_000 + m.legacyVersion! })));
        expect(db.query("SELECT id FROM outbox").all()).toEqual([{ id: "e1" }]);
        // Every table the old database had is still there (new migrations may add more).
        const after = new Set(db.query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'table'").all().map((r) => r.name));
        for (const { name } of tables) expect(after.has(name)).toBe(true);
      } finally {
        db.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("optional variables", () => {
  test("an optional choice left unset reads as unset, not as its first value", async () => {
    const { t } = await import("elysia");
    const { env } = await import("./platform/config");
    const { readEnv } = await import("./platform/config/env");
    const schema = t.Object({ HOMEBASE_X_SWITCH: env.optionalOneOf(["on", "off"], { description: "x" }) });
    expect(readEnv(schema, {}).HOMEBASE_X_SWITCH).toBeUndefined();
    expect(readEnv(schema, { HOMEBASE_X_SWITCH: "off" }).HOMEBASE_X_SWITCH).toBe("off");
  });
});

describe("the composed request handlers", () => {
  test("no HTTP route defines Elysia's `server` per request (one handler or hook naming it makes every route do so)", async () => {
    const t = await createTestApp("embedded");
    try {
      const history = (t.app as unknown as { router: { history: Array<{ method: string; path: string; compile(): unknown }> } }).router.history;
      expect(history.length).toBeGreaterThan(100);
      // The WebSocket route's upgrade needs the server: Elysia's own code, not ours.
      const reading = history.filter((r) => r.method !== "WS" && String(r.compile()).includes("defineProperty(c,'server'"));
      expect(reading.map((r) => `${r.method} ${r.path}`)).toEqual([]);
    } finally {
      await t.close();
    }
  });
});
