// Proves the real-backend harness: each server speaks its protocol through the client the app
// uses, Redis and NATS only to the user with its password, nats-server and FerretDB are the
// versions we deploy (built by go-tools.ts), and the chaos helpers stop/start redis on the same port.
import { beforeAll, describe, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import Redis from "ioredis";
import { MongoClient, MongoServerError } from "mongodb";
import { natsConnectionOptions } from "../platform/events/jetstream";
import { ferretdbVersion, natsServerVersion } from "./go-tools";
import { backendUser, ferretdbPoolPerClient, restartNats, restartRedis, startRealBackends, startRedis, stopRedis, type RealBackends } from "./servers";
import { waitFor } from "./wait";

let backends: RealBackends;

beforeAll(async () => {
  backends = await startRealBackends();
});

describe("real backends harness", () => {
  test("starts once per process: a second call returns the same servers", async () => {
    expect(await startRealBackends()).toEqual(backends);
    for (const url of [backends.redisUrl, backends.natsUrl, backends.mongoUrl]) expect(new URL(url).hostname).toBe("127.0.0.1");
    // Never the system redis/nats/mongo default ports.
    expect(new URL(backends.redisUrl).port).not.toBe("6379");
  });

  test("redis: PING, SET, GET", async () => {
    const redis = new Redis(backends.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      expect(await redis.ping()).toBe("PONG");
      expect(await redis.set("harness:k", "v1", "PX", 10_000)).toBe("OK");
      expect(await redis.get("harness:k")).toBe("v1");
    } finally {
      redis.disconnect();
    }
  });

  test("nats: JetStream dedup by msgID and a durable pull consumer", async () => {
    const nc = await connect(natsConnectionOptions(backends.natsUrl));
    try {
      const jsm = await jetstreamManager(nc);
      const stream = `HARNESS_${Date.now()}`;
      await jsm.streams.add({ name: stream, subjects: [`${stream.toLowerCase()}.>`] });
      const js = jetstream(nc);
      const subject = `${stream.toLowerCase()}.thing.created`;

      const first = await js.publish(subject, JSON.stringify({ n: 1 }), { msgID: "event-1" });
      const again = await js.publish(subject, JSON.stringify({ n: 1 }), { msgID: "event-1" });
      expect(first.duplicate).toBe(false);
      expect(again.duplicate).toBe(true);
      expect(again.seq).toBe(first.seq);
      await js.publish(subject, JSON.stringify({ n: 2 }), { msgID: "event-2" });

      await jsm.consumers.add(stream, { durable_name: "harness", ack_policy: AckPolicy.Explicit });
      const consumer = await js.consumers.get(stream, "harness");
      const got: number[] = [];
      for (let i = 0; i < 2; i++) {
        const msg = await consumer.next({ expires: 5000 });
        expect(msg).not.toBeNull();
        got.push((msg!.json() as { n: number }).n);
        msg!.ack();
      }
      expect(got).toEqual([1, 2]);
      // Acked: nothing left pending for the durable.
      await waitFor(async () => (await jsm.consumers.info(stream, "harness")).num_ack_pending === 0, { what: "acks to land" });
      expect((await jsm.consumers.info(stream, "harness")).num_pending).toBe(0);
      await jsm.streams.delete(stream);
    } finally {
      await nc.close();
    }
  });

  test("nats-server is the deployed 2.15 (not Debian's 2.9) with JetStream fsyncing every write (sync_interval: always)", async () => {
    const nc = await connect(natsConnectionOptions(backends.natsUrl));
    try {
      expect(`v${nc.info?.version}`).toBe(natsServerVersion);
      expect(nc.info?.jetstream).toBe(true);
    } finally {
      await nc.close();
    }
    const varz = (await (await fetch(`${backends.natsMonitorUrl}/varz`)).json()) as { version: string; jetstream: { config: { sync_always?: boolean; store_dir: string } } };
    expect(`v${varz.version}`).toBe(natsServerVersion);
    expect(varz.jetstream.config.sync_always).toBe(true);
    // On disk in the harness's store dir (nats-server adds its own jetstream/ under it).
    expect(varz.jetstream.config.store_dir).toMatch(/\/homebase-backends-[^/]+\/js\//);
  });

  test("mongo is FerretDB 1.24.2 (a MongoDB wire-protocol database on SQLite)", async () => {
    const client = new MongoClient(backends.mongoUrl, { serverSelectionTimeoutMS: 5000 });
    try {
      const status = await client.db("admin").command({ serverStatus: 1 });
      expect(status.process).toBe("ferretdb");
      expect(status.ferretdbVersion).toBe(ferretdbVersion);
    } finally {
      await client.close();
    }
  });

  test("mongo: 4 clients × MONGO_URL's capped pool, 400 insert + findOneAndUpdate at once, all complete (with the driver's default pool FerretDB hangs)", async () => {
    expect(new URL(backends.mongoUrl).searchParams.get("maxPoolSize")).toBe(String(ferretdbPoolPerClient));
    const clients = [0, 1, 2, 3].map(() => new MongoClient(backends.mongoUrl, { serverSelectionTimeoutMS: 5000 }));
    try {
      const name = `pool_${Date.now()}`;
      const collection = (i: number) => clients[i % 4]!.db("harness").collection<{ k: string; n: number }>(name);
      await collection(0).createIndex({ k: 1 }, { unique: true });
      const settled = await Promise.allSettled(
        Array.from({ length: 400 }, async (_, i) => {
          await collection(i).insertOne({ k: `k${i}`, n: 0 });
          return collection(i).findOneAndUpdate({ k: `k${i}` }, { $inc: { n: 1 } }, { returnDocument: "after" });
        }),
      );
      expect(settled.flatMap((r) => (r.status === "rejected" ? [String(r.reason)] : []))).toEqual([]);
      expect(settled.every((r) => r.status === "fulfilled" && r.value?.n === 1)).toBe(true);
      expect(await collection(0).countDocuments({ n: 1 })).toBe(400);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });

  test("redis refuses clients without the password, a wrong one, the default user and dangerous commands", async () => {
    const { port } = new URL(backends.redisUrl);
    const attempt = async (url: string, command: (r: Redis) => Promise<unknown> = (r) => r.ping()) => {
      const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableReadyCheck: false });
      // A refused AUTH closes the connection: its reason comes as an "error" event.
      let refused: Error | undefined;
      redis.on("error", (err: Error) => void (refused ??= err));
      try {
        await redis.connect();
        return String(await command(redis));
      } catch (err) {
        return (refused ?? (err as Error)).message;
      } finally {
        redis.disconnect();
      }
    };
    expect(await attempt(`redis://127.0.0.1:${port}`)).toMatch(/^NOAUTH/);
    expect(await attempt(`redis://${backendUser}:wrong@127.0.0.1:${port}`)).toMatch(/^WRONGPASS/);
    expect(await attempt(`redis://:${new URL(backends.redisUrl).password}@127.0.0.1:${port}`)).toMatch(/^WRONGPASS/);
    expect(await attempt(backends.redisUrl)).toBe("PONG");
    expect(await attempt(backends.redisUrl, (r) => r.flushall())).toMatch(/^NOPERM/);
    // The credentials the app gets: the user in the URL, the password in a 0600 file.
    const { credentials } = backends;
    expect(new URL(credentials.redisUrl).password).toBe("");
    const file = Bun.file(credentials.redisPasswordFile);
    expect((await file.text()).trim()).toBe(new URL(backends.redisUrl).password);
    expect(statSync(credentials.redisPasswordFile).mode & 0o777).toBe(0o600);
  });

  test("nats refuses clients without credentials or with a wrong password", async () => {
    const { servers, user, pass } = natsConnectionOptions(backends.natsUrl);
    const attempt = (options: { user?: string; pass?: string }) =>
      connect({ servers, timeout: 5000, maxReconnectAttempts: 0, ...options }).then(
        (nc) => nc.close().then(() => "connected"),
        (err: unknown) => (err as Error).message,
      );
    expect(await attempt({})).toMatch(/Authorization Violation/);
    expect(await attempt({ user, pass: "wrong" })).toMatch(/Authorization Violation/);
    expect(await attempt({ user, pass })).toBe("connected");
    expect(new URL(backends.credentials.natsUrl).password).toBe("");
    expect((await Bun.file(backends.credentials.natsPasswordFile).text()).trim()).toBe(pass!);
  });

  test("mongo: insert, find, unique index, duplicate key 11000", async () => {
    const client = new MongoClient(backends.mongoUrl, { serverSelectionTimeoutMS: 5000 });
    try {
      await client.connect();
      const users = client.db("harness").collection<{ email: string; name: string }>(`users_${Date.now()}`);
      await users.createIndex({ email: 1 }, { unique: true });
      await users.insertOne({ email: "ada@example.com", name: "Ada" });
      const found = await users.findOne({ email: "ada@example.com" });
      expect(found?.name).toBe("Ada");
      expect(await users.find({}).toArray()).toHaveLength(1);

      const err = await users.insertOne({ email: "ada@example.com", name: "Other" }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MongoServerError);
      expect((err as MongoServerError).code).toBe(11000);
    } finally {
      await client.close();
    }
  });

  test("stopRedis / startRedis / restartRedis keep the same port", async () => {
    const redis = new Redis(backends.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => 50 });
    redis.on("error", () => {}); // expected while it is down
    try {
      await redis.connect();
      await redis.set("harness:gone", "1");
      await stopRedis();
      // The server is really gone: a fresh connection is refused.
      const probe = new Redis(backends.redisUrl, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      probe.on("error", () => {});
      await expect(probe.connect()).rejects.toThrow();
      probe.disconnect();

      await startRedis();
      await waitFor(() => redis.status === "ready", { what: "ioredis to reconnect" });
      expect(await redis.ping()).toBe("PONG");
      // No persistence: a restarted redis is empty.
      expect(await redis.get("harness:gone")).toBeNull();

      await restartRedis();
      await waitFor(() => redis.status === "ready", { what: "ioredis to reconnect after restart" });
      expect(await redis.ping()).toBe("PONG");
    } finally {
      redis.disconnect();
    }
  });

  test("restartNats keeps JetStream streams (same store dir and port)", async () => {
    const stream = `KEEP_${Date.now()}`;
    let nc = await connect(natsConnectionOptions(backends.natsUrl));
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [`${stream.toLowerCase()}.>`] });
    await jetstream(nc).publish(`${stream.toLowerCase()}.x`, "kept", { msgID: "k1" });
    await nc.close();

    await restartNats();

    nc = await connect(natsConnectionOptions(backends.natsUrl));
    try {
      const info = await (await jetstreamManager(nc)).streams.info(stream);
      expect(info.state.messages).toBe(1);
    } finally {
      await nc.close();
    }
  });
});
