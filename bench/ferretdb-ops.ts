// FerretDB (the harness's, SQLite backend) per-operation cost against a collection of N documents:
// a lookup or update by _id takes time that grows with N (its _id index is not used; see
// bench/README.md, "Membership from the member lists").  bun bench/ferretdb-ops.ts [N=5000]
import { MongoClient } from "mongodb";
import { startRealBackends } from "../src/testing/servers";
const { mongoUrl } = await startRealBackends();
const client = new MongoClient(mongoUrl);
await client.connect();
const db = client.db(`probe${Date.now()}`);
const N = Number(process.argv[2] ?? 5000);
const docs = db.collection<any>("docs");
await docs.createIndex({ roomId: 1 });
const batch = Array.from({ length: N }, (_, i) => ({
  _id: `d${i}`,
  roomId: `r${i % 250}`,
  userId: `u${i}`,
  nickname: "n".repeat(20),
  joinedAt: Date.now(),
  n: 0,
}));
for (let i = 0; i < N; i += 1000) await docs.insertMany(batch.slice(i, i + 1000));
const rooms = db.collection<any>("rooms");
await rooms.insertMany(Array.from({ length: 250 }, (_, i) => ({ _id: `r${i}`, name: `room ${i}`, memberCount: 0 })));
async function time(name: string, n: number, fn: (i: number) => Promise<unknown>) {
  const t = performance.now();
  for (let i = 0; i < n; i++) await fn(i);
  console.log(name.padEnd(40), ((performance.now() - t) / n).toFixed(2), "ms/op");
}
await time(`findOne {_id} (${N} docs)`, 300, (i) => docs.findOne({ _id: `d${(i * 7) % N}` }));
await time(`findOne {_id} rooms (250)`, 300, (i) => rooms.findOne({ _id: `r${i % 250}` }));
await time(`updateOne {_id} $inc rooms (250)`, 300, (i) => rooms.updateOne({ _id: `r${i % 250}` }, { $inc: { memberCount: 1 } }));
await time(`updateOne {_id} $inc docs (${N})`, 300, (i) => docs.updateOne({ _id: `d${i}` }, { $inc: { n: 1 } }));
await time(`insertOne docs (${N})`, 300, (i) =>
  docs.insertOne({ _id: `x${i}`, roomId: "r1", userId: "u", nickname: "n", joinedAt: 1, n: 0 }),
);
await time(`find {roomId} (${N})`, 20, (i) => docs.find({ roomId: `r${i}` }).toArray());
await db.dropDatabase();
await client.close();
process.exit(0);
