// RFC 9457 problem details. Every error leaves the server as application/problem+json with a
// stable machine-readable `code`; clients switch on `code`, humans read `detail`.
import { t, type TSchema } from "elysia";

export interface FieldError {
  /** JSON pointer into the request part, e.g. "/email". */
  field: string;
  message: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail?: string;
  instance?: string;
  requestId?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

const titles: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  411: "Length Required",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
};

/** Throw this from services and controllers; the error hook renders it. */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail?: string,
    readonly extensions: Record<string, unknown> = {},
    /** Extra response headers, e.g. Retry-After or WWW-Authenticate. */
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? code);
    this.name = "HttpProblem";
  }

  toProblem(instance?: string, requestId?: string): Problem {
    return {
      type: `https://homebase.dev/problems/${this.code}`,
      title: titles[this.status] ?? "Error",
      status: this.status,
      code: this.code,
      ...(this.detail !== undefined ? { detail: this.detail } : {}),
      ...(instance !== undefined ? { instance } : {}),
      ...(requestId !== undefined ? { requestId } : {}),
      ...this.extensions,
    };
  }
}

export const problems = {
  badRequest: (code: string, detail?: string) => new HttpProblem(400, code, detail),
  unauthorized: (code: string, detail?: string) =>
    new HttpProblem(401, code, detail, {}, { "www-authenticate": `Bearer error="invalid_token"` }),
  forbidden: (code: string, detail?: string) => new HttpProblem(403, code, detail),
  notFound: (code: string, detail?: string) => new HttpProblem(404, code, detail),
  conflict: (code: string, detail?: string, extensions?: Record<string, unknown>) =>
    new HttpProblem(409, code, detail, extensions),
  unprocessable: (code: string, detail?: string, errors?: FieldError[]) =>
    new HttpProblem(422, code, detail, errors ? { errors } : {}),
  tooManyRequests: (code: string, retryAfterMs: number, detail?: string) => {
    const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
    return new HttpProblem(429, code, detail, { retryAfterSeconds: seconds }, { "retry-after": String(seconds) });
  },
  unavailable: (code: string, detail?: string) => new HttpProblem(503, code, detail),
};

export function problemResponse(problem: Problem, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(problem), {
    status: problem.status,
    headers: { "content-type": "application/problem+json", ...headers },
  });
}

/** The OpenAPI schema of a problem body, for route `response` declarations. */
export const ProblemSchema = t.Object(
  {
    type: t.String(),
    title: t.String(),
    status: t.Integer(),
    code: t.String({ description: "Stable machine-readable error code" }),
    detail: t.Optional(t.String()),
    instance: t.Optional(t.String()),
    requestId: t.Optional(t.String()),
    errors: t.Optional(t.Array(t.Object({ field: t.String(), message: t.String() }))),
    retryAfterSeconds: t.Optional(t.Integer()),
  },
  {
    additionalProperties: true,
    description: "RFC 9457 problem details (application/problem+json)",
    examples: [
      {
        type: "https://homebase.dev/problems/validation_failed",
        title: "Bad Request",
        status: 400,
        code: "validation_failed",
        detail: "body is invalid",
        errors: [{ field: "/email", message: "Expected string to match 'email' format" }],
      },
    ],
  },
);

/** A problem body whose `code` is one of `codes` (documented as an enum in OpenAPI). */
function problemWithCodes(codes: readonly string[]) {
  const { code: _code, ...rest } = ProblemSchema.properties;
  return t.Object(
    { ...rest, code: t.UnionEnum(codes as [string, ...string[]], { description: "Stable machine-readable error code" }) },
    { additionalProperties: true, description: ProblemSchema.description },
  );
}

/**
 * Response map entries for the error statuses a route can produce: `problemResponses(401, 404)`,
 * or with the codes each status answers, `problemResponses({ 404: [errors.challengeNotFound] })`,
 * so every code the API can answer is listed in the OpenAPI document.
 */
export function problemResponses<const S extends number>(...statuses: S[]): Record<S, typeof ProblemSchema>;
export function problemResponses<const M extends Partial<Record<number, readonly string[]>>>(codes: M): Record<keyof M, TSchema>;
export function problemResponses(...args: Array<number | Partial<Record<number, readonly string[]>>>): Record<number, TSchema> {
  const out: Record<number, TSchema> = {};
  for (const arg of args) {
    if (typeof arg === "number") out[arg] = ProblemSchema;
    else for (const [status, codes] of Object.entries(arg)) out[Number(status)] = codes && codes.length > 0 ? problemWithCodes(codes) : ProblemSchema;
  }
  return out;
}
