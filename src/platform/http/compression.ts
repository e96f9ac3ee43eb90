// Stored bodies as HTTP responses: a strong ETag computed once from the bytes, If-None-Match →
// 304, and gzip or brotli by Accept-Encoding for bodies over compressMinBytes, each variant
// compressed once (Bun's zlib and node:zlib's brotli) and kept on the body it came from. A hit
// of a cached read is then a header lookup and a Response over bytes that already exist.
import { brotliCompressSync, constants } from "node:zlib";
import { securityHeaders } from "./security-headers";

export type ContentCoding = "br" | "gzip";

/** Bodies this small go out as they are: compression would save little and cost a frame. */
export const compressMinBytes = 1024;

/** A response body in its final form: identity bytes, validator, and its compressed variants. */
export interface StoredBody {
  /** The identity bytes (UTF-8 JSON), as a Blob so each response shares them without a copy. */
  readonly body: Blob;
  readonly size: number;
  readonly contentType: string;
  /** The strong ETag of the identity bytes (quoted), or null for a body answered once, uncached. */
  readonly etag: string | null;
  /** Epoch ms after which the body is no longer exact (Infinity: only its TTL bounds it). */
  readonly validUntil: number;
  /** Compressed variants, filled the first time a client accepts each. */
  readonly variants: Map<ContentCoding, { body: Blob; etag: string }>;
  /** Response headers per status, coding and Cache-Control, built on first use (see storedResponse). */
  readonly headers: Map<string, Headers>;
}

const json = "application/json";

/** The strong ETag of some bytes: 128 bits of their SHA-256, base64url, quoted. */
export function strongEtag(bytes: Uint8Array | string): string {
  return `"${new Bun.CryptoHasher("sha256").update(bytes).digest("base64url").slice(0, 22)}"`;
}

/** A body with its ETag computed now (once, when it is stored). */
export function storedBody(text: string, opts: { etag?: string; validUntil?: number; contentType?: string } = {}): StoredBody {
  const bytes = Buffer.from(text);
  return {
    body: new Blob([bytes]),
    size: bytes.length,
    contentType: opts.contentType ?? json,
    etag: opts.etag ?? strongEtag(bytes),
    validUntil: opts.validUntil ?? Number.POSITIVE_INFINITY,
    variants: new Map(),
    headers: new Map(),
  };
}

/** A body answered once (no cache): no validator, never compressed (its bytes are not reused). */
export function oneOffBody(text: string, contentType = json): StoredBody {
  const bytes = Buffer.from(text);
  return {
    body: new Blob([bytes]),
    size: bytes.length,
    contentType,
    etag: null,
    validUntil: Number.POSITIVE_INFINITY,
    variants: new Map(),
    headers: new Map(),
  };
}

// Clients send a handful of distinct Accept-Encoding values: parse each once.
const negotiated = new Map<string, ContentCoding | null>();

/**
 * The coding to answer with among br and gzip, by the client's Accept-Encoding (RFC 9110
 * §12.5.3): q-values honoured, q=0 refuses, `*` stands for codings not named; br wins a tie.
 * null: identity.
 */
export function negotiateEncoding(header: string | null): ContentCoding | null {
  if (header === null || header === "") return null;
  const known = negotiated.get(header);
  if (known !== undefined) return known;
  const q: Record<string, number> = {};
  for (const part of header.split(",")) {
    const [rawName, ...params] = part.split(";");
    const name = rawName!.trim().toLowerCase();
    if (name === "") continue;
    let weight = 1;
    for (const p of params) {
      const [key, value = ""] = p.split("=");
      if (key!.trim().toLowerCase() !== "q") continue;
      // A q that is not a number in 0–1 refuses the coding rather than guessing.
      weight = /^\s*(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)\s*$/.test(value) ? Number(value) : 0;
    }
    q[name] = weight;
  }
  const weight = (coding: ContentCoding) => q[coding] ?? (coding === "gzip" ? q["x-gzip"] : undefined) ?? q["*"] ?? 0;
  const br = weight("br");
  const gzip = weight("gzip");
  const chosen: ContentCoding | null = br > 0 && br >= gzip ? "br" : gzip > 0 ? "gzip" : null;
  if (negotiated.size >= 256) negotiated.clear();
  negotiated.set(header, chosen);
  return chosen;
}

/** Compresses bytes once: brotli at quality 5 (a few ms for 300 KB; 11 takes near a second), gzip at 6. */
export function compress(bytes: Uint8Array, coding: ContentCoding): Uint8Array {
  if (coding === "gzip") return Bun.gzipSync(bytes as Uint8Array<ArrayBuffer>, { level: 6 });
  return brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 5, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length } });
}

