-- Every backup taken (scheduled by a worker or `homebase backup <file>`), ok or failed:
-- the /ops page and the metrics read the newest rows. Written after the copy is made, so a
-- backup never holds its own row.
CREATE TABLE backup_runs (
  id          TEXT PRIMARY KEY,          -- UUIDv7 (sortable by start)
  started_at  INTEGER NOT NULL,          -- epoch ms
  finished_at INTEGER,                   -- epoch ms; NULL only for a run that never finished
  file        TEXT,                      -- absolute path of the backup; NULL when none was written
  bytes       INTEGER,                   -- size of the backup file
  sha256      TEXT,                      -- sha256 of the backup file (hex)
  checksum    TEXT,                      -- summarize() content checksum of the backup
  ok          INTEGER NOT NULL,          -- 1 = written and verified
  error       TEXT,                      -- why it failed
  uploaded    INTEGER,                   -- 1/0 when an S3 upload was configured, NULL otherwise
  trigger     TEXT NOT NULL CHECK (trigger IN ('schedule', 'manual'))
);
CREATE INDEX backup_runs_started ON backup_runs (started_at);
