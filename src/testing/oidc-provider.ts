// A real OpenID provider for the OIDC sign-in tests: panva's `oidc-provider` (the certified
// Node.js implementation) in a child process on a free port of 127.0.0.1, with one confidential
// client per test and users read from a JSON file the test rewrites (email verified or not, an
// email that changes later). Its development login and consent pages are driven by `Browser`
// below with plain HTTP (forms, redirects, cookies) as a person's browser would — nothing of the
// protocol is mocked: discovery, JWKS, PKCE, state, nonce and the ID token are the provider's.
//
//   const op = await startOidcProvider({ clientId: "homebase", clientSecret: "…", redirectUris: […] });
//   op.setUser("ada", { email: "ada@example.com", email_verified: true, name: "Ada" });
//   const callback = await browser.authorize(startLocation, "ada");   // the provider's redirect back
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./ports";
import { spawnCollecting } from "./process";
import { waitFor } from "./wait";

export interface UserClaims {
  email?: string;
  email_verified?: boolean;
  name?: string;
  preferred_username?: string;
}

export interface OidcProviderOptions {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
  /**
   * The provider's default (true, OpenID Connect Core 5.4): claims asked for by scope are
   * answered by the userinfo endpoint only, not put in the ID token. False: they are in the ID
   * token too (as Google does).
   */
  conformIdTokenClaims?: boolean;
  users?: Record<string, UserClaims>;
}

export interface OidcProvider {
  issuer: string;
  port: number;
  /** Adds or replaces a user (by sub, the login typed on the provider's login page). */
  setUser(sub: string, claims: UserClaims): void;
  /** Everything the provider printed. */
  output(): string;
  stop(): Promise<void>;
}

interface ChildConfig {
  port: number;
  usersFile: string;
  conformIdTokenClaims: boolean;
  client: { client_id: string; client_secret: string; redirect_uris: string[] };
}

