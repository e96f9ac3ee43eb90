-- Chat: rooms (optionally secret), memberships, messages, read state, uploaded files.
-- With MONGO_URL set the chat store lives in MongoDB instead (src/modules/chat/store.mongo.ts);
-- these tables then stay empty.

CREATE TABLE chat_rooms (
  id            TEXT PRIMARY KEY,                    -- UUIDv7
  name          TEXT NOT NULL,
  name_key      TEXT NOT NULL,                       -- lower-cased name: search and sort
  password_hash TEXT,                                -- Argon2id; NULL = public room
  owner_id      TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  member_count  INTEGER NOT NULL DEFAULT 0 CHECK (member_count >= 0)
);
CREATE INDEX chat_rooms_by_name ON chat_rooms (name_key, id);
CREATE INDEX chat_rooms_by_created ON chat_rooms (created_at, id);
CREATE INDEX chat_rooms_by_members ON chat_rooms (member_count, id);

CREATE TABLE chat_members (
  room_id   TEXT NOT NULL REFERENCES chat_rooms (id) ON DELETE CASCADE,
  user_id   TEXT NOT NULL,
  nickname  TEXT NOT NULL,                           -- as it was when joining
  joined_at INTEGER NOT NULL,
  PRIMARY KEY (room_id, user_id)
) WITHOUT ROWID;
CREATE INDEX chat_members_by_user ON chat_members (user_id, room_id);

CREATE TABLE chat_messages (
  id              TEXT PRIMARY KEY,                  -- UUIDv7, assigned by the server
  room_id         TEXT NOT NULL REFERENCES chat_rooms (id) ON DELETE CASCADE,
  sender_id       TEXT NOT NULL,
  sender_nickname TEXT NOT NULL,
  kind            TEXT NOT NULL CHECK (kind IN ('text', 'file', 'system')),
  content         TEXT NOT NULL,                     -- emptied on delete
  file_id         TEXT,
  client_msg_id   TEXT NOT NULL,                     -- the sender's id: re-sends never duplicate
  created_at      INTEGER NOT NULL,
  deleted_at      INTEGER
);
CREATE INDEX chat_messages_by_room ON chat_messages (room_id, created_at, id);
CREATE UNIQUE INDEX chat_messages_client_id ON chat_messages (sender_id, client_msg_id);
CREATE INDEX chat_messages_by_file ON chat_messages (file_id, room_id) WHERE file_id IS NOT NULL;

-- Written in batches from the hot read state (Redis or memory) through the event bus.
CREATE TABLE chat_reads (
  room_id          TEXT NOT NULL,
  user_id          TEXT NOT NULL,
  up_to_message_id TEXT NOT NULL,                    -- UUIDv7s sort by time: only ever moves forward
  updated_at       INTEGER NOT NULL,
  PRIMARY KEY (room_id, user_id)
) WITHOUT ROWID;

CREATE TABLE chat_files (
  id          TEXT PRIMARY KEY,                      -- UUIDv7
  uploader_id TEXT NOT NULL,
  name        TEXT NOT NULL,
  mime        TEXT NOT NULL,
  size        INTEGER NOT NULL,
  category    TEXT NOT NULL CHECK (category IN ('image', 'video', 'audio', 'document')),
  storage     TEXT NOT NULL CHECK (storage IN ('local', 's3')),
  storage_key TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  deleted_at  INTEGER
);
CREATE INDEX chat_files_by_uploader ON chat_files (uploader_id, created_at);
