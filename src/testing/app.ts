// Builds a full homebase app for a test, in a mode: embedded, or on the real servers the
// harness started. Each test app gets its own data dir and its own key/stream namespace.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp, createModules, type ModuleList, type Modules } from "../app";
import { loadConfig } from "../config";
import { modules as moduleList } from "../modules";
import { createPlatform, type Platform } from "../platform";
import type { Clock } from "../platform/clock";
import { createLogger } from "../platform/logger";
import { backendEnv, type Mode } from "./modes";

export interface TestApp {
  mode: Mode;
  platform: Platform;
  modules: Modules;
  app: ReturnType<typeof createApp>;
  dataDir: string;
  /** Sends a request through app.handle (no socket); JSON bodies are encoded. */
  request(method: string, path: string, options?: { body?: unknown; token?: string; headers?: Record<string, string> }): Promise<Response>;
  close(): Promise<void>;
}

export async function createTestApp(
  mode: Mode,
  env: Record<string, string> = {},
  /** Runs before the event bus starts, e.g. to register a test consumer. */
  beforeStart?: (platform: Platform) => void,
  /** The modules to install (default: the binary's list); a test may add a fixture module. */
  list: ModuleList = moduleList,
  /** A ManualClock, for tests that move time instead of sleeping. */
  options: { clock?: Clock } = {},
): Promise<TestApp> {
  const dataDir = mkdtempSync(join(tmpdir(), "homebase-test-"));
  const config = loadConfig({
    HOMEBASE_DATA_DIR: dataDir,
    HOMEBASE_LOG_LEVEL: "silent",
    HOMEBASE_PORT: "0",
    // Own stream and durable consumers on the shared test NATS.
    HOMEBASE_EVENT_NAMESPACE: `t${Bun.randomUUIDv7().replaceAll("-", "").slice(-12)}`,
    ...(await backendEnv(mode)),
    ...env,
  }, list);
  const platform = await createPlatform(config, { logger: createLogger(env.HOMEBASE_LOG_LEVEL === "debug" ? "debug" : "silent"), clock: options.clock });
  const modules = createModules(platform, list) as unknown as Modules;
  beforeStart?.(platform);
  await platform.events.start();
  const app = createApp(platform, modules);
  return {
    mode,
    platform,
    modules,
    app,
    dataDir,
    request(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      let body: string | undefined;
      if (options.body !== undefined) {
        if (typeof options.body === "string") body = options.body;
        else {
          body = JSON.stringify(options.body);
          headers["content-type"] ??= "application/json";
        }
      }
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      // A full host name: a short one breaks Elysia's routing (DESIGN.md, Known traps).
      return app.handle(new Request(`http://localhost.test${path}`, { method, headers, body }));
    },
    async close() {
      await platform.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

let seq = 0;
/** A unique, valid signup body. */
export function newUser(prefix = "user") {
  const n = `${Date.now().toString(36)}${(++seq).toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  return { email: `${prefix}.${n}@example.com`, password: "Sup3r-secret!", nickname: `${prefix}_${n}`.slice(0, 30) };
}

/** Signs up and logs in a fresh user; returns its tokens and body. */
export async function signupAndLogin(t: TestApp, prefix = "user") {
  const body = newUser(prefix);
  const signup = await t.request("POST", "/auth/signup", { body });
  if (signup.status !== 201) throw new Error(`signup failed: ${signup.status} ${await signup.text()}`);
  const user = (await signup.json()) as { id: string; email: string; nickname: string; role: string };
  const login = await t.request("POST", "/auth/login", { body: { email: body.email, password: body.password } });
  if (login.status !== 200) throw new Error(`login failed: ${login.status} ${await login.text()}`);
  const tokens = (await login.json()) as { accessToken: string; refreshToken: string; sessionId: string };
  return { ...body, user, tokens };
}
