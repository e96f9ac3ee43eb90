// Chat controller: REST routes, the /ws socket and the /chat page.
import { Elysia, t } from "elysia";
import type { ClientIpResolver } from "../../platform/http/client-ip";
import { platformErrors } from "../../platform/http/errors";
import { problems, problemResponses } from "../../platform/http/problem";
import { authFailures, authPlugin, type AccountsService } from "../accounts";
import { chatErrors } from "./errors";
import type { Conn, Hub, Socket } from "./hub";
import {
  CreateRoomBody,
  FileIdParams,
  FileInfo,
  HistoryQuery,
  JoinRoomBody,
  MessageIdParams,
  MessagePage,
  ReactionParams,
  ReactionState,
  Room,
  RoomIdParams,
  RoomListQuery,
  RoomPage,
} from "./model";
import type { ReadFlusher } from "./reads";
import type { Actor, ChatService } from "./service";
import type { SocketSessions } from "./sessions";
import type { ChatSockets, SocketAuth } from "./ws";
import pageHtmlImport from "./web/chat.html" with { type: "text" };
import pageJs from "./web/chat.js" with { type: "text" };
import pageCss from "./web/chat.css" with { type: "text" };

const tags = ["chat"];

// What the platform answers before a handler runs: to any request (a chunked or oversized body),
// to any request but a GET (a body it cannot parse, even on a route that declares none), and to
// one that fails the route's schemas.
const requestRefused = { 411: [platformErrors.lengthRequired], 413: [platformErrors.bodyTooLarge] } as const;
const bodyRefused = { ...requestRefused, 400: [platformErrors.malformedBody, platformErrors.bodyTooDeep] } as const;
const invalid = [platformErrors.validationFailed] as const;
// bun-types declares *.html imports as HTML bundles; `type: "text"` makes it the file's text.
const pageHtml = pageHtmlImport as unknown as string;
const reactionRefusals = problemResponses({
  ...bodyRefused,
  401: authFailures,
  403: [chatErrors.notMember],
  404: [chatErrors.roomNotFound, chatErrors.messageNotFound],
  422: invalid,
});

/** The chat module: the service plus what the socket route and shutdown need. */
export interface ChatModule {
  service: ChatService;
  hub: Hub;
  sockets: ChatSockets;
  sessions: SocketSessions;
  instanceId: string;
  flusher: ReadFlusher;
  close(): Promise<void>;
}

