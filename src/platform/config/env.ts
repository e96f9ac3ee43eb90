// Environment variables declared with `t`: each schema property is one variable, named as it is
// in the environment, with its default, description and (for secrets) `secret: true`. One loader
// turns the strings into typed values and names the variable and what it expected on a bad one.
//
//   const schema = t.Object({ HOMEBASE_X_TTL_MS: env.integer({ default: 30_000, min: 0, max: 86_400_000, description: "…" }) });
import { t, type Static, type TSchema } from "elysia";

/** A t.Object of variables (elysia exports no TObject type). */
export type EnvObject = TSchema & { properties: Record<string, TSchema> };

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly expected: string,
    readonly got: string,
  ) {
    super(`${variable}: expected ${expected}, got ${JSON.stringify(got)}`);
    this.name = "ConfigError";
  }
}

export type Env = Record<string, string | undefined>;

/** A check beyond the type: returns what was expected when the value is refused, else undefined. */
type Check = (value: string) => string | undefined;

interface Common {
  description: string;
  /** Redacted by `homebase config` and never logged. */
  secret?: boolean;
}

// Extra keywords TypeBox carries along untouched; the loader reads them.
interface EnvKeywords {
  secret?: boolean;
  "x-check"?: Check;
  "x-expected"?: string;
  "x-list"?: boolean;
  "x-integer"?: boolean;
}

export type EnvSchema = TSchema & EnvKeywords & { default?: unknown; description?: string };

export const env = {
  integer(o: Common & { default: number; min: number; max: number }) {
    return t.Integer({ default: o.default, minimum: o.min, maximum: o.max, description: o.description, secret: o.secret, "x-integer": true });
  },
  oneOf<const T extends string>(values: readonly [T, ...T[]], o: Common & { default: T }) {
    return t.UnionEnum(values as [T, ...T[]], { default: o.default, description: o.description, secret: o.secret });
  },
  /** One of `values`, or unset (undefined) when a default depends on other variables. */
  optionalOneOf<const T extends string>(values: readonly [T, ...T[]], o: Common) {
    // An explicit undefined default: t.UnionEnum otherwise defaults to the first value.
    return t.Optional(t.UnionEnum(values as [T, ...T[]], { default: undefined, description: o.description, secret: o.secret }));
  },
  string(o: Common & { default: string; check?: Check; expected?: string }) {
    return t.String({ default: o.default, description: o.description, secret: o.secret, "x-check": o.check, "x-expected": o.expected });
  },
  /** A string that may be unset (absent or empty → undefined). */
  optionalString(o: Common & { check?: Check; expected?: string }) {
    return t.Optional(t.String({ description: o.description, secret: o.secret, "x-check": o.check, "x-expected": o.expected }));
  },
  /** An optional URL whose scheme is one of `schemes`; credentials inside it are redacted. */
  url(schemes: string[], o: Common) {
    const check: Check = (raw) => {
      let parsed: URL;
      try {
        parsed = new URL(raw);
      } catch {
        return `a URL (${schemes.join(" or ")})`;
      }
      return schemes.includes(parsed.protocol) ? undefined : `a URL with scheme ${schemes.join(" or ")}`;
    };
    return t.Optional(t.String({ description: o.description, secret: o.secret, "x-check": check, format: "url" }));
  },
  /** A comma-separated list; `check` runs on the whole raw value. */
  list(o: Common & { default: string; check?: Check; expected?: string }) {
    return t.Array(t.String(), { default: o.default, description: o.description, secret: o.secret, "x-check": o.check, "x-expected": o.expected, "x-list": true });
  },
};

/**
 * Variables named after the entries of a list variable: HOMEBASE_OIDC_PROVIDERS=google,corp
 * brings HOMEBASE_OIDC_GOOGLE_ISSUER, HOMEBASE_OIDC_CORP_ISSUER… `member(entry)` declares one
 * entry's variables; the configuration table documents `member("<name>")`. Only the entries
 * listed are read, so a variable of an unlisted one still gets the unknown-variable warning.
 */
export interface VariableFamily {
  /** The list variable (declared with env.list in the module's schema). */
  list: string;
  member(entry: string): EnvObject;
}

function expectedOf(schema: EnvSchema): string {
  const s = schema as EnvSchema & { minimum?: number; maximum?: number; enum?: string[] };
  if (s["x-expected"]) return s["x-expected"];
  if (s["x-integer"]) return `an integer from ${s.minimum} to ${s.maximum}`;
  if (s.enum) return `one of ${s.enum.join(", ")}`;
  return "a string";
}

