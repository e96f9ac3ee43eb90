// Redaction of URL credentials, in what `homebase config` prints and in configuration errors.
import { describe, expect, test } from "bun:test";
import { t } from "elysia";
import { type ConfigError, env, readEnv, redactUrl, redactValue } from "./env";

describe("redactUrl", () => {
  test.each([
    ["redis://:hunter2@127.0.0.1:6379/0", "redis://:redacted@127.0.0.1:6379/0"],
    ["redis://homebase:hunter2@127.0.0.1:6379", "redis://homebase:redacted@127.0.0.1:6379"],
    // A user without a password is a token (NATS): hidden.
    ["nats://s3cr3t-token@127.0.0.1:4222", "nats://redacted@127.0.0.1:4222"],
    ["https://pg.example/v1?secret_key=abc&lang=ko&access_token=def", "https://pg.example/v1?secret_key=redacted&lang=ko&access_token=redacted"],
    // Text that does not parse keeps only what follows the last "@".
    ["redis://:pa/ss@host:notaport", "redis://redacted@host:notaport"],
    [":hunter2@localhost:6379", "redacted@localhost:6379"],
    ["nats://tok@[::1", "nats://redacted@[::1"],
    // Nothing to hide: unchanged.
    ["nats://127.0.0.1:4222", "nats://127.0.0.1:4222"],
    ["localhost:6379", "localhost:6379"],
  ])("%s → %s", (raw, redacted) => {
    expect(redactUrl(raw)).toBe(redacted);
  });
});

describe("configuration errors and printed values", () => {
  const schema = t.Object({ X_URL: env.url(["redis:"], { description: "" }), X_NAME: env.string({ default: "", description: "", check: (v) => (v.length < 40 ? undefined : "short") }) });

  test("a refused URL variable quotes the value without its password; other variables quote it as given", () => {
    const refused = (source: Record<string, string>) => {
      try {
        readEnv(schema, source);
      } catch (err) {
        return err as ConfigError;
      }
      throw new Error("accepted");
    };
    const url = refused({ X_URL: "http://u:hunter2@h" });
    expect(url.got).toBe("http://u:redacted@h/");
    expect(url.message).not.toContain("hunter2");
    // Not a URL variable: the value is the operator's own text, quoted as given.
    expect(refused({ X_NAME: "n".repeat(41) }).got).toBe("n".repeat(41));
  });

  test("printed: URL variables redacted even without a scheme, lists element by element, other strings untouched", () => {
    expect(redactValue(schema.properties.X_URL, ":pw@h:1")).toBe("redacted@h:1");
    expect(redactValue(env.list({ default: "", description: "" }), ["https://a:pw@x/", "plain"])).toEqual(["https://a:redacted@x/", "plain"]);
    expect(redactValue(schema.properties.X_NAME, "admin@example.com")).toBe("admin@example.com");
  });
});
