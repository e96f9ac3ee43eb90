// The ops controller: the /ops page (a public shell holding no data) and its admin-only API
// under /ops/api: summary, history, the live stream (one-time ticket), dead letters, audit.
import { Elysia, t } from "elysia";
import { platformErrors as P } from "../../platform/http/errors";
import { problemResponses } from "../../platform/http/problem";
import { type AccountsService, adminFailures, authFailures, authPlugin } from "../accounts";
import type { OpsActions } from "./actions";
import { opsErrors } from "./errors";
import {
  AuditEntry,
  AuditQuery,
  DeadLetterPage,
  DeadLetterParams,
  DeadLetterQuery,
  History,
  RetryOutcome,
  StreamQuery,
  Summary,
  Ticket,
} from "./model";
import type { Sampler } from "./sampler";
import { type SummaryBuilder, wirePoint } from "./summary";
import pageHtmlImport from "./web/ops.html" with { type: "text" };
import pageJs from "./web/ops.js" with { type: "text" };
import chartsJs from "./web/charts.js" with { type: "text" };
import pageCss from "./web/ops.css" with { type: "text" };

const tags = ["operator"];
// What the platform answers before a handler runs (see accounts' routes).
const requestFailures = { 411: [P.lengthRequired], 413: [P.bodyTooLarge] } as const;
const bodyFailures = { ...requestFailures, 400: [P.malformedBody, P.bodyTooDeep] } as const;
const invalid = [P.validationFailed] as const;
const adminOnly = { 401: authFailures, 403: adminFailures } as const;

// bun-types declares *.html imports as HTML bundles; `type: "text"` makes it the file's text.
const pageHtml = pageHtmlImport as unknown as string;
const pageIcon = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1f7a4d"/><path d="M2 11l3-4 3 2 3-5 3 3" stroke="#fff" stroke-width="1.5" fill="none"/></svg>`;
const pageHeaders = {
  "cache-control": "no-cache",
  // Same-origin script, styles and connections only: no inline script, no eval, no other host.
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
};
const asset = (body: string, type: string) => () => new Response(body, { headers: { ...pageHeaders, "content-type": type } });

/** How long one live stream lasts; the page then asks for a new ticket (its access token is checked again). */
export const streamLifetimeMs = 60_000;

