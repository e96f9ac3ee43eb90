// Which methods each path of the app answers, for 405 Method Not Allowed with an Allow header
// (RFC 9110 §15.5.6): a request whose path some route matches, with a method none of them takes.
// Built once, after every route is registered (createApp), from the app's route table; a 404 then
// looks its path up here instead of answering route_not_found.
const methodOrder = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

interface PatternEntry {
  pattern: RegExp;
  methods: Set<string>;
}

/** A route's path as a whole-path expression: `:name` one segment, `:name?` an optional one, `*` the rest. */
function toPattern(path: string): RegExp {
  let source = "";
  for (const segment of path.split("/").slice(1)) {
    if (segment === "*") source += "/.*";
    else if (segment.startsWith(":") && segment.endsWith("?")) source += "(?:/[^/]*)?";
    else if (segment.startsWith(":")) source += "/[^/]+";
    else source += `/${segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`;
  }
  return new RegExp(`^${source || "/"}$`);
}

const isCatchAll = (path: string) => path === "*" || path === "/*";
/** Elysia matches a path with or without its trailing slash. */
const trimmed = (path: string) => (path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path);

export class RouteMethods {
  private readonly exact = new Map<string, Set<string>>();
  private readonly patterns: PatternEntry[] = [];
  /** Methods a catch-all route (e.g. CORS preflight on /*) answers on every path. */
  private readonly everywhere = new Set<string>();
  private built = false;

  /** Once, with the app's routes (`app.routes`). A path only a catch-all matches stays unknown (404). */
  build(routes: ReadonlyArray<{ method: string; path: string }>): void {
    if (this.built) throw new Error("RouteMethods.build runs once, after every route is registered");
    this.built = true;
    const byPattern = new Map<string, PatternEntry>();
    for (const { method, path } of routes) {
      const m = method.toUpperCase();
      // `.all()` routes take every method: nothing on their path can be a 405.
      if (m === "ALL") continue;
      if (isCatchAll(path)) {
        this.everywhere.add(m);
        continue;
      }
      if (!path.includes(":") && !path.includes("*")) {
        const set = this.exact.get(trimmed(path)) ?? new Set<string>();
        set.add(m);
        this.exact.set(trimmed(path), set);
        continue;
      }
      const entry = byPattern.get(path) ?? { pattern: toPattern(path), methods: new Set<string>() };
      entry.methods.add(m);
      byPattern.set(path, entry);
    }
    this.patterns.push(...byPattern.values());
  }

  /**
   * The methods `path` answers, sorted (HEAD wherever GET is: Elysia answers it), or null when no
   * route has the path. Only on the 404 path of a request: the common case never gets here.
   */
  allowed(path: string): string[] | null {
    const found = new Set<string>(this.exact.get(trimmed(path)) ?? []);
    for (const { pattern, methods } of this.patterns) if (pattern.test(path)) for (const m of methods) found.add(m);
    if (found.size === 0) return null;
    if (found.has("GET")) found.add("HEAD");
    for (const m of this.everywhere) found.add(m);
    return [...found].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  }
}

function rank(method: string): number {
  const i = methodOrder.indexOf(method);
  return i === -1 ? methodOrder.length : i;
}
