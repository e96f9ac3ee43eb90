// The chat module: the store (SQLite, or MongoDB with MONGO_URL), hot read state and presence
// (Redis or memory), live fanout (NATS core or local), file storage (data dir or S3).
import { join } from "node:path";
import { defineModule } from "../../platform/module";
import { createRateLimiter } from "../../platform/ratelimit";
import { accountsModule } from "../accounts";
import { chatConfigSchema, resolveChatConfig } from "./config";
import { accountConsumers, chatConsumers } from "./events";
import { type Fanout, LocalFanout, NatsFanout } from "./fanout";
import { MongoFileLedger, SqliteFileLedger, UnpostedFileSweeper } from "./file-ledger";
import { LocalBlobStore, maxUploadBodyBytes, S3BlobStore } from "./files";
import { Hub } from "./hub";
import { withLocalFallback } from "./limiter";
import { createChatMetrics } from "./metrics";
import chatSql from "./migrations/0001_chat.sql" with { type: "text" };
import reactionsSql from "./migrations/0002_reactions.sql" with { type: "text" };
import deletedAuthorsSql from "./migrations/0003_deleted_authors.sql" with { type: "text" };
import { MemoryRoomLists, RedisRoomLists } from "./room-lists";
import { CachedChatStore, roomListSpecs } from "./store.cached";
import { MongoChatStore } from "./store.mongo";
import { MemoryPresence, RedisPresence } from "./presence";
import { MemoryReadState, ReadFlusher, RedisReadState } from "./reads";
import { SqliteChatStore } from "./store.sqlite";
import { type ChatModule, chatController } from "./routes";
import { ChatService } from "./service";
import { sessionEndConsumer, SocketSessions } from "./sessions";
import { FileUploads } from "./uploads";
import { ChatSockets } from "./ws";

export { chatEvents } from "./events";
export type { ChatService } from "./service";
export type { ChatModule } from "./routes";
export type { ChatConfig } from "./config";

export const chatModule = defineModule({
  name: "chat",
  tag: { name: "chat", description: "Rooms (secret ones with a password), history, deletes, reactions, files; live messages, read receipts and presence over the WebSocket at /ws (page: /chat)" },
  config: { schema: chatConfigSchema, resolve: resolveChatConfig },
  migrations: [
    { version: 1, name: "chat", sql: chatSql, legacyVersion: 6 },
    { version: 2, name: "reactions", sql: reactionsSql },
    { version: 3, name: "deleted_authors", sql: deletedAuthorsSql },
  ],
  setup({ platform, config: settings, logger, use, isDraining }) {
    const { config } = platform;
    const metrics = createChatMetrics(platform.metrics.registry);
    const instanceId = Bun.randomUUIDv7();
    const ns = config.eventNamespace;
    // A presence entry lives this long without a heartbeat (the hub beats every third of it);
    // a crashed instance's users go offline within it (presence.ts: instance leases).
    const presenceTtlMs = 9_000;

    // On Mongo, a join's three reads (first history page, members, read marks) come from the
    // rooms' hot lists (room-lists.ts); SQLite answers them from its indexes in microseconds.
    const roomLists = () =>
      platform.redis ? new RedisRoomLists(platform.redis, ns ? `${ns}:` : "", roomListSpecs, platform.clock) : new MemoryRoomLists(roomListSpecs, platform.clock);
    const store = platform.mongo ? new CachedChatStore(new MongoChatStore(platform.mongo.db), roomLists(), logger) : new SqliteChatStore(platform.db, platform.writer);
    void store.init().catch((err: unknown) => logger.error("chat store indexes", { err: String(err) }));
    const hot = platform.redis ? new RedisReadState(platform.redis, ns ? `${ns}:` : "", platform.clock) : new MemoryReadState();
    const presence = platform.redis ? new RedisPresence(platform.redis, ns ? `${ns}:` : "", instanceId, presenceTtlMs, platform.clock) : new MemoryPresence();
    const accounts = use(accountsModule);
    let hub: Hub;
    let sessions: SocketSessions;
    const fanout: Fanout = config.natsUrl
      ? new NatsFanout(
          config.natsUrl,
          `${ns ? `${ns}.` : ""}homebase_live.chat`,
          instanceId,
          (e) => hub.remote(e),
          logger,
          (end) => sessions.end(end, { broadcast: false }),
          (rename) => sessions.rename(rename, { broadcast: false }),
        )
      : new LocalFanout();
    hub = new Hub(fanout, presence, metrics, { instanceId, maxBufferedBytes: settings.wsMaxBufferedBytes, presenceTtlMs }, logger);
    sessions = new SocketSessions(accounts, hub, { maxPerUser: settings.wsMaxPerUser, maxPerIp: settings.wsMaxPerIp }, platform.clock, logger);
    sessions.broadcastVia(fanout);
    const blobs = settings.s3 ? new S3BlobStore(settings.s3) : new LocalBlobStore(join(config.dataDir, "chat-files"));
    // Redis down: the room list, room passwords and uploads are limited per instance, not refused.
    const limiter = withLocalFallback(platform.limiter, createRateLimiter(null, platform.metrics, platform.clock), platform.metrics.registry, logger);
    const ledger = platform.mongo ? new MongoFileLedger(platform.mongo.db) : new SqliteFileLedger(platform.db, platform.writer);
    void ledger.init().catch((err: unknown) => logger.error("chat file ledger indexes", { err: String(err) }));
    const uploads = new FileUploads(store, ledger, blobs, limiter, { perMinute: settings.uploadsPerMin, quotaBytes: settings.quotaBytes }, platform.clock, logger);
    const sweeper = new UnpostedFileSweeper(ledger, blobs, { maxAgeMs: settings.unpostedFileMaxAgeMs, intervalMs: 10 * 60_000 }, platform.clock, logger);
    const service = new ChatService(store, hub, presence, hot, blobs, limiter, metrics, { roomListPerMinute: settings.roomListPerMin, passwordRoomsPerHour: settings.passwordRoomsPerHour, maxParticipantsListed: 1000 }, platform.clock, logger, uploads);
    const sockets = new ChatSockets(service, hub, sessions, { ratePerSec: settings.wsRatePerSec }, metrics, platform.clock, logger);
    // Read marks of this instance's sockets: flushed wherever sockets are served, not only in workers.
    const flusher = new ReadFlusher(hot, platform.writer, platform.events, settings.readFlushMs, logger);
    flusher.start();

    let closing: Promise<void> | null = null;
    const chat: ChatModule = {
      service,
      hub,
      sockets,
      sessions,
      instanceId,
      flusher,
      close: () =>
        (closing ??= (async () => {
          sessions.stop();
          await hub.shutdown();
          await flusher.stop();
        })()),
    };
    return {
      api: chat,
      routes: [chatController(chat, accounts, { clientIp: platform.clientIp, isDraining })],
      consumers: [...chatConsumers(store), ...accountConsumers(store, hub, sessions), sessionEndConsumer(sessions)],
      jobs: [sweeper],
      bodyLimits: { "POST /files": maxUploadBodyBytes },
      websocket: {
        maxPayloadLength: settings.wsMaxPayloadBytes,
        idleTimeout: settings.wsIdleSec,
        // Bun pings before the idle timeout; a client that answers stays, a dead one is closed.
        sendPings: true,
        // At the bound, send() reports a drop and the hub closes the socket with 4008.
        backpressureLimit: settings.wsMaxBufferedBytes,
        closeOnBackpressureLimit: false,
        perMessageDeflate: false,
      },
      // The last read marks reach the outbox (and sockets are closed) while the writer still runs.
      close: () => chat.close(),
    };
  },
});
