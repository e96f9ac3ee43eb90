// The /ops page: sign in (POST /auth/login; tokens kept in memory only), then the admin-only
// API: the summary and history, the live stream (a one-time ticket, then EventSource), the
// dead letters with retry and discard. Everything is drawn with DOM APIs (textContent), no HTML
// strings: the page's CSP allows no inline script and only same-origin connections.
import { keep, lineChart } from "/ops/charts.js";

const $ = (id) => document.getElementById(id);
let session = null; // { accessToken, refreshToken }
let source = null;
let reconnect = null;
let charts = [];
let deadCursor = null;
let shownDeadTotal = null;

const bytes = (n) => (n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(2)} GiB` : n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`);
const ms = (v) => (v === null || v === undefined ? "–" : v < 10 ? `${v.toFixed(2)} ms` : `${Math.round(v)} ms`);
const pct = (v) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(v < 0.1 ? 2 : 1)} %`);
const num = (v) => (Math.abs(v) >= 100 ? String(Math.round(v)) : Number(v.toFixed(1)).toString());
const when = (iso) => (iso ? new Date(iso).toLocaleTimeString() : "–");

class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail ?? `HTTP ${status}`);
    this.status = status;
    this.code = problem?.code ?? null;
  }
}

async function call(method, path, body, retried = false) {
  const headers = {};
  if (session) headers.authorization = `Bearer ${session.accessToken}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (res.ok) return data;
  if (res.status === 401 && data?.code === "token_expired" && session && !retried && (await refresh())) return call(method, path, body, true);
  throw new ApiError(res.status, data);
}

async function refresh() {
  try {
    const res = await fetch("/auth/refresh", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ refreshToken: session.refreshToken }) });
    if (!res.ok) return false;
    const tokens = await res.json();
    session = { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken };
    return true;
  } catch {
    return false;
  }
}

function row(tbody, cells, className = "") {
  const tr = document.createElement("tr");
  if (className) tr.className = className;
  for (const cell of cells) {
    const td = document.createElement("td");
    if (cell instanceof Node) td.append(cell);
    else if (cell && typeof cell === "object") {
      td.textContent = cell.text;
      if (cell.className) td.className = cell.className;
    } else td.textContent = cell;
    tr.append(td);
  }
  tbody.append(tr);
  return tr;
}

function fill(tableId, rows, empty) {
  const tbody = $(tableId).tBodies[0];
  tbody.replaceChildren();
  if (rows.length === 0) row(tbody, [empty]);
  for (const r of rows) row(tbody, r.cells ?? r, r.className ?? "");
}

