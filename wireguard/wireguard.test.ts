// The WireGuard setup, for real, in three network namespaces:
//   server (public veth "pub0" + WireGuard via wireguard-go, nftables.conf, homebase on the wg address)
//   internet (a router between the two, and the attacker next to the server)
//   peer (a laptop with the config gen-peer.sh wrote)
// First without the firewall (the probes see open ports, so they can fail), then with
// wireguard/nftables.conf loaded: from the internet nothing answers, through the tunnel SSH
// (a listener on 22), homebase and the monitoring ports do. Needs root (ip netns), nft, wg,
// wg-quick and wireguard-go (scripts/ensure-tools.ts installs them).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { homebaseCommand } from "../src/testing/process";
import type { Probe } from "./netprobe";

const here = import.meta.dir;
const root = resolve(here, "..");
const PATH = `${process.env.PATH ?? ""}:/usr/sbin:/sbin`;
const suffix = Math.random().toString(16).slice(2, 6);
const ns = { server: `hb-srv-${suffix}`, internet: `hb-net-${suffix}`, peer: `hb-peer-${suffix}` };
// wireguard-go's control socket is /var/run/wireguard/<name>.sock in every namespace: unique names.
const wgServer = `hbs${suffix}`;
const wgPeer = `hbp${suffix}`;
const serverPublic = "192.0.2.1";
const serverWg = "10.44.0.1";
const dir = mkdtempSync(join(tmpdir(), "homebase-wg-"));
const children: Subprocess[] = [];

