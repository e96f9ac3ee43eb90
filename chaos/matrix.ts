// The authorization matrix: every route of the OpenAPI spec, who may call it, and a request that
// names the owner's real resource. chaos/authz.test.ts fails on a route missing here (or listed
// here but gone from the spec), so a new route needs a line.
import type { World } from "./world";

/**
 * public    anyone; no 401/403 for a missing token.
 * user      any signed-in user; acts on the caller's own data or on shared data (anonymous → 401).
 * owner     the path names the owner's private resource: anyone else, admins included, gets 404
 *           (its existence is not revealed) and nothing of it.
 * member    a shared resource (a challenge): others may read it; changing it needs ownership → 403.
 * admin     the admin role: anonymous → 401, users → 403.
 * internal  the internal IP allowlist (/internal/*, the sandbox control): outside it → 403 for everyone.
 * pg        the sandbox PG's own API: `Authorization: SECRET_KEY …`; a bearer token is no key → 401.
 */
export type Access = "public" | "user" | "owner" | "member" | "admin" | "internal" | "pg";

export interface Rule {
  access: Access;
  /** The concrete path; the owner's resource where the route has an id. */
  path: (w: World) => string;
  body?: (w: World) => unknown;
  /** Changes the caller's session (logout, password): each caller gets a fresh session for it. */
  fresh?: boolean;
  /** The exact status for a caller where the request itself is refused (wrong password, bad token). */
  expect?: Partial<Record<"anonymous" | "other" | "admin", number>>;
}

const r = (access: Access, path: Rule["path"], more: Omit<Rule, "access" | "path"> = {}): Rule => ({ access, path, ...more });
const uuid = () => Bun.randomUUIDv7();
/** The session an access token belongs to (its sid claim). */
const sessionOf = (accessToken: string): string => JSON.parse(Buffer.from(accessToken.split(".")[1]!, "base64url").toString()).sid;

