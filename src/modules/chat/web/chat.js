// homebase chat: a small client for the REST API and the /ws socket. No framework.
// One file, long because the page is served as a single embedded script with no bundler step:
// splitting it would mean a module loader in the browser for ~500 lines.
const $ = (id) => document.getElementById(id);
const state = {
  token: sessionStorage.getItem("hb.token"),
  refresh: sessionStorage.getItem("hb.refresh"),
  // When the access token expires, by this browser's clock (from expiresIn: no clock skew).
  expiresAt: Number(sessionStorage.getItem("hb.expiresAt")) || 0,
  refreshing: null, // the refresh in flight: a refresh token is single use, two at once revoke the session
  renewTimer: null,
  me: null,
  ws: null,
  backoff: 250,
  rooms: new Map(), // roomId → { room, messages: Map, hasMore, participants: Map, reads: Map, subscribed, loading, lastRead }
  active: null,
  page: 1,
  pending: new Map(), // clientMsgId → the send op, re-sent after a reconnect (the server dedups)
  blobs: new Map(), // fileId → object URL
  typingTimers: new Map(),
  lastTyping: 0,
};

// ---- HTTP ------------------------------------------------------------------------------------

async function api(method, path, body, retried = false) {
  const headers = {};
  if (state.token) headers.authorization = `Bearer ${state.token}`;
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers["content-type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const res = await fetch(path, { method, headers, body: payload });
  if (res.status === 401 && !retried && state.refresh && path !== "/auth/refresh" && !path.startsWith("/auth/login")) {
    if (await refreshTokens()) return api(method, path, body, true);
  }
  if (!res.ok) {
    let problem = { code: `http_${res.status}`, detail: res.statusText };
    try {
      problem = await res.json();
    } catch {}
    const err = new Error(problem.detail || problem.code);
    err.code = problem.code;
    err.status = res.status;
    throw err;
  }
  if (res.status === 204) return null;
  const type = res.headers.get("content-type") || "";
  return type.includes("json") ? res.json() : res.blob();
}

function refreshTokens() {
  state.refreshing ??= (async () => {
    try {
      saveTokens(await api("POST", "/auth/refresh", { refreshToken: state.refresh }, true));
      return true;
    } catch {
      return false;
    } finally {
      state.refreshing = null;
    }
  })();
  return state.refreshing;
}

function saveTokens(pair) {
  state.token = pair.accessToken;
  state.refresh = pair.refreshToken;
  state.expiresAt = Date.now() + pair.expiresIn * 1000;
  sessionStorage.setItem("hb.token", state.token);
  sessionStorage.setItem("hb.refresh", state.refresh);
  sessionStorage.setItem("hb.expiresAt", String(state.expiresAt));
  // The open socket takes the fresh token too, or the server closes it (4002) at the old one's expiry.
  send({ op: "auth", token: state.token });
  scheduleRenewal();
}

/** Refreshes a minute before the access token expires (halfway through, for short lifetimes). */
function scheduleRenewal() {
  clearTimeout(state.renewTimer);
  if (!state.refresh || !state.expiresAt) return;
  const left = state.expiresAt - Date.now();
  state.renewTimer = setTimeout(() => void refreshTokens(), Math.max(left / 2, left - 60_000, 0));
}

/** The session is over (logged out elsewhere, password changed, account deleted): back to the login form. */
function sessionEnded(notice) {
  sessionStorage.clear();
  sessionStorage.setItem("hb.notice", notice);
  location.reload();
}

// ---- auth ------------------------------------------------------------------------------------

async function login(signup) {
  $("auth-error").textContent = "";
  const email = $("email").value.trim();
  const password = $("password").value;
  try {
    if (signup) await api("POST", "/auth/signup", { email, password, nickname: $("nickname").value.trim() });
    saveTokens(await api("POST", "/auth/login", { email, password }));
    await start();
  } catch (err) {
    $("auth-error").textContent = err.message;
  }
}

$("auth-form").addEventListener("submit", (e) => {
  e.preventDefault();
  void login(false);
});
$("signup").addEventListener("click", () => {
  if ($("auth-form").reportValidity()) void login(true);
});
$("logout").addEventListener("click", async () => {
  // Ours to close: the server's 4001 for this logout is not "ended elsewhere".
  const ws = state.ws;
  state.ws = null;
  ws?.close(1000);
  await api("POST", "/auth/logout").catch(() => {});
  sessionStorage.clear();
  location.reload();
});

async function start() {
  scheduleRenewal();
  state.me = await api("GET", "/me");
  $("me").textContent = state.me.nickname;
  $("auth").hidden = true;
  $("app").hidden = false;
  connect();
  await loadRooms();
}

// ---- socket ----------------------------------------------------------------------------------

function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  // The token rides as a subprotocol, so it never lands in a URL or an access log.
  const ws = new WebSocket(`${proto}//${location.host}/ws`, ["bearer", state.token]);
  state.ws = ws;
  ws.onmessage = (e) => handle(JSON.parse(e.data));
  ws.onclose = async (e) => {
    $("conn").textContent = "offline";
    $("conn").className = "badge";
    for (const r of state.rooms.values()) r.subscribed = false;
    if (state.ws !== ws) return;
    // 4001: the session ended; a refresh cannot bring it back.
    if (e.code === 4001 && !(await refreshTokens())) return sessionEnded("Your session ended (logged out elsewhere, or the password changed). Log in again.");
    // 1008/4xxx after the upgrade (4002: the token expired), or a refused upgrade (1006).
    if (e.code !== 1000 && e.code !== 4001 && !(await refreshTokens()) && e.code === 1006) {
      state.backoff = Math.min(state.backoff * 2, 10_000);
    }
    setTimeout(connect, state.backoff);
    state.backoff = Math.min(state.backoff * 2, 10_000);
  };
}