export async function startOidcProvider(options: OidcProviderOptions): Promise<OidcProvider> {
  const dir = mkdtempSync(join(tmpdir(), "homebase-oidc-"));
  const usersFile = join(dir, "users.json");
  const users: Record<string, UserClaims> = { ...options.users };
  const writeUsers = () => writeFileSync(usersFile, JSON.stringify(users));
  writeUsers();
  const port = await freePort();
  const config: ChildConfig = {
    port,
    usersFile,
    conformIdTokenClaims: options.conformIdTokenClaims ?? true,
    client: { client_id: options.clientId, client_secret: options.clientSecret, redirect_uris: options.redirectUris },
  };
  const configFile = join(dir, "config.json");
  writeFileSync(configFile, JSON.stringify(config));
  const { proc, output } = spawnCollecting([process.execPath, import.meta.path], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", OIDC_TEST_PROVIDER_CONFIG: configFile },
  });
  const issuer = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (proc.exitCode !== null) throw new Error(`the OpenID provider exited with ${proc.exitCode}:\n${output()}`);
      try {
        return (await fetch(`${issuer}/.well-known/openid-configuration`)).status === 200;
      } catch {
        return false;
      }
    },
    { timeoutMs: 20_000, intervalMs: 25, what: "the OpenID provider to answer discovery" },
  );
  return {
    issuer,
    port,
    setUser(sub, claims) {
      users[sub] = claims;
      writeUsers();
    },
    output,
    async stop() {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      await proc.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// A browser: a cookie jar per host and redirects followed by hand, so the test sees each hop.

type Handler = (request: Request) => Promise<Response> | Response;

export class Browser {
  private readonly jars = new Map<string, Map<string, string>>();

  /** Requests to `appOrigin` go to `handle` (app.handle), the rest over the network. */
  constructor(
    private readonly appOrigin: string,
    private readonly handle: Handler,
  ) {}

  cookie(url: string, name: string): string | undefined {
    return this.jars.get(new URL(url).host)?.get(name);
  }

  /** One request, cookies sent and stored; no redirect followed. */
  async request(
    url: string,
    init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const target = new URL(url);
    const jar = this.jars.get(target.host) ?? new Map<string, string>();
    this.jars.set(target.host, jar);
    const headers = new Headers(init.headers);
    // A Cookie header the caller gives (a replay, say) is sent instead of the jar's.
    if (jar.size > 0 && !headers.has("cookie")) headers.set("cookie", [...jar].map(([k, v]) => `${k}=${v}`).join("; "));
    let body: string | undefined;
    if (init.form) {
      body = new URLSearchParams(init.form).toString();
      headers.set("content-type", "application/x-www-form-urlencoded");
    }
    const request = new Request(url, { method: init.method ?? (body ? "POST" : "GET"), headers, body, redirect: "manual" });
    const response = target.origin === this.appOrigin ? await this.handle(request) : await fetch(request);
    for (const line of response.headers.getSetCookie()) {
      const [pair = "", ...attributes] = line.split(";").map((p) => p.trim());
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const gone = attributes.some((a) => /^max-age=0$/i.test(a) || (/^expires=/i.test(a) && Date.parse(a.slice(8)) < Date.now()));
      if (gone || value === "") jar.delete(name);
      else jar.set(name, value);
    }
    return response;
  }

  /**
   * Follows the provider's redirects from an authorization URL, signing in as `login` and
   * consenting on its pages, until it redirects to the app; returns that URL (the callback).
   */
  async authorize(authorizationUrl: string, login: string): Promise<string> {
    let url = authorizationUrl;
    for (let hop = 0; hop < 20; hop++) {
      if (new URL(url).origin === this.appOrigin) return url;
      const response = await this.request(url);
      const location = response.headers.get("location");
      if (response.status >= 300 && response.status < 400 && location) {
        url = new URL(location, url).toString();
        continue;
      }
      const html = await response.text();
      if (response.status !== 200) throw new Error(`the provider answered ${response.status} at ${url}: ${html.slice(0, 500)}`);
      const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
      const prompt = /name="prompt" value="([^"]+)"/.exec(html)?.[1];
      if (!action || !prompt) throw new Error(`no login or consent form at ${url}: ${html.slice(0, 500)}`);
      const submit = new URL(action.replaceAll("&amp;", "&"), url).toString();
      const form: Record<string, string> = prompt === "login" ? { prompt, login, password: "any" } : { prompt };
      const posted = await this.request(submit, { form });
      const next = posted.headers.get("location");
      if (!next) throw new Error(`the provider's ${prompt} form answered ${posted.status}: ${(await posted.text()).slice(0, 500)}`);
      url = new URL(next, submit).toString();
    }
    throw new Error("the provider redirected more than 20 times");
  }
}

// ---------------------------------------------------------------------------------------------
// The child process: `bun src/testing/oidc-provider.ts` with OIDC_TEST_PROVIDER_CONFIG set.

async function runProvider(configFile: string): Promise<void> {
  // oidc-provider ships no types: the little used here, declared.
  const specifier = "oidc-provider";
  const { default: Provider } = (await import(specifier)) as {
    default: new (issuer: string, configuration: Record<string, unknown>) => { listen(port: number, host: string): unknown };
  };
  const config = JSON.parse(readFileSync(configFile, "utf8")) as ChildConfig;
  const provider = new Provider(`http://127.0.0.1:${config.port}`, {
    clients: [
      {
        ...config.client,
        grant_types: ["authorization_code"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
      },
    ],
    // Read on every use, so a test can change a user's email between two sign-ins.
    async findAccount(_ctx: unknown, sub: string) {
      const users = JSON.parse(readFileSync(config.usersFile, "utf8")) as Record<string, UserClaims>;
      const claims = users[sub];
      if (!claims) return undefined;
      return { accountId: sub, claims: async () => ({ sub, ...claims }) };
    },
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name", "preferred_username"] },
    conformIdTokenClaims: config.conformIdTokenClaims,
    cookies: { keys: [crypto.randomUUID()] },
    features: { devInteractions: { enabled: true } },
  });
  provider.listen(config.port, "127.0.0.1");
  process.stdout.write(`oidc provider listening on ${config.port}\n`);
}

if (import.meta.main) {
  const configFile = process.env.OIDC_TEST_PROVIDER_CONFIG;
  if (!configFile) throw new Error("OIDC_TEST_PROVIDER_CONFIG is not set");
  await runProvider(configFile);
}
