// Shared `t` schemas for request fields, so no module checks them by hand.
import { t } from "elysia";

/**
 * A string with at least one non-space character (validation answers 422 "must not be blank",
 * naming the field). `x-nonblank` lets the validation message say so instead of quoting the pattern.
 */
export const nonBlank = (o: { maxLength: number; description?: string; examples?: string[] }) =>
  t.String({ minLength: 1, maxLength: o.maxLength, pattern: "\\S", "x-nonblank": true, description: o.description, examples: o.examples });
