// `npm run build` produces one executable that runs with no source tree, node_modules or
// internet: migrations and Swagger UI assets are inside it. Checked from an empty directory.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { newUser } from "../src/testing/app";
import { bundleFlags } from "./build";
import { startServer, type RunningServer } from "../src/testing/process";
import { waitFor } from "../src/testing/wait";

const root = resolve(import.meta.dir, "..");

describe("compiled binary", () => {
  const dir = mkdtempSync(join(tmpdir(), "homebase-build-"));
  const bin = join(dir, "homebase");
  let server: RunningServer;

  beforeAll(async () => {
    const build = Bun.spawnSync([process.execPath, join(root, "scripts/build.ts")], {
      cwd: root,
      env: { ...process.env, HOMEBASE_BUILD_OUT: bin },
    });
    if (build.exitCode !== 0) throw new Error(`build failed:\n${build.stdout}\n${build.stderr}`);
    server = await startServer({}, { bin, cwd: dir });
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("is a single executable that reports its version", () => {
    expect(statSync(bin).mode & 0o111).toBeGreaterThan(0);
    const r = Bun.spawnSync([bin, "version"], { cwd: dir });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toMatch(/^homebase \d+\.\d+\.\d+ \(bun /);
  });

  test("takes a scheduled backup, its copy on a worker thread whose script is inside the binary", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "homebase-build-backup-"));
    const backups = join(dataDir, "backups");
    const scheduled = await startServer({ HOMEBASE_BACKUP_CRON: "* * * * * *" }, { bin, cwd: dir, dataDir });
    try {
      await waitFor(() => existsSync(backups) && readdirSync(backups).some((n) => /^homebase-.*\.sqlite$/.test(n)), {
        what: "a scheduled backup",
        timeoutMs: 20_000,
      });
      expect(scheduled.output()).not.toContain("backup failed");
    } finally {
      await scheduled.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test("signup → login → /me → PATCH /me over HTTP, migrations applied from inside the binary", async () => {
    const user = newUser("bin");
    const json = { "content-type": "application/json" };
    const signup = await fetch(`${server.url}/auth/signup`, { method: "POST", headers: json, body: JSON.stringify(user) });
    expect(signup.status).toBe(201);
    const login = await fetch(`${server.url}/auth/login`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ email: user.email, password: user.password }),
    });
    expect(login.status).toBe(200);
    const { accessToken } = (await login.json()) as { accessToken: string };
    const auth = { authorization: `Bearer ${accessToken}` };
    const me = await fetch(`${server.url}/me`, { headers: auth });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { email: string }).email).toBe(user.email);
    const patched = await fetch(`${server.url}/me`, { method: "PATCH", headers: { ...auth, ...json }, body: JSON.stringify({ nickname: `${user.nickname.slice(0, 26)}_bin` }) });
    expect(patched.status).toBe(200);
    const forbidden = await fetch(`${server.url}/users?limit=5`, { headers: auth });
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers.get("content-type")).toContain("application/problem+json");
  });

  test("serves Swagger UI and its assets from the binary", async () => {
    const page = await fetch(`${server.url}/swagger`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("/swagger-assets/swagger-ui-bundle.js");
    const bundle = await fetch(`${server.url}/swagger-assets/swagger-ui-bundle.js`);
    expect(bundle.status).toBe(200);
    expect((await bundle.arrayBuffer()).byteLength).toBeGreaterThan(500_000);
    const spec = (await (await fetch(`${server.url}/swagger/json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(spec.paths)).toContain("/auth/login");
  });
});

describe("release bundle", () => {
  // Elysia composes each route's handler from its hooks' source text (see build.ts): a bundle
  // that reprints that text must not change what any request parses or awaits.
  test("composes every route's handler exactly as the source does", async () => {
    const dir = mkdtempSync(join(tmpdir(), "homebase-bundle-"));
    try {
      const entry = join(root, "scripts/composed-handlers.ts");
      const build = Bun.spawnSync([process.execPath, "build", entry, ...bundleFlags, "--outdir", dir], { cwd: root });
      if (build.exitCode !== 0) throw new Error(`bundle failed:\n${build.stdout}\n${build.stderr}`);
      const composed = (file: string) => {
        const r = Bun.spawnSync([process.execPath, file], { cwd: root, env: { ...process.env, HOMEBASE_LOG_LEVEL: "silent" } });
        if (r.exitCode !== 0) throw new Error(`${file} failed:\n${r.stderr}`);
        // Elysia's own warnings (a misread hook) go to stdout too: the handlers are the JSON line.
        const lines = r.stdout.toString().trim().split("\n");
        return { handlers: JSON.parse(lines.at(-1)!) as Record<string, string>, other: lines.slice(0, -1) };
      };
      const source = composed(entry);
      const bundled = composed(join(dir, "composed-handlers.js"));
      expect(Object.keys(source.handlers).length).toBeGreaterThan(100);
      expect(bundled.other).toEqual([]);
      const differing = Object.keys(source.handlers).filter((route) => bundled.handlers[route] !== source.handlers[route]);
      expect(differing).toEqual([]);
      // What the inference gets right from source: GET /me parses no cookies, query or headers object.
      expect(source.handlers["GET /me"]).not.toMatch(/parseCookie|parseQuery|headers\.toJSON/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
