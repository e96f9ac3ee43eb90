// Installs/prepares what the test suite needs, so the first test doesn't pay for it:
// redis-server, nats-server (Debian's 2.9, for the tests that run a plain one), chromium, wrk, ops
// tools (Debian packages, installed with apt-get when root), and the servers the real mode runs at
// the versions we deploy: nats-server 2.15.2 and FerretDB 1.24.2, built with Go once and cached
// under .tools/ (src/testing/go-tools.ts; a second run builds nothing).
// Usage: bun scripts/ensure-tools.ts   (scripts/test.ts runs it first)
import { ferretdbBinary, natsServerBinary } from "../src/testing/go-tools";
import { ensureTools, findChromium, type Tool } from "../src/testing/servers";
import { ensureSchemathesis } from "../chaos/schemathesis";

const tools: Tool[] = ["redis-server", "nats-server", "chromium", "wrk"];

// Ops tools for the systemd/, wireguard/ and deploy/ tests: binary → Debian package.
// --no-install-recommends keeps prometheus (for promtool) from pulling in exporters.
const opsTools: Record<string, string> = {
  "systemd-analyze": "systemd",
  promtool: "prometheus",
  nft: "nftables",
  wg: "wireguard-tools",
  "wireguard-go": "wireguard-go",
  ip: "iproute2",
};
// nft and ip live in /usr/sbin, which a non-login PATH may lack.
const opsPath = `${process.env.PATH ?? ""}:/usr/sbin:/sbin`;

function ensureOpsTools(): string[] {
  const missing = Object.keys(opsTools).filter((t) => !Bun.which(t, { PATH: opsPath }));
  if (missing.length === 0) return [];
  const pkgs = [...new Set(missing.map((t) => opsTools[t]!))];
  if (process.getuid?.() !== 0 || !Bun.which("apt-get")) {
    throw new Error(`missing ${missing.join(", ")}: install the Debian packages ${pkgs.join(" ")} (apt-get install -y --no-install-recommends ${pkgs.join(" ")})`);
  }
  for (const cmd of [["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", ...pkgs]]) {
    const r = Bun.spawnSync(cmd, { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" }, stdout: "inherit", stderr: "inherit" });
    if (r.exitCode !== 0) throw new Error(`\`${cmd.join(" ")}\` failed (exit ${r.exitCode})`);
  }
  return pkgs;
}

/** Returns one line per tool saying where it is (and what was installed). Throws on failure. */
export function ensureTestTools(): string[] {
  const t0 = performance.now();
  const installed = [...ensureTools(tools), ...ensureOpsTools()];
  const lines = installed.length ? [`installed Debian packages: ${installed.join(" ")}`] : [];
  for (const tool of tools.filter((t) => t !== "chromium")) lines.push(`${tool}: ${Bun.which(tool)}`);
  lines.push(`chromium: ${findChromium()}`);
  for (const tool of Object.keys(opsTools)) lines.push(`${tool}: ${Bun.which(tool, { PATH: opsPath })}`);
  lines.push(`nats-server (real mode): ${natsServerBinary()}`);
  lines.push(`ferretdb (real mode): ${ferretdbBinary()}`);
  lines.push(`schemathesis: ${ensureSchemathesis()}`);
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