export function opsController(deps: {
  accounts: AccountsService;
  actions: OpsActions;
  summary: SummaryBuilder;
  sampler: Sampler;
  isDraining: () => boolean;
}) {
  const { accounts, actions, summary, sampler, isDraining } = deps;
  const encoder = new TextEncoder();

  function stream(): Response {
    let unsubscribe = () => {};
    let timer: ReturnType<typeof setTimeout> | null = null;
    let drainPoll: ReturnType<typeof setInterval> | null = null;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        let open = true;
        const end = () => {
          if (!open) return;
          open = false;
          unsubscribe();
          if (timer) clearTimeout(timer);
          if (drainPoll) clearInterval(drainPoll);
          try {
            controller.enqueue(encoder.encode("event: end\ndata: {}\n\n"));
            controller.close();
          } catch {
            // Already closed by the client.
          }
        };
        const send = async () => {
          const data = JSON.stringify(await summary.build());
          if (open) controller.enqueue(encoder.encode(`event: summary\ndata: ${data}\n\n`));
        };
        controller.enqueue(encoder.encode("retry: 2000\n\n"));
        void send().catch(end);
        unsubscribe = sampler.onSample((snapshot) => {
          void summary
            .fromSnapshot(snapshot)
            .then((s) => open && controller.enqueue(encoder.encode(`event: summary\ndata: ${JSON.stringify(s)}\n\n`)))
            .catch(end);
        });
        timer = setTimeout(end, streamLifetimeMs);
        // Shutdown waits for open requests: a draining instance ends its streams (the page reconnects to a sibling).
        drainPoll = setInterval(() => isDraining() && end(), 200);
      },
      cancel() {
        unsubscribe();
        if (timer) clearTimeout(timer);
        if (drainPoll) clearInterval(drainPoll);
      },
    });
    return new Response(body, { headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", "x-accel-buffering": "no" } });
  }

  return new Elysia({ name: "homebase.ops-page" })
    .use(authPlugin(accounts))
    .get("/ops", asset(pageHtml, "text/html; charset=utf-8"), { detail: { hide: true } })
    .get("/ops/app.js", asset(pageJs, "text/javascript; charset=utf-8"), { detail: { hide: true } })
    .get("/ops/charts.js", asset(chartsJs, "text/javascript; charset=utf-8"), { detail: { hide: true } })
    .get("/ops/app.css", asset(pageCss, "text/css; charset=utf-8"), { detail: { hide: true } })
    .get("/ops/icon.svg", asset(pageIcon, "image/svg+xml"), { detail: { hide: true } })
    .get("/ops/api/summary", () => summary.build(), {
      admin: true,
      response: { 200: Summary, ...problemResponses({ ...requestFailures, ...adminOnly }) },
      detail: {
        tags,
        summary: "Live figures of this instance (admin)",
        description:
          "Requests per second, p50/p99 and error rate per route (last 10 s), cache hit ratios, outbox backlog, relay lag, consumers' pending and redeliveries, dead letters, open sockets, circuit breakers, event-loop lag, RSS, CPU, SQLite and WAL size, the last backup, backends (configured, ready, the doctor's checks) and the instances on this data dir. Sampled every second from the process's own metrics.",
      },
    })
    .get("/ops/api/history", () => ({ intervalSeconds: 1, points: sampler.history().map(wirePoint) }), {
      admin: true,
      response: { 200: History, ...problemResponses({ ...requestFailures, ...adminOnly }) },
      detail: { tags, summary: "The last 10 minutes, one point per second (admin)", description: "What the page's charts start from." },
    })
    .post("/ops/api/stream-ticket", ({ principal, status }) => actions.issueTicket(principal).then((ticket) => status(201, ticket)), {
      admin: true,
      response: { 201: Ticket, ...problemResponses({ ...bodyFailures, ...adminOnly }) },
      detail: {
        tags,
        summary: "A one-time ticket for the live stream (admin)",
        description: "EventSource cannot send an Authorization header: pass the ticket as ?ticket= to GET /ops/api/stream within 30 s. It works once.",
      },
    })
    .get(
      "/ops/api/stream",
      async ({ query }) => {
        await actions.redeemTicket(query.ticket);
        return stream();
      },
      {
        query: StreamQuery,
        response: problemResponses({ ...requestFailures, 401: [opsErrors.invalidTicket], 422: invalid }),
        detail: {
          tags,
          summary: "The summary, pushed every second (Server-Sent Events)",
          description: `text/event-stream: \`summary\` events carry the same JSON as GET /ops/api/summary. Authenticated by a ticket from POST /ops/api/stream-ticket; the stream ends after ${streamLifetimeMs / 1000} s with an \`end\` event (get a new ticket).`,
          responses: { 200: { description: "An event stream", content: { "text/event-stream": { schema: { type: "string" } } } } },
        },
      },
    )
    .get("/ops/api/dead-letters", ({ query }) => actions.listDeadLetters(query.limit ?? 20, query.cursor), {
      admin: true,
      query: DeadLetterQuery,
      response: { 200: DeadLetterPage, ...problemResponses({ ...requestFailures, 400: [P.invalidCursor], ...adminOnly, 422: invalid }) },
      detail: { tags, summary: "Dead letters, newest first (admin)", description: "With their reason (the consumer's last error) and payload." },
    })
    .post("/ops/api/dead-letters/:consumer/:eventId/retry", ({ principal, params }) => actions.retry(principal, params.consumer, params.eventId), {
      admin: true,
      params: DeadLetterParams,
      response: {
        200: RetryOutcome,
        ...problemResponses({ ...bodyFailures, ...adminOnly, 404: [opsErrors.deadLetterNotFound], 409: [opsErrors.consumerNotRegistered], 422: invalid }),
      },
      detail: {
        tags,
        summary: "Retry a dead letter (admin, audited)",
        description:
          "Hands the event to its consumer once more (exactly once: the consumer's processed-event record is replaced). Handled: the dead letter is removed. Failed again: it stays, with the new error and one attempt more.",
      },
    })
    .delete(
      "/ops/api/dead-letters/:consumer/:eventId",
      async ({ principal, params, status }) => {
        await actions.discard(principal, params.consumer, params.eventId);
        return status(204, undefined);
      },
      {
        admin: true,
        params: DeadLetterParams,
        response: { 204: t.Void(), ...problemResponses({ ...requestFailures, ...adminOnly, 404: [opsErrors.deadLetterNotFound], 422: invalid }) },
        detail: { tags, summary: "Discard a dead letter (admin, audited)", description: "The event stays recorded as handled by that consumer: it is never retried." },
      },
    )
    .get("/ops/api/audit", async ({ query }) => ({ items: await actions.auditTrail(query.limit ?? 50) }), {
      admin: true,
      query: AuditQuery,
      response: { 200: t.Object({ items: t.Array(AuditEntry) }), ...problemResponses({ ...requestFailures, ...adminOnly, 422: invalid }) },
      detail: { tags, summary: "Retries and discards, newest first (admin)" },
    });
}
