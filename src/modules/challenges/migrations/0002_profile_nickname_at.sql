-- Renames (homebase.accounts.user.updated) reach the member profiles. nickname_at is the time
-- of the nickname a profile holds (user.registered's registeredAt, user.updated's updatedAt):
-- an event older than it changes nothing, so profile events may arrive in any order and a
-- late user.registered never brings back the name from before a rename. NULL: not named yet,
-- or named before this migration (any event then wins).
ALTER TABLE challenge_profiles ADD COLUMN nickname_at INTEGER;
