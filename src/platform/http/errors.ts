// The error codes the platform itself answers (any route may get them), and the one naming
// scheme every module's vocabulary (src/modules/<m>/errors.ts) follows: lower snake_case, the
// subject first ("challenge_not_found", "already_member", "not_member"), no synonyms.
export const platformErrors = {
  validationFailed: "validation_failed",
  malformedBody: "malformed_body",
  bodyTooDeep: "body_too_deep",
  lengthRequired: "length_required",
  bodyTooLarge: "body_too_large",
  routeNotFound: "route_not_found",
  methodNotAllowed: "method_not_allowed",
  invalidCookie: "invalid_cookie",
  invalidCursor: "invalid_cursor",
  internalError: "internal_error",
  rateLimited: "rate_limited",
} as const;

export const errorCodePattern = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;
