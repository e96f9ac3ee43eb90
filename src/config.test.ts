import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig, moduleConfig, redactedConfig } from "./config";
import { accountsModule } from "./modules/accounts";

const jwt = (c: ReturnType<typeof loadConfig>) => moduleConfig(c, accountsModule);

const dir = mkdtempSync(join(tmpdir(), "homebase-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("config", () => {
  test("embedded defaults: loopback, port 3000, role all, no backends, FULL sync", () => {
    const c = loadConfig({ HOMEBASE_DATA_DIR: dir });
    expect(c.host).toBe("127.0.0.1");
    expect(c.port).toBe(3000);
    expect(c.role).toBe("all");
    expect([c.redisUrl, c.natsUrl, c.mongoUrl]).toEqual([null, null, null]);
    expect(c.sqliteSynchronous).toBe("FULL");
  });

  test("the JWT secret is generated once, persisted 0600 and reused", () => {
    const a = loadConfig({ HOMEBASE_DATA_DIR: dir });
    const b = loadConfig({ HOMEBASE_DATA_DIR: dir });
    expect(jwt(a).jwtSecret).toBe(jwt(b).jwtSecret);
    expect(jwt(a).jwtSecret.length).toBeGreaterThanOrEqual(32);
    expect(readFileSync(join(dir, "jwt.secret"), "utf8").trim()).toBe(jwt(a).jwtSecret);
    expect(statSync(join(dir, "jwt.secret")).mode & 0o777).toBe(0o600);
  });

  test.each([
    ["HOMEBASE_PORT", "70000", "an integer from 0 to 65535"],
    ["HOMEBASE_PORT", "80a", "an integer"],
    ["HOMEBASE_ROLE", "boss", "one of serve, worker, all"],
    ["REDIS_URL", "localhost:6379", "a URL"],
    ["NATS_URL", "http://x", "scheme nats:"],
    ["MONGO_URL", "postgres://x", "scheme mongodb:"],
    ["HOMEBASE_HOST", "not a host!", "an IP address"],
    ["HOMEBASE_JWT_SECRET", "short", "at least 32 characters"],
  ])("%s=%s is refused naming the variable", (name, value, expected) => {
    try {
      loadConfig({ HOMEBASE_DATA_DIR: dir, [name]: value });
      throw new Error("accepted");
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).variable).toBe(name);
      expect((err as Error).message).toContain(expected);
    }
  });

  test("HOMEBASE_JWT_SECRET_FILE (systemd LoadCredential=) supplies the secret; nothing is generated", () => {
    const own = mkdtempSync(join(tmpdir(), "homebase-config-file-"));
    try {
      const data = join(own, "data");
      const secretFile = join(own, "jwt-secret");
      writeFileSync(secretFile, "f".repeat(40) + "\n");
      const c = loadConfig({ HOMEBASE_DATA_DIR: data, HOMEBASE_JWT_SECRET_FILE: secretFile });
      expect(jwt(c).jwtSecret).toBe("f".repeat(40));
      expect(jwt(c).jwtSecretSource).toBe("secret-file");
      expect(existsSync(join(data, "jwt.secret"))).toBe(false);
      expect(JSON.stringify(redactedConfig(c))).not.toContain("f".repeat(40));

      const refused = (env: Record<string, string>, expected: string) => {
        try {
          loadConfig({ HOMEBASE_DATA_DIR: data, ...env });
          throw new Error("accepted");
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigError);
          expect((err as ConfigError).variable).toBe("HOMEBASE_JWT_SECRET_FILE");
          expect((err as Error).message).toContain(expected);
        }
      };
      refused({ HOMEBASE_JWT_SECRET_FILE: join(own, "missing") }, "a readable file");
      writeFileSync(join(own, "short"), "tooshort\n");
      refused({ HOMEBASE_JWT_SECRET_FILE: join(own, "short") }, "at least 32 characters");
      refused({ HOMEBASE_JWT_SECRET_FILE: secretFile, HOMEBASE_JWT_SECRET: "e".repeat(40) }, "use one of them");
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });

  test("redaction hides the secret and URL passwords", () => {
    const c = loadConfig({
      HOMEBASE_DATA_DIR: dir,
      HOMEBASE_JWT_SECRET: "s".repeat(40),
      REDIS_URL: "redis://:hunter2@127.0.0.1:6379/0",
    });
    const text = JSON.stringify(redactedConfig(c));
    expect(text).not.toContain("s".repeat(40));
    expect(text).not.toContain("hunter2");
    expect(text).toContain("redacted");
  });
});

