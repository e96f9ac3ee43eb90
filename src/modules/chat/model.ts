// Schemas for the chat routes and the WebSocket protocol: the single source for validation,
// types and OpenAPI. WebSocket ops are checked with the same `t` schemas (see ws.ts).
import { t, type Static } from "elysia";
import { NumberedPage, pageQuery } from "../../platform/http/paging";
import { nonBlank } from "../../platform/http/schemas";

const uuid = (description?: string) => t.String({ format: "uuid", ...(description ? { description } : {}) });
const exampleRoomId = "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2a20";
const exampleUserId = "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2a10";
const exampleMessageId = "01936f3f-0c4d-7e2a-8b1c-3d4e5f6a7b8c";

/** Longest text message, in UTF-16 units (what JavaScript's length counts). */
export const maxContentLength = 10_000;
/** Messages per history page when the client does not say. */
export const defaultHistoryLimit = 30;

export const RoomName = nonBlank({ maxLength: 100, description: "1–100 characters, not only spaces (trimmed)", examples: ["general"] });
export const RoomPassword = t.String({
  minLength: 4,
  maxLength: 128,
  description: "Makes the room secret: joining needs it. Stored as an Argon2id hash.",
  examples: ["open-sesame"],
});

const exampleRoom = {
  id: exampleRoomId,
  name: "general",
  secret: false,
  ownerId: exampleUserId,
  participants: 3,
  joined: true,
  createdAt: "2026-11-22T10:00:00.000Z",
};

export const Room = t.Object(
  {
    id: uuid(),
    name: t.String(),
    secret: t.Boolean({ description: "Joining needs the room's password" }),
    ownerId: uuid(),
    participants: t.Integer({ minimum: 0, description: "Members of the room" }),
    joined: t.Boolean({ description: "Whether the caller is a member" }),
    createdAt: t.String({ format: "date-time" }),
  },
  { examples: [exampleRoom] },
);
export type Room = Static<typeof Room>;

export const CreateRoomBody = t.Object(
  { name: RoomName, password: t.Optional(RoomPassword) },
  { examples: [{ name: "general" }, { name: "inner circle", password: "open-sesame" }] },
);
export type CreateRoomBody = Static<typeof CreateRoomBody>;

export const JoinRoomBody = t.Object(
  { password: t.Optional(t.String({ maxLength: 128, description: "Needed for a secret room" })) },
  { examples: [{}, { password: "open-sesame" }] },
);

export const RoomIdParams = t.Object({ id: uuid("Room id") });
export const MessageIdParams = t.Object({ id: uuid("Message id") });
export const FileIdParams = t.Object({ id: uuid("File id") });

export const RoomSort = t.Union([t.Literal("name"), t.Literal("created"), t.Literal("participants")]);
export type RoomSort = Static<typeof RoomSort>;

/** Rooms per page when the client does not say, and at most. */
export const defaultRoomPageSize = 10;
export const maxRoomPageSize = 50;

export const RoomListQuery = t.Object({
  ...pageQuery(defaultRoomPageSize, maxRoomPageSize),
  search: t.Optional(t.String({ maxLength: 100, description: "Case-insensitive part of the room name" })),
  sort: t.Optional(t.Union([t.Literal("name"), t.Literal("created"), t.Literal("participants")], { default: "created" })),
  order: t.Optional(t.Union([t.Literal("asc"), t.Literal("desc")], { description: "Default: asc for name, desc otherwise" })),
  joined: t.Optional(t.Boolean({ description: "Only rooms the caller is a member of" })),
});
export type RoomListQuery = Static<typeof RoomListQuery>;

export const RoomPage = NumberedPage(Room, "Rooms matching the search");
export type RoomPage = Static<typeof RoomPage>;

export const FileCategory = t.Union([t.Literal("image"), t.Literal("video"), t.Literal("audio"), t.Literal("document")]);
export type FileCategory = Static<typeof FileCategory>;