function contentDisposition(name: string, inline: boolean): string {
  const fallback = name.replace(/[^\x20-\x7e]|[\\%]/g, "_");
  return `${inline ? "inline" : "attachment"}; filename="${fallback}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

const pageIcon = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="12" rx="3" fill="#2f6fdb"/><path d="M4 12v4l4-4z" fill="#2f6fdb"/></svg>`;
const bearerProtocol = /^\s*bearer\s*,\s*([^,\s]+)\s*$/i;
const pageHeaders = {
  "cache-control": "no-cache",
  // Same-origin script and sockets only; files are fetched with the token and shown as blob: URLs.
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; media-src 'self' blob:; connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'",
};

export function chatController(
  chat: ChatModule,
  accounts: AccountsService,
  options: { clientIp: ClientIpResolver; isDraining: () => boolean },
) {
  const { service, sockets, hub, sessions } = chat;
  const { clientIp, isDraining } = options;
  type Principal = Parameters<AccountsService["me"]>[0];
  // Awaited: the nickname comes from accounts, whether it answers at once or from its store.
  const nicknameOf = async (principal: Principal): Promise<string> => (await accounts.me(principal)).nickname;
  const actor = async (principal: Principal): Promise<Actor> => ({ userId: principal.userId, nickname: await nicknameOf(principal) });
  // Socket → its connection; keyed by Bun's per-connection data object.
  const conns = new WeakMap<object, Conn>();
  hub.watchDraining(isDraining);

  return new Elysia({ name: "homebase.chat" })
    .use(authPlugin(accounts))
    .get("/rooms", ({ principal, query, request }) => service.listRooms(principal.userId, query, clientIp(request)), {
      auth: true,
      query: RoomListQuery,
      response: { 200: RoomPage, ...problemResponses({ ...requestRefused, 401: authFailures, 422: invalid, 429: [chatErrors.roomListRateLimited] }) },
      detail: {
        tags,
        summary: "List rooms",
        description: "Pages of at most 50 (default 10). search matches part of the name, case-insensitively; sort by name, created (default) or participants. Rate limited per client IP.",
      },
    })
    .post("/rooms", async ({ principal, body, status }) => status(201, await service.createRoom(await actor(principal), body)), {
      auth: true,
      body: CreateRoomBody,
      response: { 201: Room, ...problemResponses({ ...bodyRefused, 401: authFailures, 422: invalid, 429: [chatErrors.rateLimited] }) },
      detail: { tags, summary: "Create a room", description: "A password makes it a secret room (stored as an Argon2id hash). The creator joins it." },
    })
    .get("/rooms/:id", ({ principal, params }) => service.getRoom(principal.userId, params.id), {
      auth: true,
      params: RoomIdParams,
      response: { 200: Room, ...problemResponses({ ...requestRefused, 401: authFailures, 404: [chatErrors.roomNotFound], 422: invalid }) },
      detail: { tags, summary: "A room" },
    })
    .post("/rooms/:id/join", async ({ principal, params, body }) => service.joinRoom(await actor(principal), params.id, body?.password), {
      auth: true,
      params: RoomIdParams,
      body: t.Optional(JoinRoomBody),
      response: {
        200: Room,
        ...problemResponses({
          ...bodyRefused,
          401: [...authFailures, chatErrors.roomPasswordRequired, chatErrors.wrongPassword],
          404: [chatErrors.roomNotFound],
          422: invalid,
          429: [chatErrors.roomPasswordRateLimited],
        }),
      },
      detail: {
        tags,
        summary: "Join a room",
        description:
          "Idempotent. A secret room needs its password: missing → 401 room_password_required, wrong → 401 wrong_password (10 wrong tries per 5 min, then 429 room_password_rate_limited). Members connected to the room get a system message and a participants event.",
      },
    })
    .post(
      "/rooms/:id/leave",
      async ({ principal, params, status }) => {
        await service.leaveRoom(await actor(principal), params.id);
        return status(204, undefined);
      },
      {
        auth: true,
        params: RoomIdParams,
        response: { 204: t.Void(), ...problemResponses({ ...bodyRefused, 401: authFailures, 404: [chatErrors.roomNotFound], 422: invalid }) },
        detail: { tags, summary: "Leave a room", description: "Idempotent. The caller's sockets stop getting the room's events." },
      },
    )
    .get("/rooms/:id/messages", ({ principal, params, query }) => service.history(principal.userId, params.id, query.before, query.limit), {
      auth: true,
      params: RoomIdParams,
      query: HistoryQuery,
      response: {
        200: MessagePage,
        ...problemResponses({
          ...requestRefused,
          400: [chatErrors.invalidCursor],
          401: authFailures,
          403: [chatErrors.notMember],
          404: [chatErrors.roomNotFound],
          422: invalid,
        }),
      },
      detail: {
        tags,
        summary: "Message history",
        description: "Members only. Newest first; pass the last id of a page as before for the next (older) page (an id that is not a message of this room: 400 invalid_cursor).",
      },
    })
    .put("/rooms/:id/messages/:messageId/reactions/:kind", async ({ principal, params }) => service.reactions.react(await actor(principal), params.id, params.messageId, params.kind), {
      auth: true,
      params: ReactionParams,
      response: { 200: ReactionState, ...reactionRefusals },
      detail: {
        tags,
        summary: "React to a message",
        description:
          "Members only. One reaction per user per message: another kind replaces the caller's previous one, the same kind again changes nothing. Kinds: like, love, laugh, wow, sad, angry. Not on system or deleted messages (404 message_not_found). Members connected anywhere get a reaction event.",
      },
    })
    .delete("/rooms/:id/messages/:messageId/reactions/:kind", async ({ principal, params }) => service.reactions.unreact(await actor(principal), params.id, params.messageId, params.kind), {
      auth: true,
      params: ReactionParams,
      response: { 200: ReactionState, ...reactionRefusals },
      detail: { tags, summary: "Take a reaction back", description: "Removes the caller's reaction when it is of this kind (idempotent: otherwise nothing changes). Answers the message's reactions after." },
    })
    .delete(
      "/messages/:id",
      async ({ principal, params, status }) => {
        await service.deleteMessage(principal.userId, params.id);
        return status(204, undefined);
      },
      {
        auth: true,
        params: MessageIdParams,
        response: {
          204: t.Void(),
          ...problemResponses({ ...bodyRefused, 401: authFailures, 403: [chatErrors.notAuthor], 404: [chatErrors.messageNotFound], 422: invalid }),
        },
        detail: { tags, summary: "Delete a message", description: "The author only (403 not_author for other members). Soft delete: the content is emptied and every connected member gets messageDeleted." },
      },
    )
    .post(
      "/files",
      async ({ principal, request, status }) => {
        // Streamed by the handler (parse: "none": neither Elysia nor Bun's formData() holds the
        // body, and formData() would replace the declared type with a guess from the name).
        const length = request.headers.get("content-length");
        const info = await service.uploads.receive(principal.userId, request.headers.get("content-type"), length === null ? null : Number(length), request.body);
        return status(201, info);
      },
      {
        auth: true,
        parse: "none",
        response: {
          201: FileInfo,
          // Parsed by the handler (parse: "none"): no 400 from the platform's JSON parser, only
          // the multipart parser's.
          ...problemResponses({
            400: [platformErrors.malformedBody],
            401: authFailures,
            411: [platformErrors.lengthRequired],
            413: [platformErrors.bodyTooLarge, chatErrors.fileTooLarge, chatErrors.storageQuotaExceeded],
            415: [chatErrors.unsupportedType],
            422: [chatErrors.fileRequired, chatErrors.extensionMismatch, chatErrors.emptyFile, chatErrors.contentMismatch],
            429: [chatErrors.rateLimited],
          }),
        },
        detail: {
          requestBody: {
            required: true,
            content: { "multipart/form-data": { schema: { type: "object", required: ["file"], properties: { file: { type: "string", format: "binary" } } } } },
          },
          tags,
          summary: "Upload a file",
          description:
            "multipart/form-data with a `file` part, streamed to storage as it arrives. Images ≤ 10 MiB (png, jpeg, gif, webp), video ≤ 50 MiB (mp4, mov, webm), audio ≤ 20 MiB (mp3, ogg, wav, m4a, webm, flac), documents ≤ 20 MiB (pdf, txt, csv, md, zip, office): past the limit 413 file_too_large, and nothing is kept. The part's MIME type, the file name's extension and the content must agree. Per user: HOMEBASE_CHAT_UPLOADS_PER_MIN uploads a minute (then 429 rate_limited) and HOMEBASE_CHAT_QUOTA_MIB for all their files (413 storage_quota_exceeded; deleting files frees it). Post it with a `send` of kind file: a file never posted is removed after HOMEBASE_CHAT_UNPOSTED_FILE_HOURS.",
        },
      },
    )
    .get(
      "/files/:id",
      async ({ principal, params }) => {
        const { file, blob } = await service.download(principal.userId, params.id);
        const inline = file.category !== "document";
        // A stream, not the blob itself: Bun answers a returned S3File with a redirect to a
        // presigned S3 URL, which WireGuard-only clients may not reach (and app.handle fails on).
        return new Response(blob.stream(), {
          headers: {
            "content-type": file.mime,
            "content-length": String(file.size),
            "content-disposition": contentDisposition(file.name, inline),
            "cache-control": "private, max-age=3600",
            "content-security-policy": "sandbox; default-src 'none'",
          },
        });
      },
      {
        auth: true,
        params: FileIdParams,
        response: {
          200: t.Any({ description: "The file's bytes with its MIME type" }),
          ...problemResponses({ ...requestRefused, 401: authFailures, 404: [chatErrors.fileNotFound], 422: invalid }),
        },
        detail: { tags, summary: "Download a file", description: "The uploader, and members of a room where the file was posted (in a message not deleted); 404 for everyone else." },
      },
    )
    .delete(
      "/files/:id",
      async ({ principal, params, status }) => {
        await service.deleteFile(principal.userId, params.id);
        return status(204, undefined);
      },
      {
        auth: true,
        params: FileIdParams,
        response: { 204: t.Void(), ...problemResponses({ ...bodyRefused, 401: authFailures, 404: [chatErrors.fileNotFound], 422: invalid }) },
        detail: { tags, summary: "Delete a file", description: "The uploader only. Messages that carried it show no file from then on." },
      },
    )
    .get("/chat", () => new Response(pageHtml, { headers: { ...pageHeaders, "content-type": "text/html; charset=utf-8" } }), {
      detail: { hide: true },
    })
    .get("/chat/app.js", () => new Response(pageJs, { headers: { ...pageHeaders, "content-type": "text/javascript; charset=utf-8" } }), {
      detail: { hide: true },
    })
    .get("/chat/app.css", () => new Response(pageCss, { headers: { ...pageHeaders, "content-type": "text/css; charset=utf-8" } }), {
      detail: { hide: true },
    })
    .get("/chat/icon.svg", () => new Response(pageIcon, { headers: { ...pageHeaders, "content-type": "image/svg+xml" } }), {
      detail: { hide: true },
    })
    .ws("/ws", {
      detail: { hide: true },
      // Authenticated before the upgrade: a refused client gets a 401 problem and no socket;
      // one past the socket caps a 429.
      async upgrade(context) {
        const { request, set } = context;
        if (isDraining()) throw problems.unavailable(chatErrors.draining, "this instance is shutting down; reconnect");
        let token = new URL(request.url).searchParams.get("token");
        const protocol = request.headers.get("sec-websocket-protocol");
        if (!token && protocol) {
          token = bearerProtocol.exec(protocol)?.[1] ?? null;
          // The browser requires the server to pick one of the offered subprotocols.
          if (token) set.headers["sec-websocket-protocol"] = "bearer";
        }
        if (!token) throw problems.unauthorized(chatErrors.missingToken, "pass the access token as ?token= or as Sec-WebSocket-Protocol: bearer, <token>");
        const principal = await sessions.authenticate(token);
        const nickname = await nicknameOf(principal);
        const ip = clientIp(request);
        // Last, with nothing awaited after it: a slot is only taken for an upgrade that goes ahead.
        const reservation = sessions.reserve(principal.userId, ip);
        const auth: SocketAuth = { userId: principal.userId, sessionId: principal.sessionId, nickname, token, expiresAt: principal.expiresAt, ip, reservation };
        (context as unknown as { chatAuth: SocketAuth }).chatAuth = auth;
      },
      open(ws) {
        const data = ws.raw.data as { chatAuth?: SocketAuth };
        if (!data.chatAuth) return ws.raw.close(1008, "unauthenticated");
        conns.set(data, sockets.open(ws.raw as unknown as Socket, data.chatAuth));
      },
      message(ws, message) {
        const conn = conns.get(ws.raw.data as object);
        if (conn) sockets.message(conn, message);
      },
      async close(ws) {
        const conn = conns.get(ws.raw.data as object);
        if (conn) await sockets.close(conn);
      },
    });
}
