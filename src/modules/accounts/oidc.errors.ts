// The error codes of OpenID Connect sign-in (oidc.ts), part of accounts' vocabulary (errors.ts
// re-exports them).
export const oidcErrors = {
  oidcProviderUnknown: "oidc_provider_unknown",
  /** Discovery, JWKS, the token or userinfo endpoint unreachable or answering nonsense. */
  oidcProviderUnavailable: "oidc_provider_unavailable",
  /** The callback's state is not the one this browser's sign-in started with (no cookie, or another). */
  oidcStateMismatch: "oidc_state_mismatch",
  /** The state is unknown, expired or already used. */
  oidcStateInvalid: "oidc_state_invalid",
  /** The callback lacks a code or names another issuer. */
  oidcCallbackInvalid: "oidc_callback_invalid",
  /** The provider answered an error (the user declined, say). */
  oidcSignInDenied: "oidc_sign_in_denied",
  /** The token endpoint refused the code (used, expired, or not issued for this verifier). */
  oidcCodeRejected: "oidc_code_rejected",
  /** The ID token's signature, issuer, audience, expiry or nonce does not check out. */
  oidcIdTokenInvalid: "oidc_id_token_invalid",
  /** The provider gave no email, or did not say it is verified: nothing is linked or created. */
  oidcEmailUnverified: "oidc_email_unverified",
  /** POST /auth/oidc/exchange without a live one-time code. */
  oidcLoginCodeInvalid: "oidc_login_code_invalid",
} as const;
