// Challenges' environment variables.
import { t, type Static } from "elysia";
import { env } from "../../platform/config";

export const challengesConfigSchema = t.Object({
  HOMEBASE_CHALLENGE_LOGS_TTL_MS: env.integer({
    default: 30_000,
    min: 0,
    max: 86_400_000,
    description: "TTL of the cached GET /challenges/logs/:userId answers; 0 turns that cache off (benchmarks).",
  }),
});

export interface ChallengesConfig {
  logsTtlMs: number;
}

export const resolveChallengesConfig = (v: Static<typeof challengesConfigSchema>): ChallengesConfig => ({ logsTtlMs: v.HOMEBASE_CHALLENGE_LOGS_TTL_MS });
