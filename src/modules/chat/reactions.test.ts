// Reactions over the socket and REST, in both modes (SQLite store; MongoDB store, Redis and
// NATS): one kind per user per message, broadcast to the room, counts in history and joins.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { modes } from "../../testing/modes";
import { createTestApp, signupAndLogin, type TestApp } from "../../testing/app";
import { ChatClient, type ChatEvent } from "./testkit";

type User = Awaited<ReturnType<typeof signupAndLogin>>;

describe.each(modes)("chat reactions (%s)", (mode) => {
  let t: TestApp;
  let base: string;
  let a: User, b: User, c: User;
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
  const reaction = (method: "PUT" | "DELETE", u: User, roomId: string, messageId: string, kind: string) =>
    t.request(method, `/rooms/${roomId}/messages/${messageId}/reactions/${kind}`, { token: tok(u) });
  /** Sends an op with a fresh ref; resolves with the reply (or error) carrying it. */
  async function op(client: ChatClient, frame: Record<string, unknown>): Promise<ChatEvent> {
    const ref = Bun.randomUUIDv7();
    client.send({ ...frame, ref });
    return client.next((e) => e.ref === ref, `reply to ${String(frame.op)}`);
  }
  async function history(u: User, roomId: string) {
    const res = await t.request("GET", `/rooms/${roomId}/messages`, { token: tok(u) });
    expect(res.status).toBe(200);
    return ((await res.json()) as { items: any[] }).items;
  }

  beforeAll(async () => {
    t = await createTestApp(mode);
    t.app.listen({ hostname: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${t.app.server!.port}`;
    [a, b, c] = await Promise.all([signupAndLogin(t, "ana"), signupAndLogin(t, "bo"), signupAndLogin(t, "cy")]);
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await t.app.stop(true);
    await t.close();
  });

  test("one kind per user per message: set, replaced, taken back; the room sees each change; history shows counts and the caller's own", async () => {
    const room = await createRoom(a, "reactions");
    expect((await t.request("POST", `/rooms/${room.id}/join`, { token: tok(b), body: {} })).status).toBe(200);
    const as = await connect(a);
    const bs = await connect(b);
    await as.join(room.id);
    await bs.join(room.id);
    const hello = (await as.say(room.id, "hello")).message;
    expect(hello).toMatchObject({ reactions: [], myReaction: null, authorDeleted: false });

    // b likes it over the socket: b's copy of the room event carries the ref, a's does not.
    const fromA = as.events.length;
    const liked = await op(bs, { op: "react", roomId: room.id, messageId: hello.id, kind: "like" });
    expect(liked).toMatchObject({ event: "reaction", roomId: room.id, messageId: hello.id, userId: b.user.id, nickname: b.nickname, kind: "like", previous: null, reactions: [{ kind: "like", count: 1 }] });
    const seen = await as.next((e) => e.event === "reaction" && e.userId === b.user.id, "b's like at a", fromA);
    expect(seen.ref).toBeUndefined();
    expect(seen.reactions).toEqual([{ kind: "like", count: 1 }]);

    // a loves it over REST: b's socket hears it.
    const fromB = bs.events.length;
    const loved = await reaction("PUT", a, room.id, hello.id, "love");
    expect(loved.status).toBe(200);
    expect(await loved.json()).toEqual({ roomId: room.id, messageId: hello.id, reactions: [{ kind: "like", count: 1 }, { kind: "love", count: 1 }], myReaction: "love" });
    expect(await bs.next((e) => e.event === "reaction" && e.userId === a.user.id, "a's love at b", fromB)).toMatchObject({ kind: "love", previous: null });

    // b switches to laugh: the like is replaced, not added to.
    const laughed = await op(bs, { op: "react", roomId: room.id, messageId: hello.id, kind: "laugh" });
    expect(laughed).toMatchObject({ kind: "laugh", previous: "like", reactions: [{ kind: "love", count: 1 }, { kind: "laugh", count: 1 }] });
    // The same kind again changes nothing: b gets the state, the room hears nothing.
    const beforeAgain = as.all((e) => e.event === "reaction").length;
    expect(await op(bs, { op: "react", roomId: room.id, messageId: hello.id, kind: "laugh" })).toMatchObject({ kind: "laugh", previous: "laugh", reactions: [{ kind: "love", count: 1 }, { kind: "laugh", count: 1 }] });
    await as.say(room.id, "settle");
    expect(as.all((e) => e.event === "reaction")).toHaveLength(beforeAgain);

    // History, as each caller sees it.
    const mine = async (u: User) => (await history(u, room.id)).find((m) => m.id === hello.id);
    expect(await mine(a)).toMatchObject({ reactions: [{ kind: "love", count: 1 }, { kind: "laugh", count: 1 }], myReaction: "love" });
    expect(await mine(b)).toMatchObject({ reactions: [{ kind: "love", count: 1 }, { kind: "laugh", count: 1 }], myReaction: "laugh" });
    const socketHistory = await op(bs, { op: "history", roomId: room.id });
    expect(socketHistory.messages.find((m: any) => m.id === hello.id)).toMatchObject({ myReaction: "laugh" });
    // And in a join reply (a fresh socket of b's).
    const again = await connect(b);
    expect((await again.join(room.id)).messages.find((m: any) => m.id === hello.id)).toMatchObject({ reactions: [{ kind: "love", count: 1 }, { kind: "laugh", count: 1 }], myReaction: "laugh" });

    // Taking back a kind b does not hold changes nothing; taking back b's own removes it.
    expect(await op(bs, { op: "unreact", roomId: room.id, messageId: hello.id, kind: "like" })).toMatchObject({ kind: "laugh", previous: "laugh" });
    const fromA2 = as.events.length;
    expect(await op(bs, { op: "unreact", roomId: room.id, messageId: hello.id, kind: "laugh" })).toMatchObject({ kind: null, previous: "laugh", reactions: [{ kind: "love", count: 1 }] });
    expect(await as.next((e) => e.event === "reaction" && e.userId === b.user.id, "b's unreact at a", fromA2)).toMatchObject({ kind: null, reactions: [{ kind: "love", count: 1 }] });
    const taken = await reaction("DELETE", a, room.id, hello.id, "love");
    expect(taken.status).toBe(200);
    expect(await taken.json()).toMatchObject({ reactions: [], myReaction: null });
    // Idempotent.
    expect(await (await reaction("DELETE", a, room.id, hello.id, "love")).json()).toMatchObject({ reactions: [], myReaction: null });
    expect(await mine(a)).toMatchObject({ reactions: [], myReaction: null });
  });

  test("members only, on live messages of the room; a bad kind is a validation error", async () => {
    const room = await createRoom(a, "reaction refusals");
    const other = await createRoom(a, "elsewhere");
    const as = await connect(a);
    await as.join(room.id);
    await as.join(other.id);
    const msg = (await as.say(room.id, "react to me")).message;
    const foreign = (await as.say(other.id, "not here")).message;
    const system = (await history(a, room.id)).find((m) => m.kind === "system");

    const problem = async (res: Response) => {
      expect(res.headers.get("content-type")).toContain("application/problem+json");
      return { status: res.status, code: ((await res.json()) as { code: string }).code };
    };
    // c is not a member.
    expect(await problem(await reaction("PUT", c, room.id, msg.id, "like"))).toEqual({ status: 403, code: "not_member" });
    const cs = await connect(c);
    expect(await op(cs, { op: "react", roomId: room.id, messageId: msg.id, kind: "like" })).toMatchObject({ event: "error", code: "not_member", status: 403, op: "react" });
    // Unknown message, another room's message, a system message, a deleted one.
    for (const messageId of [Bun.randomUUIDv7(), foreign.id, system.id]) {
      expect(await problem(await reaction("PUT", a, room.id, messageId, "like"))).toEqual({ status: 404, code: "message_not_found" });
      expect(await op(as, { op: "react", roomId: room.id, messageId, kind: "like" })).toMatchObject({ event: "error", code: "message_not_found", status: 404 });
      expect(await op(as, { op: "unreact", roomId: room.id, messageId, kind: "like" })).toMatchObject({ event: "error", code: "message_not_found", status: 404 });
    }
    expect((await t.request("DELETE", `/messages/${msg.id}`, { token: tok(a) })).status).toBe(204);
    expect(await problem(await reaction("PUT", a, room.id, msg.id, "like"))).toEqual({ status: 404, code: "message_not_found" });
    // Unknown room.
    expect(await problem(await reaction("PUT", a, Bun.randomUUIDv7(), msg.id, "like"))).toEqual({ status: 404, code: "room_not_found" });
    // Kinds outside the set.
    const live = (await as.say(room.id, "still here")).message;
    expect(await problem(await reaction("PUT", a, room.id, live.id, "poop"))).toEqual({ status: 422, code: "validation_failed" });
    expect(await op(as, { op: "react", roomId: room.id, messageId: live.id, kind: "poop" })).toMatchObject({ event: "error", code: "validation_failed", errors: [{ field: "/kind" }] });
    expect(await problem(await t.request("PUT", `/rooms/${room.id}/messages/${live.id}/reactions/like`))).toEqual({ status: 401, code: "missing_token" });
    // Nothing was stored by any of it.
    expect((await history(a, room.id)).every((m) => m.reactions.length === 0)).toBe(true);
  });
});
