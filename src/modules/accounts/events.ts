// Events accounts emits through the outbox. Other modules subscribe to these subjects;
// the payloads are the contract (add fields, never rename or remove).
export const accountEvents = {
  userRegistered: "homebase.accounts.user.registered",
  userDeleted: "homebase.accounts.user.deleted",
} as const;

export interface UserRegistered {
  userId: string;
  email: string;
  nickname: string;
  registeredAt: string;
}

export interface UserDeleted {
  userId: string;
  deletedAt: string;
}

/** The one capability accounts needs from the event bus: an outbox insert in the current transaction. */
export interface AccountsEventSink {
  emit(subject: string, payload: unknown): string;
}
