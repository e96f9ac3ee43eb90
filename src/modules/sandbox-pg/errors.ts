// The sandbox PG's error vocabulary (lower snake_case, the subject first). Its API answers in a
// PG's own shape ({code, message}, or KakaoPay's {error_code, error_message}), not problem+json:
// it stands in for a third party. Only its control routes answer problem+json, with the codes of
// the platform's internal guard (src/platform/http/internal.ts).
export const sandboxPgErrors = {
  unauthorized: "unauthorized",
  unavailable: "unavailable",
  invalidAmount: "invalid_amount",
  paymentNotFound: "payment_not_found",
  notReady: "not_ready",
  partnerMismatch: "partner_mismatch",
  notAuthorized: "not_authorized",
  invalidStatus: "invalid_status",
  invalidPgToken: "invalid_pg_token",
  cardDeclined: "card_declined",
  sidNotFound: "sid_not_found",
  sidInactive: "sid_inactive",
  invalidCancelAmount: "invalid_cancel_amount",
  idempotencyKeyReused: "idempotency_key_reused",
  /** An approval, cancel or fail URL off the shop's public URL (HOMEBASE_SHOP_PUBLIC_URL). */
  invalidRedirectUrl: "invalid_redirect_url",
} as const;

export type SandboxPgErrorCode = (typeof sandboxPgErrors)[keyof typeof sandboxPgErrors];
