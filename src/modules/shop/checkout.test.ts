// The buyer's browser through a payment: starting it twice keeps the first checkout approvable,
// and the gateway's return URLs (approved, cancelled, failed) send the browser (303) to a page
// that says what happened — while an API client asking for JSON still gets JSON. Both modes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ManualClock } from "../../platform/clock";
import { modes } from "../../testing/modes";
import type { Order, PaymentReady } from "./model";
import { resultPageCsp } from "./routes/payment-pages";
import { expectProblem, faults, ledger, startShop, type ShopTestApp, type User } from "./testing";

const browser = { accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" };
const apiClient = { accept: "application/json" };

describe.each(modes)("the buyer's browser through a payment (%s)", (mode) => {
  let app: ShopTestApp;
  let buyer: User;
  const clock = new ManualClock(Date.now());

  beforeAll(async () => {
    app = await startShop(mode, { HOMEBASE_SHOP_UNPAID_ORDERS_MAX: "0" }, { clock });
    buyer = await app.user();
  });
  afterAll(() => app.close());

  /** The buyer's access token, logged in again once the clock moved past its life. */
  let session = { token: "", at: Number.NEGATIVE_INFINITY };
  const token = async () => {
    if (clock.now() - session.at < 300_000) return session.token;
    const res = await app.t.request("POST", "/auth/login", { body: { email: buyer.email, password: buyer.password } });
    expect(res.status).toBe(200);
    session = { token: ((await res.json()) as { accessToken: string }).accessToken, at: clock.now() };
    return session.token;
  };
  const order = async (): Promise<Order> => {
    const item = await app.item({ stock: 100 });
    const res = await app.t.request("POST", "/orders", {
      token: await token(),
      body: { kind: "NORMAL", items: [{ itemId: item.id, quantity: 1 }] },
    });
    expect(res.status).toBe(201);
    return (await res.json()) as Order;
  };
  const start = async (id: string): Promise<PaymentReady> => {
    const res = await app.t.request("POST", `/orders/${id}/payment`, { token: await token() });
    expect(res.status).toBe(201);
    return (await res.json()) as PaymentReady;
  };
  const view = async (id: string): Promise<Order> =>
    (await (await app.t.request("GET", `/orders/${id}`, { token: await token() })).json()) as Order;
  /** The buyer at the sandbox's checkout page: where it sends the browser (on the shop's URL). */
  const atGateway = async (redirectUrl: string, action: "approve" | "cancel" | "fail" = "approve"): Promise<string> => {
    const res = await fetch(`${redirectUrl}?action=${action}`, { redirect: "manual" });
    expect(res.status).toBe(302);
    return res.headers.get("location")!;
  };
  /** The browser follows a return URL: the shop's 303 and where it points. */
  const follow = async (url: string, headers: Record<string, string> = browser) => {
    const res = await fetch(url, { headers, redirect: "manual" });
    return { res, location: res.headers.get("location") };
  };
  const page = async (location: string) => {
    const res = await fetch(location, { headers: browser });
    expect(res.status).toBe(200);
    return { res, html: await res.text() };
  };

  test("starting the payment twice answers the same checkout: the buyer's approval of it completes the order", async () => {
    const o = await order();
    const first = await start(o.id);
    const second = await start(o.id);
    expect(first.resumed).toBe(false);
    expect(second).toEqual({ ...first, resumed: true });
    // The gateway was asked once: one payment, still waiting for the buyer.
    expect((await ledger(app, o.id)).map((p) => p.status)).toEqual(["READY"]);

    // The buyer approves the checkout of the first start (a tab opened before the second one).
    const back = await atGateway(first.redirectUrl);
    expect(back).toStartWith(`${app.url}/orders/${o.id}/payment/approved?pg_token=`);
    const { res, location } = await follow(back);
    expect(res.status).toBe(303);
    expect(location).toBe(`${app.url}/orders/${o.id}/payment/result?outcome=paid`);
    expect(await res.text()).toBe("");
    expect((await view(o.id)).status).toBe("COMPLETE");
    expect((await ledger(app, o.id)).map((p) => p.status)).toEqual(["APPROVED"]);

    const { res: shown, html } = await page(location!);
    expect(shown.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(shown.headers.get("content-security-policy")).toBe(resultPageCsp);
    expect(resultPageCsp).toStartWith("default-src 'none'; style-src 'sha256-");
    expect(html).toContain("<h1>Payment complete</h1>");
    expect(html).toContain(o.id);
    expect(html).not.toContain("<script");
    // Paid: starting again is refused, nothing new at the gateway.
    await expectProblem(await app.t.request("POST", `/orders/${o.id}/payment`, { token: await token() }), 409, "order_not_payable");
  });

  test("cancelled at the gateway: the browser is told so; the next start opens a new checkout, and a forged cancel ends nothing", async () => {
    const o = await order();
    const first = await start(o.id);
    const back = await atGateway(first.redirectUrl, "cancel");
    expect(back).toStartWith(`${app.url}/orders/${o.id}/payment/cancelled?checkout=`);
    const { res, location } = await follow(back);
    expect(res.status).toBe(303);
    expect(location).toBe(`${app.url}/orders/${o.id}/payment/result?outcome=cancelled`);
    expect((await page(location!)).html).toContain("<h1>Payment cancelled</h1>");
    expect((await view(o.id)).status).toBe("REQUEST");

    const second = await start(o.id);
    expect(second.resumed).toBe(false);
    expect(second.tid).not.toBe(first.tid);
    // The first checkout's cancel URL again, or a made-up reference: the open checkout stays.
    expect((await follow(back)).res.status).toBe(303);
    expect((await follow(`${app.url}/orders/${o.id}/payment/cancelled?checkout=forged`)).res.status).toBe(303);
    expect((await follow(`${app.url}/orders/${o.id}/payment/failed`)).res.status).toBe(303);
    expect(await start(o.id)).toEqual({ ...second, resumed: true });
    // And it is still the one the buyer can approve.
    const approved = await follow(await atGateway(second.redirectUrl));
    expect(approved.location).toEndWith("outcome=paid");
    expect((await view(o.id)).status).toBe("COMPLETE");
  });

  test("failed at the gateway: the browser is told so, and the next start opens a new checkout", async () => {
    const o = await order();
    const first = await start(o.id);
    const { res, location } = await follow(await atGateway(first.redirectUrl, "fail"));
    expect(res.status).toBe(303);
    expect(location).toBe(`${app.url}/orders/${o.id}/payment/result?outcome=failed`);
    expect((await page(location!)).html).toContain("<h1>Payment failed</h1>");
    const second = await start(o.id);
    expect(second.resumed).toBe(false);
    expect(second.tid).not.toBe(first.tid);
  });

  test("declined: the browser is told so, and the next start opens a new checkout", async () => {
    const o = await order();
    const first = await start(o.id);
    const back = await atGateway(first.redirectUrl);
    await faults(app, { declineUsers: [buyer.user.id] });
    try {
      const { location } = await follow(back);
      expect(location).toBe(`${app.url}/orders/${o.id}/payment/result?outcome=declined`);
      expect((await page(location!)).html).toContain("<h1>Payment declined</h1>");
    } finally {
      await faults(app, { declineUsers: [] });
    }
    expect((await view(o.id)).status).toBe("REQUEST");
    expect((await start(o.id)).resumed).toBe(false);
  });

  test("the gateway down at approval: the page keeps the approval and offers to confirm it again; that completes the order", async () => {
    const o = await order();
    const back = await atGateway((await start(o.id)).redirectUrl);
    const pgToken = new URL(back).searchParams.get("pg_token")!;
    await faults(app, { errorPct: 100 });
    let location: string | null;
    try {
      ({ location } = await follow(back));
    } finally {
      await faults(app, { errorPct: 0 });
    }
    const result = new URL(location!);
    expect([result.searchParams.get("outcome"), result.searchParams.get("pg_token")]).toEqual(["unavailable", pgToken]);
    const { res, html } = await page(location!);
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(html).toContain("<h1>Payment not confirmed yet</h1>");
    const retry = /<a href="([^"]+)">Confirm the payment again<\/a>/.exec(html)![1]!.replaceAll("&amp;", "&");
    expect(retry).toBe(`${app.url}/orders/${o.id}/payment/approved?pg_token=${pgToken}`);
    expect((await follow(retry)).location).toEndWith("outcome=paid");
    expect((await view(o.id)).status).toBe("COMPLETE");
  });

  test("an API client asking for JSON gets JSON: the paid order's status, or the problem (409 payment_cancelled / payment_failed)", async () => {
    const o = await order();
    const first = await start(o.id);
    const cancelled = await follow(await atGateway(first.redirectUrl, "cancel"), apiClient);
    await expectProblem(cancelled.res, 409, "payment_cancelled");
    const second = await start(o.id);
    expect(second.resumed).toBe(false);
    await expectProblem((await follow(`${app.url}/orders/${o.id}/payment/failed`, apiClient)).res, 409, "payment_failed");
    const approved = await follow(await atGateway(second.redirectUrl), apiClient);
    expect(approved.res.status).toBe(200);
    expect(approved.res.headers.get("content-type")).toContain("application/json");
    expect(await approved.res.json()).toMatchObject({ orderId: o.id, status: "COMPLETE" });
    // A bad pg_token from an API client: the gateway's refusal as a problem; from a browser: the page.
    const other = await order();
    await start(other.id);
    await expectProblem(
      (await follow(`${app.url}/orders/${other.id}/payment/approved?pg_token=wrong`, apiClient)).res,
      409,
      "payment_rejected",
    );
    expect((await follow(`${app.url}/orders/${other.id}/payment/approved?pg_token=wrong`)).location).toEndWith("outcome=failed");
    expect((await follow(`${app.url}/orders/${Bun.randomUUIDv7()}/payment/approved?pg_token=x`)).location).toEndWith("outcome=not_found");
  });

  test("a checkout older than 15 minutes is not answered again: the next start opens a new one", async () => {
    const o = await order();
    const first = await start(o.id);
    clock.advance(14 * 60_000);
    expect(await start(o.id)).toEqual({ ...first, resumed: true });
    clock.advance(60_001);
    const second = await start(o.id);
    expect(second.resumed).toBe(false);
    expect(second.tid).not.toBe(first.tid);
  });

  test("the result page says only what its outcome says, and refuses an unknown one", async () => {
    const id = Bun.randomUUIDv7();
    for (const [outcome, title] of [
      ["not_payable", "This order can no longer be paid"],
      ["processing", "Payment being confirmed"],
    ] as const) {
      const { html } = await page(`${app.url}/orders/${id}/payment/result?outcome=${outcome}`);
      expect(html).toContain(`<h1>${title}</h1>`);
      expect(html).not.toContain("Confirm the payment again");
    }
    await expectProblem(await fetch(`${app.url}/orders/${id}/payment/result?outcome=hacked`), 422, "validation_failed");
  });
});
