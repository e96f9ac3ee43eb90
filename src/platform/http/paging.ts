// Paging, one shape per style, shared by every module:
// - keyset (cursor) pages: `?limit&cursor` → { items, nextCursor }; the cursor is opaque
//   (base64url of a JSON array of the last row's sort keys) and a bad one is 400 invalid_cursor;
// - numbered pages (search results with a total): `?page&size` → { items, page, size, total, hasMore }.
import { t, type TSchema } from "elysia";
import { problems } from "./problem";

export const pagingErrors = { invalidCursor: "invalid_cursor" } as const;

/** Query properties of a keyset page; spread into a route's query object. */
export const cursorQuery = (defaultLimit = 20, maxLimit = 100) => ({
  limit: t.Optional(t.Integer({ minimum: 1, maximum: maxLimit, default: defaultLimit, description: `Items per page (1–${maxLimit})` })),
  cursor: t.Optional(t.String({ maxLength: 200, description: "nextCursor of the previous page" })),
});

export const CursorPage = <T extends TSchema>(item: T) =>
  t.Object({
    items: t.Array(item),
    nextCursor: t.Union([t.String(), t.Null()], { description: "Pass as cursor for the next page; null on the last page" }),
  });

/** Query properties of a numbered page. */
export const pageQuery = (defaultSize: number, maxSize = 100) => ({
  page: t.Optional(t.Integer({ minimum: 1, maximum: 100_000, default: 1, description: "1-based page number" })),
  size: t.Optional(t.Integer({ minimum: 1, maximum: maxSize, default: defaultSize, description: `Items per page (1–${maxSize})` })),
});

export const NumberedPage = <T extends TSchema>(item: T, totalDescription = "Items matching the query") =>
  t.Object({
    items: t.Array(item),
    page: t.Integer({ minimum: 1 }),
    size: t.Integer({ minimum: 1 }),
    total: t.Integer({ minimum: 0, description: totalDescription }),
    hasMore: t.Boolean({ description: "A next page exists" }),
  });

export type CursorKey = ReadonlyArray<string | number>;

export function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify(key)).toString("base64url");
}

/**
 * The sort keys a cursor carries, checked against the expected kinds ("string" | "number");
 * anything else — tampered, truncated, from another list — is 400 invalid_cursor.
 */
export function decodeCursor<const K extends ReadonlyArray<"string" | "number">>(
  cursor: string,
  kinds: K,
): { [I in keyof K]: K[I] extends "number" ? number : string } {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    key = null;
  }
  const ok = Array.isArray(key) && key.length === kinds.length && key.every((part, i) => typeof part === kinds[i] && (typeof part !== "number" || Number.isFinite(part)));
  if (!ok) throw problems.badRequest(pagingErrors.invalidCursor, "cursor is not one this list handed out; start again without it");
  return key as never;
}

/** Builds a numbered page from one page of rows and the total. */
export function numberedPage<T>(items: T[], page: number, size: number, total: number) {
  return { items, page, size, total, hasMore: page * size < total };
}