function send(op) {
  if (state.ws?.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(op));
}

function handle(ev) {
  const room = ev.roomId ? state.rooms.get(ev.roomId) : null;
  switch (ev.event) {
    case "ready":
      state.backoff = 250;
      $("conn").textContent = "live";
      $("conn").className = "badge on";
      // Back after a reconnect: resubscribe and re-send what was not acknowledged.
      for (const [roomId, r] of state.rooms) if (r.wanted) send({ op: "join", roomId });
      for (const op of state.pending.values()) send(op);
      break;
    case "joined": {
      const r = ensureRoom(ev.roomId, ev.room);
      r.room = ev.room;
      r.subscribed = true;
      r.hasMore = r.messages.size === 0 ? ev.hasMore : r.hasMore;
      for (const m of ev.messages) r.messages.set(m.id, m);
      r.participants = new Map(ev.participants.map((p) => [p.userId, p]));
      r.reads = new Map(ev.reads.map((x) => [x.userId, x.upToMessageId]));
      if (state.active === ev.roomId) renderRoom(true);
      markRead();
      break;
    }
    case "history":
      if (!room) break;
      room.loading = false;
      room.hasMore = ev.hasMore;
      for (const m of ev.messages) room.messages.set(m.id, m);
      if (state.active === ev.roomId) renderMessages({ keepBottomOffset: true });
      break;
    case "message":
      if (ev.message.clientMsgId) state.pending.delete(ev.message.clientMsgId);
      if (!room) break;
      room.messages.set(ev.message.id, ev.message);
      if (state.active === ev.roomId) {
        renderMessages({ stick: true });
        markRead();
      }
      break;
    case "messageDeleted":
      if (room?.messages.has(ev.messageId)) {
        const m = room.messages.get(ev.messageId);
        room.messages.set(ev.messageId, { ...m, deleted: true, content: "", file: null });
        if (state.active === ev.roomId) renderMessages({});
      }
      break;
    case "reaction": {
      const m = room?.messages.get(ev.messageId);
      if (!m) break;
      room.messages.set(ev.messageId, { ...m, reactions: ev.reactions, myReaction: ev.userId === state.me.id ? ev.kind : m.myReaction });
      if (state.active === ev.roomId) renderMessages({});
      break;
    }
    case "renamed":
      if (!room) break;
      relabel(room, ev.userId, { senderNickname: ev.nickname });
      if (room.participants.has(ev.userId)) room.participants.set(ev.userId, { ...room.participants.get(ev.userId), nickname: ev.nickname });
      if (state.active === ev.roomId) renderRoom(false);
      break;
    case "read":
      if (!room) break;
      room.reads.set(ev.userId, ev.upToMessageId);
      if (state.active === ev.roomId) renderMessages({});
      break;
    case "presence":
      if (!room) break;
      room.participants.set(ev.userId, { ...(room.participants.get(ev.userId) ?? { userId: ev.userId, nickname: ev.nickname ?? "?" }), online: ev.online });
      if (state.active === ev.roomId) renderParticipants();
      break;
    case "participants":
      if (!room) break;
      if (ev.change === "left") room.participants.delete(ev.userId);
      else if (!room.participants.has(ev.userId)) room.participants.set(ev.userId, { userId: ev.userId, nickname: ev.nickname, online: false });
      room.room.participants = ev.participants;
      // A deleted account: its messages stay, shown with a deleted author.
      if (ev.reason === "account_deleted") {
        relabel(room, ev.userId, { senderId: null, senderNickname: ev.nickname, authorDeleted: true });
        if (state.active === ev.roomId) renderMessages({});
      }
      if (state.active === ev.roomId) renderParticipants();
      break;
    case "typing":
      if (state.active === ev.roomId) showTyping(ev);
      break;
    case "left":
      state.rooms.delete(ev.roomId);
      if (state.active === ev.roomId) openRoom(null);
      void loadRooms();
      break;
    case "error":
      $("room-error").textContent = `${ev.code}: ${ev.detail}`;
      if (ev.op === "send" && ev.ref) state.pending.delete(ev.ref);
      break;
  }
}

