// Cross-cutting HTTP concerns every route gets: request id, problem+json errors, structured
// access logs, the request-duration histogram, body size limit and security headers.
import { Elysia, ValidationError } from "elysia";
import type { Logger } from "../logger";
import type { Metrics } from "../metrics";
import type { RouteMethods } from "./allow";
import { HttpProblem, problemResponse, type FieldError, type Problem } from "./problem";
import { RouteDurations } from "./route-durations";
import { securityHeaders } from "./security-headers";
import { installCompiledTransforms } from "./transforms";

export { HttpProblem, problems, ProblemSchema, problemResponses } from "./problem";
export { RouteMethods } from "./allow";

/** Where the request's id and start time live: on Elysia's per-request context, no side table. */
const meta = Symbol("homebase.request");

interface RequestMeta {
  id: string;
  /** performance.now() at arrival; -1 once the request's duration is observed. */
  start: number;
}

interface Tracked {
  [meta]?: RequestMeta;
}

/**
 * Request ids made here: a random per-process prefix and a counter (the header is a correlation
 * id, not a stored key: unique across instances by the prefix, and a counter costs nothing where
 * a UUID per request measurably did).
 */
const idPrefix = Bun.randomUUIDv7().slice(-12);
let idSeq = 0;
const nextRequestId = () => `${idPrefix}-${(++idSeq).toString(36)}`;

const requestIdPattern = /^[A-Za-z0-9._-]{1,128}$/;

export interface HttpPlatformOptions {
  logger: Logger;
  metrics: Metrics;
  bodyLimitBytes: number;
  /** Larger limits for a few routes, keyed "METHOD /path" (exact path), e.g. uploads. */
  routeBodyLimits?: Record<string, number>;
  /** While draining, every response closes its connection so keep-alive clients move on. */
  isDraining?: () => boolean;
  /** The app's methods per path (built once its routes are in): a known path with another method is a 405 with Allow. */
  routeMethods?: RouteMethods;
}

interface FailedCheck {
  path?: string;
  summary?: string;
  message: string;
  type?: number;
  value?: unknown;
  schema?: Record<string, unknown> & { anyOf?: Array<Record<string, unknown>> };
}

const formatNames: Record<string, string> = { uuid: "a UUID", email: "an email address", "date-time": "an ISO-8601 date-time (UTC)", date: "a date (YYYY-MM-DD)", uri: "a URL", url: "a URL" };

/** What the field must be, from the schema it failed: names the allowed values or the range. */
function expectation(schema: NonNullable<FailedCheck["schema"]>): string | null {
  const s = schema;
  if (Array.isArray(s.enum)) return `must be one of ${(s.enum as unknown[]).join(", ")}`;
  const isInteger = s.type === "integer" || s.anyOf?.some((v) => v.type === "integer");
  const isNumber = isInteger || s.type === "number" || s.anyOf?.some((v) => v.type === "number");
  if (isNumber) {
    const kind = isInteger ? "an integer" : "a number";
    if (s.minimum !== undefined && s.maximum !== undefined) return `must be ${kind} from ${s.minimum} to ${s.maximum}`;
    if (s.minimum !== undefined) return `must be ${kind} ≥ ${s.minimum}`;
    if (s.maximum !== undefined) return `must be ${kind} ≤ ${s.maximum}`;
    return `must be ${kind}`;
  }
  if (s.type === "string") {
    if (s["x-nonblank"]) return `must not be blank${s.maxLength !== undefined ? ` (at most ${s.maxLength} characters)` : ""}`;
    if (typeof s.format === "string") return `must be ${formatNames[s.format] ?? `in the ${s.format} format`}`;
    if (s.minLength !== undefined && s.maxLength !== undefined) return `must be ${s.minLength}–${s.maxLength} characters`;
    if (s.maxLength !== undefined) return `must be at most ${s.maxLength} characters`;
    if (s.minLength !== undefined) return `must be at least ${s.minLength} characters`;
    if (typeof s.pattern === "string") return `must match ${s.pattern}`;
    return "must be a string";
  }
  if (s.type === "boolean") return "must be true or false";
  if (s.type === "array") return `must be an array${s.maxItems !== undefined ? ` of at most ${s.maxItems} items` : ""}`;
  if (s.type === "object") return "must be an object";
  return null;
}

