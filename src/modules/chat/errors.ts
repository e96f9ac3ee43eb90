// The chat module's error codes: the `code` of its problem+json answers and of the socket's
// `error` frames (one vocabulary for both), named after the scheme in
// src/platform/http/errors.ts. Codes the platform or accounts also answer keep their value.
import { platformErrors } from "../../platform/http/errors";
import { accountsErrors } from "../accounts";

export const chatErrors = {
  // rooms
  roomNotFound: "room_not_found",
  notMember: "not_member",
  roomListRateLimited: "room_list_rate_limited",
  roomPasswordRequired: "room_password_required",
  wrongPassword: "wrong_password",
  roomPasswordRateLimited: "room_password_rate_limited",
  // messages
  invalidCursor: platformErrors.invalidCursor,
  messageNotFound: "message_not_found",
  notAuthor: "not_author",
  readStateUnavailable: "read_state_unavailable",
  // files
  fileRequired: "file_required",
  fileNotFound: "file_not_found",
  unsupportedType: "unsupported_type",
  extensionMismatch: "extension_mismatch",
  fileTooLarge: "file_too_large",
  storageQuotaExceeded: "storage_quota_exceeded",
  emptyFile: "empty_file",
  contentMismatch: "content_mismatch",
  // the socket: its upgrade, then its frames
  missingToken: accountsErrors.missingToken,
  draining: "draining",
  tooManySockets: "too_many_sockets",
  authUserMismatch: "auth_user_mismatch",
  invalidMessage: "invalid_message",
  unknownOp: "unknown_op",
  validationFailed: platformErrors.validationFailed,
  busy: "busy",
  rateLimited: platformErrors.rateLimited,
  internalError: platformErrors.internalError,
} as const;

export type ChatErrorCode = (typeof chatErrors)[keyof typeof chatErrors];

