// Chat over REST and WebSocket, in both modes: embedded (SQLite, memory read state and
// presence) and real (MongoDB store, Redis read state and presence, NATS fanout).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock } from "../../platform/clock";
import { modes } from "../../testing/modes";
import { createTestApp, signupAndLogin, type TestApp } from "../../testing/app";
import { waitFor } from "../../testing/wait";
import { ChatClient, contents } from "./testkit";

type User = Awaited<ReturnType<typeof signupAndLogin>>;

async function problem(res: Response) {
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  return (await res.json()) as { status: number; code: string };
}

const png = (size = 64) => {
  const b = new Uint8Array(size);
  b.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return b;
};
const mp4 = (size: number) => {
  const b = new Uint8Array(size);
  b.set([0, 0, 0, 0x18, ...new TextEncoder().encode("ftypisom")]);
  return b;
};

describe.each(modes)("chat (%s)", (mode) => {
  let t: TestApp;
  let base: string;
  let a: User, b: User, c: User;
  const clients: ChatClient[] = [];
  const tok = (u: User) => u.tokens.accessToken;

  async function connect(u: User, via: "query" | "protocol" = "query") {
    const client = await ChatClient.connect(base, tok(u), via);
    clients.push(client);
    return client;
  }
  async function createRoom(u: User, name: string, password?: string) {
    const res = await t.request("POST", "/rooms", { token: tok(u), body: password ? { name, password } : { name } });
    expect(res.status).toBe(201);
    return (await res.json()) as { id: string; name: string; secret: boolean; participants: number; joined: boolean };
  }
  const join = (u: User, roomId: string, body: unknown = {}) => t.request("POST", `/rooms/${roomId}/join`, { token: tok(u), body });
  function upload(u: User, bytes: Uint8Array, name: string, type: string) {
    const form = new FormData();
    form.append("file", new File([bytes], name, { type }));
    return fetch(`${base}/files`, { method: "POST", headers: { authorization: `Bearer ${tok(u)}` }, body: form });
  }

  beforeAll(async () => {
    t = await createTestApp(mode, { HOMEBASE_CHAT_READ_FLUSH_MS: "50" });
    t.app.listen({ hostname: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${t.app.server!.port}`;
    [a, b, c] = await Promise.all([signupAndLogin(t, "ana"), signupAndLogin(t, "bo"), signupAndLogin(t, "cy")]);
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await t.app.stop(true);
    await t.close();
  });

  describe("rooms over REST", () => {
    test("create, read, list with search, sort and paging", async () => {
      const tag = `lst${Bun.randomUUIDv7().slice(-6)}`;
      const r1 = await createRoom(a, `${tag} alpha`);
      const r2 = await createRoom(b, `${tag} Bravo`, "open-sesame");
      await join(c, r1.id);
      expect(r2).toMatchObject({ secret: true, participants: 1, joined: true });
      expect(JSON.stringify(r2)).not.toContain("open-sesame");

      const one = await t.request("GET", `/rooms/${r1.id}`, { token: tok(b) });
      expect(await one.json()).toMatchObject({ id: r1.id, participants: 2, joined: false, secret: false });

      const list = async (q: string, u = a) => (await (await t.request("GET", `/rooms?search=${tag.toUpperCase()}&${q}`, { token: tok(u) })).json()) as any;
      expect((await list("sort=name")).items.map((r: any) => r.id)).toEqual([r1.id, r2.id]);
      expect((await list("sort=participants")).items.map((r: any) => [r.id, r.participants, r.joined])).toEqual([
        [r1.id, 2, true],
        [r2.id, 1, false],
      ]);
      expect(await list("sort=created&size=1&page=2")).toMatchObject({ items: [{ id: r1.id }], page: 2, size: 1, total: 2, hasMore: false });
      expect((await list("joined=true", b)).items.map((r: any) => r.id)).toEqual([r2.id]);

      const tooBig = await t.request("GET", "/rooms?size=51", { token: tok(a) });
      expect(tooBig.status).toBe(422);
      expect((await t.request("GET", "/rooms")).status).toBe(401);
      expect((await problem(await t.request("GET", `/rooms/${Bun.randomUUIDv7()}`, { token: tok(a) }))).code).toBe("room_not_found");
      const blank = await t.request("POST", "/rooms", { token: tok(a), body: { name: "   " } });
      expect(blank.status).toBe(422);
      expect(await problem(blank)).toMatchObject({ code: "validation_failed", errors: [{ field: "/name", message: expect.stringContaining("blank") }] });
    });

    test("a secret room needs its password: missing or wrong → 401 with a code", async () => {
      const room = await createRoom(a, "vault", "open-sesame");
      const missing = await join(b, room.id);
      expect(missing.status).toBe(401);
      expect((await problem(missing)).code).toBe("room_password_required");
      const wrong = await join(b, room.id, { password: "guess" });
      expect(wrong.status).toBe(401);
      expect((await problem(wrong)).code).toBe("wrong_password");
      const ok = await join(b, room.id, { password: "open-sesame" });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ joined: true, participants: 2 });
      // Members need no password again.
      expect((await join(b, room.id)).status).toBe(200);
      // Over the socket too.
      const cs = await connect(c);
      expect(await cs.join(room.id)).toMatchObject({ event: "error", code: "room_password_required", status: 401 });
      expect(await cs.join(room.id, "open-sesame")).toMatchObject({ event: "joined", room: { participants: 3 } });
    });

    test("history is for members only and pages newest first", async () => {
      const room = await createRoom(a, "history");
      const as = await connect(a);
      await as.join(room.id);
      for (let i = 0; i < 5; i++) await as.say(room.id, `m${i}`);
      const forbidden = await t.request("GET", `/rooms/${room.id}/messages`, { token: tok(b) });
      expect(forbidden.status).toBe(403);
      expect((await problem(forbidden)).code).toBe("not_member");

      const page1 = (await (await t.request("GET", `/rooms/${room.id}/messages?limit=3`, { token: tok(a) })).json()) as any;
      expect(page1.items.map((m: any) => m.content)).toEqual(["m4", "m3", "m2"]);
      expect(page1.hasMore).toBe(true);
      const last = page1.items.at(-1).id;
      const page2 = (await (await t.request("GET", `/rooms/${room.id}/messages?limit=3&before=${last}`, { token: tok(a) })).json()) as any;
      expect(page2.items.map((m: any) => m.content)).toEqual(["m1", "m0", "joined"]);
      expect(page2.hasMore).toBe(false);
      // A bad anchor answers like every bad cursor: 400 invalid_cursor.
      const foreign = await t.request("GET", `/rooms/${room.id}/messages?before=${Bun.randomUUIDv7()}`, { token: tok(a) });
      expect(foreign.status).toBe(400);
      expect((await problem(foreign)).code).toBe("invalid_cursor");

      // The same over the socket.
      as.send({ op: "history", roomId: room.id, before: last, limit: 2, ref: "h1" });
      const h = await as.next((e) => e.ref === "h1", "history");
      expect(h).toMatchObject({ event: "history", hasMore: true });
      expect(h.messages.map((m: any) => m.content)).toEqual(["m1", "m0"]);
      as.send({ op: "history", roomId: room.id, before: Bun.randomUUIDv7(), ref: "h2" });
      expect(await as.next((e) => e.ref === "h2", "bad anchor")).toMatchObject({ event: "error", code: "invalid_cursor", status: 400 });
    });
  });

  describe("the socket", () => {
    test("no or bad token: 401 before the upgrade, and no socket", async () => {
      const headers = { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" };
      const none = await fetch(`${base}/ws`, { headers });
      expect(none.status).toBe(401);
      expect((await problem(none)).code).toBe("missing_token");
      const bad = await fetch(`${base}/ws?token=not-a-jwt`, { headers });
      expect(bad.status).toBe(401);
      expect((await problem(bad)).code).toBe("invalid_token");
      const badProtocol = await fetch(`${base}/ws`, { headers: { ...headers, "sec-websocket-protocol": "bearer, not-a-jwt" } });
      expect(badProtocol.status).toBe(401);
      // A browser-style client with the bearer subprotocol gets it selected.
      const ok = await connect(a, "protocol");
      expect(ok.ws.protocol).toBe("bearer");
      expect(ok.events[0]).toMatchObject({ event: "ready", userId: a.user.id, nickname: a.user.nickname });
    });

    test("messages reach the other members with the server id and the clientMsgId; a re-send never duplicates", async () => {
      const room = await createRoom(a, "dedup");
      await join(b, room.id);
      const [as, bs] = await Promise.all([connect(a), connect(b)]);
      await Promise.all([as.join(room.id), bs.join(room.id)]);
      const ack = await as.say(room.id, "hello", "client-1");
      expect(ack.message).toMatchObject({ content: "hello", clientMsgId: "client-1", senderId: a.user.id, senderNickname: a.user.nickname, kind: "text" });
      const got = await bs.next((e) => e.event === "message" && e.message.clientMsgId === "client-1", "hello at b");
      expect(got.message.id).toBe(ack.message.id);

      // Re-send: the sender gets the stored message back (duplicate), nobody else gets anything.
      as.send({ op: "send", roomId: room.id, clientMsgId: "client-1", kind: "text", content: "hello" });
      const again = await as.next((e) => e.event === "message" && e.duplicate === true, "duplicate ack");
      expect(again.message.id).toBe(ack.message.id);
      await as.say(room.id, "after");
      await bs.next((e) => e.event === "message" && e.message.content === "after", "marker");
      expect(contents(bs, room.id)).toEqual(["hello", "after"]);
      expect(contents(as, room.id)).toEqual(["hello", "after"]);
      const stored = (await (await t.request("GET", `/rooms/${room.id}/messages`, { token: tok(a) })).json()) as any;
      expect(stored.items.filter((m: any) => m.content === "hello")).toHaveLength(1);
    });

    test("each op is validated; errors carry a code", async () => {
      const room = await createRoom(a, "validate");
      const as = await connect(a);
      await as.join(room.id);
      const cases: Array<[unknown, string]> = [
        [{ op: "send", roomId: room.id, clientMsgId: "v1", kind: "text", content: "x".repeat(10_001), ref: "r1" }, "validation_failed"],
        [{ op: "send", roomId: room.id, clientMsgId: "v2", kind: "text", content: "   ", ref: "r2" }, "validation_failed"],
        [{ op: "send", roomId: room.id, clientMsgId: "v3", kind: "file", content: "", ref: "r3" }, "validation_failed"],
        [{ op: "send", roomId: room.id, clientMsgId: "v4", kind: "file", content: "", fileId: Bun.randomUUIDv7(), ref: "r4" }, "file_not_found"],
        [{ op: "join", roomId: "nope", ref: "r5" }, "validation_failed"],
        [{ op: "join", roomId: Bun.randomUUIDv7(), ref: "r6" }, "room_not_found"],
        [{ op: "history", roomId: room.id, extra: 1, ref: "r7" }, "validation_failed"],
        [{ op: "fly", ref: "r8" }, "unknown_op"],
        [{ op: "send", roomId: room.id, clientMsgId: "v9", kind: "text", content: "hi", fileId: Bun.randomUUIDv7(), ref: "r9" }, "validation_failed"],
        [{ op: "send", roomId: room.id, clientMsgId: "v10", kind: "video", content: "hi", ref: "r10" }, "validation_failed"],
      ];
      for (const [op] of cases) as.send(op as Record<string, unknown>);
      for (const [i, [, code]] of cases.entries()) {
        const ref = `r${i + 1}`;
        expect({ ref, code: (await as.next((e) => e.event === "error" && e.ref === ref, `error ${ref}`)).code }).toEqual({ ref, code });
      }
      // Validation names the field: blank text, a file message without its file, a text one with one.
      const fields = async (ref: string) => (await as.next((e) => e.ref === ref, ref)).errors.map((e: { field: string }) => e.field);
      expect(await fields("r2")).toEqual(["/content"]);
      expect(await fields("r3")).toContain("/fileId");
      expect(await fields("r9")).toContain("/fileId");
      expect(await fields("r10")).toContain("/kind");
      as.ws.send("not json");
      expect((await as.next((e) => e.event === "error" && e.code === "invalid_message", "invalid_message")).detail).toContain("JSON");
      // Sending to a room one is not a member of.
      const other = await createRoom(b, "not-mine");
      as.send({ op: "send", roomId: other.id, clientMsgId: "v11", kind: "text", content: "hi", ref: "r11" });
      expect(await as.next((e) => e.ref === "r11", "not_member")).toMatchObject({ event: "error", code: "not_member", status: 403 });
      // Typing needs the room joined on this connection.
      as.send({ op: "typing", roomId: other.id, ref: "r12" });
      expect(await as.next((e) => e.ref === "r12", "typing outside")).toMatchObject({ event: "error", code: "not_member", status: 403 });
      // 10,000 characters is fine.
      expect((await as.say(room.id, "y".repeat(10_000))).message.content).toHaveLength(10_000);
    });

    test("join / leave: system messages, participants and presence reach the room", async () => {
      const room = await createRoom(a, "presence");
      const as = await connect(a);
      const joinedA = await as.join(room.id);
      expect(joinedA.participants).toEqual([{ userId: a.user.id, nickname: a.user.nickname, online: true }]);

      // b joins over REST: a sees the system message and the participants change.
      await join(b, room.id);
      await as.next((e) => e.event === "message" && e.message.kind === "system" && e.message.senderId === b.user.id && e.message.content === "joined", "b joined");
      await as.next((e) => e.event === "participants" && e.change === "joined" && e.userId === b.user.id && e.participants === 2, "participants");

      // b connects: online for a; b's join reply shows a online.
      const bs = await connect(b);
      const joinedB = await bs.join(room.id);
      expect(joinedB.participants).toContainEqual({ userId: a.user.id, nickname: a.user.nickname, online: true });
      await as.next((e) => e.event === "presence" && e.userId === b.user.id && e.online === true, "b online");

      // typing goes to the others only.
      bs.send({ op: "typing", roomId: room.id });
      await as.next((e) => e.event === "typing" && e.userId === b.user.id, "typing");

      // A second socket of b, then closing one: b stays online; closing both: offline.
      const bs2 = await connect(b);
      await bs2.join(room.id);
      bs.close();
      await bs.waitClosed();
      bs2.close();
      const off = await as.next((e) => e.event === "presence" && e.userId === b.user.id && e.online === false, "b offline");
      expect(as.all((e) => e.event === "presence" && e.userId === b.user.id && e.online === false)).toEqual([off]);
      expect(bs.all((e) => e.event === "typing")).toEqual([]);

      // c leaves over the socket: system message; c's sockets no longer get the room's events.
      await join(c, room.id);
      const cs = await connect(c);
      await cs.join(room.id);
      const marker = await createRoom(a, "marker");
      await join(c, marker.id);
      await cs.join(marker.id);
      const ref = "leave-1";
      cs.send({ op: "leave", roomId: room.id, ref });
      await cs.next((e) => e.event === "left" && e.ref === ref, "left");
      await as.next((e) => e.event === "message" && e.message.kind === "system" && e.message.senderId === c.user.id && e.message.content === "left", "c left");
      await as.say(room.id, "after c left");
      const as2 = await connect(a);
      await as2.join(marker.id);
      await as2.say(marker.id, "marker");
      await cs.next((e) => e.event === "message" && e.message.content === "marker", "marker at c");
      expect(contents(cs, room.id)).not.toContain("after c left");
      expect((await t.request("GET", `/rooms/${room.id}/messages`, { token: tok(c) })).status).toBe(403);
      expect((await t.request("POST", `/rooms/${room.id}/leave`, { token: tok(c) })).status).toBe(204);
    });

    test("delete: author only, soft, broadcast to the room", async () => {
      const room = await createRoom(a, "deletes");
      await join(b, room.id);
      const [as, bs] = await Promise.all([connect(a), connect(b)]);
      await Promise.all([as.join(room.id), bs.join(room.id)]);
      const { message } = await as.say(room.id, "oops");
      await bs.next((e) => e.event === "message" && e.message.id === message.id, "oops at b");

      const byOther = await t.request("DELETE", `/messages/${message.id}`, { token: tok(b) });
      expect(byOther.status).toBe(403);
      expect((await problem(byOther)).code).toBe("not_author");
      expect((await t.request("DELETE", `/messages/${message.id}`, { token: tok(c) })).status).toBe(404);
      expect((await t.request("DELETE", `/messages/${message.id}`, { token: tok(a) })).status).toBe(204);
      await bs.next((e) => e.event === "messageDeleted" && e.messageId === message.id, "messageDeleted");
      expect((await t.request("DELETE", `/messages/${message.id}`, { token: tok(a) })).status).toBe(204);

      // Over the socket.
      const second = (await as.say(room.id, "again")).message;
      as.send({ op: "delete", messageId: second.id });
      await bs.next((e) => e.event === "messageDeleted" && e.messageId === second.id, "second deleted");
      bs.send({ op: "delete", messageId: (await bs.say(room.id, "mine")).message.id });

      const page = (await (await t.request("GET", `/rooms/${room.id}/messages`, { token: tok(b) })).json()) as any;
      const byId = new Map(page.items.map((m: any) => [m.id, m]));
      expect(byId.get(message.id)).toMatchObject({ deleted: true, content: "" });
      expect(byId.get(second.id)).toMatchObject({ deleted: true, content: "" });
    });

    test("read receipts go to the other members only, and reach the store in batches", async () => {
      const room = await createRoom(a, "reads");
      await join(b, room.id);
      const [as, bs] = await Promise.all([connect(a), connect(b)]);
      await Promise.all([as.join(room.id), bs.join(room.id)]);
      const m1 = (await as.say(room.id, "one")).message;
      const m2 = (await as.say(room.id, "two")).message;
      await bs.next((e) => e.event === "message" && e.message.id === m2.id, "two at b");
      bs.send({ op: "read", roomId: room.id, upToMessageId: m2.id });
      const read = await as.next((e) => e.event === "read", "read at a");
      expect(read).toEqual({ event: "read", roomId: room.id, userId: b.user.id, upToMessageId: m2.id });
      // Going back changes nothing; nobody hears about it.
      bs.send({ op: "read", roomId: room.id, upToMessageId: m1.id });
      bs.send({ op: "read", roomId: room.id, upToMessageId: Bun.randomUUIDv7(), ref: "bad-read" });
      expect((await bs.next((e) => e.ref === "bad-read", "bad read")).code).toBe("message_not_found");
      await bs.say(room.id, "marker");
      await as.next((e) => e.event === "message" && e.message.content === "marker", "marker");
      expect(as.all((e) => e.event === "read")).toHaveLength(1);
      expect(bs.all((e) => e.event === "read")).toEqual([]);

      // A joiner sees everyone's marks; the store gets them through the event bus.
      const cs = await connect(c);
      await join(c, room.id);
      expect((await cs.join(room.id)).reads).toContainEqual({ userId: b.user.id, upToMessageId: m2.id });
      await waitFor(async () => (await t.modules.apis.chat.service.store.reads(room.id)).some((r) => r.userId === b.user.id && r.upToMessageId === m2.id), {
        what: "the read mark in the store",
      });
    });
  });

  describe("files", () => {
    test("upload checks type, extension, content and size; the 1 MiB body limit stays for other routes", async () => {
      const ok = await upload(a, png(), "cat.png", "image/png");
      expect(ok.status).toBe(201);
      expect(await ok.json()).toMatchObject({ name: "cat.png", mime: "image/png", size: 64, category: "image" });

      const cases: Array<[Uint8Array, string, string, number, string]> = [
        [png(), "cat.jpg", "image/png", 422, "extension_mismatch"],
        [new TextEncoder().encode("hello"), "cat.png", "image/png", 422, "content_mismatch"],
        [png(), "cat.svg", "image/svg+xml", 415, "unsupported_type"],
        [new TextEncoder().encode("<html><script>alert(1)</script>"), "notes.txt", "text/plain", 422, "content_mismatch"],
        [png(10 * 1024 * 1024 + 1), "big.png", "image/png", 413, "file_too_large"],
      ];
      for (const [bytes, name, type, status, code] of cases) {
        const res = await upload(a, bytes, name, type);
        expect({ name, status: res.status, code: (await problem(res)).code }).toEqual({ name, status, code });
      }
      // 2 MiB of video passes (past the app-wide 1 MiB limit), JSON of 2 MiB elsewhere does not.
      expect((await upload(a, mp4(2 * 1024 * 1024), "clip.mp4", "video/mp4")).status).toBe(201);
      const bigJson = await fetch(`${base}/rooms`, {
        method: "POST",
        headers: { authorization: `Bearer ${tok(a)}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "x".repeat(2 * 1024 * 1024) }),
      });
      expect(bigJson.status).toBe(413);
      expect((await upload(a, new Uint8Array(0), "empty.txt", "text/plain")).status).toBe(422);
      const notMultipart = await fetch(`${base}/files`, { method: "POST", headers: { authorization: `Bearer ${tok(a)}`, "content-type": "application/json" }, body: "{}" });
      expect(notMultipart.status).toBe(422);
    });

    test("download: the uploader, and members of a room where it was posted; delete by the uploader", async () => {
      const room = await createRoom(a, "files");
      await join(b, room.id);
      const info = (await (await upload(a, png(100), "pic.png", "image/png")).json()) as { id: string; url: string };
      const get = (u: User) => fetch(`${base}${info.url}`, { headers: { authorization: `Bearer ${tok(u)}` } });
      expect((await get(a)).status).toBe(200);
      expect((await get(b)).status).toBe(404); // not posted yet

      const [as, bs] = await Promise.all([connect(a), connect(b)]);
      await Promise.all([as.join(room.id), bs.join(room.id)]);
      as.send({ op: "send", roomId: room.id, clientMsgId: "f1", kind: "file", content: "look", fileId: info.id });
      const got = await bs.next((e) => e.event === "message" && e.message.clientMsgId === "f1", "file message");
      expect(got.message.file).toMatchObject({ id: info.id, name: "pic.png", mime: "image/png", category: "image" });

      const res = await get(b);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("image/png");
      expect(new Uint8Array(await res.arrayBuffer())).toEqual(png(100));
      expect((await get(c)).status).toBe(404);
      // Someone else's file cannot be posted.
      bs.send({ op: "send", roomId: room.id, clientMsgId: "f2", kind: "file", content: "", fileId: info.id, ref: "f2" });
      expect((await bs.next((e) => e.ref === "f2", "f2")).code).toBe("file_not_found");

      expect((await fetch(`${base}${info.url}`, { method: "DELETE", headers: { authorization: `Bearer ${tok(b)}` } })).status).toBe(404);
      expect((await fetch(`${base}${info.url}`, { method: "DELETE", headers: { authorization: `Bearer ${tok(a)}` } })).status).toBe(204);
      expect((await get(a)).status).toBe(404);
      const page = (await (await t.request("GET", `/rooms/${room.id}/messages`, { token: tok(b) })).json()) as any;
      expect(page.items.find((m: any) => m.clientMsgId === "f1").file).toBeNull();
    });
  });
});

