// Writers on every write path and the durability check after a SIGKILL: chaos/sigkill.test.ts
// and `bun run chaos` share them.
import { Database } from "bun:sqlite";
import { homebaseCommand } from "../src/testing/process";
import { call, day, login, must, signup, type Session } from "./lib";
import { payOrder, seedCatalog } from "./world";

export interface Acked {
  users: string[];
  challenges: string[];
  logs: string[];
  tasks: string[];
  doneTasks: string[];
  bookings: Array<{ id: string; seats: string[] }>;
  orders: Array<{ id: string; quantity: number }>;
  paid: string[];
}

const stock = 100_000;

/** Promotes through the CLI on the running server's data dir, as an operator would. */
export function promoteCli(dataDir: string, email: string): void {
  const r = Bun.spawnSync(homebaseCommand(["promote", email]), { env: { PATH: process.env.PATH ?? "", HOMEBASE_DATA_DIR: dataDir, HOMEBASE_LOG_LEVEL: "warn" } });
  if (r.exitCode !== 0) throw new Error(`promote failed: ${r.stderr.toString()}`);
}

/**
 * Writes on every path from `workers` loops per path until stop() is true; only what the server
 * acknowledged is recorded. Returns when every loop has ended.
 */
export async function writeEverywhere(base: string, ctx: { users: Session[]; screenings: string[]; item: string; projectIds: string[]; async: boolean }, acked: Acked, stop: () => boolean, workers = 2) {
  const ok = (res: Response, codes: number[]) => codes.includes(res.status);
  const todoOk = ctx.async ? [202] : [200, 201];
  const attempt = async (fn: () => Promise<void>) => {
    try {
      await fn();
    } catch {
      // The connection died with the process (or the write was refused): not acknowledged.
    }
  };
  const loops: Array<(w: number) => Promise<void>> = [
    // accounts
    async () => {
      while (!stop()) await attempt(async () => {
        const u = { email: `k${Bun.randomUUIDv7().slice(-12)}@example.com`, password: "Sup3r-secret!", nickname: `k${Bun.randomUUIDv7().slice(-12)}` };
        const res = await call(base, "POST", "/auth/signup", { body: u });
        if (ok(res, [201])) acked.users.push(((await res.json()) as { id: string }).id);
      });
    },
    // challenges and logs: a fresh challenge each time (one log per member per day)
    async (w) => {
      const token = ctx.users[w % ctx.users.length]!.accessToken;
      while (!stop()) await attempt(async () => {
        const res = await call(base, "POST", "/challenges", { token, body: { title: `k ${Bun.randomUUIDv7()}`, startDate: day(-1), endDate: day(5) } });
        if (!ok(res, [201])) return;
        const { id } = (await res.json()) as { id: string };
        acked.challenges.push(id);
        const log = await call(base, "POST", `/challenges/${id}/logs`, { token });
        if (ok(log, [201])) acked.logs.push(((await log.json()) as { id?: string; logId?: string }).id ?? id);
      });
    },
    // todos: create, then close as DONE
    async (w) => {
      const token = ctx.users[w % ctx.users.length]!.accessToken;
      const projectId = ctx.projectIds[w % ctx.projectIds.length]!;
      while (!stop()) await attempt(async () => {
        const id = Bun.randomUUIDv7();
        const res = await call(base, "POST", `/projects/${projectId}/tasks`, { token, body: { id, title: `k ${id.slice(-6)}` } });
        if (!ok(res, todoOk)) return;
        acked.tasks.push(id);
        const done = await call(base, "PUT", `/tasks/${id}/status`, { token, body: { status: "DONE", actualMinutes: 5 } });
        if (ok(done, todoOk)) acked.doneTasks.push(id);
      });
    },
    // bookings: two adjacent seats of a random row and screening (taken ones answer 409)
    async (w) => {
      const token = ctx.users[w % ctx.users.length]!.accessToken;
      while (!stop()) await attempt(async () => {
        const row = "ABCDE"[Math.floor(Math.random() * 5)]!;
        const col = 1 + Math.floor(Math.random() * 4);
        const seats = [`${row}${col}`, `${row}${col + 1}`];
        const screeningId = ctx.screenings[Math.floor(Math.random() * ctx.screenings.length)]!;
        const res = await call(base, "POST", "/reservations", { token, body: { screeningId, seats } });
        if (ok(res, [201])) acked.bookings.push({ id: ((await res.json()) as { id: string }).id, seats });
      });
    },
    // orders, then the payment flow
    async (w) => {
      const token = ctx.users[w % ctx.users.length]!.accessToken;
      while (!stop()) await attempt(async () => {
        const quantity = 1 + Math.floor(Math.random() * 3);
        const res = await call(base, "POST", "/orders", { token, body: { kind: "NORMAL", items: [{ itemId: ctx.item, quantity }] } });
        if (!ok(res, [201])) return;
        const { id } = (await res.json()) as { id: string };
        acked.orders.push({ id, quantity });
        await payOrder(base, token, id);
        acked.paid.push(id);
      });
    },
  ];
  await Promise.all(loops.flatMap((loop) => Array.from({ length: workers }, (_, w) => loop(w))));
}