function parseValue(name: string, schema: EnvSchema, raw: string): unknown {
  const s = schema as EnvSchema & { minimum?: number; maximum?: number; enum?: string[] };
  // A refused URL is quoted without its credentials: the error reaches logs and terminals.
  const quoted = s.secret ? "<redacted>" : (s as { format?: string }).format === "url" ? redactUrl(raw) : raw;
  const refused = (expected = expectedOf(schema)) => new ConfigError(name, expected, quoted);
  const problem = s["x-check"]?.(raw);
  if (problem !== undefined) throw refused(problem);
  if (s["x-list"]) {
    return raw
      .split(",")
      .map((v) => v.trim())
      .filter(Boolean);
  }
  if (s["x-integer"]) {
    const n = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < (s.minimum ?? 0) || n > (s.maximum ?? Number.MAX_SAFE_INTEGER)) throw refused();
    return n;
  }
  if (s.enum && !s.enum.includes(raw)) throw refused();
  return raw;
}

/** Reads the variables of one schema from `env`; throws ConfigError on the first bad one. */
export function readEnv<S extends EnvObject>(schema: S, source: Env): Static<S> {
  const out: Record<string, unknown> = {};
  for (const [name, prop] of Object.entries(schema.properties) as Array<[string, EnvSchema]>) {
    const raw = source[name];
    if (raw === undefined || raw === "") {
      const fallback = prop.default;
      out[name] = fallback === undefined ? undefined : typeof fallback === "string" ? parseValue(name, prop, fallback) : fallback;
      continue;
    }
    out[name] = parseValue(name, prop, raw);
  }
  return out as Static<S>;
}

/** Levenshtein distance, for "did you mean" on a misspelt variable. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length]!;
}

export interface UnknownVariable {
  name: string;
  closest: string;
}

/** HOMEBASE_* variables no schema declares, each with the closest declared name. */
export function unknownVariables(source: Env, known: readonly string[]): UnknownVariable[] {
  const declared = new Set(known);
  return Object.keys(source)
    .filter((name) => name.startsWith("HOMEBASE_") && !declared.has(name))
    .sort()
    .map((name) => ({
      name,
      closest: known.reduce((best, k) => (distance(name, k) < distance(name, best) ? k : best), known[0] ?? ""),
    }));
}

/** Query parameters whose value is a credential (?key=…, ?access_token=…, ?password=…). */
const credentialParam = /^(?:[^=&#]*(?:pass|pwd|secret|token|key|sig|credential)[^=&#]*)$/i;

/**
 * A URL (or something meant to be one) with its password — or, with no password, its user
 * (nats://TOKEN@host) — and credential-like query values replaced by "redacted". Works on text
 * that does not parse too: everything before the last "@" of the authority is hidden.
 */
export function redactUrl(raw: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(raw)?.[0] ?? "";
  const hideQuery = (text: string) =>
    text.replace(/([?&])([^=&#]*)=([^&#]*)/g, (whole, sep: string, name: string) => (credentialParam.test(name) ? `${sep}${name}=redacted` : whole));
  let parsed: URL | null = null;
  try {
    parsed = new URL(raw);
  } catch {
    // Not a URL: keep the scheme and what follows the last "@" before the path.
  }
  if (parsed && scheme) {
    if (parsed.password) parsed.password = "redacted";
    else if (parsed.username) parsed.username = "redacted";
    return hideQuery(parsed.toString());
  }
  const rest = raw.slice(scheme.length);
  const authorityEnd = rest.search(/[?#]/);
  const authority = authorityEnd === -1 ? rest : rest.slice(0, authorityEnd);
  const at = authority.lastIndexOf("@");
  return hideQuery(at === -1 ? raw : `${scheme}redacted${rest.slice(at)}`);
}

/** A value as `homebase config` prints it: secrets hidden, URL passwords and tokens replaced. */
export function redactValue(schema: EnvSchema, value: unknown): unknown {
  if (value === undefined || value === null) return null;
  if (schema.secret) return "<redacted>";
  const isUrl = (schema as { format?: string }).format === "url";
  const redactText = (v: unknown) => (typeof v === "string" && (isUrl || /^[a-z][a-z0-9+.-]*:\/\//i.test(v)) ? redactUrl(v) : v);
  if (Array.isArray(value)) return value.map(redactText);
  return redactText(value);
}
