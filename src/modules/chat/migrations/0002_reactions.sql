-- Reactions: one kind per user per message (a new kind replaces the old one).
CREATE TABLE chat_reactions (
  message_id TEXT NOT NULL REFERENCES chat_messages (id) ON DELETE CASCADE,
  user_id    TEXT NOT NULL,
  room_id    TEXT NOT NULL,
  kind       TEXT NOT NULL CHECK (kind IN ('like', 'love', 'laugh', 'wow', 'sad', 'angry')),
  created_at INTEGER NOT NULL,
  PRIMARY KEY (message_id, user_id)
) WITHOUT ROWID;
CREATE INDEX chat_reactions_by_user ON chat_reactions (user_id, message_id);
