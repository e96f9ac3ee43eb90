// Backpressure and abuse on the socket: a slow reader is closed without holding up the room,
// a flooding client is limited then closed, an oversized frame closes the socket, and a
// draining instance closes every socket (1001) and refuses new ones. These limits live in
// the process, whatever the backends, so they run once (embedded).
import type { Counter } from "prom-client";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApp } from "../../app";
import { createTestApp, signupAndLogin, type TestApp } from "../../testing/app";
import { waitFor } from "../../testing/wait";
import { closeCodes } from "./model";
import { ChatClient, contents } from "./testkit";

describe("chat socket limits", () => {
  let t: TestApp;
  let base: string;
  let token: string;
  let userId: string;
  let roomId: string;
  const clients: ChatClient[] = [];

  const connect = async () => {
    const c = await ChatClient.connect(base, token);
    clients.push(c);
    return c;
  };
  const closedFor = async (reason: string) => {
    const metric = (await (t.platform.metrics.registry.getSingleMetric("homebase_ws_closed_total") as Counter).get()).values.find((v) => v.labels.reason === reason);
    return metric?.value ?? 0;
  };

  beforeAll(async () => {
    t = await createTestApp("embedded", {
      HOMEBASE_CHAT_WS_RATE: "1000",
      HOMEBASE_CHAT_WS_MAX_PAYLOAD_BYTES: "32768",
      HOMEBASE_CHAT_WS_MAX_BUFFERED_BYTES: "65536",
      HOMEBASE_SQLITE_SYNCHRONOUS: "NORMAL",
    });
    t.app.listen({ hostname: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${t.app.server!.port}`;
    const u = await signupAndLogin(t, "abuse");
    token = u.tokens.accessToken;
    userId = u.user.id;
    roomId = (await t.modules.apis.chat.service.createRoom({ userId, nickname: u.user.nickname }, { name: "limits" })).id;
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await t.app.stop(true);
    await t.close();
  });

  test("a client that stops reading is closed (4008) and the others get every message", async () => {
    const [sender, reader, slow] = await Promise.all([connect(), connect(), connect()]);
    await Promise.all([sender.join(roomId), reader.join(roomId), slow.join(roomId)]);
    // Stop reading: the kernel buffers fill, then the server's send buffer passes its bound.
    slow.ws.pause();
    const body = "z".repeat(9_000);
    let sent = 0;
    while ((await closedFor("slow_consumer")) === 0) {
      if (sent >= 3_000) throw new Error("the slow consumer was never closed");
      // Paced by the good reader, and well under the rate limit (1000/s, bursts of 2000).
      for (let i = 0; i < 40; i++) sender.send({ op: "send", roomId, clientMsgId: `slow-${sent + i}`, kind: "text", content: `${sent + i}:${body}` });
      sent += 40;
      await reader.next((e) => e.event === "message" && e.message.clientMsgId === `slow-${sent - 1}`, `message ${sent - 1}`);
    }
    expect(contents(reader, roomId)).toHaveLength(sent);
    slow.ws.resume();
    const closed = await slow.waitClosed();
    // The close frame sits behind the unread data; a reset shows as 1006.
    expect([closeCodes.slowConsumer, 1006]).toContain(closed.code);
    // The room goes on.
    await sender.say(roomId, "still here");
    await reader.next((e) => e.event === "message" && e.message.content === "still here", "after the close");
  }, 30_000);

  test("flooding: refused with rate_limited, then closed with 4029; other sockets are not affected", async () => {
    const [flooder, bystander] = await Promise.all([connect(), connect()]);
    for (let i = 0; i < 6000; i++) flooder.send({ op: "ping", t: i });
    const notice = await flooder.next((e) => e.event === "error" && e.code === "rate_limited", "rate_limited");
    expect(notice.detail).toContain("1000");
    expect((await flooder.waitClosed()).code).toBe(closeCodes.rateLimited);
    // Fewer pongs than pings: the burst went through, the rest was refused.
    const pongs = flooder.all((e) => e.event === "pong").length;
    expect(pongs).toBeGreaterThan(0);
    expect(pongs).toBeLessThan(6000);
    bystander.send({ op: "ping", t: 1, ref: "alive" });
    await bystander.next((e) => e.event === "pong" && e.ref === "alive", "pong");
  });

  test("a frame over the payload limit closes the socket with 1009", async () => {
    const c = await connect();
    c.ws.send(JSON.stringify({ op: "ping", pad: "p".repeat(40_000) }));
    expect((await c.waitClosed()).code).toBe(closeCodes.tooBig);
  });

  test("draining: open sockets get 1001, new upgrades 503", async () => {
    const state = t.modules.state;
    const app = createApp(t.platform, t.modules).listen({ hostname: "127.0.0.1", port: 0 });
    const url = `http://127.0.0.1:${app.server!.port}`;
    try {
      const c = await ChatClient.connect(url, token);
      clients.push(c);
      state.draining = true;
      expect((await c.waitClosed()).code).toBe(closeCodes.goingAway);
      const refused = await fetch(`${url}/ws?token=${token}`, {
        headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" },
      });
      expect(refused.status).toBe(503);
      await waitFor(() => t.modules.apis.chat.hub.size <= clients.filter((x) => x.closed === null).length, { what: "hub to forget closed sockets" });
    } finally {
      state.draining = false;
      await app.stop(true);
    }
  });
});

// L3: one token (or one address) cannot hold an unbounded number of sockets, each with its own
// rate bucket. Past a cap the upgrade is refused with 429; the sockets already open stay.
describe("chat socket caps", () => {
  let t: TestApp;
  let base: string;
  const clients: ChatClient[] = [];
  const upgrade = (token: string, headers: Record<string, string> = {}) =>
    fetch(`${base}/ws?token=${encodeURIComponent(token)}`, {
      headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13", ...headers },
    });
  const connect = async (token: string, headers?: Record<string, string>) => {
    const c = await ChatClient.connect(base, token, "query", headers);
    clients.push(c);
    return c;
  };
  const refused = async (res: Response) => {
    expect(res.status).toBe(429);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(((await res.json()) as { code: string }).code).toBe("too_many_sockets");
  };

  beforeAll(async () => {
    t = await createTestApp("embedded", {
      HOMEBASE_CHAT_WS_MAX_PER_USER: "3",
      HOMEBASE_CHAT_WS_MAX_PER_IP: "5",
      HOMEBASE_TRUSTED_PROXIES: "127.0.0.1",
      HOMEBASE_SQLITE_SYNCHRONOUS: "NORMAL",
    });
    t.app.listen({ hostname: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${t.app.server!.port}`;
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await t.app.stop(true);
    await t.close();
  });

  test("per user: the upgrade past the cap gets 429 too_many_sockets, across sessions; a closed socket frees its slot", async () => {
    // Each test from its own (forwarded) address: the per-IP cap stays out of the way.
    const from = { "x-forwarded-for": "203.0.113.1" };
    const u = await signupAndLogin(t, "capuser");
    const second = (await (await t.request("POST", "/auth/login", { body: { email: u.email, password: u.password } })).json()) as { accessToken: string };
    const open = [await connect(u.tokens.accessToken, from), await connect(u.tokens.accessToken, from), await connect(second.accessToken, from)];
    await refused(await upgrade(u.tokens.accessToken, from));
    await refused(await upgrade(second.accessToken, from));
    // The open ones are untouched.
    for (const c of open) await c.ping();
    open[0]!.close();
    // Refused attempts take no slot; once the close is seen, one opens.
    let again: ChatClient | null = null;
    await waitFor(async () => (again = await connect(second.accessToken, from).catch(() => null)) !== null, { what: "the closed socket's slot to free" });
    await again!.ping();
    await refused(await upgrade(u.tokens.accessToken, from));
  });

  test("parallel upgrades never pass the cap", async () => {
    const from = { "x-forwarded-for": "203.0.113.2" };
    const u = await signupAndLogin(t, "caprace");
    const attempts = await Promise.allSettled(Array.from({ length: 12 }, () => connect(u.tokens.accessToken, from)));
    expect(attempts.filter((a) => a.status === "fulfilled")).toHaveLength(3);
    await refused(await upgrade(u.tokens.accessToken, from));
  });

  test("per client IP (the forwarded one behind a trusted proxy): past the cap 429; another address is not affected", async () => {
    const users = [await signupAndLogin(t, "capip1"), await signupAndLogin(t, "capip2")];
    const from = { "x-forwarded-for": "203.0.113.9" };
    for (const u of users) for (let i = 0; i < 2; i++) await connect(u.tokens.accessToken, from);
    const third = await signupAndLogin(t, "capip3");
    await connect(third.tokens.accessToken, from);
    await refused(await upgrade(third.tokens.accessToken, from));
    await connect(third.tokens.accessToken, { "x-forwarded-for": "203.0.113.10" });
  });
});
