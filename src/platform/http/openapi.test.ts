// Swagger UI must render every operation with no internet: its assets come from the binary.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chromium, type Browser } from "playwright-core";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findChromium } from "../../testing/servers";
import { startServer, type RunningServer } from "../../testing/process";

interface Spec {
  paths: Record<string, Record<string, { tags?: string[]; responses?: Record<string, unknown>; summary?: string }>>;
}

describe("OpenAPI and Swagger UI", () => {
  let server: RunningServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startServer();
    browser = await chromium.launch({
      executablePath: findChromium(),
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  test("every route in the spec has a summary, a tag and response schemas", async () => {
    const spec = (await (await fetch(`${server.url}/swagger/json`)).json()) as Spec;
    const operations = Object.entries(spec.paths).flatMap(([path, ops]) => Object.entries(ops).map(([m, op]) => ({ path, m, op })));
    expect(operations.length).toBeGreaterThan(10);
    for (const { path, m, op } of operations) {
      expect({ path, m, summary: typeof op.summary }).toEqual({ path, m, summary: "string" });
      expect(op.tags?.length ?? 0).toBeGreaterThan(0);
      expect(Object.keys(op.responses ?? {}).length).toBeGreaterThan(0);
    }
    expect(Object.keys(spec.paths)).not.toContain("/swagger-assets/swagger-ui-bundle.js");
  });

  test("Swagger UI renders all operations in headless Chromium with the network cut off", async () => {
    const spec = (await (await fetch(`${server.url}/swagger/json`)).json()) as Spec;
    const expected = Object.values(spec.paths).reduce((n, ops) => n + Object.keys(ops).length, 0);

    const context = await browser.newContext();
    const blocked: string[] = [];
    // Anything not served by homebase itself is refused: the page must not need it.
    await context.route("**/*", (route) => {
      const url = new URL(route.request().url());
      if (url.hostname === "127.0.0.1") return route.continue();
      blocked.push(url.href);
      return route.abort();
    });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${server.url}/swagger`);
    await page.waitForSelector(".opblock", { timeout: 15_000 });
    const rendered = await page.locator(".opblock").count();
    await page.screenshot({ path: join(tmpdir(), "homebase-swagger.png"), fullPage: false });
    await context.close();

    expect(blocked).toEqual([]);
    expect(errors).toEqual([]);
    expect(rendered).toBe(expected);
  });
});
