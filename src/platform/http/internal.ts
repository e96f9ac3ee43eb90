// Internal-only routes (the shop's billing endpoints, the sandbox PG's control panel and ledger):
// a caller needs both
//   1. a client IP in the route's allowlist — resolved once per request by the platform (the
//      socket peer, or X-Forwarded-For through HOMEBASE_TRUSTED_PROXIES) — else 403, and
//   2. `Authorization: Bearer <internal token>`, the token read from HOMEBASE_INTERNAL_TOKEN_FILE
//      (systemd LoadCredential=) or generated into the data dir (internal.token, 0600) — else 401.
// The address alone is no credential: on WireGuard every user's device has one in the tunnel's
// subnet. The token is compared in constant time (digests of equal length). Every call is
// logged with the caller's IP and the outcome, and counted in homebase_internal_calls_total.
//
// The check runs before the body is parsed or validated (a stranger learns nothing about these
// routes: 403/401, never 400 or 422), in hooks local to the routes' own Elysia instance: no
// other route of the app runs it.
//
//   const guard = createInternalGuard({ allow, token, clientIp: platform.clientIp, logger, registry });
//   internalInstance("homebase.shop.internal", "/internal", guard).post("/billing/run", …)
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Elysia } from "elysia";
import { Counter, type Registry } from "prom-client";
import { ConfigError } from "../config/env";
import type { Logger } from "../logger";
import { type ClientIpResolver, ipMatcher } from "./client-ip";
import { HttpProblem, problemResponses } from "./problem";

/** The codes the guard answers with (documented on every internal route by `internalResponses`). */
export const internalErrors = {
  /** 403: the client IP is not in the allowlist. */
  internalOnly: "internal_only",
  /** 401: no bearer token, or not the internal one. */
  internalCredentialRequired: "internal_credential_required",
} as const;

/** The error responses of an internal route, for its `response` map. */
export const internalResponses = problemResponses({
  401: [internalErrors.internalCredentialRequired],
  403: [internalErrors.internalOnly],
});

