// Micro-profiles of the hot write path (no sockets; run under `bun --cpu-prof-md` for where the
// time goes):
//   todos [waves] [concurrency]   todo creates through app.handle in waves of concurrent requests
//                                 (group commit as under load); µs per create, wall and CPU.
//   writer [clients] [cpuUs]      the GroupCommitWriter alone, closed loop: each client spends
//                                 cpuUs of CPU (the request's own work), then writes a task-like
//                                 row and an outbox-like row and waits for it; COMMIT with its
//                                 fsync in place (synchronous=FULL) vs the sync off the loop.
//   booking [clients] [seconds]   the booking bench's loop through app.handle: each client books
//                                 1-3 seats of one screening and cancels what it got.
//   inserts [random|ordered] [n]  the todo create's statements alone (TodoTables on the todos
//                                 migrations, n creates in transactions of 200, a savepoint
//                                 each, no sync): µs per create and its COMMIT share, the ids
//                                 in creation order or shuffled (as the todos bench sends them).
//   node_modules/.bin/bun bench/profile-writes.ts todos 40 250 | writer 500 60 | booking 16 5 | inserts random 60000
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GroupCommitWriter, migrate, openDatabase } from "../src/platform/db/sqlite";
import { todosModule } from "../src/modules/todos";
import { TodoTables } from "../src/modules/todos/store.sqlite.tables";
import { seededRandom } from "../src/platform/random";
import { WalFileSync } from "../src/platform/db/wal-sync";
import { createTestApp, signupAndLogin } from "../src/testing/app";

const [what = "todos", wavesArg = "40", concArg = "250"] = process.argv.slice(2);

async function writerLoop(offThread: boolean, clients: number, cpuUs: number, total: number) {
  const dir = mkdtempSync(join(tmpdir(), "homebase-profile-"));
  const path = join(dir, "p.sqlite");
  const db = openDatabase(path, { synchronous: "FULL" });
  db.exec("CREATE TABLE task (id TEXT PRIMARY KEY, project TEXT NOT NULL, title TEXT NOT NULL, at INTEGER NOT NULL)");
  db.exec("CREATE INDEX task_project ON task (project)");
  db.exec("CREATE TABLE outbox (id TEXT PRIMARY KEY, payload TEXT NOT NULL)");
  const writer = new GroupCommitWriter(db, { sync: offThread ? new WalFileSync(path) : null });
  const lookup = db.query("SELECT 1 FROM task WHERE id = ?");
  const insTask = db.query("INSERT INTO task VALUES (?, 'p', 'a task title', ?)");
  const insOut = db.query("INSERT INTO outbox VALUES (?, ?)");
  let left = total;
  let blockedMs = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (left-- > 0) {
        const spin = performance.now() + cpuUs / 1000;
        while (performance.now() < spin);
        const id = Bun.randomUUIDv7();
        await writer.write(() => {
          lookup.get(id);
          insTask.run(id, Date.now());
          insOut.run(Bun.randomUUIDv7(), '{"k":1}');
        });
      }
    }),
  );
  const ms = performance.now() - started;
  // The loop's cost of one COMMIT alone, measured after: in place it includes the fsync.
  for (let i = 0; i < 50; i++) {
    if (offThread) db.exec("PRAGMA synchronous = NORMAL");
    db.exec("BEGIN IMMEDIATE");
    insOut.run(Bun.randomUUIDv7(), "{}");
    const t0 = performance.now();
    db.exec("COMMIT");
    blockedMs += performance.now() - t0;
    if (offThread) db.exec("PRAGMA synchronous = FULL");
  }
  await writer.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
  const { batches, syncs } = writer.stats;
  console.log(
    `${offThread ? "sync off the loop" : "fsync in COMMIT  "}: ${total} writes, ${clients} clients, ${cpuUs} µs CPU each: ${Math.round(total / (ms / 1000))}/s, ` +
      `${batches} batches (${(total / batches).toFixed(1)} writes each), ${syncs} syncs; one COMMIT blocks the loop ${((blockedMs / 50) * 1000).toFixed(0)} µs`,
  );
}

