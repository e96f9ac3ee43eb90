// Accounts' events reach chat, in both modes (SQLite store with in-process events; MongoDB store
// with JetStream): a deleted account leaves every room and its messages show a deleted author;
// a renamed one shows its new nickname in participant lists, history and live events.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { modes } from "../../testing/modes";
import { createTestApp, signupAndLogin, type TestApp } from "../../testing/app";
import { ChatClient } from "./testkit";

type User = Awaited<ReturnType<typeof signupAndLogin>>;

describe.each(modes)("chat and accounts (%s)", (mode) => {
  let t: TestApp;
  let base: string;
  const clients: ChatClient[] = [];
  const tok = (u: User) => u.tokens.accessToken;

  async function connect(u: User) {
    const client = await ChatClient.connect(base, tok(u));
    clients.push(client);
    return client;
  }
  async function createRoom(u: User, name: string) {
    const res = await t.request("POST", "/rooms", { token: tok(u), body: { name } });
    expect(res.status).toBe(201);
    return (await res.json()) as { id: string };
  }
  async function history(u: User, roomId: string) {
    const res = await t.request("GET", `/rooms/${roomId}/messages`, { token: tok(u) });
    expect(res.status).toBe(200);
    return ((await res.json()) as { items: any[] }).items;
  }
  const room = async (u: User, id: string) => (await (await t.request("GET", `/rooms/${id}`, { token: tok(u) })).json()) as { participants: number };

  beforeAll(async () => {
    t = await createTestApp(mode);
    t.app.listen({ hostname: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${t.app.server!.port}`;
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await t.app.stop(true);
    await t.close();
  });

  test("a deleted account leaves every room's participants; its messages stay, with a deleted author; its reactions go", async () => {
    const [a, doomed] = await Promise.all([signupAndLogin(t, "ana"), signupAndLogin(t, "doomed")]);
    const r1 = await createRoom(a, "deletion one");
    const r2 = await createRoom(a, "deletion two");
    const as = await connect(a);
    await as.join(r1.id);
    await as.join(r2.id);
    const ds = await connect(doomed);
    await ds.join(r1.id);
    await ds.join(r2.id);
    const said = (await ds.say(r1.id, "my last words")).message;
    const hello = (await as.say(r1.id, "hello doomed")).message;
    ds.send({ op: "react", roomId: r1.id, messageId: hello.id, kind: "love", ref: "love" });
    await ds.next((e) => e.ref === "love", "doomed's reaction");
    expect((await room(a, r1.id)).participants).toBe(2);

    const from = as.events.length;
    const deleted = await t.request("DELETE", "/me", { token: tok(doomed), body: { password: doomed.password } });
    expect(deleted.status).toBe(204);

    // Live: every room's members see it leave (and its socket is closed by the session end).
    for (const roomId of [r1.id, r2.id]) {
      expect(await as.next((e) => e.event === "participants" && e.roomId === roomId && e.userId === doomed.user.id, `doomed leaves ${roomId}`, from)).toEqual({
        event: "participants",
        roomId,
        change: "left",
        reason: "account_deleted",
        userId: doomed.user.id,
        nickname: "deleted user",
        participants: 1,
      });
    }
    expect((await ds.waitClosed()).code).toBe(4001);

    // Stored: the rooms count one member, the participant lists leave it out.
    for (const roomId of [r1.id, r2.id]) expect((await room(a, roomId)).participants).toBe(1);
    const fresh = await connect(a);
    const joined = await fresh.join(r1.id);
    expect(joined.participants.map((p: { userId: string }) => p.userId)).toEqual([a.user.id]);
    // Its messages stay, authored by a deleted user; its reaction is gone.
    const items = await history(a, r1.id);
    const last = items.find((m) => m.id === said.id);
    expect(last).toMatchObject({ senderId: null, senderNickname: "deleted user", authorDeleted: true, content: "my last words", deleted: false });
    const system = items.filter((m) => m.kind === "system" && m.authorDeleted);
    expect(system.map((m) => [m.content, m.senderId, m.senderNickname])).toEqual([["joined", null, "deleted user"]]);
    expect(JSON.stringify(items)).not.toContain(doomed.user.id);
    expect(JSON.stringify(items)).not.toContain(doomed.nickname);
    expect(items.find((m) => m.id === hello.id)).toMatchObject({ senderId: a.user.id, authorDeleted: false, reactions: [] });
    expect(joined.messages.find((m: { id: string }) => m.id === said.id)).toMatchObject({ senderId: null, authorDeleted: true });
  });

  test("a rename reaches chat: participant lists, earlier messages, the room's live view and the renamed user's open socket", async () => {
    const [a, r] = await Promise.all([signupAndLogin(t, "ana"), signupAndLogin(t, "renamer")]);
    const room1 = await createRoom(a, "renames");
    const as = await connect(a);
    await as.join(room1.id);
    const rs = await connect(r);
    await rs.join(room1.id);
    const before = (await rs.say(room1.id, "before the rename")).message;
    expect(before.senderNickname).toBe(r.nickname);

    const nickname = `새이름${Bun.randomUUIDv7().slice(-4)}`;
    const from = as.events.length;
    const patched = await t.request("PATCH", "/me", { token: tok(r), body: { nickname } });
    expect(patched.status).toBe(200);
    expect(await as.next((e) => e.event === "renamed" && e.userId === r.user.id, "the rename, live", from)).toEqual({ event: "renamed", roomId: room1.id, userId: r.user.id, nickname });

    // The renamed user's open socket sends under the new nickname (no reconnect).
    expect((await rs.say(room1.id, "after the rename")).message.senderNickname).toBe(nickname);
    rs.send({ op: "typing", roomId: room1.id });
    expect((await as.next((e) => e.event === "typing" && e.userId === r.user.id, "typing", from)).nickname).toBe(nickname);
    // Stored: the participant list and the earlier messages.
    const fresh = await connect(a);
    const joined = await fresh.join(room1.id);
    expect(joined.participants).toContainEqual({ userId: r.user.id, nickname, online: true });
    const items = await history(a, room1.id);
    expect(items.filter((m) => m.senderId === r.user.id).map((m) => m.senderNickname)).toEqual([nickname, nickname, nickname]);
    expect(items.find((m) => m.id === before.id)!.senderNickname).toBe(nickname);
    expect(JSON.stringify(items)).not.toContain(r.nickname);
  });
});