/** Equal strings, compared in constant time: digests of equal length, so neither content nor length leaks. */
export function secretEquals(given: string, expected: string): boolean {
  const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * A secret kept in the data dir, used when `variable` does not give one: read when the file is
 * there, else generated (48 random bytes, base64url) into a new file of mode 0600 (the dir 0700).
 * Processes starting together agree: the first to put its file in place wins, the others read it.
 */
export function dataDirSecret(dataDir: string, fileName: string, variable: string): { secret: string; file: string } {
  const file = join(dataDir, fileName);
  const read = () => readFileSync(file, "utf8").trim();
  if (existsSync(file)) {
    const secret = read();
    if (secret.length >= 32) return { secret, file };
    // Named after the variable that would replace the file: what the operator can set instead.
    throw new ConfigError(variable, `unset with ${file} holding at least 32 characters (delete it to have one generated)`, "<redacted>");
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const secret = randomBytes(48).toString("base64url");
  // Written whole under a private name, then linked into place: link() fails if the file exists,
  // so no process ever reads a half-written one, and the first to link wins.
  const draft = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
  writeFileSync(draft, `${secret}\n`, { mode: 0o600, flag: "wx" });
  try {
    linkSync(draft, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    return { secret: read(), file };
  } finally {
    unlinkSync(draft);
  }
  return { secret, file };
}

export interface InternalCredential {
  token: string;
  /** HOMEBASE_INTERNAL_TOKEN_FILE, or generated into the data dir. */
  source: "secret-file" | "file";
  /** Where it is: what an operator's client reads (`curl -H "authorization: Bearer $(cat …)"`). */
  file: string;
}

export const internalTokenFileName = "internal.token";

/** The internal routes' bearer token: HOMEBASE_INTERNAL_TOKEN_FILE, else <data dir>/internal.token (generated on first use). */
export function internalCredential(config: { dataDir: string; internalTokenFile: string | null }): InternalCredential {
  const path = config.internalTokenFile;
  if (path !== null) {
    const name = "HOMEBASE_INTERNAL_TOKEN_FILE";
    let token: string;
    try {
      token = readFileSync(path, "utf8").trim();
    } catch {
      throw new ConfigError(name, "a readable file holding the internal token", path);
    }
    if (token.length < 32) throw new ConfigError(name, "a file holding at least 32 characters", path);
    return { token, source: "secret-file", file: path };
  }
  const { secret, file } = dataDirSecret(config.dataDir, internalTokenFileName, "HOMEBASE_INTERNAL_TOKEN_FILE");
  return { token: secret, source: "file", file };
}

export type InternalOutcome = "allowed" | "forbidden" | "unauthorized";

export interface InternalVerdict {
  outcome: InternalOutcome;
  /** The client IP as the platform resolved it (null: no socket peer). */
  ip: string | null;
}

/** Decides who may call internal routes, and records every call. */
export interface InternalGuard {
  check(request: Request): InternalVerdict;
  /** One log line with the caller and the outcome, and one count in the metric. */
  record(route: string, verdict: InternalVerdict): void;
}

export interface InternalGuardOptions {
  /** IP addresses and CIDR blocks, already validated. */
  allow: readonly string[];
  token: string;
  clientIp: ClientIpResolver;
  logger: Logger;
  registry: Registry;
}

const callsMetric = "homebase_internal_calls_total";

/** One counter per registry, whichever module's guard comes first. */
function callsCounter(registry: Registry): Counter<"route" | "outcome"> {
  const existing = registry.getSingleMetric(callsMetric);
  if (existing) return existing as Counter<"route" | "outcome">;
  return new Counter({
    name: callsMetric,
    help: "Calls to internal routes by route and outcome (allowed; forbidden: IP outside the allowlist; unauthorized: no or wrong internal token)",
    labelNames: ["route", "outcome"] as const,
    registers: [registry],
  });
}

function bearer(request: Request): string | null {
  const header = request.headers.get("authorization");
  const match = header ? /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header) : null;
  return match ? match[1]! : null;
}

export function createInternalGuard(o: InternalGuardOptions): InternalGuard {
  const isAllowed = ipMatcher(o.allow);
  const calls = callsCounter(o.registry);
  return {
    check(request) {
      const ip = o.clientIp(request);
      if (ip === null || !isAllowed(ip)) return { outcome: "forbidden", ip };
      const given = bearer(request);
      return { outcome: given !== null && secretEquals(given, o.token) ? "allowed" : "unauthorized", ip };
    },
    record(route, verdict) {
      calls.inc({ route, outcome: verdict.outcome });
      const fields = { route, ip: verdict.ip, outcome: verdict.outcome };
      if (verdict.outcome === "allowed") o.logger.info("internal call", fields);
      else o.logger.warn("internal call refused", fields);
    },
  };
}

function refusal(outcome: Exclude<InternalOutcome, "allowed">): HttpProblem {
  if (outcome === "forbidden") {
    return new HttpProblem(403, internalErrors.internalOnly, "this endpoint is only reachable from the internal network");
  }
  return new HttpProblem(
    401,
    internalErrors.internalCredentialRequired,
    "this endpoint needs Authorization: Bearer <the internal token> (HOMEBASE_INTERNAL_TOKEN_FILE, or internal.token in the data dir)",
    {},
    { "www-authenticate": 'Bearer realm="homebase-internal"' },
  );
}

/**
 * An Elysia instance whose routes only internal callers reach. Its hooks are local: they run
 * for the routes declared on it, and for no other route of the app.
 */
export function internalInstance<const Prefix extends string>(name: string, prefix: Prefix, guard: InternalGuard) {
  // Decided once per request (parse and transform both ask), logged and counted once.
  const verdicts = new WeakMap<Request, InternalVerdict>();
  const decide = (request: Request, route: string | undefined): InternalVerdict => {
    const known = verdicts.get(request);
    if (known) return known;
    const verdict = guard.check(request);
    verdicts.set(request, verdict);
    guard.record(`${request.method} ${route ?? new URL(request.url).pathname}`, verdict);
    return verdict;
  };
  return (
    new Elysia({ name, prefix })
      // Parsing comes before every other hook: a refused caller's body is not even read (a
      // parse hook that throws would answer 400, so it hands over an empty body instead) ...
      .onParse(({ request, route }) => {
        if (decide(request, route).outcome === "allowed") return;
        return {};
      })
      // ... and the refusal comes before validation (and for bodiless requests, which skip parsing).
      .onTransform(({ request, route }) => {
        const { outcome } = decide(request, route);
        if (outcome !== "allowed") throw refusal(outcome);
      })
  );
}
