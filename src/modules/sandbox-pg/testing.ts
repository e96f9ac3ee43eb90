// Test helpers for the sandbox PG: the module on its own in an app listening on a real port (its
// checkout page redirects, and its control routes need a socket peer), and calls in its shapes.
import { expect } from "bun:test";
import { createTestApp, type TestApp } from "../../testing/app";
import { moduleConfig } from "../../config";
import { internalCredential } from "../../platform/http/internal";
import type { Mode } from "../../testing/modes";
import { freePort } from "../../testing/ports";
import type { SandboxPg } from "./engine";
import { sandboxPgModule } from "./index";

export interface SandboxTestApp {
  t: TestApp;
  url: string;
  engine: SandboxPg;
  /** The merchant key its API asks for (generated into the test's data dir unless the env sets one). */
  secret: string;
  /** `Authorization: Bearer <internal token>`: what the control routes ask for. */
  internal: Record<string, string>;
  /** POST JSON with the secret key (and any other headers). */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }>;
  /** Changes the injected faults over the control route (loopback is internal, with the internal token). */
  faults(patch: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

export async function startSandbox(mode: Mode, env: Record<string, string> = {}): Promise<SandboxTestApp> {
  // The port is fixed before the config is read: the checkout URLs point at it.
  const port = await freePort();
  const t = await createTestApp(mode, { HOMEBASE_SANDBOX_PG_HANG_MS: "300", ...env, HOMEBASE_PORT: String(port) }, undefined, [
    sandboxPgModule,
  ]);
  t.app.listen({ hostname: "127.0.0.1", port });
  const url = `http://127.0.0.1:${port}`;
  const engine = t.modules.apis["sandbox-pg"].engine;
  if (!engine) throw new Error("the sandbox PG is not mounted");
  const internal = { authorization: `Bearer ${internalCredential(t.platform.config).token}` };
  const secret = moduleConfig(t.platform.config, sandboxPgModule).secretKey;
  return {
    t,
    url,
    engine,
    secret,
    internal,
    async post(path, body, headers = {}) {
      const res = await fetch(`${url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `SECRET_KEY ${secret}`, ...headers },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    },
    async faults(patch) {
      const res = await fetch(`${url}/sandbox-pg/control`, {
        method: "PUT",
        headers: { "content-type": "application/json", ...internal },
        body: JSON.stringify(patch),
      });
      expect(res.status).toBe(200);
    },
    async close() {
      await t.modules.close();
      await t.app.stop(true);
      await t.close();
    },
  };
}
