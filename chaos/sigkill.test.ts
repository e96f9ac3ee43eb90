// SIGKILL during writes on every write path at once — accounts, challenges and their logs, todos
// (direct, then async write-behind), bookings, orders and payments — then restart on the same
// data: every acknowledged write is there, each with its outbox event, and nothing is
// half-applied (seats match bookings, stock matches orders, a paid order has its payment).
// (src/main.test.ts kills during signups alone, src/modules/todos/durability.test.ts during todo
// writes alone; here the paths share the one writer when the process dies.)
import { describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { startServer } from "../src/testing/process";
import { waitFor } from "../src/testing/wait";
import { call } from "./lib";
import { countAcked, prepare, verifyDurable, writeEverywhere, type Acked } from "./writers";

describe.each(["direct", "async"] as const)("SIGKILL during writes on every path (todos %s)", (writeMode) => {
  test("after restart every acknowledged write is there, and nothing is half-applied", async () => {
    const env = { HOMEBASE_TODOS_WRITE_MODE: writeMode, HOMEBASE_LOG_LEVEL: "warn", HOMEBASE_BOOKING_RATE_LIMIT: "0", HOMEBASE_MOVIES_RATE_LIMIT: "0" };
    const server = await startServer(env);
    const ctx = await prepare(server.url, server.dataDir, writeMode === "async");
    const acked: Acked = { users: [], challenges: [], logs: [], tasks: [], doneTasks: [], bookings: [], orders: [], paid: [] };
    let stop = false;
    const writing = writeEverywhere(server.url, ctx, acked, () => stop);
    // Kill once every path has acknowledged writes in flight behind it.
    await waitFor(() => acked.users.length >= 5 && acked.logs.length >= 10 && acked.doneTasks.length >= 30 && acked.bookings.length >= 10 && acked.paid.length >= 8, {
      timeoutMs: 30_000,
      what: "acknowledged writes on every path",
    });
    server.proc.kill("SIGKILL");
    await server.proc.exited;
    stop = true;
    await writing;

    const restarted = await startServer(env, { dataDir: server.dataDir });
    try {
      const dbPath = join(server.dataDir, "homebase.sqlite");
      // Async todos: the restarted worker applies what was still in the outbox.
      await waitFor(() => verifyDurable(dbPath, acked, ctx.item).length === 0, { timeoutMs: 10_000, what: "every acknowledged write" }).catch(() => undefined);
      expect(verifyDurable(dbPath, acked, ctx.item)).toEqual([]);
      process.stderr.write(`[sigkill ${writeMode}] ${countAcked(acked)} acknowledged writes checked, 0 lost\n`);
      // The restarted server serves them.
      const u = ctx.users[0]!;
      const me = await call(restarted.url, "GET", "/reservations/me", { token: u.accessToken });
      expect(me.status).toBe(200);
    } finally {
      await restarted.stop();
      rmSync(server.dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
