// Python tools from PyPI in virtualenvs under .tools/<name>, installed when missing at a pinned
// version, the way src/testing/servers.ts installs Debian packages.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ensureTools } from "./servers";

const root = resolve(import.meta.dir, "../..");

function run(cmd: string[]): void {
  const r = Bun.spawnSync(cmd, { cwd: root, stdout: "pipe", stderr: "pipe", env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: "1" } });
  if (r.exitCode !== 0) throw new Error(`\`${cmd.join(" ")}\` failed (exit ${r.exitCode}):\n${(r.stdout.toString() + r.stderr.toString()).slice(-3000)}`);
}

/**
 * Path of `bin` from the virtualenv .tools/<name> holding `requirement` (e.g. "moto[server]==5.2.5");
 * creates the venv and installs it when missing or at another version.
 */
export function ensurePypiTool(name: string, requirement: string, bin: string, log: (line: string) => void = (l) => process.stderr.write(`[pypi] ${l}\n`)): string {
  const venv = join(root, ".tools", name);
  const path = join(venv, "bin", bin);
  // The marker is written last: a venv without it (or for another requirement) is made again.
  const marker = join(venv, ".installed");
  if (existsSync(marker) && readFileSync(marker, "utf8").trim() === requirement && existsSync(path)) return path;
  // python3 and its venv module: Debian's python3-venv brings both (python3 alone lacks ensurepip).
  ensureTools(["python3"]);
  const hasVenv = Bun.spawnSync(["python3", "-c", "import venv, ensurepip"], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
  if (!hasVenv && process.getuid?.() === 0 && Bun.which("apt-get")) {
    log("installing python3-venv");
    run(["apt-get", "install", "-y", "--no-install-recommends", "python3-venv"]);
  }
  const t0 = performance.now();
  rmSync(venv, { recursive: true, force: true });
  mkdirSync(join(root, ".tools"), { recursive: true });
  log(`installing ${requirement} into .tools/${name}`);
  try {
    run(["python3", "-m", "venv", venv]);
    run([join(venv, "bin/pip"), "install", "--quiet", requirement]);
  } catch (err) {
    rmSync(venv, { recursive: true, force: true });
    throw new Error(`could not install ${requirement} (needs python3 with venv, and PyPI): ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!existsSync(path)) throw new Error(`${requirement} installed but ${path} is missing`);
  writeFileSync(marker, `${requirement}\n`);
  log(`${requirement} ready in ${Math.round(performance.now() - t0)} ms`);
  return path;
}
