// The servers built from Go source (go-tools.ts): the versions we deploy, cached so that a second
// run builds nothing, and the way to a new enough Go on a machine whose own is missing or old.
import { afterEach, describe, expect, spyOn, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { ensureGo, ferretdbBinary, ferretdbVersion, goToolchainVersion, natsServerBinary, natsServerVersion, toolchainFromProxy } from "./go-tools";

const root = resolve(import.meta.dir, "../..");
const output = (cmd: string[]) => {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
};

describe("servers built with Go", () => {
  let stderr: ReturnType<typeof spyOn> | undefined;
  afterEach(() => stderr?.mockRestore());

  test("nats-server and FerretDB are the deployed versions, under .tools/<name>/<version> with their marker", () => {
    const nats = natsServerBinary();
    expect(nats).toBe(join(root, ".tools/nats-server", natsServerVersion, "nats-server"));
    expect(output([nats, "--version"]).out.trim()).toBe(`nats-server: ${natsServerVersion}`);
    expect(readFileSync(join(dirname(nats), ".built"), "utf8")).toBe(`nats-server ${natsServerVersion}\n`);

    const ferretdb = ferretdbBinary();
    expect(ferretdb).toBe(join(root, ".tools/ferretdb", ferretdbVersion, "ferretdb"));
    // The version file written before the build: a plain `go install` binary panics here instead.
    const version = output([ferretdb, "--version"]);
    expect(version.code).toBe(0);
    expect(version.out).toContain(`version: ${ferretdbVersion}`);
    expect(readFileSync(join(dirname(ferretdb), ".built"), "utf8")).toBe(`ferretdb ${ferretdbVersion}\n`);
  });

  test("a second call builds nothing: no build line, the same binaries", () => {
    const first = [natsServerBinary(), ferretdbBinary()];
    const lines: string[] = [];
    stderr = spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    expect([natsServerBinary(), ferretdbBinary()]).toEqual(first);
    stderr.mockRestore();
    expect(lines.filter((l) => l.includes("building"))).toEqual([]);
  });

  test("ensureGo: a go at least as new as asked, which never switches toolchains on its own", () => {
    const { go, env } = ensureGo("1.24.0");
    const version = /go(\d+)\.(\d+)/.exec(output([go, "version"]).out);
    expect(version).not.toBeNull();
    expect(Number(version![1]) * 100 + Number(version![2])).toBeGreaterThanOrEqual(124);
    expect(env.GOTOOLCHAIN).toBe("local");
    expect(env.CGO_ENABLED).toBe("0");
    expect(() => ensureGo("99.0.0")).toThrow(/go99\.0\.0 or newer is needed/);
  });

  test("the Go toolchain from the module proxy (for machines whose go is missing or old) runs, executable bits restored", () => {
    const go = toolchainFromProxy();
    expect(go).toBe(join(root, ".tools/go", goToolchainVersion, "bin/go"));
    expect(output([go, "version"]).out).toContain(`go version ${goToolchainVersion} `);
    // Its compiler too (module zips keep no execute bits).
    const tool = output([go, "tool", "-n", "compile"]).out.trim();
    expect(existsSync(tool)).toBe(true);
    expect(output([tool, "-V"]).out).toContain(goToolchainVersion);
  });
});
