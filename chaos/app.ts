// An in-process homebase listening on a real port of 127.0.0.1 (sockets, WebSockets, the
// sandbox PG calling back over HTTP), for the chaos tests that need no separate process.
import { createTestApp, type TestApp } from "../src/testing/app";
import type { Mode } from "../src/testing/modes";
import { freePort } from "../src/testing/ports";
import type { Platform } from "../src/platform";
import { internalCredential } from "../src/platform/http/internal";

export interface ListeningApp {
  t: TestApp;
  base: string;
  port: number;
  /** `Authorization: Bearer <internal token>`, for /internal/* and the sandbox PG's control routes (from loopback). */
  internal: Record<string, string>;
  promote(email: string): Promise<void>;
  close(): Promise<void>;
}

export async function listeningApp(mode: Mode, env: Record<string, string> = {}, beforeStart?: (p: Platform) => void): Promise<ListeningApp> {
  // The port is fixed before the config is read: the sandbox PG's URLs point at it.
  const port = await freePort();
  const t = await createTestApp(mode, { HOMEBASE_SQLITE_SYNCHRONOUS: "NORMAL", ...env, HOMEBASE_PORT: String(port) }, beforeStart);
  t.app.listen({ hostname: "127.0.0.1", port });
  return {
    t,
    base: `http://127.0.0.1:${port}`,
    port,
    internal: { authorization: `Bearer ${internalCredential(t.platform.config).token}` },
    promote: async (email) => void (await t.modules.apis.accounts.promoteByEmail(email)),
    async close() {
      await t.modules.close();
      await t.app.stop(true);
      await t.close();
    },
  };
}
