// Scale-out: two homebase processes sharing NATS (live fanout), Redis (presence, read state)
// and the store — the same SQLite data dir, or MongoDB — with clients on both. Every connected
// member gets every event exactly once, wherever it was sent from.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { newUser } from "../../testing/app";
import { modes } from "../../testing/modes";
import { startServer, type RunningServer } from "../../testing/process";
import { startRealBackends } from "../../testing/servers";
import { ChatClient, contents } from "./testkit";

const stores = modes.includes("real") ? (["sqlite", "mongo"] as const) : [];

describe.each(stores)("chat across two instances (%s store)", (store) => {
  let s1: RunningServer, s2: RunningServer;
  let dataDir: string;
  const clients: ChatClient[] = [];
  const users: Record<"a" | "b" | "c", { id: string; token: string }> = {} as never;

  async function http(server: RunningServer, method: string, path: string, token?: string, body?: unknown) {
    return fetch(`${server.url}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
  }
  async function connect(server: RunningServer, who: keyof typeof users) {
    const c = await ChatClient.connect(server.url, users[who].token);
    clients.push(c);
    return c;
  }

  beforeAll(async () => {
    const { redisUrl, natsUrl, mongoUrl } = await startRealBackends();
    dataDir = mkdtempSync(join(tmpdir(), "homebase-chat-fanout-"));
    const env: Record<string, string> = {
      REDIS_URL: redisUrl,
      NATS_URL: natsUrl,
      HOMEBASE_EVENT_NAMESPACE: `f${Bun.randomUUIDv7().replaceAll("-", "").slice(-12)}`,
      HOMEBASE_LOG_LEVEL: "warn",
      HOMEBASE_SQLITE_SYNCHRONOUS: "NORMAL",
      ...(store === "mongo" ? { MONGO_URL: `${mongoUrl}/fanout_${Bun.randomUUIDv7().slice(-8)}` } : {}),
    };
    // One first, so the second finds the migrated database.
    s1 = await startServer(env, { dataDir });
    s2 = await startServer(env, { dataDir });
    for (const who of ["a", "b", "c"] as const) {
      const body = newUser(who);
      expect((await http(s1, "POST", "/auth/signup", undefined, body)).status).toBe(201);
      const login = await http(s2, "POST", "/auth/login", undefined, { email: body.email, password: body.password });
      const tokens = (await login.json()) as { accessToken: string };
      const me = (await (await http(s1, "GET", "/me", tokens.accessToken)).json()) as { id: string };
      users[who] = { id: me.id, token: tokens.accessToken };
    }
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all([s1?.stop(), s2?.stop()]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("reactions and renames reach every instance exactly once; a renamed user's socket on the other instance sends under the new name", async () => {
    const room = (await (await http(s1, "POST", "/rooms", users.a.token, { name: "reactions" })).json()) as { id: string };
    expect((await http(s2, "POST", `/rooms/${room.id}/join`, users.b.token, {})).status).toBe(200);
    const a1 = await connect(s1, "a");
    const b2 = await connect(s2, "b");
    await a1.join(room.id);
    await b2.join(room.id);
    const hello = (await a1.say(room.id, "react to this")).message;
    // b reacts on instance 2 over the socket, then a over REST on instance 2: both sockets see both, once.
    b2.send({ op: "react", roomId: room.id, messageId: hello.id, kind: "laugh", ref: "x" });
    await a1.next((e) => e.event === "reaction" && e.userId === users.b.id, "b's reaction on instance 1");
    expect((await http(s2, "PUT", `/rooms/${room.id}/messages/${hello.id}/reactions/like`, users.a.token)).status).toBe(200);
    for (const client of [a1, b2]) {
      const last = await client.next((e) => e.event === "reaction" && e.userId === users.a.id, "a's reaction everywhere");
      expect(last.reactions).toEqual([{ kind: "like", count: 1 }, { kind: "laugh", count: 1 }]);
    }
    await a1.say(room.id, "settle reactions");
    await b2.next((e) => e.event === "message" && e.message.content === "settle reactions", "settle at b");
    for (const client of [a1, b2]) expect(client.all((e) => e.event === "reaction")).toHaveLength(2);
    const page = (await (await http(s1, "GET", `/rooms/${room.id}/messages`, users.b.token)).json()) as { items: Array<{ id: string; myReaction: string | null }> };
    expect(page.items.find((m) => m.id === hello.id)!.myReaction).toBe("laugh");

    // b renames itself on instance 1; its socket on instance 2 takes the new nickname.
    const nickname = `b-renamed-${Bun.randomUUIDv7().slice(-6)}`;
    expect((await http(s1, "PATCH", "/me", users.b.token, { nickname })).status).toBe(200);
    await a1.next((e) => e.event === "renamed" && e.userId === users.b.id && e.nickname === nickname, "rename on instance 1");
    await b2.next((e) => e.event === "renamed" && e.userId === users.b.id, "rename on instance 2");
    // The consumer may run on either instance; the other learns it over the fanout just after.
    let sent = "";
    for (let i = 0; i < 50 && sent !== nickname; i++) {
      sent = (await b2.say(room.id, `after rename ${i}`)).message.senderNickname;
      if (sent !== nickname) await Bun.sleep(50);
    }
    expect(sent).toBe(nickname);
    expect(a1.all((e) => e.event === "renamed")).toHaveLength(1);
    for (const c of [a1, b2]) c.close();
  }, 30_000);

  test("messages, presence, read receipts, deletes and leaves reach every instance exactly once", async () => {
    const room = (await (await http(s1, "POST", "/rooms", users.a.token, { name: "cluster" })).json()) as { id: string };
    const marker = (await (await http(s1, "POST", "/rooms", users.a.token, { name: "marker" })).json()) as { id: string };
    for (const who of ["b", "c"] as const) {
      expect((await http(s2, "POST", `/rooms/${room.id}/join`, users[who].token, {})).status).toBe(200);
    }
    expect((await http(s2, "POST", `/rooms/${marker.id}/join`, users.c.token, {})).status).toBe(200);

    // a on instance 1; b on instance 2; c on both.
    const a1 = await connect(s1, "a");
    await a1.join(room.id);
    const b2 = await connect(s2, "b");
    const joinedB = await b2.join(room.id);
    expect(joinedB.participants).toContainEqual({ userId: users.a.id, nickname: expect.any(String), online: true });
    await a1.next((e) => e.event === "presence" && e.userId === users.b.id && e.online, "b online, seen on instance 1");
    const c1 = await connect(s1, "c");
    const c2 = await connect(s2, "c");
    await c1.join(room.id);
    await c2.join(room.id);
    await c2.join(marker.id);
    // c is one user: online once, however many sockets on however many instances.
    await a1.next((e) => e.event === "presence" && e.userId === users.c.id && e.online, "c online");

    const sent: string[] = [];
    for (let i = 0; i < 10; i++) {
      sent.push(`from a ${i}`, `from b ${i}`);
      a1.send({ op: "send", roomId: room.id, clientMsgId: `a-${i}`, kind: "text", content: `from a ${i}` });
      await a1.next((e) => e.event === "message" && e.message.clientMsgId === `a-${i}`, `ack a-${i}`);
      b2.send({ op: "send", roomId: room.id, clientMsgId: `b-${i}`, kind: "text", content: `from b ${i}` });
      await b2.next((e) => e.event === "message" && e.message.clientMsgId === `b-${i}`, `ack b-${i}`);
    }
    // Re-sending on the other instance's socket of the same user still does not duplicate.
    const a2 = await connect(s2, "a");
    a2.send({ op: "send", roomId: room.id, clientMsgId: "a-0", kind: "text", content: "from a 0" });
    await a2.next((e) => e.event === "message" && e.duplicate === true, "duplicate ack on instance 2");
    a1.send({ op: "send", roomId: room.id, clientMsgId: "last", kind: "text", content: "last" });
    sent.push("last");
    for (const client of [a1, b2, c1, c2]) {
      await client.next((e) => e.event === "message" && e.message.clientMsgId === "last", "last everywhere");
      const got = contents(client, room.id);
      // Exactly once each; in order per sender (two senders on two instances may interleave).
      expect([...got].sort()).toEqual([...sent].sort());
      for (const from of ["from a", "from b"]) expect(got.filter((m) => m.startsWith(from))).toEqual(sent.filter((m) => m.startsWith(from)));
    }

    // Read receipt from instance 2: to the others on both instances, not to b.
    const lastId = b2.all((e) => e.event === "message" && e.message.clientMsgId === "last")[0]!.message.id as string;
    b2.send({ op: "read", roomId: room.id, upToMessageId: lastId });
    for (const client of [a1, c1, c2]) {
      expect(await client.next((e) => e.event === "read", "read receipt")).toEqual({ event: "read", roomId: room.id, userId: users.b.id, upToMessageId: lastId });
    }
    // The mark is shared: a joiner on instance 1 sees it.
    expect((await (await connect(s1, "b")).join(room.id)).reads).toContainEqual({ userId: users.b.id, upToMessageId: lastId });

    // Delete over REST on instance 2: the socket on instance 1 hears it.
    const firstId = a1.all((e) => e.event === "message" && e.message.clientMsgId === "a-0")[0]!.message.id as string;
    expect((await http(s2, "DELETE", `/messages/${firstId}`, users.a.token)).status).toBe(204);
    await a1.next((e) => e.event === "messageDeleted" && e.messageId === firstId, "deleted on instance 1");
    await c2.next((e) => e.event === "messageDeleted" && e.messageId === firstId, "deleted on instance 2");

    // c leaves over REST on instance 1: c's socket on instance 2 stops getting the room.
    expect((await http(s1, "POST", `/rooms/${room.id}/leave`, users.c.token)).status).toBe(204);
    await c2.next((e) => e.event === "participants" && e.change === "left" && e.userId === users.c.id, "left, on instance 2");
    a1.send({ op: "send", roomId: room.id, clientMsgId: "after-leave", kind: "text", content: "after leave" });
    await b2.next((e) => e.event === "message" && e.message.clientMsgId === "after-leave", "after leave at b");
    a1.send({ op: "join", roomId: marker.id });
    await a1.next((e) => e.event === "joined" && e.roomId === marker.id, "a in marker");
    a1.send({ op: "send", roomId: marker.id, clientMsgId: "m", kind: "text", content: "marker" });
    await c2.next((e) => e.event === "message" && e.message.clientMsgId === "m", "marker at c2");
    expect(contents(c2, room.id)).not.toContain("after leave");

    // b closes its sockets: a (instance 1) sees b offline exactly once.
    for (const c of clients.filter((x) => x !== a1 && x !== a2 && x !== c1 && x !== c2)) c.close();
    b2.close();
    await a1.next((e) => e.event === "presence" && e.userId === users.b.id && e.online === false, "b offline");
    await a1.say(room.id, "settle");
    expect(a1.all((e) => e.event === "presence" && e.userId === users.b.id && e.online === false)).toHaveLength(1);

    // SIGTERM with sockets open: they get 1001 and the process still exits cleanly.
    expect(await s2.stop()).toBe(0);
    expect((await c2.waitClosed()).code).toBe(1001);
    expect((await a2.waitClosed()).code).toBe(1001);
  }, 30_000);
});
