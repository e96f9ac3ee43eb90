// MongoDB client, connected only when MONGO_URL is set (chat history store; later every
// repository's multi-host implementation). Kept small: modules get a Db handle.
import { MongoClient, type Db } from "mongodb";

export interface MongoHandle {
  client: MongoClient;
  db: Db;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export async function connectMongo(url: string): Promise<MongoHandle> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 3000, connectTimeoutMS: 3000 });
  await client.connect();
  // The database named in the URL path, else "homebase".
  const name = new URL(url).pathname.replace(/^\//, "") || "homebase";
  const db = client.db(name);
  return {
    client,
    db,
    async ping() {
      try {
        await db.command({ ping: 1 });
        return true;
      } catch {
        return false;
      }
    },
    close: () => client.close(),
  };
}
