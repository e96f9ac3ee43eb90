// Internal-only routes (billing run, recurring charge): the caller's IP — resolved once per
// request by the platform (the socket peer, or X-Forwarded-For through HOMEBASE_TRUSTED_PROXIES)
// — must be in HOMEBASE_SHOP_INTERNAL_ALLOW, by default loopback and the WireGuard subnet.
// Anything else, or an unknown address, gets 403.
//
// The check runs before the body is parsed or validated (a stranger learns nothing about these
// routes: 403, never 400 or 422), in hooks local to the routes' own Elysia instance: no other
// route of the app runs it.
import { Elysia } from "elysia";
import { type ClientIpResolver, ipMatcher, type PeerSource } from "../../platform/http/client-ip";
import { shopErrors } from "./errors";
import { problem } from "./routes/http";

/** Whether a request comes from the internal network. */
export type InternalCheck = (request: Request, server: PeerSource | null | undefined) => boolean;


export function internalCheck(allowed: readonly string[], clientIp: ClientIpResolver): InternalCheck {
  const isAllowed = ipMatcher(allowed);
  return (request, server) => {
    const ip = clientIp(request, server);
    return ip !== null && isAllowed(ip);
  };
}

/**
 * An Elysia instance whose routes only internal callers reach. Its hooks are local: they run
 * for the routes declared on it, and for no other route of the app.
 */
export function internalInstance<const Prefix extends string>(name: string, prefix: Prefix, isInternal: InternalCheck) {
  const refused = new WeakSet<Request>();
  return (
    new Elysia({ name, prefix })
      // Parsing comes before every other hook: a stranger's body is not even read (a parse
      // hook that throws would answer 400, so it hands over an empty body instead) ...
      .onParse(({ request, server }) => {
        if (isInternal(request, server)) return;
        refused.add(request);
        return {};
      })
      // ... and the refusal comes before validation (and for bodiless requests, which skip parsing).
      .onTransform(({ request, server }) => {
        if (refused.has(request) || !isInternal(request, server)) {
          throw problem(shopErrors.internalOnly, "this endpoint is only reachable from the internal network");
        }
      })
  );
}
