// OpenAPI at /swagger/json and Swagger UI at /swagger, rendering with no internet: the
// swagger-ui-dist files are embedded in the binary and served from /swagger-assets/.
import { Elysia } from "elysia";
import { openapi } from "@elysiajs/openapi";
import { registerFastFormats } from "./formats";
import bundlePath from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "file" };
import cssPath from "swagger-ui-dist/swagger-ui.css" with { type: "file" };

const assetHeaders = { "cache-control": "public, max-age=86400" };

export function openapiDocs(version: string) {
  registerFastFormats();
  return new Elysia({ name: "homebase.openapi" })
    .get("/swagger-assets/swagger-ui-bundle.js", () =>
      new Response(Bun.file(bundlePath), { headers: { ...assetHeaders, "content-type": "text/javascript; charset=utf-8" } }),
      { detail: { hide: true } },
    )
    .get("/swagger-assets/swagger-ui.css", () =>
      new Response(Bun.file(cssPath), { headers: { ...assetHeaders, "content-type": "text/css; charset=utf-8" } }),
      { detail: { hide: true } },
    )
    .use(
      openapi({
        path: "/swagger",
        specPath: "/swagger/json",
        provider: "swagger-ui",
        swagger: {
          cdn: "/swagger-assets/swagger-ui-bundle.js",
          theme: "/swagger-assets/swagger-ui.css",
          autoDarkMode: false,
          persistAuthorization: true,
        },
        exclude: { paths: [/^\/swagger-assets\//] },
        documentation: {
          info: {
            title: "homebase",
            version,
            description:
              "One self-hosted backend: accounts, challenges, todos, chat, reservations, subscriptions. Errors are RFC 9457 application/problem+json with a stable `code`.",
          },
          tags: [
            { name: "accounts", description: "Signup, login, sessions, profile, roles" },
            { name: "challenges", description: "Challenges, membership, daily logs, leaderboards" },
            { name: "todos", description: "Projects, tasks, subtasks, and the failure coach (insights, re-plans)" },
            { name: "reservations", description: "Movies now showing, theaters, screenings, seat booking" },
            { name: "chat", description: "Rooms (secret ones with a password), history, deletes, files; live messages, read receipts and presence over the WebSocket at /ws (page: /chat)" },
            { name: "shop", description: "Supplement shop: catalog, reviews, carts, orders, payments (KakaoPay-style, sandbox PG built in), subscriptions with recurring billing, internal billing endpoints" },
            { name: "ops", description: "Health and metrics" },
          ],
          components: {
            securitySchemes: {
              bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
            },
          },
        },
      }),
    );
}