/** Checks a stopped (or restarted) data dir against what was acknowledged; returns what is wrong. */
export function verifyDurable(dbPath: string, acked: Acked, item: string): string[] {
  const db = new Database(dbPath, { readonly: true });
  const wrong: string[] = [];
  try {
    const has = (table: string, id: string) => db.query(`SELECT 1 FROM ${table} WHERE id = ?`).get(id) !== null;
    const event = (subject: string, id: string) => (db.query<{ n: number }, [string, string]>("SELECT count(*) AS n FROM outbox WHERE subject = ? AND instr(payload, ?) > 0").get(subject, id)?.n ?? 0);
    for (const id of acked.users) {
      if (!has("users", id)) wrong.push(`user ${id} lost`);
      else if (event("homebase.accounts.user.registered", id) !== 1) wrong.push(`user ${id} without its registered event`);
    }
    for (const id of acked.challenges) if (!has("challenges", id)) wrong.push(`challenge ${id} lost`);
    for (const id of acked.logs) if (db.query("SELECT 1 FROM challenge_logs WHERE id = ? OR challenge_id = ?").get(id, id) === null) wrong.push(`log ${id} lost`);
    // Every log row has its event and its membership (one transaction).
    const orphanLogs = db.query<{ n: number }, []>("SELECT count(*) AS n FROM challenge_logs l WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.subject = 'homebase.challenges.log.recorded' AND instr(o.payload, l.id) > 0)").get()!.n;
    if (orphanLogs) wrong.push(`${orphanLogs} challenge logs without their event`);
    const tasks = new Map(db.query<{ id: string; status: string }, []>("SELECT id, status FROM todo_tasks").all().map((r) => [r.id, r.status]));
    for (const id of acked.tasks) if (!tasks.has(id)) wrong.push(`task ${id} lost`);
    for (const id of acked.doneTasks) if (tasks.get(id) !== "DONE") wrong.push(`task ${id} not DONE (${tasks.get(id)})`);
    for (const b of acked.bookings) {
      const row = db.query<{ status: string; seats: string }, [string]>("SELECT status, seats FROM reservations WHERE id = ?").get(b.id);
      if (!row) wrong.push(`booking ${b.id} lost`);
      else if (row.status !== "confirmed" || row.seats !== b.seats.join(",")) wrong.push(`booking ${b.id}: ${row.status} ${row.seats}`);
    }
    // Seats and bookings agree everywhere: no seat without its booking, no booking short of seats.
    const seatMismatch = db
      .query<{ n: number }, []>(
        `SELECT count(*) AS n FROM reservations r WHERE r.status = 'confirmed'
           AND r.seat_count != (SELECT count(*) FROM reservation_seats s WHERE s.reservation_id = r.id)`,
      )
      .get()!.n;
    const strays = db.query<{ n: number }, []>("SELECT count(*) AS n FROM reservation_seats s WHERE NOT EXISTS (SELECT 1 FROM reservations r WHERE r.id = s.reservation_id AND r.status = 'confirmed')").get()!.n;
    if (seatMismatch || strays) wrong.push(`seats: ${seatMismatch} bookings short of seats, ${strays} seats without a booking`);
    const unconfirmed = db.query<{ n: number }, []>("SELECT count(*) AS n FROM reservations r WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.subject = 'homebase.reservations.reservation.confirmed' AND instr(o.payload, r.id) > 0)").get()!.n;
    if (unconfirmed) wrong.push(`${unconfirmed} bookings without their event`);
    for (const o of acked.orders) {
      const row = db.query<{ amount: number; total: number; discount: number }, [string]>("SELECT amount, total, discount FROM shop_orders WHERE id = ?").get(o.id);
      if (!row) wrong.push(`order ${o.id} lost`);
      else {
        const items = db.query<{ q: number; t: number }, [string]>("SELECT sum(quantity) AS q, sum(quantity * price) AS t FROM shop_order_items WHERE order_id = ?").get(o.id)!;
        if (items.q !== o.quantity || items.t !== row.total || row.amount !== row.total - row.discount) wrong.push(`order ${o.id} half-written: ${JSON.stringify({ ...row, ...items })}`);
      }
    }
    for (const id of acked.paid) {
      const row = db.query<{ status: string; amount: number }, [string]>("SELECT status, amount FROM shop_orders WHERE id = ?").get(id);
      const paidSum = db.query<{ s: number | null }, [string]>("SELECT sum(amount) AS s FROM shop_payments WHERE order_id = ? AND type = 'PAYMENT'").get(id)!.s;
      if (row?.status !== "COMPLETE" || paidSum !== row.amount) wrong.push(`paid order ${id}: ${row?.status}, payments ${paidSum}`);
      if (event("homebase.shop.order.paid", id) !== 1) wrong.push(`paid order ${id} without exactly one paid event`);
    }
    // No order paid without its payment, no payment on an unpaid order, each order.paid event once.
    const halfPaid = db
      .query<{ n: number }, []>(
        `SELECT count(*) AS n FROM shop_orders o WHERE (o.status = 'COMPLETE') != EXISTS (SELECT 1 FROM shop_payments p WHERE p.order_id = o.id AND p.type = 'PAYMENT')`,
      )
      .get()!.n;
    if (halfPaid) wrong.push(`${halfPaid} orders whose status and payments disagree`);
    // Stock is conserved: what is left plus what open and paid orders hold is what there was.
    const left = db.query<{ stock: number }, [string]>("SELECT stock FROM shop_items WHERE id = ?").get(item)!.stock;
    const held = db.query<{ q: number | null }, [string]>("SELECT sum(i.quantity) AS q FROM shop_order_items i JOIN shop_orders o ON o.id = i.order_id WHERE i.item_id = ? AND o.status IN ('REQUEST', 'COMPLETE')").get(item)!.q ?? 0;
    if (left + held !== stock) wrong.push(`stock: ${left} left + ${held} held != ${stock}`);
  } finally {
    db.close();
  }
  return wrong;
}