function validationProblem(error: ValidationError, instance: string, requestId: string, url: string): Problem {
  const checks = error.all as FailedCheck[];
  // Elysia coerces numeric query parameters one by one and reports them without a path
  // ("property"): name the parameter that holds the refused value.
  const unnamed = (check: FailedCheck): string => {
    if (error.type === "property") {
      const params = [...new URL(url).searchParams].filter(([, v]) => v === String(check.value ?? error.value));
      if (params.length === 1) return `/${params[0]![0]}`;
      return "(query)";
    }
    return `(${error.type})`;
  };
  const byField = new Map<string, FailedCheck[]>();
  for (const e of checks) {
    const field = typeof e.path === "string" && e.path !== "" ? e.path : unnamed(e);
    byField.set(field, [...(byField.get(field) ?? []), e]);
  }
  const errors: FieldError[] = [];
  for (const [field, failed] of byField) {
    // One message per field: a missing property is "required", else what the schema asks for.
    const first = failed[0]!;
    const missing = failed.some((e) => e.message === "Expected required property" || (e.value === undefined && field.startsWith("/")));
    const message = missing ? "is required" : ((first.schema && expectation(first.schema)) ?? first.summary ?? first.message);
    errors.push({ field, message });
    if (errors.length >= 20) break;
  }
  const detail = errors.map((e) => `${e.field} ${e.message}`).join("; ");
  return new HttpProblem(422, "validation_failed", detail || `${error.type} is invalid`, { errors }).toProblem(instance, requestId);
}

const maxBodyDepth = 32;

/** Iterative (a recursive walk would overflow on the very input it guards against). */
function nestedDeeperThan(root: object, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (typeof node !== "object" || node === null) continue;
    if (depth > limit) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
  }
  return false;
}

/** The headers every plain JSON 200 starts from (see the mapResponse hook). */
const jsonHeaders = new Headers(securityHeaders);

