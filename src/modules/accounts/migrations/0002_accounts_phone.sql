-- Issue 16: the phone number on the account (the shop reference requires it) and Unicode
-- nicknames.
--
-- phone: a Korean mobile number stored normalised as 01X-XXXX-XXXX, optional, unique among live
-- accounts (a deleted account frees it, like its email and nickname).
ALTER TABLE users ADD COLUMN phone TEXT;
CREATE UNIQUE INDEX users_phone_live ON users (phone) WHERE deleted_at IS NULL AND phone IS NOT NULL;

-- nickname_key (users_nickname_live keeps it unique) is now textKey(nickname): NFC, then
-- lower-cased locale-independently (src/platform/text.ts). Every nickname before this
-- migration was ASCII, where that key is lower(nickname): the backfill rewrites rows whose key
-- is anything else, so it is a no-op on data written by 0001 and makes the rule hold regardless.
UPDATE users SET nickname_key = lower(nickname) WHERE nickname_key <> lower(nickname) AND nickname NOT GLOB '*[^ -~]*';