describe("the README's configuration table", () => {
  test("is the one the schemas generate (bun scripts/config-table.ts --write)", async () => {
    const { generatedTable, readmeTable } = await import("../scripts/config-table");
    expect(readmeTable()).toBe(generatedTable());
  });

  test("redaction follows the schemas' secret flags", () => {
    const c = loadConfig({ HOMEBASE_DATA_DIR: dir, HOMEBASE_CHAT_S3_BUCKET: "b", HOMEBASE_CHAT_S3_SECRET_ACCESS_KEY: "s3-secret-value", HOMEBASE_SANDBOX_PG_SECRET_KEY: "pg-secret-value" });
    const text = JSON.stringify(redactedConfig(c));
    expect(text).not.toContain("s3-secret-value");
    expect(text).not.toContain("pg-secret-value");
    expect(text).toContain('"HOMEBASE_CHAT_S3_BUCKET":"b"');
  });

  test("a URL's credentials are redacted whatever variable holds it", () => {
    const c = loadConfig({ HOMEBASE_DATA_DIR: dir, NATS_URL: "nats://token-abc@127.0.0.1:4222", MONGO_URL: "mongodb://u:mongo-pw@127.0.0.1:27017/x" });
    const text = JSON.stringify(redactedConfig(c));
    expect(text).not.toContain("token-abc");
    expect(text).not.toContain("mongo-pw");
  });
});

describe("homebase config and configuration errors hide credentials", () => {
  test("the sandbox PG's secret key is flagged secret wherever it is declared", async () => {
    const { sandboxPgConfigSchema } = await import("./modules/sandbox-pg/config");
    const { shopConfigSchema } = await import("./modules/shop/config");
    for (const schema of [sandboxPgConfigSchema, shopConfigSchema]) {
      expect((schema.properties.HOMEBASE_SANDBOX_PG_SECRET_KEY as { secret?: boolean }).secret).toBe(true);
    }
  });

  test("a NATS token as URL user, and credentials in the gateway's and the public URLs, are not printed", () => {
    const c = loadConfig({
      HOMEBASE_DATA_DIR: dir,
      NATS_URL: "nats://nats-token-1@127.0.0.1:4222",
      HOMEBASE_SHOP_PG_URL: "https://merchant:pg-password@pg.example/v1?secret_key=pg-query-secret&lang=ko",
      HOMEBASE_SHOP_PUBLIC_URL: "https://shop:public-password@shop.example/?access_token=public-query-token",
      HOMEBASE_CHAT_S3_BUCKET: "b",
      HOMEBASE_CHAT_S3_ENDPOINT: "https://s3user:s3-password@s3.example",
    });
    const text = JSON.stringify(redactedConfig(c));
    for (const secret of ["nats-token-1", "pg-password", "pg-query-secret", "public-password", "public-query-token", "s3-password"]) expect(text).not.toContain(secret);
    // What is not a credential stays readable.
    expect(text).toContain("https://merchant:redacted@pg.example/v1?secret_key=redacted&lang=ko");
  });

  test.each([
    ["REDIS_URL", "redis://:redis-pw-1@127.0.0.1:notaport"],
    ["REDIS_URL", ":redis-pw-2@127.0.0.1:6379"],
    ["NATS_URL", "http://natsuser:nats-pw-3@127.0.0.1:4222"],
    ["NATS_URL", "nats://nats-token-4@[::1"],
    ["MONGO_URL", "postgres://u:mongo-pw-5@127.0.0.1/x"],
    ["HOMEBASE_SHOP_PG_URL", "ftp://merchant:pg-pw-6@pg.example"],
    ["HOMEBASE_SHOP_PUBLIC_URL", "gopher://x/?api_key=pub-key-7"],
  ])("a refused %s is quoted without its credentials (%s)", (name, value) => {
    const secret = /(?:pw|token|key)-\d/.exec(value)![0];
    try {
      loadConfig({ HOMEBASE_DATA_DIR: dir, [name]: value });
      throw new Error("accepted");
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).variable).toBe(name);
      expect((err as Error).message).toContain("redacted");
      expect((err as Error).message).not.toContain(secret);
      expect((err as ConfigError).got).not.toContain(secret);
    }
  });
});

