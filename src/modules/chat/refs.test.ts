// Every socket op answers its connection once with the ref it carried (README "The socket"):
// its reply, the room event it caused, or an ack; its errors too. Both modes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { modes } from "../../testing/modes";
import { createTestApp, signupAndLogin, type TestApp } from "../../testing/app";
import { ChatClient, type ChatEvent } from "./testkit";
import { ClientOps } from "./model";

type User = Awaited<ReturnType<typeof signupAndLogin>>;

describe.each(modes)("chat socket refs (%s)", (mode) => {
  let t: TestApp;
  let base: string;
  let a: User, b: User;
  const clients: ChatClient[] = [];

  beforeAll(async () => {
    t = await createTestApp(mode);
    t.app.listen({ hostname: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${t.app.server!.port}`;
    [a, b] = await Promise.all([signupAndLogin(t, "ana"), signupAndLogin(t, "bo")]);
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await t.app.stop(true);
    await t.close();
  });

  test("each op, with a ref, gets exactly one answer carrying it; the others in the room get their events without it", async () => {
    const room = (await (await t.request("POST", "/rooms", { token: a.tokens.accessToken, body: { name: "refs" } })).json()) as { id: string };
    const as = await ChatClient.connect(base, a.tokens.accessToken);
    const bs = await ChatClient.connect(base, b.tokens.accessToken);
    clients.push(as, bs);
    await bs.join(room.id);
    const seen = new Set<string>();
    let n = 0;
    /** Sends the op with a fresh ref and returns its answer, checking it is the only one. */
    async function answer(client: ChatClient, frame: Record<string, unknown>, event: string): Promise<ChatEvent> {
      const ref = `ref-${frame.op}-${++n}`;
      client.send({ ...frame, ref });
      const reply = await client.next((e) => e.ref === ref, `answer to ${String(frame.op)}`);
      expect(reply.event).toBe(event);
      await client.ping();
      expect(client.all((e) => e.ref === ref)).toHaveLength(1);
      seen.add(String(frame.op));
      return reply;
    }

    expect(await answer(as, { op: "join", roomId: room.id }, "joined")).toMatchObject({ roomId: room.id });
    // send: the room's message event is the ack; a's copy carries the ref, b's does not.
    const fromB = bs.events.length;
    const sent = await answer(as, { op: "send", roomId: room.id, clientMsgId: "c-1", kind: "text", content: "hi" }, "message");
    const atB = await bs.next((e) => e.event === "message" && e.message.clientMsgId === "c-1", "message at b", fromB);
    expect(atB.ref).toBeUndefined();
    // A re-send answers with the stored message, duplicate: true.
    expect(await answer(as, { op: "send", roomId: room.id, clientMsgId: "c-1", kind: "text", content: "hi" }, "message")).toMatchObject({ duplicate: true, message: { id: sent.message.id } });
    expect(await answer(as, { op: "history", roomId: room.id }, "history")).toMatchObject({ roomId: room.id });
    expect(await answer(as, { op: "read", roomId: room.id, upToMessageId: sent.message.id }, "ack")).toMatchObject({ op: "read", roomId: room.id });
    expect(await answer(as, { op: "typing", roomId: room.id, typing: true }, "ack")).toMatchObject({ op: "typing", roomId: room.id });
    expect(await answer(as, { op: "react", roomId: room.id, messageId: sent.message.id, kind: "wow" }, "reaction")).toMatchObject({ kind: "wow" });
    expect(await answer(as, { op: "unreact", roomId: room.id, messageId: sent.message.id, kind: "wow" }, "reaction")).toMatchObject({ kind: null });
    expect(await answer(as, { op: "delete", messageId: sent.message.id }, "messageDeleted")).toMatchObject({ messageId: sent.message.id });
    // Deleting it again changes nothing, and still answers.
    expect(await answer(as, { op: "delete", messageId: sent.message.id }, "messageDeleted")).toMatchObject({ messageId: sent.message.id });
    expect(await answer(as, { op: "ping", t: 7 }, "pong")).toMatchObject({ t: 7 });
    const login = (await (await t.request("POST", "/auth/login", { body: { email: a.email, password: a.password } })).json()) as { accessToken: string };
    expect(await answer(as, { op: "auth", token: login.accessToken }, "authenticated")).toMatchObject({ userId: a.user.id });
    expect(await answer(as, { op: "leave", roomId: room.id }, "left")).toMatchObject({ roomId: room.id });
    // A send from a socket not in the room (a member over REST) still gets its ack with the ref.
    expect((await t.request("POST", `/rooms/${room.id}/join`, { token: a.tokens.accessToken, body: {} })).status).toBe(200);
    expect(await answer(as, { op: "send", roomId: room.id, clientMsgId: "c-2", kind: "text", content: "from outside" }, "message")).toMatchObject({ message: { content: "from outside" } });
    expect([...seen].sort()).toEqual(Object.keys(ClientOps).sort());

    // Errors carry it too: the op's own, a schema failure, an unknown op.
    expect(await answer(as, { op: "history", roomId: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2a20" }, "error")).toMatchObject({ code: "room_not_found", op: "history" });
    expect(await answer(as, { op: "react", roomId: room.id, messageId: "nope", kind: "like" }, "error")).toMatchObject({ code: "validation_failed" });
    expect(await answer(as, { op: "shout" }, "error")).toMatchObject({ code: "unknown_op" });
    // Without a ref, read and typing answer nothing (no ack traffic for clients that ask none).
    await as.join(room.id);
    const before = as.events.length;
    as.send({ op: "typing", roomId: room.id });
    await as.ping();
    expect(as.events.slice(before).map((e) => e.event)).toEqual(["pong"]);
  });
});
