// Runs homebase as a real process (the way users run it) for tests that need signals,
// sockets or a browser: `bun src/main.ts`, or the compiled binary when HOMEBASE_BIN is set.
import type { Subprocess } from "bun";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort } from "./ports";
import { waitFor } from "./wait";

export interface RunningServer {
  url: string;
  port: number;
  dataDir: string;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** Everything the process printed so far (stdout + stderr). */
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number>;
}

const root = resolve(import.meta.dir, "../..");

export function homebaseCommand(args: string[], bin = process.env.HOMEBASE_BIN): string[] {
  return bin ? [resolve(bin), ...args] : [process.execPath, join(root, "src/main.ts"), ...args];
}

/** Spawns a child whose stdout and stderr are collected as they come (for errors and log checks). */
export function spawnCollecting(cmd: string[], options: { cwd?: string; env: Record<string, string> }): { proc: Subprocess<"ignore", "pipe", "pipe">; output(): string } {
  const proc = Bun.spawn(cmd, { ...options, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let out = "";
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) out += decoder.decode(chunk);
  };
  void pump(proc.stdout);
  void pump(proc.stderr);
  return { proc, output: () => out };
}

export async function startServer(
  env: Record<string, string> = {},
  {
    args = ["all"],
    dataDir,
    bin,
    cwd = root,
    port: fixedPort,
  }: { args?: string[]; dataDir?: string; bin?: string; cwd?: string; port?: number } = {},
): Promise<RunningServer> {
  const port = fixedPort ?? (await freePort());
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), "homebase-proc-"));
  const { proc, output } = spawnCollecting(homebaseCommand(args, bin), {
    cwd,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", HOMEBASE_DATA_DIR: dir, HOMEBASE_PORT: String(port), HOMEBASE_LOG_LEVEL: "info", ...env },
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (proc.exitCode !== null) throw new Error(`homebase exited with ${proc.exitCode}:\n${output()}`);
      // With a shared port (SO_REUSEPORT) a sibling may answer the probe: when the log level
      // shows it, also wait for this process's own "started" line (logged after listen()).
      const quiet = ["warn", "error", "silent"].includes(env.HOMEBASE_LOG_LEVEL ?? "info");
      if (!quiet && !output().includes('"msg":"homebase started"')) return false;
      try {
        return (await fetch(`${url}/health/ready`)).status === 200;
      } catch {
        return false;
      }
    },
    { timeoutMs: 20_000, intervalMs: 20, what: "homebase to become ready" },
  );
  return {
    url,
    port,
    dataDir: dir,
    proc,
    output,
    async stop(signal = "SIGTERM") {
      if (proc.exitCode === null) proc.kill(signal);
      return proc.exited;
    },
  };
}
