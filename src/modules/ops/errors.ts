// The ops module's error codes (the `code` of its problem+json answers), named after the scheme
// in src/platform/http/errors.ts. Its routes also answer the auth macro's (accounts' authFailures,
// adminFailures).
export const opsErrors = {
  deadLetterNotFound: "dead_letter_not_found",
  /** The dead letter's consumer is not registered in this process (a removed consumer, another version). */
  consumerNotRegistered: "consumer_not_registered",
  /** The live stream's ticket is missing, unknown, used or expired. */
  invalidTicket: "invalid_ticket",
} as const;

export type OpsErrorCode = (typeof opsErrors)[keyof typeof opsErrors];
