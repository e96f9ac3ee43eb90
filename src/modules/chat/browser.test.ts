// The /chat page end to end: two users in headless Chromium against the real process —
// sign up and log in, a secret room with a password prompt, live messages both ways, read
// receipts, reactions, presence, a delete, an image, and older history loaded by scrolling up.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { newUser } from "../../testing/app";
import { startServer, type RunningServer } from "../../testing/process";
import { launchChromium } from "../../testing/browser";
import { ChatClient } from "./testkit";

/** A real (decodable) 8×8 PNG of one colour. */
function solidPng(r: number, g: number, b: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(Bun.hash.crc32(body) >>> 0, 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(8, 0);
  header.writeUInt32BE(8, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const rows = Buffer.concat(Array.from({ length: 8 }, () => Buffer.from([0, ...Array.from({ length: 8 }, () => [r, g, b]).flat()])));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", header), chunk("IDAT", deflateSync(rows)), chunk("IEND", Buffer.alloc(0))]);
}

describe("chat page in Chromium", () => {
  let server: RunningServer;
  let browser: Browser;
  let shots: string;

  beforeAll(async () => {
    [server, browser] = await Promise.all([
      startServer({ HOMEBASE_LOG_LEVEL: "warn", HOMEBASE_SQLITE_SYNCHRONOUS: "NORMAL" }),
      launchChromium(),
    ]);
    shots = mkdtempSync(join(tmpdir(), "homebase-chat-e2e-"));
  }, 30_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    rmSync(shots, { recursive: true, force: true });
  });

  async function open(): Promise<{ page: Page; errors: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => m.type() === "error" && !m.text().includes("401") && errors.push(`${m.text()} ${m.location().url}`));
    await page.goto(`${server.url}/chat`);
    return { page, errors };
  }

  test("two users chat in a secret room", async () => {
    const ana = newUser("ana");
    const bo = newUser("bo");
    // bo has an account already and logs in; ana signs up in the page.
    expect((await fetch(`${server.url}/auth/signup`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(bo) })).status).toBe(201);

    const A = await open();
    await A.page.fill("#email", ana.email);
    await A.page.fill("#password", ana.password);
    await A.page.fill("#nickname", ana.nickname);
    await A.page.click("#signup");
    await A.page.waitForSelector("#conn.on");
    await A.page.fill("#room-name", "e2e vault");
    await A.page.fill("#room-password", "open-sesame");
    await A.page.click("#create-form button");
    await A.page.waitForSelector("#room-title:has-text('e2e vault')");
    await A.page.fill("#text", "hello from ana");
    await A.page.press("#text", "Enter");
    await A.page.waitForSelector("#messages li.mine:not(.pending):has-text('hello from ana')");

    // Older history: 40 more messages sent over the socket, so bo's first page (30) is not all.
    const login = (await (await fetch(`${server.url}/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: ana.email, password: ana.password }) })).json()) as { accessToken: string };
    const rooms = (await (await fetch(`${server.url}/rooms?search=e2e%20vault`, { headers: { authorization: `Bearer ${login.accessToken}` } })).json()) as { items: Array<{ id: string }> };
    const roomId = rooms.items[0]!.id;
    const bot = await ChatClient.connect(server.url, login.accessToken);
    await bot.join(roomId);
    for (let i = 0; i < 40; i++) await bot.say(roomId, `backlog ${i}`);
    bot.close();

    const B = await open();
    await B.page.fill("#email", bo.email);
    await B.page.fill("#password", bo.password);
    await B.page.click("#login");
    await B.page.waitForSelector("#conn.on");
    const item = B.page.locator("#rooms li", { hasText: "e2e vault" });
    await item.locator("button.join").click();
    await item.locator("input.room-password").fill("wrong-one");
    await item.locator("input.room-password").press("Enter");
    await B.page.waitForSelector("#room-error:has-text('Wrong password')");
    await item.locator("input.room-password").fill("open-sesame");
    await item.locator("input.room-password").press("Enter");
    await B.page.waitForSelector("#room-title:has-text('e2e vault')");
    await B.page.waitForSelector("#messages li:has-text('backlog 39')");

    // The first page is 30 messages; scrolling to the top loads the next 30, down to ana's first one.
    expect(await B.page.locator("#messages li:has-text('hello from ana')").count()).toBe(0);
    // Functions, not strings (the page's CSP forbids eval); typed loosely, without the DOM library.
    await B.page.evaluate(() => (globalThis as any).document.getElementById("messages").scrollTo(0, 0));
    await B.page.waitForSelector("#messages li:has-text('hello from ana')");

    // Presence and the system message, live at ana's.
    await A.page.waitForSelector(`#participants li.online:has-text('${bo.nickname}')`);
    await A.page.waitForSelector(`#messages li.system:has-text('${bo.nickname} joined')`);

    // Live both ways; bo reads, and ana sees the receipt.
    await B.page.fill("#text", "hi ana, bo here");
    await B.page.press("#text", "Enter");
    await A.page.waitForSelector("#messages li:has-text('hi ana, bo here')");
    await A.page.fill("#text", "welcome bo");
    await A.page.press("#text", "Enter");
    await B.page.waitForSelector("#messages li:has-text('welcome bo')");
    await A.page.waitForSelector(`#messages li.mine:has-text('welcome bo') .receipt:has-text('${bo.nickname}')`);

    // Reactions: bo likes ana's message and ana sees the count; ana loves it and bo sees it; bo
    // switches to laugh (one kind per user: the like goes), then clicks it again to take it back.
    const welcome = "#messages li:has-text('welcome bo')";
    const react = (kind: string, state = "") => `${welcome} button.react${state}[data-kind='${kind}']`;
    await B.page.click(react("like"));
    await A.page.waitForSelector(`${react("like", ".used")}:has-text('1')`);
    await B.page.waitForSelector(react("like", ".mine"));
    await A.page.click(react("love"));
    await B.page.waitForSelector(`${react("love", ".used")}:has-text('1')`);
    await A.page.waitForSelector(react("love", ".mine"));
    await B.page.click(react("laugh"));
    await A.page.waitForSelector(`${react("laugh", ".used")}:has-text('1')`);
    await A.page.waitForSelector(react("like", ":not(.used)"));
    await B.page.click(react("laugh"));
    await A.page.waitForSelector(react("laugh", ":not(.used)"));
    await B.page.waitForSelector(react("laugh", ":not(.mine)"));
    expect(await A.page.locator(react("love", ".used")).textContent()).toBe("❤️ 1");

    // An image, shown to bo (fetched with the token, decoded by the browser).
    await A.page.setInputFiles("#file", { name: "red.png", mimeType: "image/png", buffer: solidPng(220, 30, 30) });
    await A.page.fill("#text", "a red square");
    await A.page.press("#text", "Enter");
    const img = B.page.locator("#messages li:has-text('a red square') img");
    await img.waitFor();
    await B.page.waitForFunction(() => [...(globalThis as any).document.querySelectorAll("#messages img")].some((i: { complete: boolean; naturalWidth: number }) => i.complete && i.naturalWidth === 8));

    // ana deletes a message; bo sees it go.
    await A.page.locator("#messages li.mine:has-text('welcome bo') button.delete").click();
    await B.page.waitForSelector("#messages li.deleted:has-text('message deleted')");
    expect(await B.page.locator("#messages li:has-text('welcome bo')").count()).toBe(0);

    // bo leaves the page: offline at ana's.
    const file = join(shots, "chat-bo.png");
    await B.page.screenshot({ path: file });
    await A.page.screenshot({ path: join(shots, "chat-ana.png") });
    await B.page.context().close();
    await A.page.waitForSelector(`#participants li:not(.online):has-text('${bo.nickname}')`);

    expect(readFileSync(file).subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(A.errors).toEqual([]);
    expect(B.errors).toEqual([]);
    await A.page.context().close();
  }, 60_000);
});

// The page keeps its socket past the access token's lifetime by refreshing and sending the
// fresh token over the socket (`auth` op), and goes back to the login form when the session is
// ended elsewhere (4001). A 10 s token lifetime: the real process's clock cannot be moved.
describe("chat page keeps its socket with its session", () => {
  let server: RunningServer;
  let browser: Browser;

  beforeAll(async () => {
    [server, browser] = await Promise.all([
      startServer({ HOMEBASE_LOG_LEVEL: "warn", HOMEBASE_SQLITE_SYNCHRONOUS: "NORMAL", HOMEBASE_ACCESS_TTL_SEC: "10" }),
      launchChromium(),
    ]);
  }, 30_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  const post = async (path: string, body: unknown, token?: string) =>
    fetch(`${server.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
  const closedFor = async (reason: string) => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(`homebase_ws_closed_total{reason="${reason}"}`));
    return line ? Number(line.split(" ").at(-1)) : 0;
  };

  test("the socket outlives its first token, then closes when the session is ended elsewhere", async () => {
    const user = newUser("renew");
    expect((await post("/auth/signup", user)).status).toBe(201);
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${server.url}/chat`);
    await page.fill("#email", user.email);
    await page.fill("#password", user.password);
    await page.click("#login");
    await page.waitForSelector("#conn.on");
    const loggedInAt = Date.now();
    const firstToken = await page.evaluate(() => (globalThis as any).sessionStorage.getItem("hb.token") as string);
    await page.fill("#room-name", "renewals");
    await page.click("#create-form button");
    await page.waitForSelector("#room-title:has-text('renewals')");

    // Past the first token's 10 s (and the second's renewal): the page renewed over the same socket.
    await page.waitForFunction((first) => (globalThis as any).sessionStorage.getItem("hb.token") !== first, firstToken);
    while (Date.now() - loggedInAt < 12_000) await page.waitForTimeout(250);
    await page.fill("#text", "still here after the first token");
    await page.press("#text", "Enter");
    await page.waitForSelector("#messages li.mine:not(.pending):has-text('still here after the first token')");
    expect(await closedFor("token_expired")).toBe(0);
    expect(await page.locator("#conn.on").count()).toBe(1);

    // Logged out everywhere from another device: the page's socket closes (4001), back to the form.
    const other = (await (await post("/auth/login", { email: user.email, password: user.password })).json()) as { accessToken: string };
    expect((await post("/auth/logout-all", {}, other.accessToken)).status).toBe(200);
    await page.waitForSelector("#auth:not([hidden]) #auth-error:has-text('session ended')");
    expect(await closedFor("session_ended")).toBeGreaterThanOrEqual(1);
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);
});