export const matrix: Record<string, Rule> = {
  // ops
  "GET /health/live": r("public", () => "/health/live"),
  "GET /health/ready": r("public", () => "/health/ready"),
  "GET /metrics": r("public", () => "/metrics"),
  // the operator's page: admins only; its stream takes a one-time ticket, never a bearer token
  "GET /ops/api/summary": r("admin", () => "/ops/api/summary"),
  "GET /ops/api/history": r("admin", () => "/ops/api/history"),
  "POST /ops/api/stream-ticket": r("admin", () => "/ops/api/stream-ticket"),
  "GET /ops/api/stream": r("public", () => `/ops/api/stream?ticket=${uuid()}`, { expect: { anonymous: 401, other: 401, admin: 401 } }),
  "GET /ops/api/dead-letters": r("admin", () => "/ops/api/dead-letters"),
  "POST /ops/api/dead-letters/{consumer}/{eventId}/retry": r("admin", () => `/ops/api/dead-letters/challenges-profiles/${uuid()}/retry`),
  "DELETE /ops/api/dead-letters/{consumer}/{eventId}": r("admin", () => `/ops/api/dead-letters/challenges-profiles/${uuid()}`),
  "GET /ops/api/audit": r("admin", () => "/ops/api/audit"),
  // accounts
  "POST /auth/signup": r("public", () => "/auth/signup", { body: () => ({ email: `m${uuid().slice(-12)}@example.com`, password: "Sup3r-secret!", nickname: `m${uuid().slice(-12)}` }) }),
  "POST /auth/login": r("public", () => "/auth/login", { body: (w) => ({ email: w.owner.email, password: "not-the-password-1" }), expect: { anonymous: 401, other: 401, admin: 401 } }),
  "POST /auth/refresh": r("public", () => "/auth/refresh", { body: () => ({ refreshToken: `${uuid()}.bogus` }), expect: { anonymous: 401, other: 401, admin: 401 } }),
  "POST /auth/logout": r("user", () => "/auth/logout", { fresh: true }),
  "POST /auth/logout-all": r("user", () => "/auth/logout-all", { fresh: true }),
  "GET /me": r("user", () => "/me"),
  "PATCH /me": r("user", () => "/me", { body: () => ({ nickname: `n${uuid().slice(-12)}` }) }),
  "DELETE /me": r("user", () => "/me", { body: () => ({ password: "not-the-password-1" }), fresh: true }),
  "POST /me/password": r("user", () => "/me/password", { body: () => ({ currentPassword: "not-the-password-1", newPassword: "Another-secret-2!" }), fresh: true }),
  "GET /me/sessions": r("user", () => "/me/sessions"),
  // The owner's own session (its id is the access token's sid): anyone else is told it is not theirs.
  "DELETE /me/sessions/{id}": r("owner", (w) => `/me/sessions/${sessionOf(w.owner.accessToken)}`),
  "GET /auth/oidc/providers": r("public", () => "/auth/oidc/providers"),
  "GET /auth/oidc/{provider}/start": r("public", () => "/auth/oidc/nowhere/start"),
  "GET /auth/oidc/{provider}/callback": r("public", () => "/auth/oidc/nowhere/callback?code=guessed&state=guessed"),
  // No login code cookie: nobody gets tokens.
  "POST /auth/oidc/exchange": r("public", () => "/auth/oidc/exchange", { expect: { anonymous: 401, other: 401, admin: 401 } }),
  "GET /users": r("admin", () => "/users"),
  "PATCH /users/{id}/role": r("admin", (w) => `/users/${w.other.id}/role`, { body: () => ({ role: "user" }), fresh: true }),
  // challenges
  "POST /challenges": r("user", () => "/challenges", { body: () => ({ title: `c ${uuid()}`, startDate: "2026-01-01", endDate: "2026-01-02" }) }),
  "GET /challenges": r("user", () => "/challenges"),
  "GET /challenges/logs/{userId}": r("user", (w) => `/challenges/logs/${w.owner.id}`),
  "GET /challenges/{id}": r("user", (w) => `/challenges/${w.ids.challenge}`),
  "PATCH /challenges/{id}": r("member", (w) => `/challenges/${w.ids.challenge}`, { body: () => ({ description: "taken over" }) }),
  "DELETE /challenges/{id}": r("member", (w) => `/challenges/${w.ids.challenge}`),
  "POST /challenges/{id}/members": r("user", (w) => `/challenges/${w.ids.challenge}/members`),
  "DELETE /challenges/{id}/members/me": r("user", (w) => `/challenges/${w.ids.challenge}/members/me`),
  "POST /challenges/{id}/logs": r("user", (w) => `/challenges/${w.ids.challenge}/logs`),
  "GET /challenges/{id}/leaderboard": r("user", (w) => `/challenges/${w.ids.challenge}/leaderboard`),
  // todos
  "POST /projects": r("user", () => "/projects", { body: () => ({ id: uuid(), title: "mine" }) }),
  "GET /projects": r("user", () => "/projects"),
  "GET /projects/{id}": r("owner", (w) => `/projects/${w.ids.project}`),
  "PATCH /projects/{id}": r("owner", (w) => `/projects/${w.ids.project}`, { body: () => ({ title: "taken over" }) }),
  "DELETE /projects/{id}": r("owner", (w) => `/projects/${w.ids.project}`),
  "GET /projects/{id}/tasks": r("owner", (w) => `/projects/${w.ids.project}/tasks`),
  "POST /projects/{id}/tasks": r("owner", (w) => `/projects/${w.ids.project}/tasks`, { body: () => ({ id: uuid(), title: "planted" }) }),
  "PUT /projects/{id}/tasks/order": r("owner", (w) => `/projects/${w.ids.project}/tasks/order`, { body: (w) => ({ taskIds: [w.ids.failedTask, w.ids.task] }) }),
  "GET /tasks/{id}": r("owner", (w) => `/tasks/${w.ids.task}`),
  "PATCH /tasks/{id}": r("owner", (w) => `/tasks/${w.ids.task}`, { body: () => ({ title: "taken over" }) }),
  "DELETE /tasks/{id}": r("owner", (w) => `/tasks/${w.ids.task}`),
  "PUT /tasks/{id}/status": r("owner", (w) => `/tasks/${w.ids.task}/status`, { body: () => ({ status: "DONE", actualMinutes: 5 }) }),
  "GET /tasks/{id}/subtasks": r("owner", (w) => `/tasks/${w.ids.task}/subtasks`),
  "POST /tasks/{id}/subtasks": r("owner", (w) => `/tasks/${w.ids.task}/subtasks`, { body: () => ({ id: uuid(), title: "planted" }) }),
  "GET /todos/insights": r("user", () => "/todos/insights"),
  "POST /tasks/{id}/replan": r("owner", (w) => `/tasks/${w.ids.failedTask}/replan`),
  "POST /tasks/{id}/analysis": r("owner", (w) => `/tasks/${w.ids.failedTask}/analysis`),
  "POST /tasks/{id}/replan/accept": r("owner", (w) => `/tasks/${w.ids.failedTask}/replan/accept`, {
    body: () => ({ subtasks: [{ id: uuid(), title: "part 1", estimateMinutes: 30, dueAt: new Date(Date.now() + 86_400_000).toISOString() }] }),
  }),
  // reservations
  "GET /movies": r("public", () => "/movies"),
  "GET /api/v1/movies": r("public", () => "/api/v1/movies"),
  "POST /movies": r("admin", () => "/movies", {
    body: () => ({ title: `m ${uuid()}`, grade: "ALL", genre: "DRAMA", releaseDate: "2026-01-01", thumbnailUrl: "https://img.example.com/m.jpg", runningTime: 90 }),
  }),
  "GET /movies/{id}": r("public", (w) => `/movies/${w.ids.movie}`),
  "GET /theaters": r("public", () => "/theaters"),
  "POST /theaters": r("admin", () => "/theaters", { body: () => ({ name: `t ${uuid()}` }) }),
  "POST /screenings": r("admin", () => "/screenings", { body: (w) => ({ movieId: w.ids.movie, theaterId: w.ids.theater, startTime: new Date(Date.now() + 3 * 86_400_000 + Math.floor(Math.random() * 1e9)).toISOString() }) }),
  "GET /screenings/{id}": r("public", (w) => `/screenings/${w.ids.screening}`),
  "GET /screenings/{id}/seats": r("public", (w) => `/screenings/${w.ids.screening}/seats`),
  "POST /reservations": r("user", () => "/reservations", { body: (w) => ({ screeningId: w.ids.screening, seats: ["A1"] }) }),
  "GET /reservations/me": r("user", () => "/reservations/me"),
  "GET /reservations/{id}": r("owner", (w) => `/reservations/${w.ids.reservation}`),
  "DELETE /reservations/{id}": r("owner", (w) => `/reservations/${w.ids.reservation}`),
  // chat
  "GET /rooms": r("user", () => "/rooms"),
  "POST /rooms": r("user", () => "/rooms", { body: () => ({ name: `r ${uuid()}` }) }),
  "GET /rooms/{id}": r("user", (w) => `/rooms/${w.ids.room}`),
  "POST /rooms/{id}/join": r("user", (w) => `/rooms/${w.ids.room}/join`, { body: () => ({ password: "not-the-password" }), expect: { other: 401, admin: 401 } }),
  "POST /rooms/{id}/leave": r("user", (w) => `/rooms/${w.ids.room}/leave`),
  "GET /rooms/{id}/messages": r("member", (w) => `/rooms/${w.ids.room}/messages`),
  "DELETE /messages/{id}": r("owner", (w) => `/messages/${w.ids.message}`),
  "PUT /rooms/{id}/messages/{messageId}/reactions/{kind}": r("member", (w) => `/rooms/${w.ids.room}/messages/${w.ids.message}/reactions/like`),
  "DELETE /rooms/{id}/messages/{messageId}/reactions/{kind}": r("member", (w) => `/rooms/${w.ids.room}/messages/${w.ids.message}/reactions/like`),
  "POST /files": r("user", () => "/files", {
    body: () => {
      const form = new FormData();
      form.append("file", new Blob(["hello\n"], { type: "text/plain" }), "hello.txt");
      return form;
    },
  }),
  "GET /files/{id}": r("owner", (w) => `/files/${w.ids.file}`),
  "DELETE /files/{id}": r("owner", (w) => `/files/${w.ids.file}`),
  // shop: catalog
  "GET /items": r("public", () => "/items"),
  "POST /items": r("admin", () => "/items", { body: () => ({ name: `i ${uuid()}`, brand: "B", price: 1000, stock: 1, categories: ["ETC"] }) }),
  "GET /items/main": r("public", () => "/items/main"),
  "GET /items/{id}": r("public", (w) => `/items/${w.ids.item}`),
  "PATCH /items/{id}": r("admin", (w) => `/items/${w.ids.item}`, { body: () => ({ description: "admin edit" }) }),
  "DELETE /items/{id}": r("admin", (w) => `/items/${w.ids.item2}`),
  "GET /items/{id}/reviews": r("public", (w) => `/items/${w.ids.item}/reviews`),
  "POST /items/{id}/reviews": r("owner", (w) => `/items/${w.ids.item}/reviews`, { body: (w) => ({ orderItemId: w.ids.paidOrderItem, stars: 1, content: "not mine" }) }),
  "PATCH /reviews/{id}": r("owner", (w) => `/reviews/${w.ids.review}`, { body: () => ({ stars: 1 }) }),
  "DELETE /reviews/{id}": r("owner", (w) => `/reviews/${w.ids.review}`),
  // shop: carts (the caller's own), cart lines (owner's)
  "GET /carts/normal": r("user", () => "/carts/normal"),
  "GET /carts/subscription": r("user", () => "/carts/subscription"),
  "POST /carts/normal/items": r("user", () => "/carts/normal/items", { body: (w) => ({ itemId: w.ids.item, quantity: 1 }) }),
  "POST /carts/subscription/items": r("user", () => "/carts/subscription/items", { body: (w) => ({ itemId: w.ids.item, quantity: 1, periodDays: 30 }) }),
  "PATCH /carts/normal/items/{id}": r("owner", (w) => `/carts/normal/items/${w.ids.cartItem}`, { body: () => ({ quantity: 9 }) }),
  "DELETE /carts/normal/items/{id}": r("owner", (w) => `/carts/normal/items/${w.ids.cartItem}`),
  "PATCH /carts/subscription/items/{id}": r("owner", (w) => `/carts/subscription/items/${w.ids.subCartItem}`, { body: () => ({ periodDays: 60 }) }),
  "DELETE /carts/subscription/items/{id}": r("owner", (w) => `/carts/subscription/items/${w.ids.subCartItem}`),
  "POST /carts/normal/checkout": r("user", () => "/carts/normal/checkout", { body: () => ({}) }),
  "POST /carts/subscription/checkout": r("user", () => "/carts/subscription/checkout", { body: () => ({}) }),
  // shop: orders, payments, subscriptions
  "POST /orders": r("user", () => "/orders", { body: (w) => ({ kind: "NORMAL", items: [{ itemId: w.ids.item, quantity: 1 }] }) }),
  "GET /orders": r("user", () => "/orders"),
  "GET /orders/{id}": r("owner", (w) => `/orders/${w.ids.paidOrder}`),
  "POST /orders/{id}/payment": r("owner", (w) => `/orders/${w.ids.unpaidOrder}/payment`),
  "POST /orders/{id}/payment/approve": r("owner", (w) => `/orders/${w.ids.unpaidOrder}/payment/approve`, { body: () => ({ pgToken: "guessed" }) }),
  // The buyer's browser returning from the gateway: no bearer token, the pg_token is the proof.
  "GET /orders/{id}/payment/approved": r("public", (w) => `/orders/${w.ids.unpaidOrder}/payment/approved?pg_token=guessed`),
  "GET /orders/{id}/payment/cancelled": r("public", (w) => `/orders/${w.ids.unpaidOrder}/payment/cancelled`),
  "GET /orders/{id}/payment/failed": r("public", (w) => `/orders/${w.ids.unpaidOrder}/payment/failed`),
  "GET /orders/{id}/payment/result": r("public", (w) => `/orders/${w.ids.unpaidOrder}/payment/result?outcome=paid`),
  "POST /orders/{id}/cancel": r("owner", (w) => `/orders/${w.ids.unpaidOrder}/cancel`),
  "POST /orders/{id}/refunds": r("owner", (w) => `/orders/${w.ids.paidOrder}/refunds`, { body: () => ({}) }),
  "GET /subscriptions": r("user", () => "/subscriptions"),
  "GET /subscriptions/{id}": r("owner", (w) => `/subscriptions/${w.ids.subscription}`),
  "PATCH /subscriptions/{id}": r("owner", (w) => `/subscriptions/${w.ids.subscription}`, { body: () => ({ periodDays: 90 }) }),
  "POST /subscriptions/{id}/skip": r("owner", (w) => `/subscriptions/${w.ids.subscription}/skip`),
  "POST /subscriptions/{id}/cancel": r("owner", (w) => `/subscriptions/${w.ids.subscription}/cancel`),
  "GET /subscriptions/{id}/charges": r("owner", (w) => `/subscriptions/${w.ids.subscription}/charges`),
  "POST /internal/notices/run": r("internal", () => "/internal/notices/run", { body: () => ({}) }),
  "POST /internal/billing/run": r("internal", () => "/internal/billing/run", { body: () => ({}) }),
  "POST /internal/subscriptions/{id}/charge": r("internal", (w) => `/internal/subscriptions/${w.ids.subscription}/charge`, { body: () => ({}) }),
  // the sandbox PG
  "POST /sandbox-pg/v1/payments": r("pg", () => "/sandbox-pg/v1/payments", {
    body: (w) => ({ partnerOrderId: w.ids.unpaidOrder, partnerUserId: w.owner.id, itemName: "x", quantity: 1, amount: 1000, recurring: false, approvalUrl: "http://x/a", cancelUrl: "http://x/c", failUrl: "http://x/f" }),
  }),
  "POST /sandbox-pg/v1/payments/{tid}/approve": r("pg", (w) => `/sandbox-pg/v1/payments/${w.ids.tid}/approve`, { body: (w) => ({ pgToken: "x", partnerOrderId: w.ids.paidOrder, partnerUserId: w.owner.id }) }),
  "POST /sandbox-pg/v1/payments/{tid}/cancel": r("pg", (w) => `/sandbox-pg/v1/payments/${w.ids.tid}/cancel`, { body: () => ({ amount: 1 }) }),
  "POST /sandbox-pg/v1/recurring/{sid}/charges": r("pg", (w) => `/sandbox-pg/v1/recurring/${w.ids.sid}/charges`, { body: (w) => ({ partnerOrderId: w.ids.subOrder, partnerUserId: w.owner.id, itemName: "x", quantity: 1, amount: 1000 }) }),
  "POST /sandbox-pg/v1/recurring/{sid}/inactivate": r("pg", (w) => `/sandbox-pg/v1/recurring/${w.ids.sid}/inactivate`),
  // The buyer's approval page stands in for the PG's app: whoever holds the tid approves (sandbox only).
  "GET /sandbox-pg/checkout/{tid}": r("public", () => `/sandbox-pg/checkout/T${uuid().replaceAll("-", "").slice(0, 20).toUpperCase()}`),
  "GET /sandbox-pg/control": r("internal", () => "/sandbox-pg/control"),
  "PUT /sandbox-pg/control": r("internal", () => "/sandbox-pg/control", { body: () => ({ errorPct: 0 }) }),
  "GET /sandbox-pg/control/payments": r("internal", (w) => `/sandbox-pg/control/payments?partnerOrderId=${w.ids.paidOrder}`),
};