export function countAcked(a: Acked): number {
  return a.users.length + a.challenges.length + a.logs.length + a.tasks.length + a.doneTasks.length + a.bookings.length + a.orders.length + a.paid.length;
}

/** Prepares a running server: an admin, the catalog (stock above), writer users and their projects. */
export async function prepare(base: string, dataDir: string, isAsync: boolean) {
  const admin = await signup(base, "kadmin");
  promoteCli(dataDir, admin.email);
  Object.assign(admin, await login(base, admin));
  const catalog = await seedCatalog(base, admin, stock);
  const screenings = [catalog.screening];
  for (let i = 0; i < 7; i++) {
    const s = await must(base, "POST", "/screenings", { token: admin.accessToken, body: { movieId: catalog.movie, theaterId: catalog.theater, startTime: new Date(Date.now() + (2 + i) * 86_400_000).toISOString() } });
    screenings.push(s.id);
  }
  const users = [await signup(base, "kw"), await signup(base, "kw")];
  const projectIds: string[] = [];
  for (const u of users) projectIds.push((await must(base, "POST", "/projects", { token: u.accessToken, body: { id: Bun.randomUUIDv7(), title: "under fire" } }, isAsync ? [202] : [201])).id);
  return { users, screenings, item: catalog.item, projectIds, async: isAsync };
}