/** Whether If-None-Match names this ETag (weak comparison, as RFC 9110 §13.1.2 asks for GET), or is `*`. */
export function etagMatches(ifNoneMatch: string | null, etag: string): boolean {
  if (ifNoneMatch === null) return false;
  if (ifNoneMatch.trim() === "*") return true;
  for (const raw of ifNoneMatch.split(",")) {
    const tag = raw.trim();
    if (tag === etag || (tag.startsWith("W/") && tag.slice(2) === etag)) return true;
  }
  return false;
}

/** The body's variant in `coding`, compressed on first use. Each coding has its own strong ETag. */
export async function variant(stored: StoredBody, coding: ContentCoding): Promise<{ body: Blob; etag: string }> {
  let v = stored.variants.get(coding);
  if (!v) {
    const compressed = compress(new Uint8Array(await stored.body.arrayBuffer()), coding);
    // Another request may have compressed it meanwhile (the await above): keep the first.
    v = stored.variants.get(coding) ?? {
      body: new Blob([compressed]),
      etag: `${stored.etag!.slice(0, -1)}.${coding === "br" ? "br" : "gz"}"`,
    };
    stored.variants.set(coding, v);
  }
  return v;
}

export interface StoredResponseOptions {
  /** e.g. "no-cache" (shared caches may keep it, but must revalidate), "private, no-cache" for per-user data. */
  cacheControl: string;
  /**
   * The route's Elysia `set`: its headers (request id, security headers) are moved into the
   * response, so Elysia hands the Response out as is instead of copying it to merge them, and
   * its status follows (for the metrics and the access log).
   */
  set?: { headers: Record<string, unknown>; status?: number | string };
}

/** The headers a stored response sets itself; the route's own (`set`) never replace them. */
const ownHeaders = new Set(["cache-control", "vary", "etag", "content-type", "content-encoding"]);

/**
 * The response for a stored body: 304 when If-None-Match names the chosen representation's
 * ETag, else 200 with the body — compressed when it is over compressMinBytes and the client
 * accepts br or gzip (Vary: Accept-Encoding either way). Uncached bodies (no ETag) go out as
 * they are.
 *
 * A stored body's headers are built once per status, coding and Cache-Control (with the security
 * headers) and copied into each response: Bun copies a Headers object in about half the time it
 * takes to convert a plain object of ten headers. Only what differs per request (the request id,
 * CORS, a draining server's Connection: close) is set on top.
 */
export function storedResponse(request: Request, stored: StoredBody | Promise<StoredBody>, opts: StoredResponseOptions): Response | Promise<Response> {
  // A body at hand (a cache hit this process holds) is answered with no await on the way.
  if (stored instanceof Promise) return stored.then((body) => storedResponse(request, body, opts));
  if (stored.etag === null) {
    const headers: Record<string, string> = { ...securityHeaders };
    if (opts.set) routeHeaders(opts.set, headers);
    headers["cache-control"] = opts.cacheControl;
    headers["content-type"] = stored.contentType;
    return new Response(stored.body, { headers });
  }
  let body = stored.body;
  let etag = stored.etag;
  let coding: ContentCoding | null = null;
  if (stored.size > compressMinBytes) {
    coding = negotiateEncoding(request.headers.get("accept-encoding"));
    if (coding) {
      const compressed = stored.variants.get(coding);
      // The first request for this coding compresses it; the rest find it.
      if (!compressed) return variant(stored, coding).then(() => storedResponse(request, stored, opts));
      ({ body, etag } = compressed);
    }
  }
  const notModified = etagMatches(request.headers.get("if-none-match"), etag);
  if (notModified && opts.set) opts.set.status = 304;
  const headers = headersOf(stored, notModified ? 304 : 200, coding, etag, opts.cacheControl);
  const response = notModified ? new Response(null, { status: 304, headers }) : new Response(body, { headers });
  if (opts.set) routeHeaders(opts.set, response.headers);
  return response;
}

/** Adds the route's headers to what holds the security headers already; `set` is emptied. */
function routeHeaders(set: NonNullable<StoredResponseOptions["set"]>, into: Record<string, string> | Headers): void {
  const own = set.headers;
  set.headers = {};
  for (const key in own) {
    const value = own[key];
    if (typeof value !== "string" || ownHeaders.has(key) || securityHeaders[key] === value) continue;
    if (into instanceof Headers) into.set(key, value);
    else into[key] = value;
  }
}

function headersOf(stored: StoredBody, status: 200 | 304, coding: ContentCoding | null, etag: string, cacheControl: string): Headers {
  const key = `${status} ${coding ?? "identity"} ${cacheControl}`;
  let headers = stored.headers.get(key);
  if (headers === undefined) {
    headers = new Headers(securityHeaders);
    headers.set("cache-control", cacheControl);
    if (stored.size > compressMinBytes) headers.set("vary", "Accept-Encoding");
    headers.set("etag", etag);
    if (status === 200) {
      if (coding) headers.set("content-encoding", coding);
      headers.set("content-type", stored.contentType);
    }
    stored.headers.set(key, headers);
  }
  return headers;
}
