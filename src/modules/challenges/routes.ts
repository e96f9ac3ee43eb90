// Challenges controller: routes only.
import { Elysia, t } from "elysia";
import { problemResponses } from "../../platform/http/problem";
import { authPlugin, type AccountsService } from "../accounts";
import {
  Challenge,
  ChallengeIdParams,
  ChallengeListQuery,
  ChallengePage,
  CreateChallengeBody,
  Leaderboard,
  LeaderboardQuery,
  LogEntry,
  Membership,
  UpdateChallengeBody,
  UserIdParams,
  UserLogs,
  UserLogsQuery,
} from "./model";
import type { ChallengesService } from "./service";

const tags = ["challenges"];

export function challengesController(challenges: ChallengesService, accounts: AccountsService) {
  return new Elysia({ name: "homebase.challenges" })
    .use(authPlugin(accounts))
    .post("/challenges", async ({ principal, body, status }) => status(201, await challenges.create(principal, body)), {
      auth: true,
      body: CreateChallengeBody,
      response: { 201: Challenge, ...problemResponses(400, 401, 409, 422) },
      detail: {
        tags,
        summary: "Create a challenge",
        description: "The caller owns it and joins it. Titles are unique per owner (case-insensitive). Emits homebase.challenges.challenge.created.",
      },
    })
    .get("/challenges", ({ principal, query }) => challenges.list(principal, query), {
      auth: true,
      query: ChallengeListQuery,
      response: { 200: ChallengePage, ...problemResponses(400, 401, 422) },
      detail: {
        tags,
        summary: "List challenges",
        description: "Newest first; pass nextCursor to get the next page. Filters combine: active=true, mine=true, joined=true.",
      },
    })
    // Declared before /challenges/:id/… so the static segment is never read as an id.
    .get("/challenges/logs/:userId", ({ params, query }) => challenges.userLogs(params.userId, query.count ?? 10), {
      auth: true,
      params: UserIdParams,
      query: UserLogsQuery,
      response: { 200: UserLogs, ...problemResponses(401, 422) },
      detail: {
        tags,
        summary: "A user's latest logs",
        description:
          "Newest first, across all challenges. Cached (HOMEBASE_CHALLENGE_LOGS_TTL_MS, default 30 s) per user and count; a log, a leave or an account deletion shows on the next read.",
      },
    })
    .get("/challenges/:id", ({ principal, params }) => challenges.get(principal, params.id), {
      auth: true,
      params: ChallengeIdParams,
      response: { 200: Challenge, ...problemResponses(401, 404, 422) },
      detail: { tags, summary: "One challenge" },
    })
    .patch("/challenges/:id", ({ principal, params, body }) => challenges.update(principal, params.id, body), {
      auth: true,
      params: ChallengeIdParams,
      body: UpdateChallengeBody,
      response: { 200: Challenge, ...problemResponses(400, 401, 403, 404, 409, 422) },
      detail: { tags, summary: "Update a challenge (owner)", description: "startDate must stay on or before endDate." },
    })
    .delete(
      "/challenges/:id",
      async ({ principal, params, status }) => {
        await challenges.remove(principal, params.id);
        return status(204, undefined);
      },
      {
        auth: true,
        params: ChallengeIdParams,
        response: { 204: t.Void(), ...problemResponses(401, 403, 404, 422) },
        detail: {
          tags,
          summary: "Delete a challenge (owner)",
          description: "Memberships and logs go with it. Emits homebase.challenges.challenge.deleted.",
        },
      },
    )
    .post("/challenges/:id/members", async ({ principal, params, status }) => status(201, await challenges.join(principal, params.id)), {
      auth: true,
      params: ChallengeIdParams,
      response: { 201: Membership, ...problemResponses(401, 404, 409, 422) },
      detail: { tags, summary: "Join a challenge", description: "409 when already a member or the challenge has ended." },
    })
    .delete(
      "/challenges/:id/members/me",
      async ({ principal, params, status }) => {
        await challenges.leave(principal, params.id);
        return status(204, undefined);
      },
      {
        auth: true,
        params: ChallengeIdParams,
        response: { 204: t.Void(), ...problemResponses(401, 404, 422) },
        detail: { tags, summary: "Leave a challenge", description: "The caller's logs of this challenge are removed too." },
      },
    )
    .post("/challenges/:id/logs", async ({ principal, params, status }) => status(201, await challenges.recordLog(principal, params.id)), {
      auth: true,
      params: ChallengeIdParams,
      response: { 201: LogEntry, ...problemResponses(401, 403, 404, 409, 422) },
      detail: {
        tags,
        summary: "Log today's progress",
        description:
          "Members only, on a day (UTC) between startDate and endDate, once per day (409 already_logged_today). Emits homebase.challenges.log.recorded.",
      },
    })
    .get("/challenges/:id/leaderboard", ({ params, query }) => challenges.leaderboard(params.id, query.limit ?? 10), {
      auth: true,
      params: ChallengeIdParams,
      query: LeaderboardQuery,
      response: { 200: Leaderboard, ...problemResponses(401, 404, 422) },
      detail: {
        tags,
        summary: "Members ranked by log count",
        description: "Most logs first; ties share a rank and are ordered by user id. A Redis sorted set when Redis is configured, SQL otherwise.",
      },
    });
}
