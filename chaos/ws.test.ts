// WebSocket abuse on /ws: 10,000 malformed JSON frames, protocol-level garbage on raw sockets,
// oversized messages, a flood from many sockets at once, unauthenticated upgrades, a secret
// room without its password. Each is refused with an error code or closed with a close code;
// the process stays up and a bystander pair keeps talking throughout. Then the authorization
// matrix's WebSocket part: every op after each way a session ends.
// (chat/abuse.test.ts covers the single-socket flood, the slow reader and the frame-size close.)
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect as tcpConnect, type Socket } from "node:net";
import { ClientOps } from "../src/modules/chat/model";
import { ChatClient } from "../src/modules/chat/testkit";
import { ManualClock } from "../src/platform/clock";
import { createTestApp, type TestApp } from "../src/testing/app";
import { modes } from "../src/testing/modes";
import { waitFor } from "../src/testing/wait";
import { listeningApp, type ListeningApp } from "./app";
import { call, login, must, signup, type Session } from "./lib";
import { type SessionEndCause, sessionEnds, wsOps } from "./matrix";

/** A raw client: upgrade by hand, then write whatever bytes we like. */
async function rawSocket(port: number, token: string): Promise<{ socket: Socket; closed: Promise<Buffer> }> {
  const socket = tcpConnect({ host: "127.0.0.1", port });
  let got = Buffer.alloc(0);
  let upgraded: () => void;
  const ready = new Promise<void>((r) => (upgraded = r));
  const closed = new Promise<Buffer>((resolve) => {
    socket.on("data", (c: Buffer) => {
      got = Buffer.concat([got, c]);
      if (got.includes("\r\n\r\n")) upgraded();
    });
    socket.on("close", () => resolve(got));
    socket.on("error", () => undefined);
  });
  socket.write(
    `GET /ws?token=${encodeURIComponent(token)} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  await ready;
  if (!got.toString("latin1").startsWith("HTTP/1.1 101")) throw new Error(`no upgrade: ${got.toString("latin1").slice(0, 100)}`);
  return { socket, closed };
}

/** A client frame: FIN + opcode, masked payload (RFC 6455 §5.2); options to break each rule. */
function frame(opcode: number, payload: Buffer, o: { fin?: boolean; rsv?: number; masked?: boolean; lengthOverride?: number } = {}): Buffer {
  const len = o.lengthOverride ?? payload.length;
  const head = [((o.fin ?? true) ? 0x80 : 0) | ((o.rsv ?? 0) << 4) | opcode];
  const mask = o.masked ?? true;
  if (len < 126) head.push((mask ? 0x80 : 0) | len);
  else head.push((mask ? 0x80 : 0) | 126, (len >> 8) & 0xff, len & 0xff);
  const key = Buffer.from([1, 2, 3, 4]);
  const body = mask ? Buffer.from(payload.map((b, i) => b ^ key[i % 4]!)) : payload;
  return Buffer.concat([Buffer.from(head), mask ? key : Buffer.alloc(0), body]);
}

/** The close code in a server close frame (0x88), if the server sent one. */
function closeCodeIn(bytes: Buffer): number | null {
  const at = bytes.indexOf(Buffer.from([0x88]), bytes.indexOf("\r\n\r\n") + 4);
  if (at < 0 || bytes.length < at + 4) return null;
  return bytes.readUInt16BE(at + 2);
}

describe("websocket abuse", () => {
  let app: ListeningApp;
  let owner: Session;
  let other: Session;
  let roomId: string;
  let secretId: string;
  const clients: ChatClient[] = [];
  const connect = async (token: string) => {
    const c = await ChatClient.connect(app.base, token);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    // A rate high enough that 10,000 frames reach the validator instead of the limiter.
    app = await listeningApp("embedded", { HOMEBASE_CHAT_WS_RATE: "20000" });
    [owner, other] = [await signup(app.base, "wsown"), await signup(app.base, "wsoth")];
    roomId = (await must(app.base, "POST", "/rooms", { token: owner.accessToken, body: { name: "open" } })).id;
    secretId = (await must(app.base, "POST", "/rooms", { token: owner.accessToken, body: { name: "vault", password: "open-sesame-1" } })).id;
    await must(app.base, "POST", `/rooms/${roomId}/join`, { token: other.accessToken, body: {} });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await app?.close();
  });

  test("10,000 malformed frames: one error each, the socket stays open, the room goes on", async () => {
    const [abuser, speaker, listener] = await Promise.all([connect(owner.accessToken), connect(owner.accessToken), connect(other.accessToken)]);
    await Promise.all([speaker.join(roomId), listener.join(roomId)]);
    const deep = "[".repeat(20_000) + "]".repeat(20_000);
    const kinds: Array<() => string | Uint8Array> = [
      () => "{not json",
      () => "null",
      () => "[1,2,3]",
      () => "42",
      () => '"a string"',
      () => JSON.stringify({ op: "no-such-op" }),
      () => JSON.stringify({ op: 7 }),
      () => JSON.stringify({ op: "send", roomId, kind: "text", content: { $ne: null }, clientMsgId: Bun.randomUUIDv7() }),
      () => JSON.stringify({ op: "join", roomId: "../../etc/passwd" }),
      () => JSON.stringify({ op: "join", roomId, password: ["x"], extra: 1 }),
      () => JSON.stringify({ op: "history", roomId, limit: 1e308 }),
      () => JSON.stringify({ op: "read", roomId, upToMessageId: "' OR 1=1 --" }),
      () => JSON.stringify({ op: "join", roomId, __proto__: { admin: true } }).replace('"roomId"', '"__proto__":{"isAdmin":true},"roomId"'),
      () => JSON.stringify({ op: "send", roomId, kind: "text", content: "x".repeat(10_001), clientMsgId: Bun.randomUUIDv7() }),
      () => new Uint8Array([0xff, 0xfe, 0x00, 0x01, 0xc0, 0xaf]),
      () => deep,
    ];
    const before = abuser.events.length;
    for (let i = 0; i < 10_000; i++) abuser.ws.send(kinds[i % kinds.length]!());
    // Meanwhile the room carries on.
    await speaker.say(roomId, "still talking");
    await listener.next((e) => e.event === "message" && e.message.content === "still talking", "the bystander's message");
    await waitFor(() => abuser.events.length - before >= 10_000 || abuser.closed !== null, { timeoutMs: 30_000, what: "10,000 replies" });
    const replies = abuser.events.slice(before);
    expect(abuser.closed).toBeNull();
    expect(replies.length).toBe(10_000);
    expect(replies.every((e) => e.event === "error" && typeof e.code === "string")).toBe(true);
    const codes = new Set(replies.map((e) => e.code as string));
    expect([...codes].sort()).toEqual(expect.arrayContaining(["invalid_message", "unknown_op", "validation_failed"]));
    expect(codes.has("internal_error")).toBe(false);
    // The socket still works.
    abuser.send({ op: "ping", ref: "alive" });
    await abuser.next((e) => e.event === "pong" && e.ref === "alive", "pong after the garbage");
  }, 60_000);

  test("protocol-level garbage on raw sockets is closed with a code (or dropped), never served", async () => {
    const cases: Array<[string, Buffer]> = [
      ["invalid UTF-8 in a text frame", frame(0x1, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]))],
      ["unmasked client frame", frame(0x1, Buffer.from('{"op":"ping"}'), { masked: false })],
      ["reserved bits set", frame(0x1, Buffer.from('{"op":"ping"}'), { rsv: 0b111 })],
      ["reserved opcode", frame(0x3, Buffer.from("x"))],
      ["fragmented control frame", frame(0x9, Buffer.from("ping"), { fin: false })],
      ["continuation without a start", frame(0x0, Buffer.from('{"op":"ping"}'))],
      ["length beyond the data", Buffer.concat([frame(0x1, Buffer.from("{}"), { lengthOverride: 60_000 }), Buffer.alloc(10)])],
      ["control frame over 125 bytes", frame(0x9, Buffer.alloc(200, 1))],
    ];
    for (const [what, bytes] of cases) {
      const { socket, closed } = await rawSocket(app.port, owner.accessToken);
      socket.write(bytes);
      // "length beyond the data" waits for bytes that never come: end our side.
      const timer = setTimeout(() => socket.end(), 2_000);
      const got = await closed;
      clearTimeout(timer);
      const code = closeCodeIn(got);
      expect({ what, code: code === null || (code >= 1002 && code <= 1009) }).toEqual({ what, code: true });
    }
    expect((await call(app.base, "GET", "/health/ready")).status).toBe(200);
  });

  test("a flood from 10 sockets at once: each is limited or closed (4029); the bystanders lose nothing", async () => {
    // The default rate (20/s) on an instance of its own: the one above lets 20,000/s through.
    const limited = await listeningApp("embedded");
    const [a, b] = [await signup(limited.base, "flooda"), await signup(limited.base, "floodb")];
    const roomId = (await must(limited.base, "POST", "/rooms", { token: a.accessToken, body: { name: "flood" } })).id;
    const connect = async (token: string) => {
      const c = await ChatClient.connect(limited.base, token);
      clients.push(c);
      return c;
    };
    const flooders = await Promise.all(Array.from({ length: 10 }, () => connect(b.accessToken)));
    const [speaker, listener] = await Promise.all([connect(a.accessToken), connect(b.accessToken)]);
    await Promise.all([speaker.join(roomId), listener.join(roomId)]);
    const said: string[] = [];
    for (const f of flooders) for (let i = 0; i < 2_000; i++) f.send({ op: "ping", t: i });
    for (let i = 0; i < 20; i++) said.push((await speaker.say(roomId, `during flood ${i}`)).message.content);
    await waitFor(() => flooders.every((f) => f.closed !== null), { timeoutMs: 30_000, what: "every flooder to be closed" });
    expect(flooders.map((f) => f.closed!.code)).toEqual(Array(10).fill(4029));
    await listener.next((e) => e.event === "message" && e.message.content === "during flood 19", "the last message");
    const heard = listener.all((e) => e.event === "message" && e.roomId === roomId).map((e) => e.message.content as string);
    expect(said.filter((m) => !heard.includes(m))).toEqual([]);
    for (const c of [speaker, listener]) c.close();
    await limited.close();
  }, 60_000);

  test("unauthenticated upgrades are refused before the socket opens", async () => {
    const s = await signup(app.base, "wsgone");
    const second = await login(app.base, s);
    await must(app.base, "POST", "/auth/logout", { token: s.accessToken });
    const upgrade = (query: string, headers: Record<string, string> = {}) =>
      fetch(`${app.base}/ws${query}`, {
        headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13", ...headers },
      });
    for (const [what, query] of [
      ["no token", ""],
      ["empty token", "?token="],
      ["garbage token", "?token=abc.def.ghi"],
      ["logged-out session", `?token=${s.accessToken}`],
      ["refresh token as access token", `?token=${encodeURIComponent(second.refreshToken)}`],
      ["token twice", `?token=x&token=${second.accessToken}`],
    ] as const) {
      const res = await upgrade(query);
      expect({ what, status: res.status }).toEqual({ what, status: 401 });
      expect(res.headers.get("content-type")).toContain("application/problem+json");
    }
    // The refused socket never opens in a browser-like client either.
    const ws = new WebSocket(`${app.base.replace("http", "ws")}/ws?token=${s.accessToken}`);
    const outcome = await new Promise<string>((resolve) => {
      ws.onopen = () => resolve("open");
      ws.onerror = () => resolve("error");
      ws.onclose = () => resolve("closed");
    });
    expect(outcome).not.toBe("open");
    // A second session of the same user still connects.
    (await connect(second.accessToken)).close();
  });

  test("a secret room without its password: refused with a code; no history, no sends, no presence", async () => {
    const intruder = await connect(other.accessToken);
    const owners = await connect(owner.accessToken);
    await owners.join(secretId, "open-sesame-1");
    await owners.say(secretId, "for members only");
    for (const password of [undefined, "", "wrong", "OPEN-SESAME-1", "open-sesame-1 "]) {
      const reply = await intruder.join(secretId, password);
      expect(reply.event).toBe("error");
      expect(reply.code).toMatch(/password/);
    }
    const ref = Bun.randomUUIDv7();
    intruder.send({ op: "history", roomId: secretId, ref });
    const history = await intruder.next((e) => e.ref === ref, "history reply");
    expect(history.event).toBe("error");
    intruder.send({ op: "send", roomId: secretId, kind: "text", content: "let me in", clientMsgId: ref + "s", ref: ref + "s" });
    expect((await intruder.next((e) => e.ref === ref + "s", "send reply")).event).toBe("error");
    const rest = await call(app.base, "GET", `/rooms/${secretId}/messages`, { token: other.accessToken });
    expect([403, 404]).toContain(rest.status);
    expect(intruder.all((e) => JSON.stringify(e).includes("for members only"))).toEqual([]);
    expect(owners.all((e) => e.event === "message" && e.message.content === "let me in")).toEqual([]);
    expect((await call(app.base, "GET", "/health/ready")).status).toBe(200);
  });
});

/** A raw client that parses the server's frames and keeps writing whatever it likes after a close. */
async function rawClient(port: number, token: string) {
  const socket = tcpConnect({ host: "127.0.0.1", port });
  let buf = Buffer.alloc(0);
  let upgraded = false;
  const texts: Array<{ at: number; data: any }> = [];
  let close: { code: number; at: number } | null = null;
  let tcpClosed = false;
  const parse = () => {
    if (!upgraded) {
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      if (!buf.toString("latin1").startsWith("HTTP/1.1 101")) throw new Error(`no upgrade: ${buf.toString("latin1").slice(0, 100)}`);
      upgraded = true;
      buf = buf.subarray(end + 4);
    }
    // Server frames are unmasked: FIN|opcode, length (7, 16 or 64 bits), payload.
    while (buf.length >= 2) {
      let len = buf[1]! & 0x7f;
      let at = 2;
      if (len === 126) [len, at] = [buf.readUInt16BE(2), 4];
      else if (len === 127) [len, at] = [Number(buf.readBigUInt64BE(2)), 10];
      if (buf.length < at + len) return;
      const payload = buf.subarray(at, at + len);
      const opcode = buf[0]! & 0x0f;
      if (opcode === 0x1) texts.push({ at: performance.now(), data: JSON.parse(payload.toString("utf8")) });
      if (opcode === 0x8) close = { code: payload.length >= 2 ? payload.readUInt16BE(0) : 1005, at: performance.now() };
      buf = buf.subarray(at + len);
    }
  };
  socket.on("data", (c: Buffer) => {
    buf = Buffer.concat([buf, c]);
    parse();
  });
  socket.on("close", () => (tcpClosed = true));
  socket.on("error", () => undefined);
  socket.write(
    `GET /ws?token=${encodeURIComponent(token)} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  const client = {
    texts,
    get close() {
      return close;
    },
    get tcpClosed() {
      return tcpClosed;
    },
    send: (op: Record<string, unknown>) => void (socket.writable && socket.write(frame(0x1, Buffer.from(JSON.stringify(op))))),
    next: async (match: (e: any) => boolean, what: string) => {
      await waitFor(() => texts.some((t) => match(t.data)), { what, timeoutMs: 5_000 });
      return texts.find((t) => match(t.data))!.data;
    },
    end: () => socket.end(),
  };
  await client.next((e) => e.event === "ready", "ready");
  return client;
}

// The authorization matrix's WebSocket part: for each way a session ends, a socket of that
// session is closed (4001/4002) within a second, then a client that ignores the close sends every
// op of the protocol: none is served (no reply, no message stored or broadcast, no delete, no
// leave, no read mark), and the token opens no new socket.
describe.each(modes)("authorization matrix: websocket operations after a session ends (%s)", (mode) => {
  const clock = new ManualClock();
  let t: TestApp;
  let base: string;
  let port: number;
  const clients: ChatClient[] = [];
  const measured: string[] = [];

  beforeAll(async () => {
    t = await createTestApp(mode, { HOMEBASE_SQLITE_SYNCHRONOUS: "NORMAL" }, undefined, undefined, { clock });
    t.app.listen({ hostname: "127.0.0.1", port: 0 });
    port = t.app.server!.port!;
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    console.info(`[ws matrix ${mode}] closed after: ${measured.join(", ")}`);
    await t.app.stop(true);
    await t.close();
  });

  test("every op of the protocol is in the matrix", () => {
    expect(Object.keys(wsOps).sort()).toEqual(Object.keys(ClientOps).sort());
  });

  test.each(Object.keys(sessionEnds) as SessionEndCause[])("%s: closed within a second, then nothing is served", async (cause) => {
    const expected = sessionEnds[cause];
    const owner = await signup(base, "wsmown");
    const victim = await signup(base, "wsmvic");
    const other = await login(base, victim);
    const roomId = (await must(base, "POST", "/rooms", { token: owner.accessToken, body: { name: `matrix ${cause}` } })).id as string;
    await must(base, "POST", `/rooms/${roomId}/join`, { token: victim.accessToken, body: {} });
    const bystander = await ChatClient.connect(base, owner.accessToken);
    clients.push(bystander);
    await bystander.join(roomId);

    // The socket is on the session that ends: the other one for a password change.
    const token = cause === "password" ? other.accessToken : victim.accessToken;
    const raw = await rawClient(port, token);
    raw.send({ op: "join", roomId, ref: "j" });
    await raw.next((e) => e.event === "joined", "joined");
    raw.send({ op: "send", roomId, clientMsgId: "before", kind: "text", content: `before ${cause}`, ref: "b" });
    const before = (await raw.next((e) => e.event === "message" && e.message.clientMsgId === "before", "own message")).message.id as string;
    await bystander.next((e) => e.event === "message" && e.message.clientMsgId === "before", "the victim's message");

    let ownerToken = owner.accessToken;
    if (cause === "expiry") {
      // Most of the way to the tokens' expiry, then the bystander (only) takes a fresh token.
      clock.advance(600_000);
      ownerToken = (await login(base, owner)).accessToken;
      bystander.send({ op: "auth", token: ownerToken, ref: "renew" });
      await bystander.next((e) => e.event === "authenticated" && e.ref === "renew", "the bystander's renewal");
    }
    const act = { token: victim.accessToken };
    const start = performance.now();
    switch (cause) {
      case "logout":
        await must(base, "POST", "/auth/logout", act);
        break;
      case "logout-all":
        await must(base, "POST", "/auth/logout-all", act);
        break;
      case "password":
        await must(base, "POST", "/me/password", { ...act, body: { currentPassword: victim.password, newPassword: "Changed-secret-9!" } });
        break;
      case "refresh-reuse":
        await must(base, "POST", "/auth/refresh", { body: { refreshToken: victim.refreshToken } });
        await must(base, "POST", "/auth/refresh", { body: { refreshToken: victim.refreshToken } }, [401]);
        break;
      case "deletion":
        await must(base, "DELETE", "/me", { ...act, body: { password: victim.password } });
        break;
      case "expiry":
        clock.advance(300_000);
        break;
    }
    await waitFor(() => raw.close !== null, { what: `the close after ${cause}`, timeoutMs: 3_000 });
    const ms = raw.close!.at - start;
    measured.push(`${cause} ${ms.toFixed(0)} ms`);
    expect({ code: raw.close!.code, withinASecond: ms < 1_000 }).toEqual({ code: expected.close, withinASecond: true });

    // Ignore the close and try everything; a fresh token of the user's for `auth` where one exists.
    const fresh = cause === "deletion" ? token : (await login(base, { email: victim.email, password: cause === "password" ? "Changed-secret-9!" : victim.password })).accessToken;
    const repliesBefore = raw.texts.length;
    for (const make of Object.values(wsOps)) raw.send(make({ roomId, messageId: before, token: fresh, tag: cause }));
    raw.end();
    await waitFor(() => raw.tcpClosed, { what: "the connection to end" });
    expect(raw.texts.slice(repliesBefore).map((x) => x.data)).toEqual([]);

    // A barrier through the same room: nothing of the victim's came before it.
    await bystander.say(roomId, `barrier ${cause}`);
    expect(bystander.all((e) => (e.event === "message" && e.message.clientMsgId === `after-${cause}`) || (e.event === "typing" && e.userId === victim.id))).toEqual([]);
    // A deleted account leaves its rooms (chat's consumer of user.deleted says so): that, and only that.
    const left = (e: { event: string; change?: string; reason?: string }) => e.event === "participants" && e.change === "left" && !(cause === "deletion" && e.reason === "account_deleted");
    expect(bystander.all((e) => e.event === "messageDeleted" || e.event === "reaction" || left(e) || (e.event === "read" && e.userId === victim.id))).toEqual([]);
    const history = await must(base, "GET", `/rooms/${roomId}/messages`, { token: ownerToken });
    expect(history.items.map((m: { content: string }) => m.content)).not.toContain(`after ${cause}`);
    expect(history.items.find((m: { id: string }) => m.id === before)).toMatchObject({ deleted: false, content: `before ${cause}` });
    expect((await must(base, "GET", `/rooms/${roomId}`, { token: ownerToken })).participants).toBe(cause === "deletion" ? 1 : 2);

    // The ended token opens no socket.
    const refused = await fetch(`${base}/ws?token=${encodeURIComponent(token)}`, {
      headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" },
    });
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { code: string }).code).toBe(expected.upgrade);
    bystander.close();
  });
});
