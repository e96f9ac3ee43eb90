// The one HTTP call both gateway adapters make: POST JSON, answer {status, body}. A network
// failure is a transient GatewayError; an abort (the timeout policy) propagates as is.
import { GatewayError } from "./port";

export interface JsonReply {
  status: number;
  body: Record<string, unknown>;
}

export async function postJson(url: string, body: unknown, headers: Record<string, string>, signal?: AbortSignal): Promise<JsonReply> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", ...headers },
      body: JSON.stringify(body),
      signal,
      redirect: "manual",
    });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new GatewayError("transient", "network", `payment gateway unreachable: ${err instanceof Error ? err.message : String(err)}`);
  }
  const text = await res.text().catch(() => "");
  let parsed: unknown = null;
  try {
    parsed = text === "" ? {} : JSON.parse(text);
  } catch {
    parsed = null;
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    // A proxy's HTML error page or a truncated body: the gateway is not answering properly.
    if (res.status >= 500 || res.status === 429 || res.ok)
      throw new GatewayError("transient", "bad_response", `payment gateway answered ${res.status} with a non-JSON body`);
    throw new GatewayError("rejected", `http_${res.status}`, `payment gateway answered ${res.status} with a non-JSON body`);
  }
  return { status: res.status, body: parsed as Record<string, unknown> };
}

export function str(body: Record<string, unknown>, key: string): string {
  const v = body[key];
  if (typeof v !== "string" || v === "") throw new GatewayError("transient", "bad_response", `payment gateway response lacks "${key}"`);
  return v;
}

export function num(body: Record<string, unknown>, key: string): number {
  const v = body[key];
  if (typeof v !== "number" || !Number.isFinite(v))
    throw new GatewayError("transient", "bad_response", `payment gateway response lacks "${key}"`);
  return v;
}

export function obj(body: Record<string, unknown>, key: string): Record<string, unknown> {
  const v = body[key];
  if (v === null || typeof v !== "object" || Array.isArray(v))
    throw new GatewayError("transient", "bad_response", `payment gateway response lacks "${key}"`);
  return v as Record<string, unknown>;
}
