// The client's IP address for rate limits and logs: the socket peer, or — only when that peer is
// a configured trusted proxy (HOMEBASE_TRUSTED_PROXIES) — the address the proxies recorded in
// X-Forwarded-For. Anyone can send that header, so it is believed only as far as trusted hops go:
// read right to left, skip the trusted proxies, and the first other address is the client.
//
//   const peers = new ServerPeers();
//   const ip = createClientIp(config.trustedProxies, peers.addressOf);
//   peers.attach(() => app.server);
//   app.get("/x", ({ request }) => ip(request))
//
// The server is attached once rather than taken from each handler's context: a handler (or hook)
// that reads Elysia's `server` makes every route of the app define that property per request.
import { BlockList, isIP } from "node:net";

/** A Bun server: it knows the socket peer of a request it received. */
export interface PeerSource {
  requestIP(request: Request): { address: string } | null;
}

/** The client's address, or null when no socket is known (app.handle in tests). */
export type ClientIpResolver = (request: Request) => string | null;

/** A request's socket peer, or null/undefined when it did not come over a socket. */
export type PeerAddress = (request: Request) => string | null | undefined;

/** The socket peers of the servers attached to it: createApp attaches its app's (there once it listens). */
export class ServerPeers {
  private readonly servers: Array<() => PeerSource | null | undefined> = [];

  attach(server: () => PeerSource | null | undefined): void {
    this.servers.push(server);
  }

  readonly addressOf: PeerAddress = (request) => {
    for (const server of this.servers) {
      const address = server()?.requestIP(request)?.address;
      if (address) return address;
    }
    return null;
  };
}

/** `::ffff:10.0.0.1` → `10.0.0.1`, so one client has one key however it arrived. */
export function normaliseIp(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return (mapped ? mapped[1]! : address).toLowerCase();
}

/**
 * Parses a comma-separated list of IP addresses and CIDR blocks (IPv4 or IPv6).
 * Throws an Error naming the first bad entry.
 */
export function parseTrustedProxies(raw: string): string[] {
  const entries = raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const entry of entries) {
    const [address = "", bits, extra] = entry.split("/");
    const family = isIP(address);
    const max = family === 4 ? 32 : 128;
    const ok =
      family !== 0 && extra === undefined && (bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= max));
    if (!ok) throw new Error(`"${entry}" is not an IP address or CIDR block`);
  }
  return entries;
}

function blockList(entries: string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = "", bits] = entry.split("/");
    const type = isIP(address) === 4 ? "ipv4" : "ipv6";
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(bits), type);
  }
  return list;
}

/**
 * Whether an address is in a list of IP addresses and CIDR blocks (already validated): for
 * trusted proxies, and for allowlists such as the internal routes' (HOMEBASE_SHOP_INTERNAL_ALLOW).
 */
export function ipMatcher(entries: readonly string[]): (ip: string) => boolean {
  const list = entries.length > 0 ? blockList([...entries]) : null;
  return (raw) => {
    const ip = normaliseIp(raw);
    const family = isIP(ip);
    return list !== null && family !== 0 && list.check(ip, family === 4 ? "ipv4" : "ipv6");
  };
}

/** Builds the resolver for a list of trusted proxies (addresses or CIDR blocks, already validated). */
export function createClientIp(trustedProxies: readonly string[], peerOf: PeerAddress): ClientIpResolver {
  const isTrusted = ipMatcher(trustedProxies);
  // Resolved once per request, whichever module asks (and however often).
  const resolved = new WeakMap<Request, string | null>();
  const resolve: ClientIpResolver = (request) => {
    const peer = peerOf(request);
    if (!peer) return null;
    const address = normaliseIp(peer);
    if (!isTrusted(address)) return address;
    const header = request.headers.get("x-forwarded-for");
    if (!header) return address;
    // Every hop appends the address it received the request from; the rightmost entries were
    // written by our own proxies, the leftmost by whoever sent the request (possibly forged).
    const hops = header.split(",").map((s) => normaliseIp(s.trim()));
    let client = address;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!;
      // A malformed entry means a proxy we trust wrote nonsense: stop at the last good address.
      if (isIP(hop) === 0) break;
      client = hop;
      if (!isTrusted(hop)) break;
    }
    return client;
  };
  return (request) => {
    const known = resolved.get(request);
    if (known !== undefined) return known;
    const ip = resolve(request);
    // No peer (app.handle in tests) is not remembered: the request may be re-run with a server.
    if (ip !== null) resolved.set(request, ip);
    return ip;
  };
}