function sh(cmd: string[], input?: string): string {
  const r = Bun.spawnSync(cmd, { env: { ...process.env, PATH }, stdin: input === undefined ? "ignore" : new TextEncoder().encode(input), stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`\`${cmd.join(" ")}\` failed (exit ${r.exitCode}): ${r.stderr.toString()}${r.stdout.toString()}`);
  return r.stdout.toString();
}
const inNs = (name: string, cmd: string[]) => ["ip", "netns", "exec", name, ...cmd];
const netprobe = (name: string, ...args: string[]) => inNs(name, [process.execPath, join(here, "netprobe.ts"), ...args]);

async function probe(from: string, probes: Probe[]): Promise<(string | number)[]> {
  const proc = Bun.spawn(netprobe(from, "probe", JSON.stringify(probes)), { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`probe from ${from} failed (${code}): ${err}`);
  return JSON.parse(out);
}

/** The policy with the test's interface names in its `define`s. */
function policyFor(publicIf: string, wgIf: string): string {
  let text = readFileSync(join(here, "nftables.conf"), "utf8");
  for (const [name, value] of [["PUBLIC_IF", publicIf], ["WG_IF", wgIf]]) {
    const re = new RegExp(`^define ${name} = .*$`, "m");
    if (!re.test(text)) throw new Error(`nftables.conf has no "define ${name} = ..." line`);
    text = text.replace(re, `define ${name} = "${value}"`);
  }
  return text;
}

function genPeer(args: string[]): { code: number; out: string } {
  const r = Bun.spawnSync([join(here, "gen-peer.sh"), ...args], { env: { ...process.env, PATH }, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
}

/** [Interface] and [Peer] values of a WireGuard config, keys lower-cased. */
function parseConf(text: string): { iface: Record<string, string>; peers: Record<string, string>[] } {
  const iface: Record<string, string> = {};
  const peers: Record<string, string>[] = [];
  let current: Record<string, string> | null = null;
  for (const line of text.split("\n")) {
    const l = line.trim();
    if (l === "[Interface]") current = iface;
    else if (l === "[Peer]") peers.push((current = {}));
    else if (current && /^\w+\s*=/.test(l)) {
      const eq = l.indexOf("=");
      current[l.slice(0, eq).trim().toLowerCase()] = l.slice(eq + 1).trim();
    }
  }
  return { iface, peers };
}
const pubkey = (privateKey: string) => sh(["wg", "pubkey"], privateKey + "\n").trim();

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error("wireguard.test.ts needs root (network namespaces, nftables)");
  for (const tool of ["ip", "nft", "wg", "wg-quick", "wireguard-go"]) {
    if (!Bun.which(tool, { PATH })) throw new Error(`${tool} not found: run \`bun scripts/ensure-tools.ts\` (Debian: iproute2 nftables wireguard-tools wireguard-go)`);
  }
  for (const name of Object.values(ns)) sh(["ip", "netns", "add", name]);
  // server pub0 — internet — peer eth0; the internet namespace routes between the two.
  sh(["ip", "link", "add", "pub0", "netns", ns.server, "type", "veth", "peer", "name", "to-srv", "netns", ns.internet]);
  sh(["ip", "link", "add", "eth0", "netns", ns.peer, "type", "veth", "peer", "name", "to-peer", "netns", ns.internet]);
  const ipIn = (name: string, ...args: string[]) => sh(["ip", "-n", name, ...args]);
  for (const name of Object.values(ns)) ipIn(name, "link", "set", "lo", "up");
  ipIn(ns.server, "addr", "add", `${serverPublic}/24`, "dev", "pub0");
  ipIn(ns.server, "link", "set", "pub0", "up");
  ipIn(ns.server, "route", "add", "default", "via", "192.0.2.254");
  ipIn(ns.internet, "addr", "add", "192.0.2.254/24", "dev", "to-srv");
  ipIn(ns.internet, "addr", "add", "198.51.100.254/24", "dev", "to-peer");
  ipIn(ns.internet, "link", "set", "to-srv", "up");
  ipIn(ns.internet, "link", "set", "to-peer", "up");
  sh(inNs(ns.internet, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]));
  // The attacker's shortcut: the server's wg0 address routed over the public link.
  ipIn(ns.internet, "route", "add", "10.44.0.0/24", "via", serverPublic);
  ipIn(ns.peer, "addr", "add", "198.51.100.2/24", "dev", "eth0");
  ipIn(ns.peer, "link", "set", "eth0", "up");
  ipIn(ns.peer, "route", "add", "default", "via", "198.51.100.254");

  // Server and peer configs from gen-peer.sh; wg-quick names the interface after the file.
  const made = genPeer(["-c", join(dir, `${wgServer}.conf`), "-o", join(dir, "peers"), "-e", serverPublic, "laptop"]);
  if (made.code !== 0) throw new Error(`gen-peer.sh failed: ${made.out}`);
  copyFileSync(join(dir, "peers/laptop.conf"), join(dir, `${wgPeer}.conf`));
  chmodSync(join(dir, `${wgPeer}.conf`), 0o600);
  sh(inNs(ns.server, ["wg-quick", "up", join(dir, `${wgServer}.conf`)]));

  // Listeners on every address of the server: SSH's port, monitoring, a port nobody may reach,
  // and a UDP echo. homebase itself binds the wg address only (HOMEBASE_HOST).
  const listeners = Bun.spawn(netprobe(ns.server, "listen", JSON.stringify({ tcp: [22, 9100, 8080], udp: [5353] })), { stdout: "pipe", stderr: "inherit" });
  children.push(listeners);
  const reader = listeners.stdout.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  if (!first.includes("ready")) throw new Error(`listeners did not start: ${first}`);
  const homebase = Bun.spawn(inNs(ns.server, homebaseCommand(["serve"])), {
    cwd: root,
    env: { PATH, HOME: dir, HOMEBASE_HOST: serverWg, HOMEBASE_PORT: "3000", HOMEBASE_DATA_DIR: join(dir, "data"), HOMEBASE_LOG_LEVEL: "warn" },
    stdout: "ignore",
    stderr: "inherit",
  });
  children.push(homebase);
  sh(netprobe(ns.server, "wait-http", `http://${serverWg}:3000/health/ready`, "200", "20000"));
}, 40_000);

afterAll(() => {
  for (const child of children) child.kill();
  const run = (cmd: string[]) => Bun.spawnSync(cmd, { env: { ...process.env, PATH }, stdout: "ignore", stderr: "ignore" });
  // wireguard-go exits when its interface is deleted, but not when its namespace goes away:
  // delete the interfaces first.
  run(["ip", "-n", ns.server, "link", "del", wgServer]);
  run(["ip", "-n", ns.peer, "link", "del", wgPeer]);
  for (const name of Object.values(ns)) run(["ip", "netns", "del", name]);
  rmSync(dir, { recursive: true, force: true });
});

describe("WireGuard and the nftables policy (network namespaces)", () => {
  const fromInternet: Probe[] = [
    { kind: "tcp", host: serverPublic, port: 22 },
    { kind: "tcp", host: serverPublic, port: 8080 },
    { kind: "tcp", host: serverPublic, port: 9100 },
    { kind: "tcp", host: serverPublic, port: 3000 },
    { kind: "udp", host: serverPublic, port: 5353 },
    { kind: "http", url: `http://${serverWg}:3000/health/live` },
  ];

  test("without the firewall the public side reaches every listener, even homebase's wg address", async () => {
    expect(await probe(ns.internet, fromInternet)).toEqual([
      "open",
      "open",
      "open",
      "refused", // homebase binds the wg address (HOMEBASE_HOST), not the public one…
      "reply",
      200, // …but Linux accepts a packet for that address on any interface
    ]);
  });

  test("with nftables.conf loaded, nothing answers from the internet", async () => {
    const policy = policyFor("pub0", wgServer);
    sh(inNs(ns.server, ["nft", "-c", "-f", "-"]), policy);
    sh(inNs(ns.server, ["nft", "-f", "-"]), policy);
    // Loading twice replaces the table instead of failing or duplicating rules.
    sh(inNs(ns.server, ["nft", "-f", "-"]), policy);
    expect(sh(inNs(ns.server, ["nft", "list", "tables"])).trim()).toBe("table inet homebase");
    // Dropped, not refused: a scanner learns nothing.
    expect(await probe(ns.internet, fromInternet)).toEqual(["timeout", "timeout", "timeout", "timeout", "timeout", "timeout"]);
  });

  test("a peer from gen-peer.sh connects over UDP 51820 and reaches SSH, homebase and monitoring only", async () => {
    sh(inNs(ns.peer, ["wg-quick", "up", join(dir, `${wgPeer}.conf`)]));
    const results = await probe(ns.peer, [
      { kind: "http", url: `http://${serverWg}:3000/health/ready` },
      { kind: "http", url: `http://${serverWg}:3000/metrics` },
      { kind: "tcp", host: serverWg, port: 22 },
      { kind: "tcp", host: serverWg, port: 9100 },
      { kind: "tcp", host: serverWg, port: 8080 },
      { kind: "tcp", host: serverPublic, port: 22 }, // the same laptop, outside the tunnel
    ]);
    expect(results).toEqual([200, 200, "open", "open", "timeout", "timeout"]);
    // The handshake went through the policy (the tunnel came up after it was loaded).
    const handshakes = sh(inNs(ns.server, ["wg", "show", wgServer, "latest-handshakes"])).trim().split(/\s+/);
    expect(Number(handshakes[1])).toBeGreaterThan(0);
  });

  test("the example configs are valid WireGuard configs once their keys are filled in", () => {
    // In the peer namespace: the server's interface holds UDP 51820 in the server's.
    const iface = `hbx${suffix}`;
    sh(inNs(ns.peer, ["wireguard-go", iface]));
    try {
      for (const file of ["wg0.conf.example", "peer.conf.example"]) {
        // Fill each "<…>" placeholder with a key of the right kind.
        const filled = readFileSync(join(here, file), "utf8").replace(/^(\w+) = <[^>\n]+>$/gm, (_, key: string) => {
          if (key === "PrivateKey") return `${key} = ${sh(["wg", "genkey"]).trim()}`;
          if (key === "PublicKey") return `${key} = ${pubkey(sh(["wg", "genkey"]).trim())}`;
          if (key === "PresharedKey") return `${key} = ${sh(["wg", "genpsk"]).trim()}`;
          throw new Error(`${file}: unexpected placeholder for ${key}`);
        });
        expect(filled).not.toMatch(/^[^#\n]*</m); // every placeholder outside comments was filled
        // wg would try to resolve the example's host name for a while: give it an address.
        const resolvable = filled.replace(/^Endpoint = [^:\n]+:/m, `Endpoint = ${serverPublic}:`);
        const path = join(dir, file.replace(".example", ""));
        writeFileSync(path, resolvable, { mode: 0o600 });
        const stripped = sh(["wg-quick", "strip", path]);
        expect(stripped).not.toMatch(/^(Address|DNS|MTU|Table|PreUp|PostUp|PreDown|PostDown|SaveConfig)\s*=/m);
        sh(inNs(ns.peer, ["wg", "setconf", iface, "/dev/stdin"]), stripped);
        const shown = parseConf(sh(inNs(ns.peer, ["wg", "showconf", iface])));
        const wanted = parseConf(filled);
        expect(shown.iface.privatekey).toBe(wanted.iface.privatekey!);
        expect(shown.iface.listenport).toBe(wanted.iface.listenport ?? shown.iface.listenport!);
        expect(shown.peers.map((p) => [p.publickey, p.allowedips, p.presharedkey])).toEqual(
          wanted.peers.map((p) => [p.publickey, p.allowedips, p.presharedkey]),
        );
      }
    } finally {
      sh(inNs(ns.peer, ["ip", "link", "del", iface]));
    }
  });
});

describe("gen-peer.sh", () => {
  test("allocates the next free address, keeps keys consistent and private, refuses clashes", () => {
    const conf = join(dir, "gp/wg0.conf");
    const out = join(dir, "gp/peers");
    const base = ["-c", conf, "-o", out, "-e", "home.example.net"];
    expect(genPeer([...base, "laptop"]).code).toBe(0);
    expect(genPeer([...base.slice(0, -1), "home.example.net:443", "phone"]).code).toBe(0);
    const server = parseConf(readFileSync(conf, "utf8"));
    const laptop = parseConf(readFileSync(join(out, "laptop.conf"), "utf8"));
    const phone = parseConf(readFileSync(join(out, "phone.conf"), "utf8"));
    expect(server.iface.address).toBe("10.44.0.1/24");
    expect(server.iface.listenport).toBe("51820");
    expect(server.peers.map((p) => p.allowedips)).toEqual(["10.44.0.2/32", "10.44.0.3/32"]);
    expect([laptop.iface.address, phone.iface.address]).toEqual(["10.44.0.2/32", "10.44.0.3/32"]);
    expect([laptop.peers[0]!.endpoint, phone.peers[0]!.endpoint]).toEqual(["home.example.net:51820", "home.example.net:443"]);
    for (const [i, peer] of [laptop, phone].entries()) {
      expect(server.peers[i]!.publickey).toBe(pubkey(peer.iface.privatekey!));
      expect(peer.peers[0]!.publickey).toBe(pubkey(server.iface.privatekey!));
      expect(peer.peers[0]!.presharedkey).toBe(server.peers[i]!.presharedkey!);
      expect(peer.peers[0]!.allowedips).toBe("10.44.0.1/32");
    }
    expect(laptop.peers[0]!.presharedkey).not.toBe(phone.peers[0]!.presharedkey);
    for (const file of [conf, join(out, "laptop.conf"), join(out, "phone.conf")]) expect(statSync(file).mode & 0o777).toBe(0o600);

    const refused = (args: string[], message: string) => {
      const r = genPeer([...base, ...args]);
      expect(r.out).toContain(message);
      expect(r.code).not.toBe(0);
    };
    refused(["laptop"], 'a peer named "laptop" is already');
    refused(["-a", "10.44.0.3", "tablet"], "already taken");
    refused(["-a", "10.45.0.3", "tablet"], "is not a host address of 10.44.0.1/24");
    refused(["-a", "10.44.0.255", "tablet"], "is not a host address");
    refused(["../evil"], "use 1-32 of");
    expect(genPeer(["-c", conf, "-o", out, "tablet"]).out).toContain("-e ENDPOINT is required");
    // Nothing was appended by the refused calls.
    expect(parseConf(readFileSync(conf, "utf8")).peers).toHaveLength(2);
    expect(existsSync(join(out, "tablet.conf"))).toBe(false);
  });
});