export function httpPlatform({ logger, metrics, bodyLimitBytes, routeBodyLimits = {}, isDraining = () => false, routeMethods }: HttpPlatformOptions) {
  // Resolved once: the access log's fields are built only when debug lines are written.
  const debug = logger.enabled?.("debug") ?? true;
  const durations = new RouteDurations(metrics.httpDuration);
  installCompiledTransforms();

  // Observed where the answer is decided (mapResponse, onError, the refusals below), once per
  // request: an onAfterResponse hook would cost every request an async task queued behind it.
  const observe = (m: RequestMeta, request: Request, route: string | undefined, path: string, status: number) => {
    if (m.start < 0) return;
    const seconds = (performance.now() - m.start) / 1000;
    m.start = -1;
    // Route template, never the raw path: unbounded label values would blow up the registry.
    const template = route !== undefined && route !== "" ? route : "unmatched";
    durations.observe(template, request.method, status, seconds);
    if (debug) {
      logger.debug("request", { requestId: m.id, method: request.method, path, route: template, status, ms: Math.round(seconds * 100_000) / 100 });
    }
  };

  return new Elysia({ name: "homebase.http" })
    // Elysia copies these into each request's headers as one object of a fixed shape: cheaper
    // than assigning five headers into the empty object it makes per request otherwise.
    .headers(securityHeaders)
    .onRequest((ctx) => {
      const { request, set } = ctx;
      const incoming = request.headers.get("x-request-id");
      const id = incoming !== null && requestIdPattern.test(incoming) ? incoming : nextRequestId();
      const tracked: RequestMeta = { id, start: performance.now() };
      (ctx as Tracked)[meta] = tracked;
      const headers = set.headers as Record<string, string>;
      headers["x-request-id"] = id;
      const draining = isDraining();
      if (draining) headers.connection = "close";
      const declared = request.headers.get("content-length");
      // A chunked body has no length to check here, and Bun buffers up to its (upload-sized)
      // maxRequestBodySize before any hook sees it: 50 MiB parsed on any route. Refuse it.
      if (declared === null) {
        if (request.headers.get("transfer-encoding") === null) return;
        const path = new URL(request.url).pathname;
        observe(tracked, request, undefined, path, 411);
        return problemResponse(
          new HttpProblem(411, "length_required", "send the body with a Content-Length header (chunked bodies are not accepted)").toProblem(path, id),
          { "x-request-id": id, ...securityHeaders, ...(draining ? { connection: "close" } : {}) },
        );
      }
      const length = Number(declared);
      if (length > bodyLimitBytes) {
        const path = new URL(request.url).pathname;
        // Only past the default limit is the path looked at: the common case costs nothing.
        const limit = routeBodyLimits[`${request.method} ${path}`] ?? bodyLimitBytes;
        if (length <= limit) return;
        observe(tracked, request, undefined, path, 413);
        return problemResponse(
          new HttpProblem(413, "body_too_large", `request body exceeds ${limit} bytes`).toProblem(path, id),
          { "x-request-id": id, ...securityHeaders, ...(draining ? { connection: "close" } : {}) },
        );
      }
    })
    // Before validation: Elysia's validation error renders the offending value as a string,
    // which recurses through nested arrays and overflows the stack (a 500) past ~5,000 levels.
    .onTransform({ as: "global" }, ({ body }) => {
      if (typeof body === "object" && body !== null && nestedDeeperThan(body, maxBodyDepth)) {
        throw new HttpProblem(400, "body_too_deep", `the request body nests deeper than ${maxBodyDepth} levels`);
      }
    })
    .onError({ as: "global" }, (ctx) => {
      const { code, error, request, path, set } = ctx;
      const requestId = (ctx as Tracked)[meta]?.id ?? nextRequestId();
      const headers: Record<string, string> = { "x-request-id": requestId, ...securityHeaders };
      if (isDraining()) headers.connection = "close";
      let problem: Problem;
      if (error instanceof HttpProblem) {
        problem = error.toProblem(path, requestId);
        Object.assign(headers, error.headers);
      } else if (code === "VALIDATION" && error instanceof ValidationError) {
        problem = validationProblem(error, path, requestId, request.url);
      } else if (code === "PARSE") {
        problem = new HttpProblem(400, "malformed_body", "the request body could not be parsed").toProblem(
          path,
          requestId,
        );
      } else if (code === "NOT_FOUND") {
        const allow = routeMethods?.allowed(path);
        if (allow) {
          headers.allow = allow.join(", ");
          problem = new HttpProblem(405, "method_not_allowed", `${path} does not take ${request.method}; it takes ${allow.join(", ")}`, {
            allowed: allow,
          }).toProblem(path, requestId);
        } else {
          problem = new HttpProblem(404, "route_not_found", `no route for ${request.method} ${path}`).toProblem(path, requestId);
        }
      } else if (code === "INVALID_COOKIE_SIGNATURE") {
        problem = new HttpProblem(400, "invalid_cookie", "a cookie signature is invalid").toProblem(path, requestId);
      } else {
        logger.error("unhandled error", { requestId, method: request.method, path, error });
        problem = new HttpProblem(500, "internal_error", "an unexpected error occurred").toProblem(path, requestId);
      }
      set.status = problem.status;
      const m = (ctx as Tracked)[meta];
      if (m !== undefined) observe(m, request, ctx.route, path, problem.status);
      return problemResponse(problem, headers);
    })
    // A plain JSON value answered 200 (most reads): built on a Headers template holding the
    // security headers, with the request's own headers set on top. Bun copies a Headers object
    // in about half the time it converts the plain object Elysia would pass (7 headers: 1.65 →
    // 0.96 µs in a quiet loop). Anything else (other statuses, cookies, Responses, strings)
    // Elysia maps as before. Runs after response validation.
    .mapResponse({ as: "global" }, (ctx) => {
      const { responseValue, set } = ctx;
      const m = (ctx as Tracked)[meta];
      if (m !== undefined) {
        const status = responseValue instanceof Response ? responseValue.status : typeof set.status === "number" ? set.status : 200;
        observe(m, ctx.request, ctx.route, ctx.path, status);
      }
      if (set.status !== 200 || set.cookie !== undefined || responseValue === null || typeof responseValue !== "object") return;
      const proto = Object.getPrototypeOf(responseValue);
      if (proto !== Object.prototype && proto !== Array.prototype) return;
      const own = set.headers as Record<string, unknown>;
      for (const key in own) if (typeof own[key] !== "string") return;
      const response = Response.json(responseValue, { headers: jsonHeaders });
      for (const key in own) {
        const value = own[key] as string;
        if (securityHeaders[key] !== value) response.headers.set(key, value);
      }
      // Emptied: Elysia hands the Response out as is instead of copying it to merge them.
      set.headers = {};
      return response;
    });
}