/** The user's messages in the room get new author fields (a rename, a deleted account). */
function relabel(room, userId, fields) {
  for (const [id, m] of room.messages) if (m.senderId === userId) room.messages.set(id, { ...m, ...fields });
}

function ensureRoom(roomId, room) {
  let r = state.rooms.get(roomId);
  if (!r) {
    r = { room, messages: new Map(), hasMore: false, participants: new Map(), reads: new Map(), subscribed: false, wanted: true, loading: false, lastRead: "" };
    state.rooms.set(roomId, r);
  }
  return r;
}

// ---- rooms -----------------------------------------------------------------------------------

async function loadRooms() {
  const params = new URLSearchParams({ page: String(state.page), size: "20", sort: $("sort").value });
  const search = $("search").value.trim();
  if (search) params.set("search", search);
  const page = await api("GET", `/rooms?${params}`);
  $("page").textContent = `${page.page} / ${Math.max(1, Math.ceil(page.total / page.size))}`;
  $("prev").disabled = page.page <= 1;
  $("next").disabled = !page.hasMore;
  const list = $("rooms");
  list.replaceChildren();
  for (const room of page.items) {
    const li = document.createElement("li");
    li.dataset.id = room.id;
    if (room.id === state.active) li.className = "active";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = room.name;
    const count = document.createElement("span");
    count.className = "count";
    count.textContent = `${room.participants} ${room.participants === 1 ? "member" : "members"}`;
    li.append(name, count);
    if (room.secret) {
      const lock = document.createElement("span");
      lock.className = "lock";
      lock.textContent = "secret";
      li.insertBefore(lock, name);
    }
    if (room.joined) {
      name.addEventListener("click", () => openJoined(room));
      if (!state.rooms.has(room.id)) {
        ensureRoom(room.id, room);
        send({ op: "join", roomId: room.id });
      }
    } else {
      const join = document.createElement("button");
      join.textContent = "Join";
      join.className = "secondary join";
      join.addEventListener("click", () => (room.secret ? askPassword(li, room) : joinRoom(room)));
      li.append(join);
    }
    list.append(li);
  }
}

function askPassword(li, room) {
  if (li.querySelector("form")) return;
  const form = document.createElement("form");
  const input = document.createElement("input");
  input.type = "password";
  input.placeholder = "room password";
  input.className = "room-password";
  const ok = document.createElement("button");
  ok.textContent = "Enter";
  form.append(input, ok);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void joinRoom(room, input.value);
  });
  li.append(form);
  input.focus();
}

async function joinRoom(room, password) {
  $("room-error").textContent = "";
  try {
    const joined = await api("POST", `/rooms/${room.id}/join`, password === undefined ? {} : { password });
    await loadRooms();
    openJoined(joined);
  } catch (err) {
    $("room-error").textContent = err.code === "wrong_password" ? "Wrong password" : err.message;
  }
}

function openJoined(room) {
  const r = ensureRoom(room.id, room);
  r.wanted = true;
  if (!r.subscribed) send({ op: "join", roomId: room.id });
  openRoom(room.id);
}

function openRoom(roomId) {
  state.active = roomId;
  for (const li of $("rooms").children) li.classList.toggle("active", li.dataset.id === roomId);
  $("composer").hidden = roomId === null;
  $("leave").hidden = roomId === null;
  $("room").className = roomId === null ? "empty" : "";
  renderRoom(true);
  markRead();
}

