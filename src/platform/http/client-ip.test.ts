import { describe, expect, test } from "bun:test";
import { ConfigError, loadConfig as loadWith } from "../config";

// The platform's own variables: no modules listed.
const loadConfig = (env: Record<string, string>) => loadWith(env, []);
import { createClientIp, normaliseIp, parseTrustedProxies, ServerPeers } from "./client-ip";

const peers = new WeakMap<Request, string | null>();
const peerOf = (request: Request) => peers.get(request);

/** A request as a server sees it: a socket peer and maybe an X-Forwarded-For header. */
function seen(peer: string | null, forwardedFor?: string): Request {
  const request = new Request("http://localhost.test/", forwardedFor === undefined ? {} : { headers: { "x-forwarded-for": forwardedFor } });
  peers.set(request, peer);
  return request;
}

describe("client IP", () => {
  test("trusted proxy lists: addresses and CIDR blocks, IPv4 and IPv6; anything else is refused", () => {
    expect(parseTrustedProxies("")).toEqual([]);
    expect(parseTrustedProxies(" 10.0.0.1 , 10.44.0.0/24,::1,fd00::/8 ")).toEqual(["10.0.0.1", "10.44.0.0/24", "::1", "fd00::/8"]);
    for (const bad of ["10.0.0", "10.0.0.1/33", "::1/129", "proxy.local", "10.0.0.1/8/8", "10.0.0.1/x", "*"]) {
      expect(() => parseTrustedProxies(bad)).toThrow(bad);
    }
  });

  test("HOMEBASE_TRUSTED_PROXIES is validated at start", () => {
    const dir = `/tmp/homebase-client-ip-${process.pid}`;
    expect(loadConfig({ HOMEBASE_DATA_DIR: dir }).trustedProxies).toEqual([]);
    expect(loadConfig({ HOMEBASE_DATA_DIR: dir, HOMEBASE_TRUSTED_PROXIES: "10.44.0.1,10.0.0.0/8" }).trustedProxies).toEqual(["10.44.0.1", "10.0.0.0/8"]);
    expect(() => loadConfig({ HOMEBASE_DATA_DIR: dir, HOMEBASE_TRUSTED_PROXIES: "10.0.0.0/40" })).toThrow(ConfigError);
    expect(() => loadConfig({ HOMEBASE_DATA_DIR: dir, HOMEBASE_TRUSTED_PROXIES: "10.0.0.0/40" })).toThrow("HOMEBASE_TRUSTED_PROXIES");
  });

  test("IPv4-mapped IPv6 peers count as their IPv4 address", () => {
    expect(normaliseIp("::ffff:192.0.2.1")).toBe("192.0.2.1");
    expect(normaliseIp("::FFFF:192.0.2.1")).toBe("192.0.2.1");
    expect(normaliseIp("2001:DB8::1")).toBe("2001:db8::1");
    expect(normaliseIp("192.0.2.1")).toBe("192.0.2.1");
  });

  test("without trusted proxies the socket peer is the client, whatever the headers say", () => {
    const ip = createClientIp([], peerOf);
    expect(ip(seen("192.0.2.10", "203.0.113.5"))).toBe("192.0.2.10");
    expect(ip(seen("::ffff:192.0.2.10"))).toBe("192.0.2.10");
    // No socket (app.handle in tests): unknown, never a header's claim.
    expect(ip(seen(null, "203.0.113.5"))).toBeNull();
    expect(ip(new Request("http://localhost.test/"))).toBeNull();
  });

  test("behind trusted proxies: the rightmost address that is not a trusted proxy", () => {
    const ip = createClientIp(["10.44.0.0/24", "::1"], peerOf);
    // A peer that is not a trusted proxy can't choose its address.
    expect(ip(seen("192.0.2.10", "203.0.113.5"))).toBe("192.0.2.10");
    // One proxy in front.
    expect(ip(seen("10.44.0.2", "203.0.113.5"))).toBe("203.0.113.5");
    expect(ip(seen("::1", "2001:db8::7"))).toBe("2001:db8::7");
    // The client forged entries to the left; the proxy appended the real peer.
    expect(ip(seen("10.44.0.2", "1.2.3.4, 5.6.7.8, 203.0.113.5"))).toBe("203.0.113.5");
    // Two trusted hops.
    expect(ip(seen("10.44.0.2", "203.0.113.5, 10.44.0.3"))).toBe("203.0.113.5");
    expect(ip(seen("::ffff:10.44.0.2", "203.0.113.5,::ffff:10.44.0.3"))).toBe("203.0.113.5");
    // Only trusted hops: the leftmost of them.
    expect(ip(seen("10.44.0.2", "10.44.0.9, 10.44.0.3"))).toBe("10.44.0.9");
    // No header: the proxy itself (e.g. its health check).
    expect(ip(seen("10.44.0.2"))).toBe("10.44.0.2");
    // A malformed hop stops the walk at the last address a trusted proxy vouched for.
    expect(ip(seen("10.44.0.2", "203.0.113.5, garbage"))).toBe("10.44.0.2");
    expect(ip(seen("10.44.0.2", "garbage, 203.0.113.5"))).toBe("203.0.113.5");
  });

  test("over a real socket: the peer as the attached server saw it, unknown before one is attached", async () => {
    const servers = new ServerPeers();
    const ip = createClientIp(["127.0.0.1", "::1"], servers.addressOf);
    const untrusting = createClientIp([], servers.addressOf);
    let attached = false;
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (req) => Response.json({ trusted: ip(req), untrusted: untrusting(req) }),
    });
    try {
      const get = async (headers: Record<string, string> = {}) => (await fetch(server.url, { headers })).json();
      expect(await get()).toEqual({ trusted: null, untrusted: null });
      servers.attach(() => (attached ? server : null));
      expect(await get()).toEqual({ trusted: null, untrusted: null });
      attached = true;
      expect(await get()).toEqual({ trusted: "127.0.0.1", untrusted: "127.0.0.1" });
      expect(await get({ "x-forwarded-for": "203.0.113.5" })).toEqual({ trusted: "203.0.113.5", untrusted: "127.0.0.1" });
    } finally {
      await server.stop(true);
    }
  });
});