export const FileInfo = t.Object(
  {
    id: uuid(),
    name: t.String(),
    mime: t.String(),
    size: t.Integer({ minimum: 0 }),
    category: FileCategory,
    url: t.String({ description: "GET it with the bearer token" }),
    createdAt: t.String({ format: "date-time" }),
  },
  {
    examples: [
      {
        id: "01936f40-1111-7e2a-8b1c-3d4e5f6a7b8c",
        name: "cat.png",
        mime: "image/png",
        size: 48213,
        category: "image",
        url: "/files/01936f40-1111-7e2a-8b1c-3d4e5f6a7b8c",
        createdAt: "2026-11-22T10:00:00.000Z",
      },
    ],
  },
);
export type FileInfo = Static<typeof FileInfo>;

export const MessageKind = t.Union([t.Literal("text"), t.Literal("file"), t.Literal("system")]);

/** The reactions a message can get: one of these per user per message. */
export const reactionKinds = ["like", "love", "laugh", "wow", "sad", "angry"] as const;
export const ReactionKind = t.UnionEnum(reactionKinds, { default: undefined, description: "like 👍, love ❤️, laugh 😂, wow 😮, sad 😢, angry 😡" });
export type ReactionKind = Static<typeof ReactionKind>;
export const ReactionCount = t.Object({ kind: ReactionKind, count: t.Integer({ minimum: 1 }) });
export type ReactionCount = Static<typeof ReactionCount>;
const reactionCounts = t.Array(ReactionCount, { description: "Users per kind, in the order of the kinds; kinds nobody chose are left out" });
/** The nickname a message shows once its author's account is deleted. */
export const deletedAuthorNickname = "deleted user";

export const Message = t.Object(
  {
    id: uuid("Server id"),
    roomId: uuid(),
    senderId: t.Union([uuid(), t.Null()], { description: "null once the author's account is deleted" }),
    senderNickname: t.String({ description: `The author's nickname now; "${deletedAuthorNickname}" once the account is deleted` }),
    authorDeleted: t.Boolean({ description: "The author's account was deleted" }),
    kind: MessageKind,
    content: t.String({ description: "Empty once deleted. System messages: joined | left" }),
    file: t.Union([FileInfo, t.Null()], { description: "The attached file; null for text, or once the file or message is deleted" }),
    clientMsgId: t.String({ description: "The sender's id for the message: the acknowledgement key" }),
    createdAt: t.String({ format: "date-time" }),
    deleted: t.Boolean(),
    reactions: reactionCounts,
    myReaction: t.Union([ReactionKind, t.Null()], { description: "The caller's reaction; null when none (always null in live message events)" }),
  },
  {
    examples: [
      {
        id: exampleMessageId,
        roomId: exampleRoomId,
        senderId: exampleUserId,
        senderNickname: "ada",
        authorDeleted: false,
        kind: "text",
        content: "hello",
        file: null,
        clientMsgId: "c-1",
        createdAt: "2026-11-22T10:00:00.000Z",
        deleted: false,
        reactions: [{ kind: "like", count: 2 }],
        myReaction: "like",
      },
    ],
  },
);
export type Message = Static<typeof Message>;

export const HistoryQuery = t.Object({
  before: t.Optional(uuid("A message id: only older messages (the previous page's last id)")),
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 100, default: defaultHistoryLimit })),
});

export const ReactionParams = t.Object({ id: uuid("Room id"), messageId: uuid("Message id"), kind: ReactionKind });

/** A message's reactions after a change, as the caller sees them. */
export const ReactionState = t.Object(
  { roomId: uuid(), messageId: uuid(), reactions: reactionCounts, myReaction: t.Union([ReactionKind, t.Null()]) },
  { examples: [{ roomId: exampleRoomId, messageId: exampleMessageId, reactions: [{ kind: "like", count: 2 }], myReaction: "like" }] },
);
export type ReactionState = Static<typeof ReactionState>;