function render(s) {
  $("instance-id").textContent = s.instance.id;
  $("instance-role").textContent = `(${s.instance.role}, pid ${s.instance.pid})`;
  $("sampled-at").textContent = `sampled ${when(s.at)}`;
  $("f-rps").textContent = num(s.http.rps);
  $("f-latency").textContent = `${ms(s.http.p50Ms)} / ${ms(s.http.p99Ms)}`;
  $("f-errors").textContent = pct(s.http.errorRate);
  $("f-requests").textContent = String(s.http.requests);
  $("f-rss").textContent = bytes(s.process.rssBytes);
  $("f-cpu").textContent = `${num(s.process.cpuPercent)} %`;
  $("f-loop").textContent = `${ms(s.process.eventLoopLagMs.p99)} / ${ms(s.process.eventLoopLagMs.max)}`;
  $("f-backlog").textContent = String(s.events.outboxBacklog);
  $("f-relay").textContent = `${num(s.events.relayLagSeconds)} s`;
  $("f-dead").textContent = String(s.events.deadLetters);
  $("f-sockets").textContent = String(s.sockets.open);
  $("f-sqlite").textContent = `${bytes(s.sqlite.bytes)} / ${bytes(s.sqlite.walBytes)}`;
  const b = s.backup.last;
  $("f-backup").textContent = b
    ? `${b.ok ? "ok" : `FAILED: ${b.error ?? "?"}`} ${when(b.finishedAt ?? b.startedAt)} ${b.bytes === null ? "" : bytes(b.bytes)} sha256 ${b.sha256 ?? "–"} checksum ${b.checksum ?? "–"}`
    : "none recorded";

  fill(
    "routes",
    s.http.routes.map((r) => [`${r.method} ${r.route}`, { text: num(r.rps), className: "num" }, { text: ms(r.p50Ms), className: "num" }, { text: ms(r.p99Ms), className: "num" }, { text: pct(r.errorRate), className: "num" }, { text: pct(r.clientErrorRate), className: "num" }]),
    "no requests in the last 10 s",
  );
  fill("caches", s.caches.map((c) => [c.cache, pct(c.hitRatio), pct(c.windowHitRatio), String(c.hits), String(c.misses), String(c.errors)]), "no cache lookups yet");
  $("transport").textContent = `(${s.events.transport})`;
  fill("consumers", s.events.consumers.map((c) => [c.consumer, String(c.pending), String(c.redeliveries), String(c.processed), String(c.failed), String(c.deadLettered)]), "no consumers");
  fill("breakers", s.breakers.map((x) => [x.breaker, { text: x.state, className: `state-${x.state}` }]), "no circuit breakers");
  const c = s.backends.configured;
  const ready = Object.entries(s.backends.readiness).map(([k, v]) => `${k} ${v ? "ready" : "NOT READY"}`);
  $("configured").textContent = `configured: ${["redis", "nats", "mongo"].filter((k) => c[k]).join(", ") || "embedded only"} · ${ready.join(", ")} · checked ${when(s.backends.checkedAt)}`;
  fill("backends", s.backends.checks.map((k) => [k.name, { text: k.status, className: `status-${k.status}` }, k.detail]), "no checks yet");
  fill(
    "instances",
    s.instances.map((i) => ({ cells: [i.id, i.role, `${i.hostname}:${i.port}`, String(i.pid), when(i.lastSeenAt), i.self ? "this one" : i.alive ? "" : "gone"], className: i.alive ? "" : "gone" })),
    "none",
  );
  for (const chart of charts) chart.push([s.point]);
  if (shownDeadTotal !== s.events.deadLetters) void loadDeadLetters();
}

function setupCharts(points) {
  const box = $("charts");
  box.replaceChildren();
  charts = [
    lineChart(box, { title: "requests/s", field: "rps", format: num }),
    lineChart(box, { title: "p99", field: "p99Ms", format: ms }),
    lineChart(box, { title: "5xx rate", field: "errorRate", format: pct }),
    lineChart(box, { title: "cache hit ratio", field: "cacheHitRatio", format: pct }),
    lineChart(box, { title: "CPU %", field: "cpuPercent", format: num }),
    lineChart(box, { title: "RSS", field: "rssBytes", format: bytes }),
    lineChart(box, { title: "event-loop lag", field: "loopLagMs", format: ms }),
    lineChart(box, { title: "outbox backlog", field: "outboxBacklog", format: num }),
    lineChart(box, { title: "consumer pending", field: "consumerPending", format: num }),
    lineChart(box, { title: "open sockets", field: "openSockets", format: num }),
  ];
  for (const chart of charts) chart.push(points.slice(-keep));
}

