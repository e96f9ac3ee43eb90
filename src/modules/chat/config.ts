// Chat's environment variables: WebSocket limits, read-state flushing, file storage.
import { t, type Static } from "elysia";
import { ConfigError, env } from "../../platform/config";

export const chatConfigSchema = t.Object({
  HOMEBASE_CHAT_WS_RATE: env.integer({ default: 20, min: 1, max: 100_000, description: "Messages a socket may send per second (token bucket, bursts of twice that)." }),
  HOMEBASE_CHAT_WS_MAX_BUFFERED_BYTES: env.integer({ default: 1_048_576, min: 16_384, max: 256 * 1_048_576, description: "A socket whose unsent bytes pass this is closed with 4008 (slow consumer)." }),
  HOMEBASE_CHAT_WS_MAX_PAYLOAD_BYTES: env.integer({ default: 65_536, min: 1024, max: 1_048_576, description: "Largest frame a client may send; bigger ones close the socket with 1009." }),
  HOMEBASE_CHAT_WS_IDLE_SEC: env.integer({ default: 60, min: 8, max: 960, description: "Seconds without traffic (answered pings count) before a socket is closed." }),
  HOMEBASE_CHAT_WS_MAX_PER_USER: env.integer({ default: 20, min: 1, max: 100_000, description: "Open sockets one user may hold on an instance; the next upgrade gets 429 too_many_sockets." }),
  HOMEBASE_CHAT_WS_MAX_PER_IP: env.integer({ default: 200, min: 1, max: 1_000_000, description: "Open sockets from one client IP on an instance (behind HOMEBASE_TRUSTED_PROXIES: the forwarded client); the next upgrade gets 429." }),
  HOMEBASE_CHAT_READ_FLUSH_MS: env.integer({ default: 1000, min: 10, max: 60_000, description: "How often read marks move from Redis / memory to the store." }),
  HOMEBASE_CHAT_ROOM_LIST_PER_MIN: env.integer({ default: 600, min: 1, max: 1_000_000, description: "GET /rooms per client IP per minute." }),
  HOMEBASE_CHAT_PASSWORD_ROOMS_PER_HOUR: env.integer({ default: 10, min: 1, max: 100_000, description: "Password rooms one user may create per hour (each costs an Argon2 hash); the next gets 429 rate_limited." }),
  HOMEBASE_CHAT_UPLOADS_PER_MIN: env.integer({ default: 30, min: 1, max: 100_000, description: "Uploads (POST /files) one user may start per minute; the next gets 429 rate_limited." }),
  HOMEBASE_CHAT_QUOTA_MIB: env.integer({
    default: 2048,
    min: 1,
    max: 16 * 1_048_576,
    description: "MiB one user's stored files may take in all (deleted files do not count); an upload past it gets 413 storage_quota_exceeded.",
  }),
  HOMEBASE_CHAT_UNPOSTED_FILE_HOURS: env.integer({ default: 24, min: 1, max: 8760, description: "Files never posted in a message are removed this many hours after their upload (worker roles)." }),
  HOMEBASE_CHAT_S3_BUCKET: env.optionalString({ description: "S3-compatible bucket for uploads; unset = files under <data dir>/chat-files." }),
  HOMEBASE_CHAT_S3_ENDPOINT: env.url(["http:", "https:"], { description: "Endpoint of the S3-compatible storage (needs HOMEBASE_CHAT_S3_BUCKET)." }),
  HOMEBASE_CHAT_S3_REGION: env.optionalString({ description: "Region of the bucket." }),
  HOMEBASE_CHAT_S3_ACCESS_KEY_ID: env.optionalString({ description: "Access key id of the bucket." }),
  HOMEBASE_CHAT_S3_SECRET_ACCESS_KEY: env.optionalString({ description: "Secret access key of the bucket.", secret: true }),
});

export interface ChatConfig {
  /** Messages a socket may send per second (token bucket, bursts of twice that). */
  wsRatePerSec: number;
  /** A socket whose unsent bytes pass this is closed with 4008 (slow consumer). */
  wsMaxBufferedBytes: number;
  /** Largest frame a client may send; bigger ones close the socket with 1009. */
  wsMaxPayloadBytes: number;
  /** Seconds without traffic (pings answered count) before a socket is closed. */
  wsIdleSec: number;
  /** Open sockets per user and per client IP on an instance; past them the upgrade gets 429. */
  wsMaxPerUser: number;
  wsMaxPerIp: number;
  /** How often read marks move from Redis / memory to the store (through the event bus). */
  readFlushMs: number;
  /** GET /rooms per client IP per minute. */
  roomListPerMin: number;
  /** Password (secret) rooms one user may create per hour. */
  passwordRoomsPerHour: number;
  /** Uploads a user may start per minute. */
  uploadsPerMin: number;
  /** Bytes a user's stored files may take in all. */
  quotaBytes: number;
  /** Files never posted in a message are removed this long after their upload. */
  unpostedFileMaxAgeMs: number;
  /** S3-compatible storage for uploads; null = files under <data dir>/chat-files. */
  s3: { bucket: string; endpoint: string | null; region: string | null; accessKeyId: string | null; secretAccessKey: string | null } | null;
}

export function resolveChatConfig(v: Static<typeof chatConfigSchema>): ChatConfig {
  const bucket = v.HOMEBASE_CHAT_S3_BUCKET;
  const endpoint = v.HOMEBASE_CHAT_S3_ENDPOINT ?? null;
  if (bucket === undefined && endpoint !== null) throw new ConfigError("HOMEBASE_CHAT_S3_BUCKET", "a bucket name when HOMEBASE_CHAT_S3_ENDPOINT is set", "");
  return {
    wsRatePerSec: v.HOMEBASE_CHAT_WS_RATE,
    wsMaxBufferedBytes: v.HOMEBASE_CHAT_WS_MAX_BUFFERED_BYTES,
    wsMaxPayloadBytes: v.HOMEBASE_CHAT_WS_MAX_PAYLOAD_BYTES,
    wsIdleSec: v.HOMEBASE_CHAT_WS_IDLE_SEC,
    wsMaxPerUser: v.HOMEBASE_CHAT_WS_MAX_PER_USER,
    wsMaxPerIp: v.HOMEBASE_CHAT_WS_MAX_PER_IP,
    readFlushMs: v.HOMEBASE_CHAT_READ_FLUSH_MS,
    roomListPerMin: v.HOMEBASE_CHAT_ROOM_LIST_PER_MIN,
    passwordRoomsPerHour: v.HOMEBASE_CHAT_PASSWORD_ROOMS_PER_HOUR,
    uploadsPerMin: v.HOMEBASE_CHAT_UPLOADS_PER_MIN,
    quotaBytes: v.HOMEBASE_CHAT_QUOTA_MIB * 1_048_576,
    unpostedFileMaxAgeMs: v.HOMEBASE_CHAT_UNPOSTED_FILE_HOURS * 3_600_000,
    s3:
      bucket === undefined
        ? null
        : {
            bucket,
            endpoint,
            region: v.HOMEBASE_CHAT_S3_REGION ?? null,
            accessKeyId: v.HOMEBASE_CHAT_S3_ACCESS_KEY_ID ?? null,
            secretAccessKey: v.HOMEBASE_CHAT_S3_SECRET_ACCESS_KEY ?? null,
          },
  };
}