describe.each(modes)("chat read state across a restart (%s)", (mode) => {
  test("read marks survive a restart", async () => {
    const dir = mkdtempSync(join(tmpdir(), "homebase-chat-restart-"));
    const env = { HOMEBASE_DATA_DIR: dir, HOMEBASE_EVENT_NAMESPACE: `r${Bun.randomUUIDv7().replaceAll("-", "").slice(-12)}`, HOMEBASE_CHAT_READ_FLUSH_MS: "60000" };
    try {
      const t1 = await createTestApp(mode, env);
      const a = await signupAndLogin(t1, "ra");
      const svc = t1.modules.apis.chat.service;
      const room = await svc.createRoom({ userId: a.user.id, nickname: "ra" }, { name: "restart" });
      const { message } = await svc.send({ userId: a.user.id, nickname: "ra" }, { roomId: room.id, clientMsgId: "x", kind: "text", content: "hi" });
      expect(await svc.markRead(a.user.id, room.id, message.id)).toBe(true);
      // The flush interval is a minute: the mark is only in the hot copy when we stop.
      expect(await svc.store.reads(room.id)).toEqual([]);
      await t1.close();

      const t2 = await createTestApp(mode, env);
      try {
        await waitFor(async () => (await t2.modules.apis.chat.service.reads(room.id)).some((r) => r.upToMessageId === message.id), { what: "the mark after the restart" });
        await waitFor(async () => (await t2.modules.apis.chat.service.store.reads(room.id)).length === 1, { what: "the mark in the store" });
      } finally {
        await t2.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.each(modes)("chat time (%s)", (mode) => {
  test("timestamps come from the injected clock: rooms, messages, deletes, files, read marks, pongs", async () => {
    const clock = new ManualClock(Date.parse("2026-12-01T04:00:00Z"));
    // A day-long access token: the socket outlives the 61 minutes the clock moves (it closes at its token's expiry).
    const t = await createTestApp(mode, { HOMEBASE_CHAT_READ_FLUSH_MS: "50", HOMEBASE_ACCESS_TTL_SEC: "86400" }, undefined, undefined, { clock });
    t.app.listen({ hostname: "127.0.0.1", port: 0 });
    const client = { current: null as ChatClient | null };
    try {
      const u = await signupAndLogin(t, "clk");
      // Connected before the clock moves on: the access token expires by the same clock.
      client.current = await ChatClient.connect(`http://127.0.0.1:${t.app.server!.port}`, u.tokens.accessToken);
      const actor = { userId: u.user.id, nickname: u.user.nickname };
      const svc = t.modules.apis.chat.service;
      const room = await svc.createRoom(actor, { name: "clocked" });
      expect(room.createdAt).toBe("2026-12-01T04:00:00.000Z");
      const first = (await svc.send(actor, { roomId: room.id, clientMsgId: "c1", kind: "text", content: "first" })).message;
      clock.advance(3_600_000);
      const second = (await svc.send(actor, { roomId: room.id, clientMsgId: "c2", kind: "text", content: "second" })).message;
      expect([first.createdAt, second.createdAt]).toEqual(["2026-12-01T04:00:00.000Z", "2026-12-01T05:00:00.000Z"]);
      expect((await svc.history(u.user.id, room.id, undefined)).items.map((m) => m.content)).toEqual(["second", "first", "joined"]);

      clock.advance(60_000);
      await svc.deleteMessage(u.user.id, first.id);
      expect((await svc.store.message(first.id))?.deletedAt).toBe(clock.now());
      const png = new Uint8Array(64);
      png.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      expect((await svc.upload(u.user.id, { name: "p.png", type: "image/png", data: png })).createdAt).toBe("2026-12-01T05:01:00.000Z");

      // The mark is stamped with the clock's time when it is taken for the store.
      expect(await svc.markRead(u.user.id, room.id, second.id)).toBe(true);
      await waitFor(async () => (await svc.store.reads(room.id)).length === 1, { what: "the read mark in the store" });
      expect((await svc.store.reads(room.id))[0]).toMatchObject({ upToMessageId: second.id, updatedAt: clock.now() });

      client.current.send({ op: "ping", ref: "p" });
      expect((await client.current.next((e) => e.event === "pong", "pong")).t).toBe(clock.now());
    } finally {
      client.current?.close();
      await t.app.stop(true);
      await t.close();
    }
  });
});
