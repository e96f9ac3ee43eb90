// Schemas for the accounts routes: the single source for validation, types and OpenAPI.
import { t, type Static } from "elysia";
import { CursorPage, cursorQuery } from "../../platform/http/paging";

export const roles = ["user", "admin"] as const;
export type Role = (typeof roles)[number];

const exampleUser = {
  id: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2a10",
  email: "ada@example.com",
  nickname: "ada",
  phone: "010-1234-5678",
  hasPassword: true,
  role: "user",
  createdAt: "2026-11-22T10:00:00.000Z",
  updatedAt: "2026-11-22T10:00:00.000Z",
};

export const Email = t.String({
  format: "email",
  maxLength: 254,
  description: "Compared case-insensitively; stored lower-cased",
  examples: ["ada@example.com"],
});

// A letter, a digit and a symbol: checked by the pattern so OpenAPI documents it too.
export const Password = t.String({
  minLength: 8,
  maxLength: 72,
  pattern: "^(?=.*[A-Za-z])(?=.*\\d)(?=.*[^A-Za-z0-9]).{8,72}$",
  description: "8–72 characters with at least one letter, one digit and one symbol",
  examples: ["correct-horse-7"],
});

/** Nickname length in user-perceived characters (graphemes), checked by checkDisplayName. */
export const nicknameChars = { minChars: 2, maxChars: 30 } as const;

// The characters are checked in the use case (src/platform/text.ts checkDisplayName): TypeBox
// compiles patterns without the u flag, so \p{L} cannot be a schema pattern. The schema bounds
// the UTF-16 length (a grapheme can be several code units).
export const Nickname = t.String({
  minLength: 2,
  maxLength: 120,
  description:
    "2–30 characters: letters and digits of any script (한글, 漢字, кириллица, …), '_', '.', '-'; no spaces, symbols, control or invisible characters. Stored in NFC; unique case-insensitively (NFC + lower-casing, so 'Ada'/'ada' and NFC/NFD 'é' collide); not admin/root/system",
  examples: ["ada", "김철수"],
});

// Korean mobile: 010, 011, 016, 017, 018, 019, then 4 + 4 digits (the shop reference: 01X-XXXX-XXXX).
export const Phone = t.String({
  pattern: "^01[016789](?:-[0-9]{4}-[0-9]{4}|[0-9]{8})$",
  description: "Korean mobile number 01X-XXXX-XXXX (010, 011, 016–019), with or without hyphens; stored as 01X-XXXX-XXXX; unique",
  examples: ["010-1234-5678"],
});

export const User = t.Object(
  {
    id: t.String({ format: "uuid" }),
    email: t.String(),
    nickname: t.String(),
    phone: t.Union([t.String(), t.Null()], { description: "01X-XXXX-XXXX, or null when none is set" }),
    hasPassword: t.Boolean({
      description: "False for an account an OpenID sign-in created: it sets one (POST /me/password without currentPassword) after a fresh sign-in",
    }),
    role: t.UnionEnum(roles),
    createdAt: t.String({ format: "date-time" }),
    updatedAt: t.String({ format: "date-time" }),
  },
  { examples: [exampleUser] },
);
export type User = Static<typeof User>;

export const SignupBody = t.Object(
  { email: Email, password: Password, nickname: Nickname, phone: t.Optional(Phone) },
  { examples: [{ email: "ada@example.com", password: "correct-horse-7", nickname: "ada" }] },
);
export type SignupBody = Static<typeof SignupBody>;

export const LoginBody = t.Object(
  { email: t.String({ maxLength: 254, examples: ["ada@example.com"] }), password: t.String({ maxLength: 256 }) },
  { examples: [{ email: "ada@example.com", password: "correct-horse-7" }] },
);
export type LoginBody = Static<typeof LoginBody>;

export const RefreshBody = t.Object(
  { refreshToken: t.String({ minLength: 1, maxLength: 512 }) },
  { examples: [{ refreshToken: "01936f3e-….kq3V…" }] },
);

export const TokenPair = t.Object(
  {
    tokenType: t.Literal("Bearer"),
    accessToken: t.String({ description: "JWT (HS256); send as Authorization: Bearer <token>" }),
    expiresIn: t.Integer({ description: "Seconds until the access token expires" }),
    refreshToken: t.String({ description: "Opaque; single use — each refresh returns a new one" }),
    refreshExpiresIn: t.Integer(),
    sessionId: t.String(),
  },
  {
    examples: [
      {
        tokenType: "Bearer",
        accessToken: "eyJhbGciOiJIUzI1NiJ9…",
        expiresIn: 900,
        refreshToken: "01936f3e-….kq3V…",
        refreshExpiresIn: 604800,
        sessionId: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2a11",
      },
    ],
  },
);
export type TokenPair = Static<typeof TokenPair>;

export const UpdateMeBody = t.Object(
  { nickname: t.Optional(Nickname), phone: t.Optional(t.Union([Phone, t.Null()], { description: "null removes the number" })) },
  { minProperties: 1, examples: [{ nickname: "ada.l" }, { phone: "01012345678" }, { phone: null }] },
);
export type UpdateMeBody = Static<typeof UpdateMeBody>;

export const ChangePasswordBody = t.Object(
  {
    currentPassword: t.Optional(t.String({ maxLength: 256, description: "Required when the account has a password (hasPassword)" })),
    newPassword: Password,
  },
  { examples: [{ currentPassword: "correct-horse-7", newPassword: "battery-staple-9!" }] },
);
export type ChangePasswordBody = Static<typeof ChangePasswordBody>;

export const DeleteMeBody = t.Object(
  {
    password: t.Optional(
      t.String({ maxLength: 256, description: "Re-authenticate before deleting; required when the account has a password (hasPassword)" }),
    ),
  },
  { examples: [{ password: "correct-horse-7" }] },
);

export const UserListQuery = t.Object(cursorQuery());

export const UserPage = CursorPage(User);

export const RoleBody = t.Object({ role: t.UnionEnum(roles) }, { examples: [{ role: "admin" }] });

export const UserIdParams = t.Object({ id: t.String({ format: "uuid" }) });

export const Revoked = t.Object({ revoked: t.Integer({ description: "Sessions revoked" }) });

export const Session = t.Object({
  id: t.String(),
  userAgent: t.Union([t.String(), t.Null()], { description: "The device: the User-Agent the session was opened with" }),
  ip: t.Union([t.String(), t.Null()], { description: "The client IP the session was opened from (behind a trusted proxy, the forwarded client)" }),
  createdAt: t.String({ format: "date-time" }),
  lastUsedAt: t.String({ format: "date-time", description: "Opened or last refreshed (POST /auth/refresh)" }),
  expiresAt: t.String({ format: "date-time" }),
  current: t.Boolean({ description: "The session of the access token that asked" }),
});
export type Session = Static<typeof Session>;

export const SessionList = t.Object(
  {
    items: t.Array(Session),
    total: t.Integer({ description: "Live sessions in all; items holds the most recently used, at most 100" }),
  },
  {
    examples: [
      {
        items: [
          {
            id: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2a11",
            userAgent: "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X)",
            ip: "203.0.113.7",
            createdAt: "2026-11-22T10:00:00.000Z",
            lastUsedAt: "2026-11-22T11:30:00.000Z",
            expiresAt: "2026-11-29T11:30:00.000Z",
            current: true,
          },
        ],
        total: 1,
      },
    ],
  },
);

export const SessionIdParams = t.Object({ id: t.String({ maxLength: 64 }) });