export const MessagePage = t.Object({
  items: t.Array(Message, { description: "Newest first" }),
  hasMore: t.Boolean({ description: "Older messages exist; pass the last id as before" }),
});
export type MessagePage = Static<typeof MessagePage>;

// ---- WebSocket protocol: client → server ops -------------------------------------------------

const ref = t.Optional(t.String({ maxLength: 64, description: "Echoed in the reply and in errors" }));
const roomId = uuid();

const sendFields = { op: t.Literal("send"), roomId, clientMsgId: t.String({ minLength: 1, maxLength: 64 }), ref };

/** A text message: its text must not be blank. */
export const SendText = t.Object(
  { ...sendFields, kind: t.Literal("text"), content: nonBlank({ maxLength: maxContentLength, description: "The message" }) },
  { additionalProperties: false },
);
/** A file message: an uploaded file of the sender's and an optional caption. */
export const SendFile = t.Object(
  { ...sendFields, kind: t.Literal("file"), content: t.String({ maxLength: maxContentLength, description: "Caption; may be empty" }), fileId: uuid() },
  { additionalProperties: false },
);
export type SendText = Static<typeof SendText>;
export type SendFile = Static<typeof SendFile>;
/** The shapes of `send`, by kind: the socket checks a frame against the one its kind names. */
export const SendOps = { text: SendText, file: SendFile } as const;

export const ClientOps = {
  join: t.Object({ op: t.Literal("join"), roomId, password: t.Optional(t.String({ maxLength: 128 })), ref }, { additionalProperties: false }),
  leave: t.Object({ op: t.Literal("leave"), roomId, ref }, { additionalProperties: false }),
  send: t.Union([SendText, SendFile]),
  history: t.Object(
    { op: t.Literal("history"), roomId, before: t.Optional(uuid()), limit: t.Optional(t.Integer({ minimum: 1, maximum: 100 })), ref },
    { additionalProperties: false },
  ),
  read: t.Object({ op: t.Literal("read"), roomId, upToMessageId: uuid(), ref }, { additionalProperties: false }),
  delete: t.Object({ op: t.Literal("delete"), messageId: uuid(), ref }, { additionalProperties: false }),
  /** Sets the caller's reaction on a message, replacing another kind. */
  react: t.Object({ op: t.Literal("react"), roomId, messageId: uuid(), kind: ReactionKind, ref }, { additionalProperties: false }),
  /** Removes the caller's reaction of this kind (nothing when they chose another or none). */
  unreact: t.Object({ op: t.Literal("unreact"), roomId, messageId: uuid(), kind: ReactionKind, ref }, { additionalProperties: false }),
  typing: t.Object({ op: t.Literal("typing"), roomId, typing: t.Optional(t.Boolean()), ref }, { additionalProperties: false }),
  ping: t.Object({ op: t.Literal("ping"), t: t.Optional(t.Number()), ref }, { additionalProperties: false }),
  /** A fresh access token of the same user: the socket lives on past the old token's expiry. */
  auth: t.Object({ op: t.Literal("auth"), token: t.String({ minLength: 1, maxLength: 4096 }), ref }, { additionalProperties: false }),
} as const;

export type ClientOp = { [K in keyof typeof ClientOps]: Static<(typeof ClientOps)[K]> }[keyof typeof ClientOps];
export type OpName = keyof typeof ClientOps;

/** Close codes the server uses (4000–4999 are the application's). */
export const closeCodes = {
  goingAway: 1001,
  policy: 1008,
  tooBig: 1009,
  /** The socket's session ended: logout, logout-all, a password change, refresh-token reuse, account deletion. */
  sessionEnded: 4001,
  /** The socket's access token expired and no fresh one came with the `auth` op. */
  tokenExpired: 4002,
  /** The client did not read fast enough: its send buffer passed the bound. */
  slowConsumer: 4008,
  /** Too many messages per second, for too long. */
  rateLimited: 4029,
} as const;