$("create-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const password = $("room-password").value;
  try {
    const room = await api("POST", "/rooms", { name: $("room-name").value, ...(password ? { password } : {}) });
    $("room-name").value = "";
    $("room-password").value = "";
    await loadRooms();
    openJoined(room);
  } catch (err) {
    $("room-error").textContent = err.message;
  }
});
$("search").addEventListener("input", () => {
  state.page = 1;
  void loadRooms();
});
$("sort").addEventListener("change", () => void loadRooms());
$("prev").addEventListener("click", () => {
  state.page = Math.max(1, state.page - 1);
  void loadRooms();
});
$("next").addEventListener("click", () => {
  state.page++;
  void loadRooms();
});
$("leave").addEventListener("click", () => state.active && send({ op: "leave", roomId: state.active }));

// ---- messages --------------------------------------------------------------------------------

const sorted = (r) => [...r.messages.values()].sort((a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? -1 : 1) : a.createdAt < b.createdAt ? -1 : 1));

function renderRoom(toBottom) {
  const r = state.active ? state.rooms.get(state.active) : null;
  $("room-title").textContent = r ? `${r.room.secret ? "(secret) " : "# "}${r.room.name}` : "Pick a room";
  renderParticipants();
  renderMessages({ stick: toBottom, force: toBottom });
}

function renderParticipants() {
  const r = state.active ? state.rooms.get(state.active) : null;
  const list = $("participants");
  list.replaceChildren();
  if (!r) return;
  for (const p of r.participants.values()) {
    const li = document.createElement("li");
    li.textContent = p.nickname;
    li.dataset.userId = p.userId;
    if (p.online) li.className = "online";
    list.append(li);
  }
}

function renderMessages({ stick = false, force = false, keepBottomOffset = false }) {
  const list = $("messages");
  const r = state.active ? state.rooms.get(state.active) : null;
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const fromBottom = list.scrollHeight - list.scrollTop;
  list.replaceChildren();
  if (!r) return;
  const messages = sorted(r);
  for (const m of messages) list.append(renderMessage(m, r));
  for (const op of state.pending.values()) {
    if (op.roomId !== state.active || op.kind !== "text") continue;
    const li = document.createElement("li");
    li.className = "mine pending";
    li.textContent = op.content;
    list.append(li);
  }
  if (keepBottomOffset) list.scrollTop = list.scrollHeight - fromBottom;
  else if (force || (stick && atBottom)) list.scrollTop = list.scrollHeight;
}

function renderMessage(m, r) {
  const li = document.createElement("li");
  li.dataset.id = m.id;
  const mine = m.senderId === state.me.id;
  if (m.kind === "system") {
    li.className = "system";
    li.textContent = `${m.senderNickname} ${m.content === "joined" ? "joined" : "left"}`;
    return li;
  }
  li.className = `${mine ? "mine" : ""}${m.deleted ? " deleted" : ""}`;
  const meta = document.createElement("div");
  meta.className = "meta";
  const who = document.createElement("span");
  who.textContent = `${m.senderNickname} · ${new Date(m.createdAt).toLocaleTimeString()}`;
  meta.append(who);
  if (mine && !m.deleted) {
    // Read receipts: the other members whose read mark reached this message.
    const readers = [...r.reads].filter(([userId, upTo]) => userId !== state.me.id && upTo >= m.id).map(([userId]) => r.participants.get(userId)?.nickname ?? "someone");
    if (readers.length > 0) {
      const receipt = document.createElement("span");
      receipt.className = "receipt";
      receipt.textContent = `✓ read by ${readers.join(", ")}`;
      meta.append(receipt);
    }
    const del = document.createElement("button");
    del.className = "link delete";
    del.textContent = "delete";
    del.addEventListener("click", () => send({ op: "delete", messageId: m.id }));
    meta.append(del);
  }
  const content = document.createElement("div");
  content.className = "content";
  content.textContent = m.deleted ? "message deleted" : m.content;
  li.append(meta, content);
  if (m.file && !m.deleted) li.append(renderFile(m.file));
  if (!m.deleted) li.append(renderReactions(m));
  return li;
}

// One reaction per user per message: clicking another kind replaces ours, ours again takes it back.
const reactionEmoji = { like: "👍", love: "❤️", laugh: "😂", wow: "😮", sad: "😢", angry: "😡" };

