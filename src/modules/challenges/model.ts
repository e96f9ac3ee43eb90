// Schemas for the challenges routes: the single source for validation, types and OpenAPI.
import { t, type Static } from "elysia";
import { CursorPage, cursorQuery } from "../../platform/http/paging";
import { nonBlank } from "../../platform/http/schemas";

const exampleChallenge = {
  id: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2a20",
  ownerId: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2a10",
  title: "30 days of push-ups",
  description: "Log a set every day.",
  startDate: "2026-12-01",
  endDate: "2026-12-30",
  memberCount: 3,
  joined: true,
  createdAt: "2026-11-22T10:00:00.000Z",
  updatedAt: "2026-11-22T10:00:00.000Z",
};

// format "date" checks the calendar too (2026-02-30 is refused), not only the shape.
export const IsoDate = t.String({ format: "date", description: "Calendar date YYYY-MM-DD (UTC)", examples: ["2026-12-01"] });

// Counted in UTF-16 units; stored trimmed.
export const Title = nonBlank({
  maxLength: 100,
  description: "1–100 characters, not all blank; unique (case-insensitively) among the owner's challenges",
  examples: ["30 days of push-ups"],
});
export const Description = t.String({ maxLength: 1000, description: "Up to 1000 characters", examples: ["Log a set every day."] });

export const Challenge = t.Object(
  {
    id: t.String({ format: "uuid" }),
    ownerId: t.String({ format: "uuid" }),
    title: t.String(),
    description: t.String(),
    startDate: t.String({ format: "date" }),
    endDate: t.String({ format: "date" }),
    memberCount: t.Integer({ minimum: 0 }),
    joined: t.Boolean({ description: "Whether the caller is a member" }),
    createdAt: t.String({ format: "date-time" }),
    updatedAt: t.String({ format: "date-time" }),
  },
  { examples: [exampleChallenge] },
);
export type Challenge = Static<typeof Challenge>;

export const CreateChallengeBody = t.Object(
  { title: Title, description: t.Optional(Description), startDate: IsoDate, endDate: IsoDate },
  { examples: [{ title: "30 days of push-ups", description: "Log a set every day.", startDate: "2026-12-01", endDate: "2026-12-30" }] },
);
export type CreateChallengeBody = Static<typeof CreateChallengeBody>;

export const UpdateChallengeBody = t.Object(
  { title: t.Optional(Title), description: t.Optional(Description), startDate: t.Optional(IsoDate), endDate: t.Optional(IsoDate) },
  { minProperties: 1, examples: [{ endDate: "2027-01-15" }] },
);
export type UpdateChallengeBody = Static<typeof UpdateChallengeBody>;

export const ChallengeIdParams = t.Object({ id: t.String({ format: "uuid" }) });
export const UserIdParams = t.Object({ userId: t.String({ format: "uuid" }) });

export const ChallengeListQuery = t.Object({
  ...cursorQuery(),
  active: t.Optional(t.Boolean({ description: "Only challenges running today (UTC)" })),
  mine: t.Optional(t.Boolean({ description: "Only challenges the caller owns" })),
  joined: t.Optional(t.Boolean({ description: "Only challenges the caller is a member of" })),
});
export type ChallengeListQuery = Static<typeof ChallengeListQuery>;

export const ChallengePage = CursorPage(Challenge);
export type ChallengePage = Static<typeof ChallengePage>;

export const Membership = t.Object(
  { challengeId: t.String({ format: "uuid" }), userId: t.String({ format: "uuid" }), joinedAt: t.String({ format: "date-time" }) },
  { examples: [{ challengeId: exampleChallenge.id, userId: exampleChallenge.ownerId, joinedAt: "2026-11-22T10:00:00.000Z" }] },
);
export type Membership = Static<typeof Membership>;

export const LogEntry = t.Object(
  {
    id: t.String({ format: "uuid" }),
    challengeId: t.String({ format: "uuid" }),
    userId: t.String({ format: "uuid" }),
    day: t.String({ format: "date", description: "The UTC day this log counts for" }),
    createdAt: t.String({ format: "date-time" }),
  },
  {
    examples: [
      {
        id: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2a30",
        challengeId: exampleChallenge.id,
        userId: exampleChallenge.ownerId,
        day: "2026-12-02",
        createdAt: "2026-12-02T07:30:00.000Z",
      },
    ],
  },
);
export type LogEntry = Static<typeof LogEntry>;

export const UserLogsQuery = t.Object({
  count: t.Optional(t.Integer({ minimum: 1, maximum: 100, default: 10, description: "How many logs, newest first" })),
});

export const UserLogs = t.Object(
  {
    userId: t.String({ format: "uuid" }),
    logs: t.Array(t.Object({ challengeId: t.String({ format: "uuid" }), createdAt: t.String({ format: "date-time" }) })),
  },
  {
    examples: [{ userId: exampleChallenge.ownerId, logs: [{ challengeId: exampleChallenge.id, createdAt: "2026-12-02T07:30:00.000Z" }] }],
  },
);
export type UserLogs = Static<typeof UserLogs>;

export const LeaderboardQuery = t.Object({
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 100, default: 10, description: "How many of the top members" })),
});

export const Leaderboard = t.Object(
  {
    challengeId: t.String({ format: "uuid" }),
    entries: t.Array(
      t.Object({
        rank: t.Integer({ minimum: 1, description: "Competition ranking: equal counts share a rank (1, 2, 2, 4)" }),
        userId: t.String({ format: "uuid" }),
        nickname: t.Union([t.String(), t.Null()], { description: "null until the member's profile has arrived from accounts" }),
        logCount: t.Integer({ minimum: 0 }),
      }),
    ),
  },
  {
    examples: [
      {
        challengeId: exampleChallenge.id,
        entries: [
          { rank: 1, userId: exampleChallenge.ownerId, nickname: "ada", logCount: 5 },
          { rank: 2, userId: "01936f3e-7b1a-7c3e-9d2a-5b8f1e4c2a11", nickname: "grace", logCount: 3 },
        ],
      },
    ],
  },
);
export type Leaderboard = Static<typeof Leaderboard>;
export type LeaderboardEntry = Leaderboard["entries"][number];
