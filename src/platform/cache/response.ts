// Cached responses as stored bytes. A read's answer is checked against its route's schema and
// serialized once, when it is stored; the cache keeps that text with its ETag (and how long it is
// exact) in front: `hb1 <etag> <validUntil>\n<body>`. A hit reads the header and finds the bytes
// (and their compressed variants, see ../http/compression.ts) in an in-process LRU keyed by the
// ETag, so it neither parses nor re-serializes nor re-encodes anything — in Redis too, where only
// the first hit of a body in each process encodes it. Single-flight, invalidation and generations
// are CacheAside's (getOrLoadText), unchanged.
import { LRUCache } from "lru-cache";
import type { TSchema } from "elysia";
import { TypeCompiler, type TypeCheck } from "elysia/type-system";
import { oneOffBody, type StoredBody, storedBody } from "../http/compression";
import type { CacheAside } from "./cache-aside";

export type { StoredBody } from "../http/compression";

/** What a producer returns: the value to serialize and, optionally, when it stops being exact. */
export interface Produced {
  value: unknown;
  /** Epoch ms; the reader decides what to do past it (see ResponseCache.get). */
  validUntil?: number;
}

/** Keeps these entries apart from getOrLoad's JSON values (an older format under the same key reads as a miss). */
const keyPrefix = "resp1:";
const headerPattern = /^hb1 ("[A-Za-z0-9_-]{22}") (\d+(?:\.\d+)?|Infinity)$/;

const checkers = new WeakMap<TSchema, TypeCheck<TSchema>>();
/** bun test sets NODE_ENV=test: one-off bodies are checked there (see ResponseCache.once). */
const checkOneOffs = process.env.NODE_ENV === "test";

/** Throws unless value matches schema: a stored body is what the route's response schema says. */
export function assertMatches(schema: TSchema, value: unknown, what: string): void {
  let check = checkers.get(schema);
  if (!check) {
    check = TypeCompiler.Compile(schema);
    checkers.set(schema, check);
  }
  if (check.Check(value)) return;
  const first = check.Errors(value).First();
  throw new Error(`${what}: the response does not match its schema${first ? ` (${first.path || "/"} ${first.message})` : ""}`);
}

export interface ResponseCacheOptions {
  /** Most bytes of bodies kept in this process (identity bytes counted twice, for their variants). */
  maxBytes?: number;
}

export class ResponseCache {
  /** Bodies by their stored header (ETag and validUntil): content-addressed, so an entry is never stale, only unused. */
  private readonly bodies: LRUCache<string, StoredBody>;

  constructor(
    private readonly cache: CacheAside,
    { maxBytes = 64 * 1024 * 1024 }: ResponseCacheOptions = {},
  ) {
    this.bodies = new LRUCache({ maxSize: maxBytes, sizeCalculation: (b) => Math.max(1, b.size * 2) });
  }

  /**
   * The stored body of `key`, or `produce`'s value (checked against `schema`, serialized once,
   * stored for ttlMs). Concurrent calls share one lookup and one producer call.
   */
  async get(
    cacheName: string,
    key: string,
    ttlMs: number,
    schema: TSchema,
    produce: () => Promise<Produced> | Produced,
  ): Promise<StoredBody> {
    for (let attempt = 1; ; attempt++) {
      let made: StoredBody | undefined;
      const text = await this.cache.getOrLoadText(cacheName, keyPrefix + key, ttlMs, async () => {
        const { value, validUntil = Number.POSITIVE_INFINITY } = await produce();
        assertMatches(schema, value, cacheName);
        const json = JSON.stringify(value);
        const body = storedBody(json, { validUntil });
        const header = `hb1 ${body.etag} ${validUntil}`;
        made = this.keep(header, body);
        return `${header}\n${json}`;
      });
      if (made) return made;
      const stored = text === undefined ? undefined : this.fromText(text);
      if (stored) return stored;
      if (attempt === 2) throw new Error(`${cacheName}: the cached entry ${key} cannot be read`);
      // Unreadable (written by another version, or torn): drop it and produce afresh, once.
      await this.cache.invalidate(keyPrefix + key);
    }
  }

  /**
   * get() under a namespace's generation (CacheAside.generation): the key is
   * `<namespace>@<generation><suffix>`, so one bump of the namespace retires every key under it.
   * A body this process holds comes back as is, with no await on the way (the hot path of a
   * cached read); anything else, as a promise of get()'s answer. `produce` gets the generation.
   */
  versioned(
    cacheName: string,
    namespace: string,
    suffix: string,
    ttlMs: number,
    schema: TSchema,
    produce: (generation: number) => Promise<Produced> | Produced,
  ): StoredBody | Promise<StoredBody> {
    const known = this.cache.peekGeneration(namespace);
    if (known !== undefined) {
      const text = this.cache.peekText(cacheName, `${keyPrefix}${namespace}@${known}${suffix}`);
      const stored = text === undefined ? undefined : this.fromText(text);
      if (stored) return stored;
    }
    return this.cache.generation(namespace).then((gen) => this.get(cacheName, `${namespace}@${gen}${suffix}`, ttlMs, schema, () => produce(gen)));
  }

  /** Drops versioned()'s entry under the namespace's current generation (older ones are read by no one). */
  async invalidateVersioned(namespace: string, suffix: string): Promise<void> {
    await this.invalidate(`${namespace}@${await this.cache.generation(namespace)}${suffix}`);
  }

  /**
   * A body answered once, uncached (a TTL of 0, a title search). Checked against the schema
   * under `bun test` only: on every request the check would cost more than the serialization
   * (3 ms for a 500-movie list), which is why these routes answer a Response in the first
   * place; what is stored is always checked (once per miss), and the route tests check these.
   */
  once(schema: TSchema, value: unknown, what: string): StoredBody {
    if (checkOneOffs) assertMatches(schema, value, what);
    return oneOffBody(JSON.stringify(value));
  }

  /** Drops `key` (CacheAside.invalidate's rules: a load in flight won't store its result). */
  invalidate(key: string): Promise<void> {
    return this.cache.invalidate(keyPrefix + key);
  }

  /** Bodies held in this process (tests, diagnostics). */
  get localSize(): number {
    return this.bodies.size;
  }

  private fromText(text: string): StoredBody | undefined {
    const newline = text.indexOf("\n");
    if (newline < 0) return undefined;
    // Keyed by the whole header: the same bytes may be exact until another time.
    const header = text.slice(0, newline);
    const known = this.bodies.get(header);
    if (known) return known;
    const parsed = headerPattern.exec(header);
    if (!parsed) return undefined;
    const validUntil = parsed[2] === "Infinity" ? Number.POSITIVE_INFINITY : Number(parsed[2]);
    // Another process stored it: these bytes must be the header's ETag's (a torn or foreign entry is not served).
    const body = storedBody(text.slice(newline + 1), { validUntil });
    if (body.etag !== parsed[1]) return undefined;
    return this.keep(header, body);
  }

  private keep(header: string, body: StoredBody): StoredBody {
    const known = this.bodies.get(header);
    if (known) return known;
    this.bodies.set(header, body);
    return body;
  }
}
