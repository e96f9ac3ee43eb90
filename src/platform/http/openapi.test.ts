// Swagger UI must render every operation with no internet: its assets come from the binary.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser } from "playwright-core";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launchChromium } from "../../testing/browser";
import { swaggerContentSecurityPolicy } from "./openapi";
import { startServer, type RunningServer } from "../../testing/process";

/** Compiling the bundle and rendering ~110 operations: seconds when idle, over 15 s on a loaded 2-core machine. */
const renderTimeoutMs = 60_000;

interface Spec {
  paths: Record<string, Record<string, { tags?: string[]; responses?: Record<string, unknown>; summary?: string }>>;
}

describe("OpenAPI and Swagger UI", () => {
  let server: RunningServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startServer();
    browser = await launchChromium();
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

  test("what the runtime and HTML pages answer is documented: 431 (no body) on every operation; an HTML page as text/html", async () => {
    const spec = (await (await fetch(`${server.url}/swagger/json`)).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>>;
    };
    for (const [path, ops] of Object.entries(spec.paths)) {
      for (const [m, op] of Object.entries(ops)) expect({ path, m, content: op.responses["431"]?.content ?? "none" }).toEqual({ path, m, content: "none" });
    }
    // An oversized URL is what the runtime refuses with 431, before any handler.
    const huge = await fetch(`${server.url}/health/live?pad=${"x".repeat(70_000)}`);
    expect(huge.status).toBe(431);
    const page = spec.paths["/orders/{id}/payment/result"]?.get?.responses["200"]?.content ?? {};
    expect(Object.keys(page)).toEqual(["text/html"]);
    const result = await fetch(`${server.url}/orders/${Bun.randomUUIDv7()}/payment/result?outcome=paid`);
    expect(result.headers.get("content-type")).toContain("text/html");
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
    // Whatever the page's CSP refuses (a script, a style, an eval) is an event: collect them.
    // (Runs in the page: typed by hand, this project compiles without the DOM library.)
    type PageGlobals = { cspViolations: string[]; document: EventTarget };
    await page.addInitScript(() => {
      const page = globalThis as unknown as PageGlobals;
      page.cspViolations = [];
      page.document.addEventListener("securitypolicyviolation", (e) => {
        const v = e as unknown as { effectiveDirective: string; blockedURI: string };
        page.cspViolations.push(`${v.effectiveDirective} ${v.blockedURI}`);
      });
    });
    const response = await page.goto(`${server.url}/swagger`);
    await page.waitForSelector(".opblock", { timeout: renderTimeoutMs });
    const rendered = await page.locator(".opblock").count();
    await page.screenshot({ path: join(tmpdir(), "homebase-swagger.png"), fullPage: false });
    const violations = await page.evaluate(() => (globalThis as unknown as PageGlobals).cspViolations);
    await context.close();

    expect(response?.headers()["content-security-policy"]).toBe(swaggerContentSecurityPolicy);
    expect(blocked).toEqual([]);
    expect(errors).toEqual([]);
    expect(violations).toEqual([]);
    expect(rendered).toBe(expected);
  }, 2 * renderTimeoutMs);

  test("/swagger is served with a strict Content-Security-Policy and has no inline script", async () => {
    const res = await fetch(`${server.url}/swagger`);
    expect(res.status).toBe(200);
    const csp = res.headers.get("content-security-policy") ?? "";
    const directives = new Map(csp.split(";").map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name!, values]));
    expect(directives.get("default-src")).toEqual(["'none'"]);
    expect(directives.get("script-src")).toEqual(["'self'"]);
    expect(directives.get("style-src")).toEqual(["'self'"]);
    expect(directives.get("connect-src")).toEqual(["'self'"]);
    expect(directives.get("frame-ancestors")).toEqual(["'none'"]);
    expect(directives.get("base-uri")).toEqual(["'none'"]);
    expect(csp).not.toMatch(/unsafe|\*|https?:/);
    // Every script is a file from this origin, so script-src 'self' needs no hash or nonce.
    const html = await res.text();
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBe(2);
    for (const [, attributes, body] of scripts) {
      expect(attributes).toMatch(/\bsrc="\/swagger-assets\//);
      expect(body!.trim()).toBe("");
    }
    expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
  });

  test("a bearer token pasted into Authorize is used in memory, never written to localStorage", async () => {
    const token = `eyJ.test-token-${Bun.randomUUIDv7()}`;
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${server.url}/swagger`);
      await page.waitForSelector(".opblock", { timeout: renderTimeoutMs });
      await page.locator(".auth-wrapper .btn.authorize").click();
      await page.locator(".auth-container input").fill(token);
      await page.locator(".auth-btn-wrapper .btn.modal-btn.auth").first().click();
      // Authorized in this page: the dialog now offers Logout.
      await page.waitForSelector(".auth-btn-wrapper button:has-text('Logout')", { timeout: 5_000 });
      const stored = await page.evaluate(() => JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage } }));
      expect(stored).not.toContain(token);
      expect(stored).not.toContain("authorized");
    } finally {
      await context.close();
    }
  }, 2 * renderTimeoutMs);
});