function renderReactions(m) {
  const bar = document.createElement("div");
  bar.className = "reactions";
  const counts = new Map((m.reactions ?? []).map((r) => [r.kind, r.count]));
  for (const [kind, emoji] of Object.entries(reactionEmoji)) {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.kind = kind;
    const count = counts.get(kind) ?? 0;
    button.className = `react${m.myReaction === kind ? " mine" : ""}${count > 0 ? " used" : ""}`;
    button.title = kind;
    button.textContent = count > 0 ? `${emoji} ${count}` : emoji;
    button.addEventListener("click", () => send({ op: m.myReaction === kind ? "unreact" : "react", roomId: m.roomId, messageId: m.id, kind }));
    bar.append(button);
  }
  return bar;
}

function renderFile(file) {
  if (file.category === "image") {
    const img = document.createElement("img");
    img.alt = file.name;
    void blobUrl(file).then((url) => (img.src = url)).catch(() => (img.alt = `${file.name} (unavailable)`));
    return img;
  }
  const a = document.createElement("button");
  a.className = "link file";
  a.textContent = `file: ${file.name} (${Math.ceil(file.size / 1024)} KiB)`;
  a.addEventListener("click", async () => {
    const link = document.createElement("a");
    link.href = await blobUrl(file);
    link.download = file.name;
    link.click();
  });
  return a;
}

async function blobUrl(file) {
  let url = state.blobs.get(file.id);
  if (!url) {
    url = URL.createObjectURL(await api("GET", file.url));
    state.blobs.set(file.id, url);
  }
  return url;
}

/** Tells the others how far we read: the newest message of the open room, once. */
function markRead() {
  const r = state.active ? state.rooms.get(state.active) : null;
  if (!r || !r.subscribed || document.visibilityState === "hidden") return;
  const newest = sorted(r).at(-1);
  if (!newest || newest.id <= r.lastRead) return;
  r.lastRead = newest.id;
  send({ op: "read", roomId: state.active, upToMessageId: newest.id });
}
document.addEventListener("visibilitychange", markRead);

$("messages").addEventListener("scroll", () => {
  const r = state.active ? state.rooms.get(state.active) : null;
  if (!r || !r.hasMore || r.loading || $("messages").scrollTop > 40) return;
  const oldest = sorted(r)[0];
  if (!oldest) return;
  r.loading = true;
  send({ op: "history", roomId: state.active, before: oldest.id });
});

$("composer").addEventListener("submit", async (e) => {
  e.preventDefault();
  const roomId = state.active;
  if (!roomId) return;
  $("room-error").textContent = "";
  const text = $("text").value;
  const file = $("file").files[0];
  const clientMsgId = crypto.randomUUID();
  let op;
  if (file) {
    try {
      const uploaded = await api("POST", "/files", formWith(file));
      op = { op: "send", roomId, clientMsgId, kind: "file", content: text, fileId: uploaded.id, ref: clientMsgId };
    } catch (err) {
      $("room-error").textContent = `upload failed: ${err.message}`;
      return;
    }
    $("file").value = "";
  } else {
    if (!text.trim()) return;
    op = { op: "send", roomId, clientMsgId, kind: "text", content: text, ref: clientMsgId };
  }
  $("text").value = "";
  state.pending.set(clientMsgId, op);
  send(op);
  renderMessages({ stick: true, force: true });
});

function formWith(file) {
  const form = new FormData();
  form.append("file", file, file.name);
  return form;
}

$("text").addEventListener("input", () => {
  if (!state.active || Date.now() - state.lastTyping < 2000) return;
  state.lastTyping = Date.now();
  send({ op: "typing", roomId: state.active });
});

function showTyping(ev) {
  clearTimeout(state.typingTimers.get(ev.userId));
  state.typingTimers.set(ev.userId, setTimeout(() => {
    state.typingTimers.delete(ev.userId);
    $("typing").textContent = "";
  }, 3000));
  $("typing").textContent = `${ev.nickname} is typing…`;
}

// Keep the socket alive through proxies that drop quiet connections.
setInterval(() => send({ op: "ping" }), 25_000);

$("auth-error").textContent = sessionStorage.getItem("hb.notice") ?? "";
sessionStorage.removeItem("hb.notice");
if (state.token) start().catch(() => sessionStorage.clear());
