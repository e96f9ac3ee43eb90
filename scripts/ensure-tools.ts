// Installs/prepares what the test suite needs, so the first test doesn't pay for it:
// redis-server, nats-server, chromium, java + maven (Debian packages, installed with apt-get
// when root) and the mongo-java-server classpath (Maven, cached under .tools/).
// Usage: bun scripts/ensure-tools.ts   (scripts/test.ts runs it first)
import { ensureTools, findChromium, mongoClasspath, type Tool } from "../src/testing/servers";

const tools: Tool[] = ["redis-server", "nats-server", "java", "mvn", "chromium", "wrk"];

/** Returns one line per tool saying where it is (and what was installed). Throws on failure. */
export function ensureTestTools(): string[] {
  const t0 = performance.now();
  const installed = ensureTools(tools);
  const lines = installed.length ? [`installed Debian packages: ${installed.join(" ")}`] : [];
  for (const tool of tools.filter((t) => t !== "chromium")) lines.push(`${tool}: ${Bun.which(tool)}`);
  lines.push(`chromium: ${findChromium()}`);
  const cp = mongoClasspath();
  lines.push(`mongo-java-server: ${cp.split(":").length} jars on the classpath (.tools/mongo-server/classpath.txt)`);
  lines.push(`ready in ${Math.round(performance.now() - t0)} ms`);
  return lines;
}

if (import.meta.main) {
  try {
    for (const line of ensureTestTools()) console.error(`[ensure-tools] ${line}`);
  } catch (err) {
    console.error(`[ensure-tools] FAILED: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
