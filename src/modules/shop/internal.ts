// Internal-only routes (billing run, recurring charge, the sandbox's control panel): the
// caller's IP (the socket peer, or X-Forwarded-For through trusted proxies; see
// platform/http/client-ip.ts) must be in HOMEBASE_SHOP_INTERNAL_ALLOW — by default loopback
// and the WireGuard subnet. Anything else, or an unknown address, gets 403.
import { BlockList, isIP } from "node:net";
import { createClientIp, normaliseIp, type PeerSource } from "../../platform/http/client-ip";
import { problems } from "../../platform/http/problem";

export type InternalGuard = (request: Request, server: PeerSource | null | undefined) => void;

export function allowList(entries: readonly string[]): (ip: string) => boolean {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = "", bits] = entry.split("/");
    const type = isIP(address) === 4 ? "ipv4" : "ipv6";
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(bits), type);
  }
  return (raw) => {
    const ip = normaliseIp(raw);
    const family = isIP(ip);
    return family !== 0 && list.check(ip, family === 4 ? "ipv4" : "ipv6");
  };
}

export function internalGuard(allowed: readonly string[], trustedProxies: readonly string[]): InternalGuard {
  const isAllowed = allowList(allowed);
  const clientIp = createClientIp(trustedProxies);
  return (request, server) => {
    const ip = clientIp(request, server);
    if (ip === null || !isAllowed(ip)) {
      throw problems.forbidden("internal_only", "this endpoint is only reachable from the internal network");
    }
  };
}
