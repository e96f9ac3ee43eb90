// Shared by the chaos tests and `bun run chaos`: a small HTTP client for a homebase listening
// on a socket (in-process app or the real process), users, metrics and process RSS.
import { readFileSync } from "node:fs";
import { newUser } from "../src/testing/app";

export const jsonHeaders = { "content-type": "application/json" };

export interface Session {
  id: string;
  email: string;
  password: string;
  nickname: string;
  accessToken: string;
  refreshToken: string;
}

export interface CallOptions {
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Raw body (sent as is); `body` is JSON-encoded. */
  raw?: string | FormData | Blob | Uint8Array;
  signal?: AbortSignal;
}

/** One request against a base URL; JSON bodies are encoded. */
export function call(base: string, method: string, path: string, o: CallOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { ...o.headers };
  let body: string | FormData | Blob | Uint8Array | undefined = o.raw;
  if (o.body !== undefined) {
    body = JSON.stringify(o.body);
    headers["content-type"] ??= "application/json";
  }
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  return fetch(`${base}${path}`, { method, headers, body, redirect: "manual", signal: o.signal });
}

/** call() that must answer one of `ok`; returns the parsed JSON body (or null when empty). */
export async function must<T = any>(base: string, method: string, path: string, o: CallOptions = {}, ok: number[] = [200, 201, 202, 204]): Promise<T> {
  const res = await call(base, method, path, o);
  const text = await res.text();
  if (!ok.includes(res.status)) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 500)}`);
  return (text ? JSON.parse(text) : null) as T;
}

/** Signs up and logs in a fresh user over HTTP. */
export async function signup(base: string, prefix = "chaos"): Promise<Session> {
  const u = newUser(prefix);
  const user = await must<{ id: string }>(base, "POST", "/auth/signup", { body: u }, [201]);
  const tokens = await must<{ accessToken: string; refreshToken: string }>(base, "POST", "/auth/login", { body: { email: u.email, password: u.password } }, [200]);
  return { id: user.id, ...u, accessToken: tokens.accessToken, refreshToken: tokens.refreshToken };
}

/** Logs in again (a second session of the same user). */
export async function login(base: string, s: Pick<Session, "email" | "password">): Promise<{ accessToken: string; refreshToken: string }> {
  return must(base, "POST", "/auth/login", { body: { email: s.email, password: s.password } }, [200]);
}

/** A sample's value from Prometheus text, summed over series matching every given label. */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[3] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[4]);
  }
  return sum;
}

/** Resident set size of a process in bytes (Linux /proc). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : 0;
}

/** Percentile (0–100) of a list of numbers, nearest rank. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Today's UTC day plus `days`, YYYY-MM-DD. */
export function day(days = 0): string {
  return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
}

/** Runs fn over items with at most `limit` at once. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}
