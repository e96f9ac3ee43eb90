// OpenAPI at /swagger/json and Swagger UI at /swagger, rendering with no internet: the
// swagger-ui-dist files are embedded in the binary and served from /swagger-assets/. The page is
// ours, not the plugin's: its script is a file too, so a strict Content-Security-Policy (scripts
// from this origin only, no inline script) holds, and a pasted bearer token is not persisted in
// localStorage, where any script on the API's origin could read it.
import { Elysia } from "elysia";
import { openapi } from "@elysiajs/openapi";
import { registerFastFormats } from "./formats";
import { platformErrors } from "./errors";
import { ProblemSchema, problemResponses } from "./problem";
import bundlePath from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "file" };
import cssPath from "swagger-ui-dist/swagger-ui.css" with { type: "file" };

const assetHeaders = { "cache-control": "public, max-age=86400" };

/**
 * The UI's page: everything from this origin, no inline script or style, no framing. img-src
 * allows data: for the icons swagger-ui.css embeds; connect-src 'self' for the spec and "Try it out".
 */
export const swaggerContentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");

const swaggerPage = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>homebase API</title>
<link rel="stylesheet" href="/swagger-assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/swagger-assets/swagger-ui-bundle.js"></script>
<script src="/swagger-assets/swagger-init.js"></script>
</body>
</html>
`;

// persistAuthorization off: the token pasted into "Authorize" lives in the page's memory only.
// The spec URL is relative to /swagger, as the plugin's page had it (works behind a path prefix).
const swaggerInit = `window.ui = SwaggerUIBundle(${JSON.stringify({ url: "swagger/json", dom_id: "#swagger-ui", persistAuthorization: false })});\n`;

type Responses = Record<string, { description?: string; content?: Record<string, { schema?: { description?: string } } | string> }>;
type Operation = { responses?: Responses; requestBody?: unknown; parameters?: unknown[] };
type Spec = { paths?: Record<string, Record<string, Operation>> };

// What the http platform answers for any route, whatever the route declares: a chunked body
// (411 length_required) or one over the body limit (413 body_too_large) on any method, since
// the limits are checked before routing; an unparsable or too deeply nested body (400
// malformed_body, body_too_deep) on any method that may carry one (the body is parsed app-wide);
// invalid params, query or body (422 validation_failed).
const platformStatuses = (method: string, op: Operation): number[] => [
  ...(method === "get" || method === "head" ? [] : [400]),
  411,
  413,
  ...(op.requestBody || op.parameters?.length ? [422] : []),
];

/** The codes the platform answers at those statuses. */
const platformCodes: Record<number, string[]> = {
  400: [platformErrors.malformedBody, platformErrors.bodyTooDeep],
  411: [platformErrors.lengthRequired],
  413: [platformErrors.bodyTooLarge],
  422: [platformErrors.validationFailed],
};

type CodeSchema = { properties?: { code?: { enum?: string[]; anyOf?: unknown[] } } };

/** Adds the platform's codes to a problem schema that lists its codes (a copy: schemas are shared). */
function withPlatformCodes(schema: CodeSchema, status: number): CodeSchema {
  const code = schema.properties?.code;
  const extra = platformCodes[status];
  if (!extra || !code?.enum) return schema;
  const codes = [...new Set([...code.enum, ...extra])];
  return { ...schema, properties: { ...schema.properties, code: { ...code, enum: codes } } };
}

/**
 * Corrects what @elysiajs/openapi 1.4.16 renders wrong, so the document is valid OpenAPI 3.1 that
 * tools (schemathesis, client generators) accept: a t.Void() response becomes content
 * {type: "void"} (not a media type map: dropped); named models (.model()) leave
 * `$id: "#/components/schemas/x"` inside schemas (a fragment is not a valid $id: dropped);
 * problem bodies are sent as application/problem+json, not the application/json it assumes; and
 * the statuses the http platform answers for every route (platformStatuses) are listed.
 * Mutates in place: the plugin caches the object, so this runs once per document.
 */
export function normalizeSpec(spec: unknown): void {
  for (const ops of Object.values((spec as Spec)?.paths ?? {})) {
    for (const [method, op] of Object.entries(ops)) {
      op.responses ??= {};
      for (const status of platformStatuses(method, op)) {
        op.responses[status] ??= {
          description: `Response for status ${status}`,
          content: { "application/json": { schema: problemResponses({ [status]: platformCodes[status] ?? [] })[status] as typeof ProblemSchema } },
        };
        const json = op.responses[status]?.content?.["application/json"];
        if (typeof json === "object" && json.schema) json.schema = withPlatformCodes(json.schema as CodeSchema, status) as typeof json.schema;
      }
      // Bun itself refuses a request line or headers past its limit, before any handler runs.
      op.responses["431"] ??= { description: "The URL or the headers are larger than the server accepts (answered by the runtime, with no body)" };
      for (const res of Object.values(op.responses)) {
        const content = res.content;
        if (!content) continue;
        if (typeof content.type === "string") {
          delete res.content;
          continue;
        }
        // A string response that says its media type (t.String({ contentMediaType: "text/html" })).
        const plain = content["text/plain"] as { schema?: { contentMediaType?: string } } | undefined;
        const media = plain?.schema?.contentMediaType;
        if (plain && media && media !== "text/plain") {
          delete content["text/plain"];
          content[media] = plain as (typeof content)[string];
        }
        const json = content["application/json"];
        if (typeof json === "object" && json.schema?.description === ProblemSchema.description) {
          delete content["application/json"];
          content["application/problem+json"] = json;
        }
      }
    }
  }
  const stripIds = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) stripIds(item);
      return;
    }
    if (!node || typeof node !== "object") return;
    const o = node as Record<string, unknown>;
    if (typeof o.$id === "string" && o.$id.includes("#")) delete o.$id;
    for (const v of Object.values(o)) stripIds(v);
  };
  stripIds(spec);
}

/** `tags`: one per module, from the module list. */
export function openapiDocs(version: string, tags: Array<{ name: string; description: string }>) {
  registerFastFormats();
  // The plugin serves the same cached object each time: corrected once. The hook is this
  // instance's own (local): it runs for the spec and asset routes here, not for the app's others.
  const normalized = new WeakSet<object>();
  return new Elysia({ name: "homebase.openapi" })
    .onAfterHandle(({ path, response }) => {
      if (path !== "/swagger/json" || typeof response !== "object" || response === null || normalized.has(response)) return;
      normalizeSpec(response);
      normalized.add(response);
    })
    .get("/swagger-assets/swagger-ui-bundle.js", () =>
      new Response(Bun.file(bundlePath), { headers: { ...assetHeaders, "content-type": "text/javascript; charset=utf-8" } }),
      { detail: { hide: true } },
    )
    .get("/swagger-assets/swagger-ui.css", () =>
      new Response(Bun.file(cssPath), { headers: { ...assetHeaders, "content-type": "text/css; charset=utf-8" } }),
      { detail: { hide: true } },
    )
    .get("/swagger-assets/swagger-init.js", () =>
      new Response(swaggerInit, { headers: { ...assetHeaders, "content-type": "text/javascript; charset=utf-8" } }),
      { detail: { hide: true } },
    )
    .get("/swagger", () =>
      new Response(swaggerPage, { headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-cache", "content-security-policy": swaggerContentSecurityPolicy } }),
      { detail: { hide: true } },
    )
    .use(
      openapi({
        path: "/swagger",
        specPath: "/swagger/json",
        // The spec only: the page above replaces the plugin's (inline script, persisted token).
        provider: null,
        exclude: { paths: [/^\/swagger-assets\//, "/swagger"] },
        documentation: {
          info: {
            title: "homebase",
            version,
            description:
              `One self-hosted backend: ${tags.map((t) => t.name).join(", ")}. Errors are RFC 9457 application/problem+json with a stable \`code\`.`,
          },
          tags: [...tags, { name: "ops", description: "Health and metrics" }],
          components: {
            securitySchemes: {
              bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
            },
          },
        },
      }),
    );
}