/** What a group commit of todo creates costs in SQLite, ids in creation order or not. */
function taskInserts(order: "random" | "ordered", n: number) {
  const dir = mkdtempSync(join(tmpdir(), "homebase-inserts-"));
  const db = openDatabase(join(dir, "t.sqlite"), { synchronous: "NORMAL" });
  // The WAL is checkpointed by another thread in the server: none here, so COMMIT is only COMMIT.
  db.exec("PRAGMA wal_autocheckpoint = 0");
  migrate(db, [{ module: "todos", migrations: todosModule.migrations ?? [] }]);
  const tables = new TodoTables(db);
  const user = Bun.randomUUIDv7();
  const project = Bun.randomUUIDv7();
  const at = Date.now();
  db.transaction(() => {
    const seq = tables.allocSeq(1);
    tables.insertId({ id: project, kind: "project", user_id: user, project_id: null, parent_id: null, body_hash: "h", seq, created_at: at });
    tables.applyCommand({ kind: "project.create", seq, userId: user, at, project: { id: project, title: "p", description: null } });
  })();
  const ids = Array.from({ length: n }, () => Bun.randomUUIDv7());
  const random = seededRandom(1);
  if (order === "random") for (let i = n - 1; i > 0; i--) { const j = Math.floor(random() * (i + 1)); [ids[i], ids[j]] = [ids[j]!, ids[i]!]; }
  let inCommit = 0;
  const started = performance.now();
  for (let b = 0; b < n; b += 200) {
    db.exec("BEGIN IMMEDIATE");
    for (const id of ids.slice(b, b + 200)) {
      db.exec("SAVEPOINT gc_job");
      tables.idRow(id);
      tables.idRow(project);
      const seq = tables.allocSeq(1);
      const task = { id, title: "Load", description: null, category: "work", estimateMinutes: 25, dueAt: null, projectId: project, parentId: null, replanOf: null };
      tables.insertId({ id, kind: "task", user_id: user, project_id: project, parent_id: null, body_hash: new Bun.CryptoHasher("sha256").update(id).digest("hex"), seq, created_at: at });
      tables.applyCommand({ kind: "task.create", seq, userId: user, at, task });
      db.exec("RELEASE gc_job");
    }
    const c = performance.now();
    db.exec("COMMIT");
    inCommit += performance.now() - c;
  }
  const us = ((performance.now() - started) * 1000) / n;
  db.close();
  rmSync(dir, { recursive: true, force: true });
  console.log(`task creates, ids ${order}: ${n} in transactions of 200: ${us.toFixed(1)} µs each, of which COMMIT ${((inCommit * 1000) / n).toFixed(1)} µs`);
}

if (what === "inserts") {
  taskInserts(wavesArg === "ordered" ? "ordered" : "random", Number(concArg === "250" ? 60_000 : concArg));
  process.exit(0);
}

if (what === "writer") {
  const clients = Number(wavesArg === "40" ? 500 : wavesArg);
  const cpuUs = Number(concArg === "250" ? 60 : concArg);
  for (const offThread of [false, true, false, true]) await writerLoop(offThread, clients, cpuUs, 20_000);
  process.exit(0);
}