async function loadDeadLetters(more = false) {
  const query = more && deadCursor ? `?limit=20&cursor=${encodeURIComponent(deadCursor)}` : "?limit=20";
  const page = await call("GET", `/ops/api/dead-letters${query}`).catch(() => null);
  if (!page) return;
  shownDeadTotal = page.total;
  deadCursor = page.nextCursor;
  $("dead-total").textContent = `(${page.total})`;
  $("dead-more").hidden = page.nextCursor === null;
  const tbody = $("dead-letters").tBodies[0];
  if (!more) tbody.replaceChildren();
  if (!more && page.items.length === 0) row(tbody, ["none"]);
  for (const l of page.items) {
    const payload = document.createElement("pre");
    payload.textContent = JSON.stringify(l.payload, null, 2);
    const actions = document.createElement("div");
    actions.className = "actions";
    const retry = document.createElement("button");
    retry.type = "button";
    retry.className = "retry secondary";
    retry.textContent = "retry";
    const discard = document.createElement("button");
    discard.type = "button";
    discard.className = "discard danger";
    discard.textContent = "discard";
    actions.append(retry, discard);
    const tr = row(tbody, [when(l.failedAt), l.consumer, l.subject, { text: String(l.attempts), className: "num" }, l.error, payload, actions]);
    tr.dataset.eventId = l.eventId;
    tr.dataset.consumer = l.consumer;
    const path = `/ops/api/dead-letters/${encodeURIComponent(l.consumer)}/${encodeURIComponent(l.eventId)}`;
    const act = async (button, method, suffix, done) => {
      retry.disabled = discard.disabled = true;
      try {
        const result = await call(method, path + suffix);
        $("dead-message").textContent = done(result);
      } catch (err) {
        $("dead-message").textContent = `${button}: ${err.message}`;
      }
      await loadDeadLetters();
    };
    retry.addEventListener("click", () =>
      act("retry", "POST", "/retry", (r) => (r.outcome === "dead" ? `retried ${l.eventId}: failed again (${r.error})` : `retried ${l.eventId}: ${r.outcome}`)),
    );
    discard.addEventListener("click", () => act("discard", "DELETE", "", () => `discarded ${l.eventId}`));
  }
}

function setLive(on, text) {
  $("live").className = on ? "badge on" : "badge";
  $("live").textContent = text;
}

async function connect() {
  clearTimeout(reconnect);
  source?.close();
  if (!session) return;
  try {
    const { ticket } = await call("POST", "/ops/api/stream-ticket");
    source = new EventSource(`/ops/api/stream?ticket=${encodeURIComponent(ticket)}`);
    source.addEventListener("open", () => setLive(true, "live"));
    source.addEventListener("summary", (e) => render(JSON.parse(e.data)));
    const again = () => {
      source?.close();
      source = null;
      setLive(false, "reconnecting");
      reconnect = setTimeout(connect, 1000);
    };
    source.addEventListener("end", again);
    source.addEventListener("error", again);
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) return signedOut(err.message);
    setLive(false, "offline");
    reconnect = setTimeout(connect, 3000);
  }
}

function signedOut(message) {
  clearTimeout(reconnect);
  source?.close();
  source = null;
  session = null;
  charts = [];
  $("app").hidden = true;
  $("auth").hidden = false;
  $("auth-error").textContent = message;
}

async function start() {
  // Nothing is shown before the API has said this account is an admin.
  const summary = await call("GET", "/ops/api/summary");
  const history = await call("GET", "/ops/api/history");
  $("auth").hidden = true;
  $("app").hidden = false;
  setupCharts(history.points);
  render(summary);
  await connect();
}

$("auth-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("auth-error").textContent = "";
  $("login").disabled = true;
  try {
    const res = await fetch("/auth/login", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: $("email").value, password: $("password").value }) });
    const data = await res.json().catch(() => null);
    if (!res.ok) throw new ApiError(res.status, data);
    session = { accessToken: data.accessToken, refreshToken: data.refreshToken };
    $("password").value = "";
    await start();
  } catch (err) {
    const message = err instanceof ApiError && err.code === "admin_only" ? "This account is not an admin: the ops page shows nothing to it." : `Sign-in failed: ${err.message}`;
    signedOut(message);
  } finally {
    $("login").disabled = false;
  }
});
$("dead-more").addEventListener("click", () => void loadDeadLetters(true));
$("logout").addEventListener("click", async () => {
  const token = session?.accessToken;
  signedOut("");
  if (token) await fetch("/auth/logout", { method: "POST", headers: { authorization: `Bearer ${token}` } }).catch(() => undefined);
});
