-- A deleted account's messages stay, with the author shown as deleted (its nickname erased).
-- Renames and deletions find an author's messages through chat_messages_client_id (sender_id first).
ALTER TABLE chat_messages ADD COLUMN author_deleted_at INTEGER;