const waves = Number(wavesArg);
const concurrency = Number(concArg);
const t = await createTestApp("embedded", {
  HOMEBASE_BOOKING_RATE_LIMIT: "1000000",
  HOMEBASE_MOVIES_RATE_LIMIT: "1000000000",
  ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
});
try {
  if (what === "booking") {
    const clients = Number(wavesArg === "40" ? 16 : wavesArg);
    const seconds = Number(concArg === "250" ? 5 : concArg);
    const admin = await signupAndLogin(t, "admin");
    await t.modules.apis.accounts.promoteByEmail(admin.email);
    const as = { token: admin.tokens.accessToken };
    const ok = async (r: Promise<Response>) => {
      const res = await r;
      if (res.status !== 201) throw new Error(`${res.status} ${await res.text()}`);
      return (await res.json()) as { id: string };
    };
    const theater = await ok(t.request("POST", "/theaters", { ...as, body: { name: `Hall ${Bun.randomUUIDv7().slice(-8)}` } }));
    const releaseDate = new Date(Date.now() - 3 * 86_400_000).toISOString().slice(0, 10);
    const movie = await ok(
      t.request("POST", "/movies", {
        ...as,
        body: { title: "Profile", grade: "12", genre: "DRAMA", releaseDate, thumbnailUrl: "https://img.example.com/m.jpg", runningTime: 100 },
      }),
    );
    const screening = await ok(t.request("POST", "/screenings", { ...as, body: { movieId: movie.id, theaterId: theater.id, startTime: new Date(Date.now() + 86_400_000).toISOString() } }));
    const users = await Promise.all(Array.from({ length: clients }, () => signupAndLogin(t, "booker")));
    const statuses: Record<number, number> = {};
    const writes0 = { ...t.platform.writer.stats };
    const cpu0 = process.cpuUsage();
    const started = performance.now();
    const deadline = started + seconds * 1000;
    await Promise.all(
      users.map(async (u, i) => {
        let r = i * 7919;
        const random = () => ((r = (r * 48271) % 2147483647) % 1000) / 1000;
        while (performance.now() < deadline) {
          const size = 1 + Math.floor(random() * 3);
          const first = 1 + Math.floor(random() * (6 - size));
          const row = "ABCDE"[Math.floor(random() * 5)]!;
          const seats = Array.from({ length: size }, (_, k) => `${row}${first + k}`);
          const res = await t.request("POST", "/reservations", { token: u.tokens.accessToken, body: { screeningId: screening.id, seats } });
          statuses[res.status] = (statuses[res.status] ?? 0) + 1;
          const body = (await res.json()) as { id?: string };
          if (res.status === 201) await (await t.request("DELETE", `/reservations/${body.id}`, { token: u.tokens.accessToken })).arrayBuffer();
        }
      }),
    );
    const secs = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const w = t.platform.writer.stats;
    const requests = Object.values(statuses).reduce((a, b) => a + b, 0) + (statuses[201] ?? 0);
    console.log(
      `booking (${process.env.REDIS_URL ? "Redis" : "in-process"} lock): ${clients} clients, ${Math.round((statuses[201] ?? 0) / secs)} booked/s, ${Math.round(requests / secs)} requests/s (book + cancel), ` +
        `${((cpu.user + cpu.system) / requests).toFixed(0)} µs CPU each; statuses ${JSON.stringify(statuses)}; ` +
        `${w.batches - writes0.batches} batches, ${w.syncs - writes0.syncs} syncs, ${((w.writes - writes0.writes) / (w.batches - writes0.batches)).toFixed(1)} writes per batch`,
    );
  }
  const { tokens } = await signupAndLogin(t, "prof");
  const token = tokens.accessToken;
  if (what === "todos") {
    const projectId = Bun.randomUUIDv7();
    const p = await t.request("POST", "/projects", { token, body: { id: projectId, title: "profile" } });
    if (p.status !== 201) throw new Error(`project: ${p.status} ${await p.text()}`);
    const wave = async () => {
      const out = await Promise.all(
        Array.from({ length: concurrency }, () =>
          t.request("POST", `/projects/${projectId}/tasks`, { token, body: { id: Bun.randomUUIDv7(), title: "Load", category: "work", estimateMinutes: 25 } }),
        ),
      );
      for (const r of out) if (r.status !== 201) throw new Error(`create: ${r.status} ${await r.text()}`);
      await Promise.all(out.map((r) => r.arrayBuffer()));
    };
    for (let i = 0; i < 3; i++) await wave(); // warm up
    const w0 = t.platform.writer.stats.batches;
    const started = performance.now();
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < waves; i++) await wave();
    const ms = performance.now() - started;
    const cpu = process.cpuUsage(cpu0);
    const n = waves * concurrency;
    console.log(
      `todo create: ${n} in ${ms.toFixed(0)} ms = ${((ms * 1000) / n).toFixed(1)} µs each (${((cpu.user + cpu.system) / n).toFixed(1)} µs CPU of this process), ` +
        `${Math.round(n / (ms / 1000))}/s; batches ${t.platform.writer.stats.batches - w0}, syncs ${t.platform.writer.stats.syncs}`,
    );
  }
} finally {
  await t.close();
}
