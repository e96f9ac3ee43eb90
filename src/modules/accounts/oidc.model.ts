// Schemas of the OpenID Connect sign-in routes (oidc.routes.ts).
import { t } from "elysia";

export const OidcProviderParams = t.Object({
  provider: t.String({ maxLength: 32, description: "A name from HOMEBASE_OIDC_PROVIDERS", examples: ["google"] }),
});

export const OidcProviderList = t.Object(
  {
    providers: t.Array(
      t.Object({
        name: t.String(),
        label: t.String({ description: "What a sign-in button says (HOMEBASE_OIDC_<NAME>_LABEL)" }),
        start: t.String({ description: "Where a sign-in button links to (GET)" }),
      }),
    ),
  },
  { examples: [{ providers: [{ name: "google", label: "Google", start: "/auth/oidc/google/start" }] }] },
);

export const OidcStartQuery = t.Object({
  returnTo: t.Optional(
    t.String({
      maxLength: 512,
      // A path on this server: one leading '/', not '//' or '/\' (another host), no spaces.
      pattern: "^/(?![/\\\\])[^\\s\\\\]*$",
      default: "/",
      description: "The path on this server the browser goes to once signed in (default /); it then calls POST /auth/oidc/exchange.",
      examples: ["/chat"],
    }),
  ),
});

// Documented only: the handler hands every parameter of the URL to the protocol checks.
export const OidcCallbackQuery = t.Object(
  {
    code: t.Optional(t.String({ maxLength: 4096 })),
    state: t.Optional(t.String({ maxLength: 512 })),
    iss: t.Optional(t.String({ maxLength: 2048 })),
    error: t.Optional(t.String({ maxLength: 256 })),
    error_description: t.Optional(t.String({ maxLength: 2048 })),
  },
  { additionalProperties: true },
);
