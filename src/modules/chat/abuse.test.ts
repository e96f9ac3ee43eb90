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