describe("backend passwords from files (REDIS_PASSWORD_FILE, NATS_PASSWORD_FILE)", () => {
  const own = mkdtempSync(join(tmpdir(), "homebase-config-backends-"));
  afterAll(() => rmSync(own, { recursive: true, force: true }));
  const file = (name: string, content: string) => {
    const path = join(own, name);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  };
  const refusal = (env: Record<string, string>) => {
    try {
      loadConfig({ HOMEBASE_DATA_DIR: dir, ...env });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return err as ConfigError;
    }
    throw new Error("accepted");
  };

  test("the password joins the URL in memory only; homebase config prints the file's path, never the password", async () => {
    const { natsConnectionOptions } = await import("./platform/events/jetstream");
    const odd = "p@ss:w/rd%20 ü";
    const c = loadConfig({
      HOMEBASE_DATA_DIR: dir,
      REDIS_URL: "redis://homebase@127.0.0.1:6379/0",
      REDIS_PASSWORD_FILE: file("redis.password", `${odd}\n`),
      NATS_URL: "nats://homebase@127.0.0.1:4222",
      NATS_PASSWORD_FILE: file("nats.password", "nats-file-secret\n"),
    });
    const redis = new URL(c.redisUrl!);
    // ioredis decodes the URL's user and password.
    expect([redis.username, decodeURIComponent(redis.password), redis.pathname]).toEqual(["homebase", odd, "/0"]);
    expect(natsConnectionOptions(c.natsUrl!)).toEqual({ servers: "nats://127.0.0.1:4222", user: "homebase", pass: "nats-file-secret" });
    const printed = JSON.stringify(redactedConfig(c));
    expect(printed).not.toContain("nats-file-secret");
    expect(printed).not.toContain(encodeURIComponent(odd));
    expect(printed).toContain(join(own, "redis.password"));
  });

  test("no user in the URL: Redis's default user's password, the NATS token", async () => {
    const { natsConnectionOptions } = await import("./platform/events/jetstream");
    const c = loadConfig({
      HOMEBASE_DATA_DIR: dir,
      REDIS_URL: "redis://127.0.0.1:6379",
      REDIS_PASSWORD_FILE: file("requirepass", "default-user-pw"),
      NATS_URL: "nats://127.0.0.1:4222",
      NATS_PASSWORD_FILE: file("token", "nats-token-value"),
    });
    expect(c.redisUrl).toBe("redis://:default-user-pw@127.0.0.1:6379");
    expect(natsConnectionOptions(c.natsUrl!)).toEqual({ servers: "nats://127.0.0.1:4222", token: "nats-token-value" });
  });

  test("refused, naming the file variable: missing or empty file, and a URL that carries a password too", () => {
    const missing = refusal({ REDIS_URL: "redis://h:6379", REDIS_PASSWORD_FILE: join(own, "missing") });
    expect([missing.variable, missing.expected]).toEqual(["REDIS_PASSWORD_FILE", "a readable file holding the password"]);
    const empty = refusal({ NATS_URL: "nats://u@h:4222", NATS_PASSWORD_FILE: file("empty", "\n") });
    expect(empty.variable).toBe("NATS_PASSWORD_FILE");
    expect(empty.message).toContain("empty");
    const both = refusal({ REDIS_URL: "redis://u:inline-pw@h:6379", REDIS_PASSWORD_FILE: file("both", "x") });
    expect(both.variable).toBe("REDIS_PASSWORD_FILE");
    expect(both.message).toContain("use one of them");
    expect(both.message).not.toContain("inline-pw");
  });

  test("without its URL the file is not read (the units hand it over in embedded mode too)", () => {
    const c = loadConfig({ HOMEBASE_DATA_DIR: dir, REDIS_PASSWORD_FILE: join(own, "absent"), NATS_PASSWORD_FILE: join(own, "absent") });
    expect([c.redisUrl, c.natsUrl]).toEqual([null, null]);
  });
});
