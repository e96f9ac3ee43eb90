// The monitoring and backend configs in deploy/: Prometheus accepts them (promtool check), the
// alerts fire when they should (promtool test rules), every dashboard query is valid PromQL,
// every homebase_/process_ metric they use is exported by the app (GET /metrics on a real app),
// and the configs agree with each other and with the WireGuard setup. Redis and NATS load theirs,
// with authentication: only homebase, with the passwords backend-credentials.sh makes, gets in.
// nats.conf runs as shipped (sync_interval: always) on the nats-server we deploy, 2.15, which the
// harness builds (src/testing/go-tools.ts).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { AckPolicy, jetstream, jetstreamManager, StorageType } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { loadConfig } from "../src/config";
import { modules } from "../src/modules";
import { runDoctor } from "../src/platform/doctor";
import { natsConnectionOptions } from "../src/platform/events/jetstream";
import { createTestApp, signupAndLogin, type TestApp } from "../src/testing/app";
import { freePort } from "../src/testing/ports";
import { natsServerBinary, natsServerVersion } from "../src/testing/go-tools";
import { redisAclRules } from "../src/testing/servers";
import { waitFor } from "../src/testing/wait";

const here = import.meta.dir;
const root = resolve(here, "..");
const PATH = `${process.env.PATH ?? ""}:/usr/sbin:/sbin`;
const scratch = mkdtempSync(join(tmpdir(), "homebase-deploy-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * homebase_ metrics the rules or the dashboard use before the app exports them. Each entry says
 * which feature brings it; the test fails if a used metric is neither exported nor listed here,
 * or if an entry is no longer used (once one is exported, delete its entry). node_*
 * (node_exporter) and `up` (Prometheus) are not ours.
 */
const notExportedYet: Record<string, string> = {};

function run(cmd: string[], cwd = here): { code: number; out: string } {
  const r = Bun.spawnSync(cmd, { cwd, env: { ...process.env, PATH }, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
}

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
}
const rules = (Bun.YAML.parse(readFileSync(join(here, "alerts.yml"), "utf8")) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

interface Panel {
  id: number;
  title: string;
  type: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource: { uid: string };
  targets: { expr: string; refId: string; legendFormat?: string }[];
}
const dashboard = JSON.parse(readFileSync(join(here, "grafana-dashboard.json"), "utf8")) as {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: string }[] };
};
const panelExprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
/** Grafana's variables replaced by what they stand for, so promtool can parse the query. */
const promql = (expr: string) => expr.replaceAll("$__rate_interval", "1m").replaceAll("$__range", "1h").replaceAll("$job", "homebase");

/** Writes expressions as recording rules and runs `promtool check rules` on them. */
function checkPromql(exprs: string[]): { code: number; out: string } {
  const file = join(scratch, `queries-${Math.random().toString(36).slice(2)}.yml`);
  const yaml = ["groups:", "  - name: dashboard", "    rules:"];
  exprs.forEach((e, i) => yaml.push(`      - record: dashboard:query_${i}`, `        expr: ${JSON.stringify(promql(e))}`));
  writeFileSync(file, yaml.join("\n") + "\n");
  return run(["promtool", "check", "rules", file]);
}

describe("Prometheus config and alert rules", () => {
  test("promtool check config accepts prometheus.yml and the rule file it names", () => {
    const r = run(["promtool", "check", "config", "prometheus.yml"]);
    expect(r.out).toContain("SUCCESS: 1 rule files found");
    expect(r.out).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(r.code).toBe(0);
  });

  test("promtool check rules accepts alerts.yml", () => {
    const r = run(["promtool", "check", "rules", "alerts.yml"]);
    expect(r.out).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(r.code).toBe(0);
  });

  test("the issue's alerts are all there", () => {
    const byName = new Map(rules.map((r) => [r.alert, r.expr]));
    const wanted: [string, RegExp][] = [
      ["HomebaseDown", /up\{job="homebase"\} == 0/],
      ["HomebaseHighErrorRatio", /status=~"5\.\."[\s\S]*\) > 0\.05/],
      ["HomebaseSlowRequests", /histogram_quantile\(0\.95,[\s\S]*> 0\.8/],
      ["HomebaseOutboxBacklogGrowing", /deriv\(homebase_outbox_backlog/],
      ["HomebaseRelayLag", /homebase_relay_lag_seconds/],
      ["HomebasePaymentBreakerOpen", /homebase_circuit_breaker_state/],
      ["HostDiskNearlyFull", /node_filesystem_avail_bytes/],
      ["HomebaseBackupFailed", /increase\(homebase_backup_runs_total\{result="failed"\}/],
      ["HomebaseBackupStale", /time\(\) - max by \(job\) \(homebase_backup_last_success_timestamp_seconds\)\) > 26 \* 3600/],
    ];
    for (const [name, shape] of wanted) expect(byName.get(name) ?? `${name} missing`).toMatch(shape);
  });

  test("promtool test rules: every alert fires on its situation and stays quiet on a near miss", () => {
    const r = run(["promtool", "test", "rules", "alerts.test.yml"]);
    expect(r.out).toContain("SUCCESS");
    expect(r.code).toBe(0);
    // Every alert has a firing case in alerts.test.yml.
    const tests = Bun.YAML.parse(readFileSync(join(here, "alerts.test.yml"), "utf8")) as {
      tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
    };
    const firing = new Set(tests.tests.flatMap((t) => t.alert_rule_test.filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)));
    expect([...firing].sort()).toEqual(rules.map((r) => r.alert!).sort());
  });
});

describe("Grafana dashboard", () => {
  test("every query is valid PromQL (promtool parses it), and a broken one would be caught", () => {
    const r = checkPromql(panelExprs);
    expect(r.out).toContain(`SUCCESS: ${panelExprs.length} rules found`);
    expect(r.code).toBe(0);
    expect(checkPromql(["sum(rate(homebase_outbox_backlog[5m])"]).code).not.toBe(0);
  });

  test("covers RPS, latency percentiles per route, errors, cache hit ratio, WS, outbox, consumer lag, RSS", () => {
    const has = (re: RegExp) => panelExprs.some((e) => re.test(e));
    expect(has(/sum by \(route\) \(rate\(homebase_http_request_duration_seconds_count/)).toBe(true);
    for (const q of ["0.5", "0.95", "0.99"]) {
      expect(has(new RegExp(`histogram_quantile\\(${q.replace(".", "\\.")}, sum by \\(route, le\\)`))).toBe(true);
    }
    expect(has(/status=~"5\.\."/)).toBe(true);
    expect(has(/sum by \(cache\) \(rate\(homebase_cache_requests_total\{[^}]*result="hit"/)).toBe(true);
    expect(has(/homebase_ws_connections/)).toBe(true);
    expect(has(/homebase_outbox_backlog/)).toBe(true);
    expect(has(/by \(consumer\) \(homebase_consumer_pending/)).toBe(true);
    expect(has(/process_resident_memory_bytes/)).toBe(true);
  });

  test("shows backup freshness: the newest verified backup's age, its size and duration, runs by result", () => {
    const backupPanels = dashboard.panels.filter((p) => p.targets.some((t) => t.expr.includes("homebase_backup_")));
    const exprs = backupPanels.flatMap((p) => p.targets.map((t) => t.expr));
    expect(exprs).toContain('time() - max(homebase_backup_last_success_timestamp_seconds{job="$job"} > 0)');
    expect(exprs.some((e) => /homebase_backup_last_size_bytes/.test(e))).toBe(true);
    expect(exprs.some((e) => /homebase_backup_last_duration_seconds/.test(e))).toBe(true);
    expect(exprs.some((e) => /sum by \(result\) \(increase\(homebase_backup_runs_total/.test(e))).toBe(true);
    // The age panel turns red where HomebaseBackupStale fires (26 h).
    const age = backupPanels.find((p) => p.targets.some((t) => t.expr.includes("last_success"))) as Panel & {
      fieldConfig: { defaults: { unit: string; thresholds: { steps: { color: string; value: number | null }[] } } };
    };
    expect(age.fieldConfig.defaults.unit).toBe("s");
    expect(age.fieldConfig.defaults.thresholds.steps.find((s) => s.color === "red")?.value).toBe(26 * 3600);
  });

  test("is importable: unique ids and refIds, a 24-column grid without overlaps, the datasource variable", () => {
    expect(dashboard.uid).toBe("homebase-overview");
    expect(dashboard.templating.list.find((v) => v.name === "datasource")).toMatchObject({ type: "datasource", query: "prometheus" });
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
    for (const p of dashboard.panels) {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a template literal
      expect(p.datasource.uid).toBe("${datasource}");
      expect(p.targets.length).toBeGreaterThan(0);
      expect(new Set(p.targets.map((t) => t.refId)).size).toBe(p.targets.length);
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
    }
    const overlap = (a: Panel["gridPos"], b: Panel["gridPos"]) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
    const clashes = dashboard.panels.flatMap((a, i) => dashboard.panels.slice(i + 1).filter((b) => overlap(a.gridPos, b.gridPos)).map((b) => `${a.title} × ${b.title}`));
    expect(clashes).toEqual([]);
  });
});

describe("metrics used by the rules and the dashboard", () => {
  let app: TestApp;
  let exposition = "";
  const meTwice = /homebase_http_request_duration_seconds_count\{[^}]*route="\/me"[^}]*status="200"[^}]*\} 2$/m;
  beforeAll(async () => {
    app = await createTestApp("embedded");
    const { tokens } = await signupAndLogin(app);
    for (let i = 0; i < 2; i++) expect((await app.request("GET", "/me", { token: tokens.accessToken })).status).toBe(200);
    // Requests are observed after the response is sent: wait until both GET /me are in.
    await waitFor(
      async () => {
        const res = await app.request("GET", "/metrics");
        expect(res.status).toBe(200);
        exposition = await res.text();
        return meTwice.test(exposition);
      },
      { what: "GET /me in the request histogram" },
    );
  });
  afterAll(() => app?.close());

  /** Every series name /metrics exports; a histogram exports _bucket, _sum and _count. */
  function exported(text: string): Set<string> {
    const names = new Set<string>();
    for (const m of text.matchAll(/^# TYPE (\S+) (\w+)$/gm)) {
      const [, name, type] = m as unknown as [string, string, string];
      if (type === "histogram") for (const s of ["_bucket", "_sum", "_count"]) names.add(name + s);
      else if (type === "summary") for (const s of ["", "_sum", "_count"]) names.add(name + s);
      else names.add(name);
    }
    for (const m of text.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/gm)) names.add(m[1]!);
    return names;
  }
  const used = [...rules.map((r) => r.expr), ...panelExprs];
  const usedNames = [...new Set(used.flatMap((e) => [...e.matchAll(/\b((?:homebase|process)_[a-z0-9_]+)\b/g)].map((m) => m[1]!)))].sort();

  test("every homebase_ and process_ metric is exported, except the listed future ones", () => {
    const names = exported(exposition);
    const missing = usedNames.filter((n) => !names.has(n) && !(n in notExportedYet));
    expect(missing).toEqual([]);
    // No stale entries: everything listed is still used.
    expect(Object.keys(notExportedYet).filter((n) => !usedNames.includes(n))).toEqual([]);
    // The comparison sees real data: the requests above are in the histogram by route template.
    expect(exposition).toMatch(meTwice);
  });

  test("every label they select or group by exists on the metrics of that query", () => {
    // Label names of each exported metric family, from the registry (also for families with no sample yet).
    const labelsOf = (family: string): string[] | null => {
      const metric = app.platform.metrics.registry.getSingleMetric(family);
      return metric ? [...((metric as unknown as { labelNames?: readonly string[] }).labelNames ?? [])] : null;
    };
    const targetLabels = ["job", "instance"];
    const problems: string[] = [];
    for (const expr of used) {
      const metrics = [...expr.matchAll(/\b((?:homebase|process)_[a-z0-9_]+)(?:\{([^}]*)\})?/g)];
      const known = new Set(targetLabels);
      for (const [, name, selector] of metrics) {
        const family = name!.replace(/_(bucket|sum|count)$/, "");
        const labels = labelsOf(name!) ?? labelsOf(family);
        if (labels === null) continue; // a future metric (checked above)
        const allowed = [...labels, ...targetLabels, ...(name!.endsWith("_bucket") ? ["le"] : [])];
        allowed.forEach((l) => known.add(l));
        for (const [, label] of (selector ?? "").matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)) {
          if (!allowed.includes(label!)) problems.push(`${name}{${label}} in: ${expr}`);
        }
      }
      if (metrics.length === 0 || metrics.every(([, n]) => (labelsOf(n!) ?? labelsOf(n!.replace(/_(bucket|sum|count)$/, ""))) === null)) continue;
      for (const [, list] of expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) {
        for (const label of list!.split(",").map((s) => s.trim()).filter(Boolean)) {
          if (!known.has(label)) problems.push(`by (${label}) in: ${expr}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});

describe("deploy configs agree with each other and load", () => {
  const env = Object.fromEntries(
    readFileSync(join(here, "homebase.env.example"), "utf8")
      .split("\n")
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  ) as Record<string, string>;

  // deploy/backend-credentials.sh run into the scratch dir, as the install steps run it into /etc.
  const etc = join(scratch, "etc-homebase");
  const natsDir = join(scratch, "nats-etc");
  const redisAcl = join(scratch, "homebase.acl");
  const credentialsEnv = { HOMEBASE_ETC: etc, REDIS_ACL: redisAcl, NATS_AUTH: join(natsDir, "nats-server-auth.conf") };
  /** What the units add: the state directory and the credentials. */
  const unitEnv = () => ({
    HOMEBASE_DATA_DIR: join(scratch, "data"),
    HOMEBASE_JWT_SECRET_FILE: join(scratch, "jwt-secret"),
    REDIS_PASSWORD_FILE: join(etc, "redis.password"),
    NATS_PASSWORD_FILE: join(etc, "nats.password"),
  });
  const password = (name: string) => readFileSync(join(etc, `${name}.password`), "utf8").trim();
  beforeAll(() => {
    writeFileSync(join(scratch, "jwt-secret"), "s".repeat(48) + "\n");
    mkdirSync(natsDir, { recursive: true });
    const r = Bun.spawnSync(["sh", join(here, "backend-credentials.sh")], { env: { ...process.env, PATH, ...credentialsEnv }, stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`backend-credentials.sh failed: ${r.stdout}${r.stderr}`);
  });

  test("backend-credentials.sh: 0600 passwords kept across runs; Redis gets only their SHA-256, NATS its authorization block", () => {
    const first = { redis: password("redis"), nats: password("nats") };
    expect(first.redis).toMatch(/^[0-9a-f]{64}$/);
    expect(first.nats).toMatch(/^[0-9a-f]{64}$/);
    const again = Bun.spawnSync(["sh", join(here, "backend-credentials.sh")], { env: { ...process.env, PATH, ...credentialsEnv } });
    expect(again.exitCode).toBe(0);
    expect({ redis: password("redis"), nats: password("nats") }).toEqual(first);
    for (const name of ["redis", "nats"]) expect(statSync(join(etc, `${name}.password`)).mode & 0o777).toBe(0o600);
    for (const file of [redisAcl, credentialsEnv.NATS_AUTH]) expect(statSync(file).mode & 0o777).toBe(0o640);
    const acl = readFileSync(redisAcl, "utf8");
    expect(acl).toBe(`user default off\nuser homebase on #${createHash("sha256").update(first.redis).digest("hex")} ${redisAclRules}\n`);
    expect(acl).not.toContain(first.redis);
    expect(readFileSync(credentialsEnv.NATS_AUTH, "utf8")).toContain(`{ user: homebase, password: "${first.nats}" }`);
  });

  test("redis.conf, nats.conf and the units name the files backend-credentials.sh writes by default", () => {
    const script = readFileSync(join(here, "backend-credentials.sh"), "utf8");
    const defaultOf = (name: string) => new RegExp(`^\\w+=\\$\\{${name}:-(\\S+)\\}$`, "m").exec(script)?.[1];
    expect(/^aclfile (\S+)$/m.exec(readFileSync(join(here, "redis.conf"), "utf8"))?.[1]).toBe(defaultOf("REDIS_ACL")!);
    // nats.conf is installed as /etc/nats-server.conf; its include is relative to it.
    const include = /^include \.\/(\S+)$/m.exec(readFileSync(join(here, "nats.conf"), "utf8"))?.[1];
    expect(`/etc/${include}`).toBe(defaultOf("NATS_AUTH")!);
    const unit = readFileSync(join(root, "systemd/homebase.service"), "utf8");
    for (const name of ["redis", "nats"]) expect(unit).toContain(`LoadCredential=${name}-password:${defaultOf("HOMEBASE_ETC")}/${name}.password`);
  });

  test("homebase.env.example is a valid configuration on the wg0 address, scraped by prometheus.yml; its backend URLs carry no password", () => {
    const config = loadConfig({ ...env, ...unitEnv() });
    expect(env.HOMEBASE_JWT_SECRET).toBeUndefined();
    expect(env.HOMEBASE_DATA_DIR).toBeUndefined();
    const wgAddress = /^Address = ([\d.]+)\//m.exec(readFileSync(join(root, "wireguard/wg0.conf.example"), "utf8"))?.[1];
    expect(config.host).toBe(wgAddress!);
    const prometheus = Bun.YAML.parse(readFileSync(join(here, "prometheus.yml"), "utf8")) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    const job = prometheus.scrape_configs.find((j) => j.job_name === "homebase");
    expect(job?.static_configs[0]?.targets).toEqual([`${config.host}:${config.port}`]);
    const nft = readFileSync(join(root, "wireguard/nftables.conf"), "utf8");
    expect(/^define SERVICE_PORT = (\d+)$/m.exec(nft)?.[1]).toBe(String(config.port));
    expect(/^define WG_PORT = (\d+)$/m.exec(nft)?.[1]).toBe(/^ListenPort = (\d+)$/m.exec(readFileSync(join(root, "wireguard/wg0.conf.example"), "utf8"))?.[1]);
    // The user in the file, the password from the credential.
    expect(env.REDIS_URL).toBe("redis://homebase@127.0.0.1:6379/0");
    expect(env.NATS_URL).toBe("nats://homebase@127.0.0.1:4222");
    expect(config.redisUrl).toBe(`redis://homebase:${password("redis")}@127.0.0.1:6379/0`);
    expect(config.natsUrl).toBe(`nats://homebase:${password("nats")}@127.0.0.1:4222`);
  });

  test("redis-server runs with redis.conf and the ACL: AOF every second, no RDB snapshots, capped memory; only homebase gets in, and not to admin commands", async () => {
    const port = await freePort();
    // The ACL as written, plus an admin for this test's CONFIG GET (homebase may not read the config).
    const acl = join(scratch, "with-admin.acl");
    writeFileSync(acl, `${readFileSync(redisAcl, "utf8")}user admin on >admin-pw ~* &* +@all\n`);
    const proc = Bun.spawn(["redis-server", join(here, "redis.conf"), "--port", String(port), "--dir", scratch, "--aclfile", acl], { stdout: "pipe", stderr: "pipe", env: { PATH } });
    const cli = (args: string[], as: string[] = ["--user", "admin", "--pass", "admin-pw"]) => run(["redis-cli", "-p", String(port), "--no-auth-warning", ...as, "--raw", ...args]).out.trim();
    const homebase = ["--user", "homebase", "--pass", password("redis")];
    try {
      await waitFor(() => proc.exitCode === null && cli(["PING"]) === "PONG", { what: "redis-server with redis.conf" });
      // --raw prints the name, then the value, one a line (an empty value is an empty line).
      const get = (key: string) => cli(["CONFIG", "GET", key]).split("\n")[1] ?? "";
      expect(get("appendonly")).toBe("yes");
      expect(get("appendfsync")).toBe("everysec");
      expect(get("save")).toBe("");
      expect(get("maxmemory")).toBe(String(512 * 1024 * 1024));
      expect(get("maxmemory-policy")).toBe("volatile-lru");
      expect(get("bind")).toBe("127.0.0.1 -::1");
      expect(get("aclfile")).toBe(acl);

      expect(cli(["PING"], [])).toMatch(/^NOAUTH/);
      expect(cli(["PING"], ["--user", "homebase", "--pass", "wrong"])).toMatch(/WRONGPASS/);
      expect(cli(["PING"], homebase)).toBe("PONG");
      // What homebase uses: strings, Lua, pub/sub, INFO (ioredis's ready check, doctor).
      expect(cli(["EVAL", "return redis.call('SET', KEYS[1], ARGV[1])", "1", "k", "v"], homebase)).toBe("OK");
      expect(cli(["PUBLISH", "homebase_live.chat", "x"], homebase)).toBe("0");
      expect(cli(["INFO", "server"], homebase)).toContain("redis_version:");
      for (const denied of [["FLUSHALL"], ["CONFIG", "GET", "save"], ["KEYS", "*"], ["CLIENT", "LIST"], ["SAVE"], ["ACL", "LIST"]]) {
        expect(cli(denied, homebase), denied.join(" ")).toMatch(/NOPERM/);
      }
    } finally {
      proc.kill();
      await proc.exited;
    }
  });

  /** nats.conf next to its auth include (as in /etc), as shipped but for the port and store_dir (the guide's /var/lib/nats). */
  function natsConfCopy(overrides: { port?: number; store?: string } = {}): string {
    let text = readFileSync(join(here, "nats.conf"), "utf8");
    if (overrides.port) text = text.replace(/^listen: .*$/m, `listen: 127.0.0.1:${overrides.port}`);
    if (overrides.store) text = text.replace(/^(\s*)store_dir: .*$/m, `$1store_dir: ${overrides.store}`);
    const file = join(natsDir, `nats-${Math.random().toString(36).slice(2)}.conf`);
    writeFileSync(file, text);
    return file;
  }
  // The version the deploy guide asks for (2.10+), built by the harness (Debian's 2.9 refuses nats.conf).
  const natsServer = natsServerBinary();

  test("nats-server 2.15 accepts nats.conf with its auth include; without the include it is refused", () => {
    expect(run([natsServer, "--version"]).out).toContain(natsServerVersion);
    const full = run([natsServer, "-t", "-c", natsConfCopy()]);
    expect(full.out).toContain("is valid");
    expect(full.code).toBe(0);
    // Without the include the file is refused: authentication cannot be dropped by accident.
    const alone = join(scratch, "nats-alone.conf");
    writeFileSync(alone, readFileSync(join(here, "nats.conf"), "utf8"));
    expect(run([natsServer, "-t", "-c", alone]).code).not.toBe(0);
  });

  test("nats-server runs nats.conf as shipped: JetStream on disk with sync_interval: always, the limits it sets, only homebase gets in", async () => {
    const [natsPort, monitorPort] = [await freePort(), await freePort()];
    const store = join(scratch, "js-shipped");
    // -m adds the monitoring endpoint (nats.conf has none) to read back the running config.
    const proc = Bun.spawn([natsServer, "-c", natsConfCopy({ port: natsPort, store }), "-m", String(monitorPort)], { stdout: "pipe", stderr: "pipe", env: { PATH } });
    try {
      const varzUrl = `http://127.0.0.1:${monitorPort}/varz`;
      await waitFor(async () => proc.exitCode === null && (await fetch(varzUrl).then((r) => r.ok, () => false)), { what: "nats-server with nats.conf", timeoutMs: 20_000 });
      const varz = (await (await fetch(varzUrl)).json()) as {
        version: string;
        server_name: string;
        max_payload: number;
        jetstream: { config: { sync_always?: boolean; store_dir: string; max_memory: number; max_storage: number } };
      };
      expect(`v${varz.version}`).toBe(natsServerVersion);
      expect(varz.server_name).toBe("homebase-nats");
      expect(varz.max_payload).toBe(1024 * 1024);
      expect(varz.jetstream.config).toMatchObject({ sync_always: true, max_memory: 256 * 1024 * 1024, max_storage: 10 * 1024 * 1024 * 1024 });
      expect(varz.jetstream.config.store_dir).toStartWith(store);

      const url = `nats://homebase:${password("nats")}@127.0.0.1:${natsPort}`;
      expect(await connect({ servers: `127.0.0.1:${natsPort}`, timeout: 5000, maxReconnectAttempts: 0 }).then(() => "connected", (e: Error) => e.message)).toMatch(/Authorization Violation/);
      const nc = await connect(natsConnectionOptions(url));
      try {
        // A file stream (what the relay uses), a stored message that a durable consumer gets.
        const jsm = await jetstreamManager(nc);
        await jsm.streams.add({ name: "DEPLOY_CHECK", subjects: ["deploy.check.>"], storage: StorageType.File });
        const ack = await jetstream(nc).publish("deploy.check.x", "kept", { msgID: "d1" });
        expect(ack.stream).toBe("DEPLOY_CHECK");
        await jsm.consumers.add("DEPLOY_CHECK", { durable_name: "deploy", ack_policy: AckPolicy.Explicit });
        const msg = await (await jetstream(nc).consumers.get("DEPLOY_CHECK", "deploy")).next({ expires: 5000 });
        expect(msg?.string()).toBe("kept");
        msg?.ack();
      } finally {
        await nc.close();
      }
    } finally {
      proc.kill();
      await proc.exited;
    }
  });

  test("nats-server with nats.conf and redis-server with redis.conf: homebase's doctor logs in with the credential files; anonymous clients are refused", async () => {
    const [natsPort, redisPort] = [await freePort(), await freePort()];
    const natsConf = natsConfCopy({ port: natsPort, store: join(scratch, "js") });
    const servers = [
      Bun.spawn([natsServer, "-c", natsConf], { stdout: "ignore", stderr: "ignore", env: { PATH } }),
      Bun.spawn(["redis-server", join(here, "redis.conf"), "--port", String(redisPort), "--dir", scratch, "--aclfile", redisAcl, "--appendonly", "no"], { stdout: "ignore", stderr: "ignore", env: { PATH } }),
    ];
    try {
      const moved = {
        ...env,
        ...unitEnv(),
        REDIS_URL: env.REDIS_URL!.replace(":6379", `:${redisPort}`),
        NATS_URL: env.NATS_URL!.replace(":4222", `:${natsPort}`),
        HOMEBASE_HOST: "127.0.0.1",
      };
      const byName = async () => new Map((await runDoctor(moved, modules)).map((c) => [c.name, c]));
      await waitFor(async () => {
        const checks = await byName();
        return checks.get("redis")?.status === "pass" && checks.get("nats")?.status === "pass";
      }, { what: "redis-server and nats-server with the shipped configs", timeoutMs: 20_000 });
      const checks = await byName();
      expect(checks.get("redis")?.detail).toContain("authenticated as homebase");
      expect(checks.get("redis auth")).toMatchObject({ status: "pass", detail: "clients without the password are refused" });
      expect(checks.get("nats")?.detail).toContain("authenticated as homebase");
      expect(checks.get("nats auth")).toMatchObject({ status: "pass", detail: "clients without credentials are refused" });
    } finally {
      for (const proc of servers) proc.kill();
      await Promise.all(servers.map((p) => p.exited));
    }
  });
});
