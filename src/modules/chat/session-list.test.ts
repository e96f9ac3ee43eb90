// Accounts' session list meets chat: revoking one session (DELETE /me/sessions/:id) closes that
// session's sockets with 4001 within a second — the session.revoked event, reason
// session_revoked — while the same user's other session keeps its socket. And a Unicode
// nickname (김철수…) arrives intact on the socket: in ready, in the room's participants, on
// messages and presence.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestApp, newUser, type TestApp } from "../../testing/app";
import { modes } from "../../testing/modes";
import { closeCodes } from "./model";
import { ChatClient } from "./testkit";

type Tokens = { accessToken: string; refreshToken: string; sessionId: string };

describe.each(modes)("chat and the session list (%s)", (mode) => {
  let t: TestApp;
  let base: string;
  const clients: ChatClient[] = [];
  const connect = async (token: string) => {
    const c = await ChatClient.connect(base, token);
    clients.push(c);
    return c;
  };
  beforeAll(async () => {
    t = await createTestApp(mode, { HOMEBASE_CHAT_READ_FLUSH_MS: "50" });
    t.app.listen({ hostname: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${t.app.server!.port}`;
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await t.app.stop(true);
    await t.close();
  });

  async function userWithTwoSessions(nickname?: string) {
    const body = { ...newUser("csl"), ...(nickname ? { nickname } : {}) };
    const signup = await t.request("POST", "/auth/signup", { body });
    expect(signup.status).toBe(201);
    const login = async () => (await (await t.request("POST", "/auth/login", { body: { email: body.email, password: body.password } })).json()) as Tokens;
    return { body, user: (await signup.json()) as { id: string; nickname: string }, a: await login(), b: await login() };
  }

  test("revoking one session from the list closes its sockets (4001); the other session's socket stays", async () => {
    const { a, b } = await userWithTwoSessions();
    const [onA1, onA2, onB] = [await connect(a.accessToken), await connect(a.accessToken), await connect(b.accessToken)];
    const at = performance.now();
    // Session b revokes session a from its session list.
    expect((await t.request("DELETE", `/me/sessions/${a.sessionId}`, { token: b.accessToken })).status).toBe(204);
    for (const s of [onA1, onA2]) {
      const closed = await s.waitClosed(3_000);
      expect({ code: closed.code, reason: closed.reason, withinASecond: s.closedAt! - at < 1_000 }).toEqual({
        code: closeCodes.sessionEnded,
        reason: "session_ended",
        withinASecond: true,
      });
    }
    await onB.ping();
    expect(onB.closed).toBeNull();
    // The revoked session cannot open another socket.
    const upgrade = await fetch(`${base}/ws?token=${encodeURIComponent(a.accessToken)}`, {
      headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" },
    });
    expect(upgrade.status).toBe(401);
  });

  test("a Hangul nickname arrives intact: ready, participants, messages, presence", async () => {
    const nickname = `김철수_${Bun.randomUUIDv7().slice(-6)}`;
    const kim = await userWithTwoSessions(nickname);
    const other = await userWithTwoSessions();
    const room = (await (await t.request("POST", "/rooms", { token: other.a.accessToken, body: { name: "한글 방" } })).json()) as { id: string };
    const watcher = await connect(other.a.accessToken);
    expect((await watcher.join(room.id)).event).toBe("joined");

    const socket = await connect(kim.a.accessToken);
    expect(socket.all((e) => e.event === "ready")[0]).toMatchObject({ userId: kim.user.id, nickname });
    const joined = await socket.join(room.id);
    expect(joined.event).toBe("joined");
    expect(joined.participants).toContainEqual(expect.objectContaining({ userId: kim.user.id, nickname }));
    const said = await socket.say(room.id, "안녕하세요");
    expect(said.message).toMatchObject({ senderId: kim.user.id, senderNickname: nickname, content: "안녕하세요" });
    const seen = await watcher.next((e) => e.event === "message" && e.message.clientMsgId === said.message.clientMsgId, "the message");
    expect(seen.message.senderNickname).toBe(nickname);
    const presence = await watcher.next((e) => e.event === "presence" && e.userId === kim.user.id, "presence");
    expect(presence.nickname).toBe(nickname);
  });
});
