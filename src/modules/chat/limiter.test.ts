// Chat's rate limits while Redis is down: the room list, secret-room joins and uploads answer
// as usual (limited per instance) instead of 500; the outage is logged once and counted.
import { describe, expect, test } from "bun:test";
import { ManualClock } from "../../platform/clock";
import type { Logger } from "../../platform/logger";
import { Metrics } from "../../platform/metrics";
import { MemoryRateLimiter, type RateLimiter } from "../../platform/ratelimit";
import { createTestApp, signupAndLogin } from "../../testing/app";
import { modes } from "../../testing/modes";
import { startRedis, stopRedis } from "../../testing/servers";
import { withLocalFallback } from "./limiter";
import { ChatClient } from "./testkit";

function recordingLogger(lines: Array<{ level: string; msg: string }> = []): Logger & { lines: typeof lines } {
  const at = (level: string) => (msg: string) => void lines.push({ level, msg });
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error"), child: () => recordingLogger(lines) };
}

async function fallbacks(metrics: Metrics, limiter?: string): Promise<number> {
  const metric = await metrics.registry.getSingleMetric("homebase_chat_rate_limit_fallbacks_total")?.get();
  return (metric?.values ?? []).filter((v) => limiter === undefined || v.labels.limiter === limiter).reduce((sum, v) => sum + v.value, 0);
}

test("a failing shared limiter: answered by the local one (its limit still holds), logged once per outage, each fallback counted", async () => {
  let down = true;
  // Redis as the chat sees it: an in-process limiter that fails while `down`.
  const healthy = new MemoryRateLimiter(new ManualClock(0));
  const unless = <T>(work: () => Promise<T>) => (down ? Promise.reject(new Error("Connection is closed.")) : work());
  const shared: RateLimiter = {
    kind: "redis",
    hit: (key, rule) => unless(() => healthy.hit(key, rule)),
    peek: (key, rule) => unless(() => healthy.peek(key, rule)),
    peekAll: (checks) => unless(() => healthy.peekAll(checks)),
    hitAll: (checks) => unless(() => healthy.hitAll(checks)),
    take: (checks) => unless(() => healthy.take(checks)),
    refund: (key) => unless(() => healthy.refund(key)),
    reset: (key) => unless(() => healthy.reset(key)),
    close: async () => {},
  };
  const logger = recordingLogger();
  const metrics = new Metrics();
  try {
    const limiter = withLocalFallback(shared, new MemoryRateLimiter(new ManualClock(0)), metrics.registry, logger);
    const rule = { name: "chat_room_list", limit: 2, windowMs: 60_000 };
    expect((await Promise.all([0, 1, 2].map(() => limiter.hit("chat-rooms:ip:1", rule)))).map((r) => r.allowed)).toEqual([
      true,
      true,
      false,
    ]);
    expect(
      (await limiter.take([{ key: "chat-room-password:r:u", rule: { name: "chat_room_password", limit: 1, windowMs: 60_000 } }])).allowed,
    ).toBe(true);
    // Several keys at once fall back the same way, and count in the local limiter's windows.
    const batch = [{ key: "chat-rooms:ip:1", rule }, { key: "chat-rooms:ip:3", rule }];
    expect((await limiter.peekAll(batch)).map((r) => r.allowed)).toEqual([false, true]);
    expect((await limiter.hitAll(batch)).map((r) => r.remaining)).toEqual([0, 1]);
    expect(await fallbacks(metrics, "chat_room_list")).toBe(5);
    expect(await fallbacks(metrics, "chat_room_password")).toBe(1);
    expect(logger.lines.filter((l) => l.level === "warn")).toHaveLength(1);
    // Back: one info line, and the next outage is logged again.
    down = false;
    await limiter.peek("chat-rooms:ip:1", rule);
    expect(logger.lines.filter((l) => l.msg === "rate limiter available again")).toHaveLength(1);
    down = true;
    await limiter.hit("chat-rooms:ip:2", rule);
    expect(logger.lines.filter((l) => l.level === "warn")).toHaveLength(2);
  } finally {
    metrics.close();
  }
});

test("an in-process limiter is used as it is (nothing to fall back from)", () => {
  const memory = new MemoryRateLimiter();
  const metrics = new Metrics();
  try {
    expect(withLocalFallback(memory, new MemoryRateLimiter(), metrics.registry, recordingLogger())).toBe(memory);
  } finally {
    metrics.close();
  }
});

describe.if(modes.includes("real"))("chat while redis is down", () => {
  test("GET /rooms, secret-room joins (right and wrong password) and uploads answer as usual, not 500", async () => {
    const t = await createTestApp("real");
    try {
      const [owner, guest] = await Promise.all([signupAndLogin(t, "rdown"), signupAndLogin(t, "rguest")]);
      const created = await t.request("POST", "/rooms", {
        token: owner.tokens.accessToken,
        body: { name: "outage", password: "open-sesame" },
      });
      expect(created.status).toBe(201);
      const room = (await created.json()) as { id: string };
      const join = (password: string) =>
        t.request("POST", `/rooms/${room.id}/join`, { token: guest.tokens.accessToken, body: { password } });
      await stopRedis();
      try {
        const list = await t.request("GET", "/rooms", { token: guest.tokens.accessToken });
        expect({ status: list.status, body: list.status === 200 ? "" : await list.text() }).toEqual({ status: 200, body: "" });
        expect((await join("wrong")).status).toBe(401);
        expect((await join("open-sesame")).status).toBe(200);
        const png = new Uint8Array(64);
        png.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
        const form = new FormData();
        form.append("file", new File([png], "p.png", { type: "image/png" }));
        const up = await t.app.handle(
          new Request("http://localhost.test/files", {
            method: "POST",
            headers: { authorization: `Bearer ${guest.tokens.accessToken}` },
            body: form,
          }),
        );
        expect(up.status).toBe(201);
        expect(await fallbacks(t.platform.metrics)).toBeGreaterThanOrEqual(4);
      } finally {
        await startRedis();
      }
    } finally {
      await t.close();
    }
  }, 60_000);

  test("a socket joins while Redis is down: the room's participants come from this instance's sockets, not a 500", async () => {
    const t = await createTestApp("real");
    t.app.listen({ hostname: "127.0.0.1", port: 0 });
    const base = `http://127.0.0.1:${t.app.server!.port}`;
    try {
      const owner = await signupAndLogin(t, "pdown");
      const created = await t.request("POST", "/rooms", { token: owner.tokens.accessToken, body: { name: "presence outage" } });
      const room = (await created.json()) as { id: string };
      const client = await ChatClient.connect(base, owner.tokens.accessToken);
      await stopRedis();
      try {
        const joined = (await client.join(room.id)) as { event: string; code?: string; participants?: Array<{ userId: string; online: boolean }> };
        expect({ event: joined.event, code: joined.code }).toEqual({ event: "joined", code: undefined });
        expect(joined.participants).toEqual([expect.objectContaining({ userId: owner.user.id, online: true })]);
      } finally {
        client.close();
        await startRedis();
      }
    } finally {
      await t.app.stop(true);
      await t.close();
    }
  }, 60_000);
});
