// The two modes every integration test runs in (DESIGN.md "Modes"): embedded (no env, all
// in-process) and real (REDIS_URL, NATS_URL, MONGO_URL on servers the harness starts, Redis
// and NATS with authentication on).
import { startRealBackends } from "./servers";

export type Mode = "embedded" | "real";

const allModes: Mode[] = ["embedded", "real"];

/** Both by default; HOMEBASE_TEST_MODES=embedded (comma list) narrows it for quick local runs. */
function selectModes(raw: string | undefined): Mode[] {
  if (!raw?.trim()) return allModes;
  const wanted = raw.split(",").map((m) => m.trim()).filter(Boolean);
  const unknown = wanted.filter((m) => !allModes.includes(m as Mode));
  if (unknown.length) throw new Error(`HOMEBASE_TEST_MODES: unknown mode(s) ${unknown.join(", ")}; expected a comma list of ${allModes.join(", ")}`);
  return allModes.filter((m) => wanted.includes(m));
}

export const modes: Mode[] = selectModes(process.env.HOMEBASE_TEST_MODES);

// A narrowed run says so: the suites of the other modes become zero tests, not failures.
const skipped = allModes.filter((m) => !modes.includes(m));
if (skipped.length > 0) {
  console.warn(`[modes] HOMEBASE_TEST_MODES=${process.env.HOMEBASE_TEST_MODES}: skipping every "(${skipped.join('", "(')})" suite (describe.each(modes))`);
}

/**
 * The env a test app needs for a mode: {} for embedded; for real, the three URLs, Redis's and
 * NATS's naming the user only, their passwords in files (as the systemd units hand them over).
 */
export async function backendEnv(mode: Mode): Promise<Record<string, string>> {
  if (mode === "embedded") return {};
  const { mongoUrl, credentials } = await startRealBackends();
  return {
    REDIS_URL: credentials.redisUrl,
    REDIS_PASSWORD_FILE: credentials.redisPasswordFile,
    NATS_URL: credentials.natsUrl,
    NATS_PASSWORD_FILE: credentials.natsPasswordFile,
    MONGO_URL: mongoUrl,
  };
}
