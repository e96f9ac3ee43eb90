// `homebase doctor`'s checks of the data dir and the database files' modes.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "./config";
import { type Check, runDoctor } from "./doctor";
import { createPlatform } from "./index";
import { createLogger } from "./logger";

// The platform alone: no module generates a secret into the data dir, so only the platform's
// own code creates it (as when the JWT secret comes from the environment or a file).
const modules: [] = [];

const line = (checks: Check[], name: string) => checks.find((c) => c.name === name);

describe("doctor: data dir and database file modes", () => {
  let root: string;
  let umask: number;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "homebase-doctor-"));
    umask = process.umask(0o022);
  });
  afterEach(() => {
    process.umask(umask);
    rmSync(root, { recursive: true, force: true });
  });

  test("no generated secret: the platform still makes the data dir 0700 and its database 0600, and doctor passes them; looser modes warn, world-readable database files fail", async () => {
    const env = { HOMEBASE_DATA_DIR: join(root, "data"), HOMEBASE_LOG_LEVEL: "silent" };
    const platform = await createPlatform(loadConfig(env, modules), { logger: createLogger("silent") });
    await platform.writer.write(() => platform.db.exec("CREATE TABLE IF NOT EXISTS probe (x)"));
    try {
      const tight = await runDoctor(env, modules);
      expect(line(tight, "data dir")).toMatchObject({ status: "pass", detail: expect.stringContaining("mode 700") });
      expect(line(tight, "database files")).toMatchObject({ status: "pass", detail: "homebase.sqlite (mode 600), homebase.sqlite-wal (mode 600), homebase.sqlite-shm (mode 600)" });

      const dbFile = join(env.HOMEBASE_DATA_DIR, "homebase.sqlite");
      chmodSync(env.HOMEBASE_DATA_DIR, 0o750);
      chmodSync(dbFile, 0o640);
      const group = await runDoctor(env, modules);
      expect(line(group, "data dir")).toMatchObject({ status: "warn", detail: expect.stringContaining("its group (mode 750); chmod 700") });
      expect(line(group, "database files")).toMatchObject({ status: "warn", detail: "accessible to their group: homebase.sqlite (mode 640); chmod 600" });

      chmodSync(env.HOMEBASE_DATA_DIR, 0o755);
      chmodSync(`${dbFile}-wal`, 0o644);
      const world = await runDoctor(env, modules);
      expect(line(world, "data dir")).toMatchObject({ status: "warn", detail: expect.stringContaining("other users (mode 755)") });
      expect(line(world, "database files")).toMatchObject({ status: "fail", detail: "readable or writable by every user: homebase.sqlite-wal (mode 644); chmod 600" });
    } finally {
      await platform.close();
    }
  });
});
