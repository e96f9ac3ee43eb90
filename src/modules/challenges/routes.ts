// Challenges controller: routes only.
import { Elysia, t } from "elysia";
import { storedResponse } from "../../platform/http/compression";
import { platformErrors as P } from "../../platform/http/errors";
import { problemResponses } from "../../platform/http/problem";
import { authFailures, authPlugin, type AccountsService } from "../accounts";
import { challengesErrors as E } from "./errors";
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
// What the platform answers before a handler runs: to any request (a chunked or oversized body),
// and to any request but a GET (a body it cannot parse, even on a route that declares none).
const requestFailures = { 411: [P.lengthRequired], 413: [P.bodyTooLarge] } as const;
const bodyFailures = { ...requestFailures, 400: [P.malformedBody, P.bodyTooDeep] } as const;
const validation = [P.validationFailed] as const;
const notFound = [E.challengeNotFound] as const;

export function challengesController({ catalog, members, reads }: ChallengesService, accounts: AccountsService) {
  return (
    new Elysia({ name: "homebase.challenges" })
      .use(authPlugin(accounts))
      .post("/challenges", async ({ principal, body, status }) => status(201, await catalog.create(principal, body)), {
        auth: true,
        body: CreateChallengeBody,
        response: {
          201: Challenge,
          ...problemResponses({
            ...bodyFailures,
            401: authFailures,
            404: [E.userNotFound],
            409: [E.titleTaken],
            422: [P.validationFailed, E.invalidDateRange],
          }),
        },
        detail: {
          tags,
          summary: "Create a challenge",
          description:
            "The caller owns it and joins it. Titles are unique per owner (case-insensitive). Emits homebase.challenges.challenge.created.",
        },
      })
      .get("/challenges", ({ principal, query }) => catalog.list(principal, query), {
        auth: true,
        query: ChallengeListQuery,
        response: {
          200: ChallengePage,
          ...problemResponses({ ...requestFailures, 400: [P.invalidCursor], 401: authFailures, 422: validation }),
        },
        detail: {
          tags,
          summary: "List challenges",
          description: "Newest first; pass nextCursor to get the next page. Filters combine: active=true, mine=true, joined=true.",
        },
      })
      // Declared before /challenges/:id/… so the static segment is never read as an id.
      // The stored bytes (checked against UserLogs when stored): ETag/304, gzip/br, per-user data.
      .get(
        "/challenges/logs/:userId",
        ({ params, query, request, set }) => storedResponse(request, reads.userLogs(params.userId, query.count ?? 10), { cacheControl: "private, no-cache", set }),
        {
          auth: true,
          params: UserIdParams,
          query: UserLogsQuery,
          response: { 200: UserLogs, ...problemResponses({ ...requestFailures, 401: authFailures, 422: validation }) },
          detail: {
            tags,
            summary: "A user's latest logs",
            description:
              "Newest first, across all challenges. Cached (HOMEBASE_CHALLENGE_LOGS_TTL_MS, default 30 s) per user and count; a log, a leave or an account deletion shows on the next read. " +
              "Cached answers carry a strong ETag (If-None-Match → 304 Not Modified, no body) and Cache-Control: private, no-cache; bodies over 1 KB come gzip- or brotli-encoded when Accept-Encoding allows (Vary: Accept-Encoding).",
          },
        },
      )
      .get("/challenges/:id", ({ principal, params }) => catalog.get(principal, params.id), {
        auth: true,
        params: ChallengeIdParams,
        response: { 200: Challenge, ...problemResponses({ ...requestFailures, 401: authFailures, 404: notFound, 422: validation }) },
        detail: { tags, summary: "One challenge" },
      })
      .patch("/challenges/:id", ({ principal, params, body }) => catalog.update(principal, params.id, body), {
        auth: true,
        params: ChallengeIdParams,
        body: UpdateChallengeBody,
        response: {
          200: Challenge,
          ...problemResponses({
            ...bodyFailures,
            401: authFailures,
            403: [E.notOwner],
            404: notFound,
            409: [E.titleTaken],
            422: [P.validationFailed, E.invalidDateRange],
          }),
        },
        detail: { tags, summary: "Update a challenge (owner)", description: "startDate must stay on or before endDate." },
      })
      .delete(
        "/challenges/:id",
        async ({ principal, params, status }) => {
          await catalog.remove(principal, params.id);
          return status(204, undefined);
        },
        {
          auth: true,
          params: ChallengeIdParams,
          response: {
            204: t.Void(),
            ...problemResponses({ ...bodyFailures, 401: authFailures, 403: [E.notOwner], 404: notFound, 422: validation }),
          },
          detail: {
            tags,
            summary: "Delete a challenge (owner)",
            description: "Memberships and logs go with it. Emits homebase.challenges.challenge.deleted.",
          },
        },
      )
      .post("/challenges/:id/members", async ({ principal, params, status }) => status(201, await members.join(principal, params.id)), {
        auth: true,
        params: ChallengeIdParams,
        response: {
          201: Membership,
          ...problemResponses({
            ...bodyFailures,
            401: authFailures,
            404: [E.challengeNotFound, E.userNotFound],
            409: [E.alreadyMember, E.challengeEnded],
            422: validation,
          }),
        },
        detail: { tags, summary: "Join a challenge", description: "409 when already a member or the challenge has ended." },
      })
      .delete(
        "/challenges/:id/members/me",
        async ({ principal, params, status }) => {
          await members.leave(principal, params.id);
          return status(204, undefined);
        },
        {
          auth: true,
          params: ChallengeIdParams,
          response: {
            204: t.Void(),
            ...problemResponses({ ...bodyFailures, 401: authFailures, 404: [E.challengeNotFound, E.notMember], 422: validation }),
          },
          detail: { tags, summary: "Leave a challenge", description: "The caller's logs of this challenge are removed too." },
        },
      )
      .post("/challenges/:id/logs", async ({ principal, params, status }) => status(201, await members.recordLog(principal, params.id)), {
        auth: true,
        params: ChallengeIdParams,
        response: {
          201: LogEntry,
          ...problemResponses({
            ...bodyFailures,
            401: authFailures,
            403: [E.notMember],
            404: notFound,
            409: [E.challengeNotStarted, E.challengeEnded, E.alreadyLoggedToday],
            422: validation,
          }),
        },
        detail: {
          tags,
          summary: "Log today's progress",
          description:
            "Members only, on a day (UTC) between startDate and endDate, once per day (409 already_logged_today). Emits homebase.challenges.log.recorded.",
        },
      })
      .get("/challenges/:id/leaderboard", ({ params, query }) => reads.leaderboard(params.id, query.limit ?? 10), {
        auth: true,
        params: ChallengeIdParams,
        query: LeaderboardQuery,
        response: { 200: Leaderboard, ...problemResponses({ ...requestFailures, 401: authFailures, 404: notFound, 422: validation }) },
        detail: {
          tags,
          summary: "Members ranked by log count",
          description:
            "Most logs first; ties share a rank and are ordered by user id. A Redis sorted set when Redis is configured, SQL otherwise.",
        },
      })
  );
}
