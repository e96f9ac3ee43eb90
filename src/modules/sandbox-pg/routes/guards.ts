// The sandbox PG's two guards, as Elysia instances whose hooks are local: they run for the
// routes declared on that instance and for no other route of the app. Both refuse before the
// body is parsed or validated (a parse hook that threw would answer 400, so a refused request
// gets an empty body and the transform hook, which runs before validation, answers).
import { Elysia } from "elysia";
import { type ClientIpResolver, ipMatcher } from "../../../platform/http/client-ip";
import { HttpProblem } from "../../../platform/http/problem";
import { sandboxPgErrors } from "../errors";

/** Routes for callers that send `Authorization: SECRET_KEY <key>`, like KakaoPay's; others get `refusal`, a 401 in the face's own shape. */
export function keyedInstance(name: string, prefix: string, secretKey: string, refusal: Record<string, unknown>) {
  const expected = `SECRET_KEY ${secretKey}`;
  const authorized = (request: Request) => request.headers.get("authorization")?.trim() === expected;
  const refused = new WeakSet<Request>();
  return (
    new Elysia({ name, prefix })
      .onParse(({ request }) => {
        if (authorized(request)) return;
        refused.add(request);
        return {};
      })
      // derive runs in the transform stage too, and may answer instead of passing on.
      .derive(({ request, status }) => {
        if (refused.has(request) || !authorized(request)) return status(401, refusal);
      })
  );
}


/** Routes for the internal network only (the client IP as the platform resolves it, in `allowed`); others get 403 problem+json. */
export function internalInstance<const Prefix extends string>(
  name: string,
  prefix: Prefix,
  allowed: readonly string[],
  clientIp: ClientIpResolver,
) {
  const isAllowed = ipMatcher(allowed);
  const refused = new WeakSet<Request>();
  const internal = (request: Request, server: Parameters<ClientIpResolver>[1]) => {
    const ip = clientIp(request, server);
    return ip !== null && isAllowed(ip);
  };
  return new Elysia({ name, prefix })
    .onParse(({ request, server }) => {
      if (internal(request, server)) return;
      refused.add(request);
      return {};
    })
    .onTransform(({ request, server }) => {
      if (refused.has(request) || !internal(request, server)) {
        throw new HttpProblem(403, sandboxPgErrors.internalOnly, "this endpoint is only reachable from the internal network");
      }
    });
}
