// The challenges module's error codes (the `code` of its problem+json answers), named after the
// scheme in src/platform/http/errors.ts. Authentication codes come from accounts (authFailures).
export const challengesErrors = {
  challengeNotFound: "challenge_not_found",
  titleTaken: "title_taken",
  invalidDateRange: "invalid_date_range",
  notOwner: "not_owner",
  challengeNotStarted: "challenge_not_started",
  challengeEnded: "challenge_ended",
  alreadyMember: "already_member",
  notMember: "not_member",
  alreadyLoggedToday: "already_logged_today",
  /** The caller's challenge profile was tombstoned by accounts' user.deleted (a request racing the deletion). */
  userNotFound: "user_not_found",
} as const;

export type ChallengesErrorCode = (typeof challengesErrors)[keyof typeof challengesErrors];
