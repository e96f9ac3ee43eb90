// Schemas for the accounts routes: the single source for validation, types and OpenAPI.
import { t, type Static } from "elysia";
import { CursorPage, cursorQuery } from "../../platform/http/paging";

export const roles = ["user", "admin"] as const;
export type Role = (typeof roles)[number];

const exampleUser = {
  id: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2a10",
  email: "ada@example.com",
  nickname: "ada",
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

export const Nickname = t.String({
  minLength: 2,
  maxLength: 30,
  // ASCII only: TypeBox compiles patterns without the u flag, and ASCII keeps case-folding unambiguous.
  pattern: "^[A-Za-z0-9_.-]{2,30}$",
  description: "2–30 ASCII letters, digits, '_', '.', '-'; unique case-insensitively; not admin/root/system",
  examples: ["ada"],
});

export const User = t.Object(
  {
    id: t.String({ format: "uuid" }),
    email: t.String(),
    nickname: t.String(),
    role: t.UnionEnum(roles),
    createdAt: t.String({ format: "date-time" }),
    updatedAt: t.String({ format: "date-time" }),
  },
  { examples: [exampleUser] },
);
export type User = Static<typeof User>;

export const SignupBody = t.Object(
  { email: Email, password: Password, nickname: Nickname },
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
  { nickname: t.Optional(Nickname) },
  { minProperties: 1, examples: [{ nickname: "ada.l" }] },
);
export type UpdateMeBody = Static<typeof UpdateMeBody>;

export const ChangePasswordBody = t.Object(
  { currentPassword: t.String({ maxLength: 256 }), newPassword: Password },
  { examples: [{ currentPassword: "correct-horse-7", newPassword: "battery-staple-9!" }] },
);
export type ChangePasswordBody = Static<typeof ChangePasswordBody>;

export const DeleteMeBody = t.Object(
  { password: t.String({ maxLength: 256, description: "Re-authenticate before deleting" }) },
  { examples: [{ password: "correct-horse-7" }] },
);

export const UserListQuery = t.Object(cursorQuery());

export const UserPage = CursorPage(User);

export const RoleBody = t.Object({ role: t.UnionEnum(roles) }, { examples: [{ role: "admin" }] });

export const UserIdParams = t.Object({ id: t.String({ format: "uuid" }) });

export const Revoked = t.Object({ revoked: t.Integer({ description: "Sessions revoked" }) });
