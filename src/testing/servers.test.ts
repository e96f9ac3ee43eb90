// Proves the real-backend harness: each server speaks its protocol through the client the app
// uses, and the chaos helpers stop/start redis on the same port.
import { beforeAll, describe, expect, test } from "bun:test";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import Redis from "ioredis";
import { MongoClient, MongoServerError } from "mongodb";
import { restartNats, restartRedis, startRealBackends, startRedis, stopRedis, type RealBackends } from "./servers";
import { waitFor } from "./wait";

let backends: RealBackends;

beforeAll(async () => {
  backends = await startRealBackends();
});

describe("real backends harness", () => {
  test("starts once per process: a second call returns the same servers", async () => {
    expect(await startRealBackends()).toEqual(backends);
    for (const url of Object.values(backends)) expect(new URL(url).hostname).toBe("127.0.0.1");
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
    const nc = await connect({ servers: backends.natsUrl });
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
    let nc = await connect({ servers: backends.natsUrl });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [`${stream.toLowerCase()}.>`] });
    await jetstream(nc).publish(`${stream.toLowerCase()}.x`, "kept", { msgID: "k1" });
    await nc.close();

    await restartNats();

    nc = await connect({ servers: backends.natsUrl });
    try {
      const info = await (await jetstreamManager(nc)).streams.info(stream);
      expect(info.state.messages).toBe(1);
    } finally {
      await nc.close();
    }
  });
});
