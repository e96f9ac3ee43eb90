// The /ops page end to end in headless Chromium against the real process: a non-admin signs in
// and sees an error and no data; an admin signs in, watches the live figures move under a small
// load, retries a dead letter from the page (handled by its consumer), and a screenshot is saved.
// No CSP violation and no page error along the way.
//
// The dead letter is the row the bus writes when a consumer gives up (table dead_letters), put
// there by the test for the real challenges-profiles consumer: a user.registered event for a
// profile that does not exist yet. The screenshot goes to a temp dir (removed afterwards), or to
// HOMEBASE_OPS_SCREENSHOT when that names a file.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { newUser } from "../../testing/app";
import { homebaseCommand, startServer, type RunningServer } from "../../testing/process";
import { launchChromium } from "../../testing/browser";

describe("ops page in Chromium", () => {
  let server: RunningServer;
  let browser: Browser;
  let shots: string;

  beforeAll(async () => {
    [server, browser] = await Promise.all([
      startServer({ HOMEBASE_LOG_LEVEL: "warn", HOMEBASE_SQLITE_SYNCHRONOUS: "NORMAL" }),
      launchChromium(),
    ]);
    shots = mkdtempSync(join(tmpdir(), "homebase-ops-e2e-"));
  }, 30_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    rmSync(shots, { recursive: true, force: true });
  });

  const post = (path: string, body: unknown) => fetch(`${server.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

  async function open(): Promise<{ page: Page; errors: string[]; dataSeen: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 1100 } });
    const page = await context.newPage();
    const errors: string[] = [];
    const dataSeen: string[] = [];
    // Injected by the browser tooling, not the page: it reports every CSP violation.
    await page.addInitScript(() => {
      const g = globalThis as any;
      g.__csp = [];
      g.document.addEventListener("securitypolicyviolation", (e: { violatedDirective: string; blockedURI: string }) => g.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    page.on("pageerror", (e) => errors.push(e.message));
    // 401/403 answers are expected on the way (they are logged as failed loads).
    page.on("console", (m) => m.type() === "error" && !/40[13]/.test(m.text()) && errors.push(`${m.text()} ${m.location().url}`));
    page.on("response", (r) => r.url().includes("/ops/api/") && r.status() === 200 && dataSeen.push(r.url()));
    await page.goto(`${server.url}/ops`);
    return { page, errors, dataSeen };
  }

  const cspViolations = (page: Page) => page.evaluate(() => (globalThis as any).__csp as string[]);

  test("a non-admin sees an error and no data; an admin sees live figures, retries a dead letter, screenshot saved", async () => {
    const admin = newUser("opsadmin");
    const plain = newUser("opsplain");
    expect((await post("/auth/signup", admin)).status).toBe(201);
    expect((await post("/auth/signup", plain)).status).toBe(201);
    const promote = Bun.spawnSync(homebaseCommand(["promote", admin.email]), {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", HOMEBASE_DATA_DIR: server.dataDir, HOMEBASE_LOG_LEVEL: "silent" },
    });
    expect(promote.exitCode).toBe(0);

    // A non-admin: refused, and not one answer of the ops API carried data.
    const P = await open();
    await P.page.fill("#email", plain.email);
    await P.page.fill("#password", plain.password);
    await P.page.click("#login");
    await P.page.waitForSelector("#auth-error:has-text('not an admin')");
    expect(await P.page.locator("#app").isHidden()).toBe(true);
    expect(await P.page.locator("#f-rps").textContent()).toBe("–");
    expect(P.dataSeen).toEqual([]);
    expect(await cspViolations(P.page)).toEqual([]);
    expect(P.errors).toEqual([]);
    await P.page.context().close();

    // A dead letter for the real challenges-profiles consumer.
    const eventId = Bun.randomUUIDv7();
    const ghost = Bun.randomUUIDv7();
    const db = new Database(join(server.dataDir, "homebase.sqlite"));
    db.exec("PRAGMA busy_timeout = 5000");
    db.query("INSERT INTO dead_letters (consumer, event_id, subject, payload, error, attempts, failed_at) VALUES (?, ?, ?, ?, ?, ?, ?)").run(
      "challenges-profiles",
      eventId,
      "homebase.accounts.user.registered",
      JSON.stringify({ userId: ghost, email: "ghost@example.com", nickname: "ops_e2e_ghost", registeredAt: new Date().toISOString() }),
      "Error: database is locked (e2e)",
      5,
      Date.now(),
    );

    // The admin.
    const A = await open();
    await A.page.fill("#email", admin.email);
    await A.page.fill("#password", admin.password);
    await A.page.click("#login");
    await A.page.waitForSelector("#app:not([hidden])");
    await A.page.waitForSelector("#live.on");
    const instanceId = await A.page.locator("#instance-id").textContent();
    expect(instanceId).toMatch(/^[0-9a-f-]{36}$/);

    // Live figures under a small load: requests and the chart move without a reload.
    const requestsBefore = Number(await A.page.locator("#f-requests").textContent());
    const sampledBefore = await A.page.locator("#sampled-at").textContent();
    const pointsBefore = Number(await A.page.locator(".chart[data-series=rps] svg").getAttribute("data-points"));
    let load = true;
    const loader = (async () => {
      let n = 0;
      while (load) {
        await Promise.all(Array.from({ length: 10 }, () => fetch(`${server.url}/health/live`).then((r) => r.arrayBuffer())));
        n += 10;
      }
      return n;
    })();
    await A.page.waitForFunction((before) => Number((globalThis as any).document.getElementById("f-requests").textContent) > before + 20, requestsBefore, { timeout: 20_000 });
    await A.page.waitForSelector("#routes td:has-text('GET /health/live')");
    await A.page.waitForFunction(() => Number.parseFloat((globalThis as any).document.getElementById("f-rps").textContent) > 0);
    load = false;
    expect(await loader).toBeGreaterThan(20);
    expect(await A.page.locator("#sampled-at").textContent()).not.toBe(sampledBefore);
    expect(Number(await A.page.locator(".chart[data-series=rps] svg").getAttribute("data-points"))).toBeGreaterThan(pointsBefore);
    expect(await A.page.locator("#backends td:has-text('data dir')").count()).toBe(1);
    expect(await A.page.locator("#instances td:has-text('this one')").count()).toBe(1);

    // The dead letter, with its reason and payload; retried from the page.
    const item = A.page.locator(`#dead-letters tr[data-event-id="${eventId}"]`);
    await item.waitFor();
    expect(await item.textContent()).toContain("database is locked (e2e)");
    expect(await item.locator("pre").textContent()).toContain("ops_e2e_ghost");
    const file = process.env.HOMEBASE_OPS_SCREENSHOT || join(shots, "ops.png");
    await A.page.screenshot({ path: file, fullPage: true });
    await item.locator("button.retry").click();
    await A.page.waitForSelector(`#dead-message:has-text('retried ${eventId}: processed')`);
    await A.page.waitForSelector(`#dead-letters tr[data-event-id="${eventId}"]`, { state: "detached" });

    // Handled by its consumer: the profile exists, the dead letter is gone, the retry is audited.
    expect(db.query("SELECT nickname FROM challenge_profiles WHERE user_id = ?").get(ghost)).toEqual({ nickname: "ops_e2e_ghost" });
    expect(db.query("SELECT COUNT(*) AS n FROM dead_letters WHERE event_id = ?").get(eventId)).toEqual({ n: 0 });
    expect(db.query("SELECT action, outcome, instance_id FROM ops_audit WHERE event_id = ?").all(eventId)).toEqual([
      { action: "dead_letter.retry", outcome: "processed", instance_id: instanceId },
    ]);
    db.close();

    expect(readFileSync(file).subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(await cspViolations(A.page)).toEqual([]);
    expect(A.errors).toEqual([]);
    await A.page.context().close();
  }, 90_000);
});
