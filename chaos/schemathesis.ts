// schemathesis (PyPI) in a virtualenv under .tools/, installed when missing, the way
// src/testing/servers.ts installs Debian packages: the fuzz test and `bun run chaos` call it.
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ensureTools } from "../src/testing/servers";

export const schemathesisVersion = "4.32.5";

const root = resolve(import.meta.dir, "..");
const venv = join(root, ".tools/schemathesis");
const bin = join(venv, "bin/schemathesis");
const marker = join(venv, ".installed");

function run(cmd: string[]): string {
  const r = Bun.spawnSync(cmd, { cwd: root, stdout: "pipe", stderr: "pipe", env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: "1" } });
  const out = r.stdout.toString() + r.stderr.toString();
  if (r.exitCode !== 0) throw new Error(`\`${cmd.join(" ")}\` failed (exit ${r.exitCode}):\n${out.slice(-3000)}`);
  return out;
}

function installedVersion(): string | null {
  if (!existsSync(bin)) return null;
  const r = Bun.spawnSync([bin, "--version"], { stdout: "pipe", stderr: "pipe" });
  return r.exitCode === 0 ? /version (\S+)/.exec(r.stdout.toString())?.[1] ?? null : null;
}

// CPython 3.11 before 3.11.8 (gh-106905) can raise "SystemError: AST constructor recursion depth
// mismatch" from ast.parse when called deep in the stack. Hypothesis parses a lambda's source file
// only to name a filter in a repr, so schemathesis's coverage phase died on it (a runtime error
// of the tool, not a finding). The lambda is then named by a placeholder instead.
const astWorkaround = `import hypothesis.internal.lambda_sources as _sources

_describe = _sources.lambda_description


def _lambda_description(f):
    try:
        return _describe(f)
    except SystemError:
        return "lambda: <source not shown>"


_sources.lambda_description = _lambda_description
`;

/** Installs the workaround into the venv's site-packages, loaded at start by a .pth line. */
function ensureAstWorkaround(): void {
  const site = run([join(venv, "bin/python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).trim();
  const module = join(site, "homebase_ast_workaround.py");
  if (existsSync(module)) return;
  writeFileSync(module, astWorkaround);
  writeFileSync(join(site, "homebase_ast_workaround.pth"), "import homebase_ast_workaround\n");
}

/** Path of the schemathesis CLI at the pinned version; creates the venv and installs it when missing. */
export function ensureSchemathesis(log: (line: string) => void = (l) => process.stderr.write(`[schemathesis] ${l}\n`)): string {
  // The marker is written last: a venv without it is a broken install and is made again.
  if (existsSync(marker) && installedVersion() === schemathesisVersion) {
    ensureAstWorkaround();
    return bin;
  }
  // python3 and its venv module: Debian's python3-venv brings both.
  ensureTools(["python3"]);
  const t0 = performance.now();
  rmSync(venv, { recursive: true, force: true });
  mkdirSync(join(root, ".tools"), { recursive: true });
  log(`installing schemathesis ${schemathesisVersion} into .tools/schemathesis`);
  try {
    run(["python3", "-m", "venv", venv]);
    run([join(venv, "bin/pip"), "install", "--quiet", `schemathesis==${schemathesisVersion}`]);
  } catch (err) {
    rmSync(venv, { recursive: true, force: true });
    throw new Error(`could not install schemathesis (needs python3 with venv, and PyPI): ${err instanceof Error ? err.message : String(err)}`);
  }
  const version = installedVersion();
  if (version !== schemathesisVersion) throw new Error(`schemathesis installed but \`${bin} --version\` says ${version}`);
  ensureAstWorkaround();
  writeFileSync(marker, `${version}\n`);
  log(`schemathesis ${version} ready in ${Math.round(performance.now() - t0)} ms`);
  return bin;
}