// ---- WebSocket operations after the socket's session ended --------------------------------------

/**
 * Each way a socket's session ends (chaos/authz.test.ts, "websocket operations after a session
 * ends"): the close code the socket gets within a second, and the code a new upgrade with its
 * token gets. `password`: the socket is on the user's other session (the changing one stays).
 */
export const sessionEnds = {
  logout: { close: 4001, upgrade: "session_revoked" },
  "logout-all": { close: 4001, upgrade: "session_revoked" },
  password: { close: 4001, upgrade: "session_revoked" },
  "refresh-reuse": { close: 4001, upgrade: "session_revoked" },
  deletion: { close: 4001, upgrade: "session_revoked" },
  expiry: { close: 4002, upgrade: "token_expired" },
} as const;
export type SessionEndCause = keyof typeof sessionEnds;

/** What the ops name: the victim's room and message, and a token of theirs (for `auth`). */
export interface WsTargets {
  roomId: string;
  messageId: string;
  token: string;
  tag: string;
}

/**
 * Every client op of the socket protocol (a new op without an entry fails the test), sent by a
 * client that ignores the server's close: none may be served.
 */
export const wsOps: Record<string, (x: WsTargets) => Record<string, unknown>> = {
  join: (x) => ({ op: "join", roomId: x.roomId, ref: "join" }),
  leave: (x) => ({ op: "leave", roomId: x.roomId, ref: "leave" }),
  send: (x) => ({ op: "send", roomId: x.roomId, clientMsgId: `after-${x.tag}`, kind: "text", content: `after ${x.tag}`, ref: "send" }),
  history: (x) => ({ op: "history", roomId: x.roomId, ref: "history" }),
  read: (x) => ({ op: "read", roomId: x.roomId, upToMessageId: x.messageId, ref: "read" }),
  delete: (x) => ({ op: "delete", messageId: x.messageId, ref: "delete" }),
  typing: (x) => ({ op: "typing", roomId: x.roomId, ref: "typing" }),
  ping: () => ({ op: "ping", ref: "ping" }),
  auth: (x) => ({ op: "auth", token: x.token, ref: "auth" }),
  react: (x) => ({ op: "react", roomId: x.roomId, messageId: x.messageId, kind: "like", ref: "react" }),
  unreact: (x) => ({ op: "unreact", roomId: x.roomId, messageId: x.messageId, kind: "like", ref: "unreact" }),
};
