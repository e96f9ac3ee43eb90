// Servers the harness builds from Go source at the versions we deploy, cached under
// .tools/<name>/<version>/ (git-ignored): nats-server 2.15.2 (Debian's 2.9.10 refuses
// deploy/nats.conf's `sync_interval: always`) and FerretDB 1.24.2 (a real MongoDB wire-protocol
// database, SQLite backend). A build ends with a marker file; with the marker and the binary in
// place nothing is built again.
// Go: the machine's `go` when it is new enough, else a Go toolchain from the Go module proxy
// (the module golang.org/toolchain, what GOTOOLCHAIN=goX.Y.Z fetches), downloaded with any go,
// even Debian bookworm's golang-go 1.19 (installed with apt-get when there is no go at all).
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { arch } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "../..");
const toolsDir = join(root, ".tools");

function log(line: string): void {
  process.stderr.write(`[harness] ${line}\n`);
}

/** The versions we deploy (README.md "Deploy on a home server"; DESIGN.md). */
export const natsServerVersion = "v2.15.2";
export const ferretdbVersion = "v1.24.2";
/** The Go a build uses when the machine's is missing or older than the tool's go.mod asks. */
export const goToolchainVersion = "go1.26.8";

type Version = [number, number, number];

function parseGoVersion(text: string): Version | null {
  const m = /go(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : null;
}

function atLeast(have: Version, want: Version): boolean {
  for (let i = 0; i < 3; i++) if (have[i] !== want[i]) return have[i]! > want[i]!;
  return true;
}

function goVersion(go: string): Version | null {
  const r = Bun.spawnSync([go, "env", "GOVERSION"], { env: { ...process.env, GOTOOLCHAIN: "local" }, stdout: "pipe", stderr: "pipe" });
  return r.exitCode === 0 ? parseGoVersion(r.stdout.toString()) : null;
}

/** Runs a command, its output kept for the error; throws with the tail when it fails. */
function run(cmd: string[], opts: { cwd?: string; env?: Record<string, string | undefined> } = {}): string {
  const r = Bun.spawnSync(cmd, { cwd: opts.cwd ?? root, env: opts.env ?? process.env, stdout: "pipe", stderr: "pipe" });
  const out = r.stdout.toString() + r.stderr.toString();
  if (r.exitCode !== 0) throw new Error(`[harness] \`${cmd.join(" ")}\` failed (exit ${r.exitCode}):\n${out.slice(-3000)}`);
  return r.stdout.toString();
}

/** Any go at all, for downloading a toolchain: PATH, Debian's /usr/lib/go-*, else apt-get golang-go. */
function bootstrapGo(): string {
  const found = () => Bun.which("go") ?? readdirSync("/usr/lib").filter((d) => d.startsWith("go-")).map((d) => `/usr/lib/${d}/bin/go`).find((p) => existsSync(p));
  const go = found();
  if (go) return go;
  if (process.getuid?.() !== 0 || !Bun.which("apt-get")) {
    throw new Error(`[harness] no go on PATH: install Go ${goToolchainVersion.slice(2)} or newer (or Debian's golang-go, from which the harness fetches it through the Go module proxy)`);
  }
  log("no go on PATH: installing Debian's golang-go, only to fetch a newer Go toolchain through the Go module proxy");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  run(["apt-get", "update"], { env });
  run(["apt-get", "install", "-y", "--no-install-recommends", "golang-go"], { env });
  const installed = found();
  if (!installed) throw new Error("[harness] installed golang-go but found no go binary");
  return installed;
}

/** .tools/go/<version>: the golang.org/toolchain module, downloaded by `go mod download`. */
export function toolchainFromProxy(): string {
  const dir = join(toolsDir, "go", goToolchainVersion);
  const go = join(dir, "bin", "go");
  if (existsSync(join(dir, ".ready")) && existsSync(go)) return go;
  const bootstrap = bootstrapGo();
  const goArches: Record<string, string> = { x64: "amd64", arm64: "arm64" };
  const goArch = goArches[arch()] ?? arch();
  const module = `golang.org/toolchain@v0.0.1-${goToolchainVersion}.${process.platform}-${goArch}`;
  log(`fetching Go ${goToolchainVersion} (${module}) through the Go module proxy with ${bootstrap} (about 10 seconds, about 80 MB)`);
  const modcache = join(toolsDir, "go", "modcache");
  const env = { ...process.env, GOMODCACHE: modcache, GOFLAGS: "-modcacherw", GOTOOLCHAIN: "local" };
  const info = JSON.parse(run([bootstrap, "mod", "download", "-json", module], { env, cwd: toolsDir })) as { Dir?: string; Error?: string };
  if (!info.Dir) throw new Error(`[harness] go mod download ${module}: ${info.Error ?? "no Dir"}`);
  const tmp = `${dir}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  cpSync(info.Dir, tmp, { recursive: true });
  run(["chmod", "-R", "u+w", tmp]);
  // Module zips keep no execute bits (the go command restores them the same way when it switches).
  for (const sub of ["bin", ...readdirSync(join(tmp, "pkg/tool")).map((d) => `pkg/tool/${d}`)]) {
    for (const f of readdirSync(join(tmp, sub))) chmodSync(join(tmp, sub, f), 0o755);
  }
  writeFileSync(join(tmp, ".ready"), `${module}\n`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  rmSync(modcache, { recursive: true, force: true });
  return go;
}

/** A go command at least `min` ("1.26.0") and the env to build with it (never switching toolchains on its own). */
export function ensureGo(min: string): { go: string; env: Record<string, string | undefined> } {
  const want = parseGoVersion(`go${min}`)!;
  const onPath = Bun.which("go");
  const version = onPath ? goVersion(onPath) : null;
  const go = onPath && version && atLeast(version, want) ? onPath : toolchainFromProxy();
  const have = goVersion(go);
  if (!have || !atLeast(have, want)) throw new Error(`[harness] ${go} is go${have?.join(".") ?? "?"}; go${min} or newer is needed`);
  // CGO off: both servers are pure Go on Linux (FerretDB's SQLite is modernc.org/sqlite), so no C compiler is needed.
  return { go, env: { ...process.env, GOTOOLCHAIN: "local", CGO_ENABLED: "0", GOFLAGS: `${process.env.GOFLAGS ?? ""} -modcacherw -buildvcs=false`.trim() } };
}

interface GoTool {
  name: string;
  version: string;
  /** The `go` line of the tool's go.mod. */
  minGo: string;
  /** How long a first build usually takes here (2 busy cores, modules downloaded too), said before it starts. */
  about: string;
  /** Builds the binary `name` into `out` (a fresh directory). */
  build(go: string, env: Record<string, string | undefined>, out: string): void;
}

/** The path of the tool's binary, built into .tools/<name>/<version>/ unless it already is. */
function ensureGoTool(tool: GoTool): string {
  const dir = join(toolsDir, tool.name, tool.version);
  const bin = join(dir, tool.name);
  const marker = join(dir, ".built");
  const stamp = `${tool.name} ${tool.version}`;
  if (existsSync(marker) && readFileSync(marker, "utf8").trim() === stamp && existsSync(bin)) return bin;
  const { go, env } = ensureGo(tool.minGo);
  log(`building ${tool.name} ${tool.version} with ${go} (${tool.about} the first time; cached in .tools/${tool.name}/${tool.version})`);
  const t0 = performance.now();
  // Built beside the target and renamed into place: a concurrent run never sees half a build.
  const tmp = `${dir}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    tool.build(go, env, tmp);
    if (!existsSync(join(tmp, tool.name))) throw new Error(`[harness] building ${tool.name} left no ${tool.name} binary`);
    writeFileSync(join(tmp, ".built"), `${stamp}\n`);
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  log(`${tool.name} ${tool.version} built in ${Math.round((performance.now() - t0) / 1000)} s`);
  return bin;
}

const natsServerTool: GoTool = {
  name: "nats-server",
  version: natsServerVersion,
  minGo: "1.26.0",
  about: "about 2 minutes",
  build: (go, env, out) => void run([go, "install", `github.com/nats-io/nats-server/v2@${natsServerVersion}`], { env: { ...env, GOBIN: out }, cwd: out }),
};

const ferretdbTool: GoTool = {
  name: "ferretdb",
  version: ferretdbVersion,
  minGo: "1.24.0",
  about: "about 3 minutes",
  build(go, env, out) {
    // `go install` would panic at start: build/version/version.txt is made by FerretDB's own
    // build task (from git). So: its source from the module cache, the version file, go build.
    const info = JSON.parse(run([go, "mod", "download", "-json", `github.com/FerretDB/FerretDB@${ferretdbVersion}`], { env, cwd: out })) as { Dir?: string; Error?: string };
    if (!info.Dir) throw new Error(`[harness] go mod download FerretDB: ${info.Error ?? "no Dir"}`);
    const src = join(out, "src");
    cpSync(info.Dir, src, { recursive: true });
    // A module cache filled without -modcacherw is read-only, and so would be the copy.
    run(["chmod", "-R", "u+w", src]);
    writeFileSync(join(src, "build/version/version.txt"), `${ferretdbVersion}\n`);
    run([go, "build", "-o", join(out, "ferretdb"), "./cmd/ferretdb"], { env, cwd: src });
    rmSync(src, { recursive: true, force: true });
  },
};

/** nats-server ≥ 2.10 (the deployed version), built once. */
export function natsServerBinary(): string {
  return ensureGoTool(natsServerTool);
}

/** FerretDB (SQLite backend) for MONGO_URL, built once. */
export function ferretdbBinary(): string {
  return ensureGoTool(ferretdbTool);
}
