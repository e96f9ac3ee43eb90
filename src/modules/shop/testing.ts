// Test helpers for the shop: an app listening on a real port (the gateway adapters call the
// sandbox PG — the sandbox-pg module of the same app — over HTTP, and internal routes need a socket peer), users, items, and the
// buyer's payment flow. Resilience timings are short so fault tests take seconds.
import { expect } from "bun:test";
import { createTestApp, signupAndLogin, type TestApp } from "../../testing/app";
import type { Mode } from "../../testing/modes";
import { freePort } from "../../testing/ports";
import type { Clock } from "../../platform/clock";
import { internalCredential } from "../../platform/http/internal";
import type { ShopModule } from ".";
import type { CreateItemBody, Item, Order } from "./model";

export type User = Awaited<ReturnType<typeof signupAndLogin>>;

export const fastResilience: Record<string, string> = {
  HOMEBASE_SHOP_PG_TIMEOUT_MS: "150",
  HOMEBASE_SHOP_PG_RETRIES: "3",
  HOMEBASE_SHOP_PG_BACKOFF_MS: "5",
  HOMEBASE_SHOP_PG_BACKOFF_MAX_MS: "40",
  HOMEBASE_SHOP_BREAKER_OPEN_MS: "200",
  HOMEBASE_SANDBOX_PG_HANG_MS: "300",
};

export interface ShopTestApp {
  t: TestApp;
  shop: ShopModule;
  url: string;
  port: number;
  /** `Authorization: Bearer <internal token>`: what /internal/* and the sandbox's control routes ask for. */
  internal: Record<string, string>;
  admin: User;
  user(prefix?: string): Promise<User>;
  item(patch?: Partial<CreateItemBody>): Promise<Item>;
  /** Orders directly and pays (retrying what a client retries: 503 and order_busy). */
  buy(u: User, items: Array<{ itemId: string; quantity: number }>, kind?: "NORMAL" | "SUBSCRIPTION", periodDays?: number): Promise<Order>;
  /** ready → the buyer approves at the sandbox checkout → approve; returns the last approve response. */
  pay(u: User, orderId: string): Promise<Response>;
  close(): Promise<void>;
}

export async function expectProblem(res: Response, status: number, code: string) {
  const body = (await res.json()) as { status: number; code: string; errors?: Array<{ field: string }> };
  expect({ status: res.status, code: body.code, type: res.headers.get("content-type") }).toEqual({
    status,
    code,
    type: expect.stringContaining("application/problem+json"),
  });
  return body;
}

let names = 0;

export async function startShop(mode: Mode, env: Record<string, string> = {}, options: { clock?: Clock } = {}): Promise<ShopTestApp> {
  // The port is fixed before the config is read: the sandbox's URLs point at it.
  const port = env.HOMEBASE_PORT ? Number(env.HOMEBASE_PORT) : await freePort();
  const t = await createTestApp(mode, { ...fastResilience, ...env, HOMEBASE_PORT: String(port) }, undefined, undefined, options);
  t.app.listen({ hostname: "127.0.0.1", port });
  const shop = t.modules.apis.shop;
  const admin = await signupAndLogin(t, "admin");
  await t.modules.apis.accounts.promoteByEmail(admin.email);
  // Tests that move an injected clock outlive access tokens: the admin logs in again then.
  let adminToken = { token: admin.tokens.accessToken, at: t.platform.clock.now() };
  const adminAccess = async () => {
    if (t.platform.clock.now() - adminToken.at < 600_000) return adminToken.token;
    const res = await t.request("POST", "/auth/login", { body: { email: admin.email, password: admin.password } });
    if (res.status !== 200) throw new Error(`admin login failed: ${res.status} ${await res.text()}`);
    adminToken = { token: ((await res.json()) as { accessToken: string }).accessToken, at: t.platform.clock.now() };
    return adminToken.token;
  };

  const retrying = async (send: () => Promise<Response>): Promise<Response> => {
    for (let i = 0; ; i++) {
      const res = await send();
      if ((res.status !== 503 && res.status !== 409) || i >= 200) return res;
      const body = (await res.clone().json()) as { code: string };
      if (res.status === 409 && body.code !== "order_busy") return res;
      await Bun.sleep(5);
    }
  };

  const pay = async (u: User, orderId: string): Promise<Response> => {
    const token = u.tokens.accessToken;
    const ready = await retrying(() => t.request("POST", `/orders/${orderId}/payment`, { token }));
    if (ready.status !== 201) return ready;
    const { redirectUrl } = (await ready.json()) as { redirectUrl: string };
    const checkout = await fetch(redirectUrl, { redirect: "manual" });
    expect(checkout.status).toBe(302);
    const pgToken = new URL(checkout.headers.get("location")!).searchParams.get("pg_token")!;
    return retrying(() => t.request("POST", `/orders/${orderId}/payment/approve`, { token, body: { pgToken } }));
  };

  return {
    t,
    shop,
    url: `http://127.0.0.1:${port}`,
    port,
    internal: { authorization: `Bearer ${internalCredential(t.platform.config).token}` },
    admin,
    user: (prefix = "buyer") => signupAndLogin(t, prefix),
    async item(patch = {}) {
      const res = await t.request("POST", "/items", {
        token: await adminAccess(),
        body: { name: `Lutein ${++names}`, brand: "NutriCore", price: 10_000, discountRate: 10, stock: 100, categories: ["EYE"], ...patch },
      });
      if (res.status !== 201) throw new Error(`item create failed: ${res.status} ${await res.text()}`);
      return (await res.json()) as Item;
    },
    async buy(u, items, kind = "NORMAL", periodDays) {
      const res = await t.request("POST", "/orders", {
        token: u.tokens.accessToken,
        body: { kind, items, ...(periodDays ? { periodDays } : {}) },
      });
      if (res.status !== 201) throw new Error(`order failed: ${res.status} ${await res.text()}`);
      const order = (await res.json()) as Order;
      const paid = await pay(u, order.id);
      if (paid.status !== 200) throw new Error(`payment failed: ${paid.status} ${await paid.text()}`);
      return (await paid.json()) as Order;
    },
    pay,
    async close() {
      await shop.worker.stop();
      await t.app.stop(true);
      await t.close();
    },
  };
}

/** A payment as the sandbox PG's ledger shows it (its control route). */
export interface LedgerPayment {
  tid: string;
  kind: string;
  status: string;
  amount: number;
  cancelledAmount: number;
  sid: string | null;
}

/**
 * The sandbox PG's ledger for one partner order id, read over its control route (loopback is
 * internal, with the internal token): what the gateway charged, seen from outside, as the shop sees it.
 */
export async function ledger(app: ShopTestApp, partnerOrderId: string): Promise<LedgerPayment[]> {
  const res = await fetch(`${app.url}/sandbox-pg/control/payments?partnerOrderId=${encodeURIComponent(partnerOrderId)}`, {
    headers: app.internal,
  });
  expect(res.status).toBe(200);
  return (await res.json()) as LedgerPayment[];
}

/** Sets the sandbox's injected faults over its control route (loopback is internal, with the internal token). */
export async function faults(app: ShopTestApp, patch: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${app.url}/sandbox-pg/control`, {
    method: "PUT",
    headers: { "content-type": "application/json", ...app.internal },
    body: JSON.stringify(patch),
  });
  expect(res.status).toBe(200);
}

/** Today's UTC day plus `days`, on the real clock, or on `clock` when given. */
export function day(days = 0, clock?: Clock): string {
  return new Date((clock?.now() ?? Date.now()) + days * 86_400_000).toISOString().slice(0, 10);
}
