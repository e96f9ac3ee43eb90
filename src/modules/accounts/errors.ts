// The accounts module's error codes (the `code` of its problem+json answers), named after the
// scheme in src/platform/http/errors.ts. The auth macro's codes are public: every module's
// authenticated routes answer them, and documents them with `authFailures` / `adminFailures`.
import { oidcErrors } from "./oidc.errors";

export const accountsErrors = {
  // the auth macro (every authenticated route)
  missingToken: "missing_token",
  invalidToken: "invalid_token",
  tokenExpired: "token_expired",
  sessionRevoked: "session_revoked",
  adminOnly: "admin_only",
  // signup and profile
  emailTaken: "email_taken",
  nicknameTaken: "nickname_taken",
  nicknameReserved: "nickname_reserved",
  phoneTaken: "phone_taken",
  userNotFound: "user_not_found",
  wrongPassword: "wrong_password",
  recentSignInRequired: "recent_sign_in_required",
  passwordUnchanged: "password_unchanged",
  passwordRateLimited: "password_rate_limited",
  signupRateLimited: "signup_rate_limited",
  // login and refresh
  invalidCredentials: "invalid_credentials",
  loginRateLimited: "login_rate_limited",
  invalidRefreshToken: "invalid_refresh_token",
  refreshTokenReused: "refresh_token_reused",
  // the session list
  sessionNotFound: "session_not_found",
  // roles
  cannotDemoteSelf: "cannot_demote_self",
  // OpenID Connect sign-in (oidc.ts)
  ...oidcErrors,
} as const;

export type AccountsErrorCode = (typeof accountsErrors)[keyof typeof accountsErrors];

/** The 401 codes of a route with `{ auth: true }` (or `{ admin: true }`). */
export const authFailures = [
  accountsErrors.missingToken,
  accountsErrors.invalidToken,
  accountsErrors.tokenExpired,
  accountsErrors.sessionRevoked,
] as const;

/** The 403 codes of a route with `{ admin: true }`. */
export const adminFailures = [accountsErrors.adminOnly] as const;
