-- The id registry and the tasks become rowid tables. Both were WITHOUT ROWID, clustered by the
-- client's id, so every secondary index entry carried that id: an id arriving out of order (an
-- offline client, a replayed queue) touched a random leaf in each of seven B-trees, and a group
-- commit wrote ~7 pages per create (119 µs per create against 25 µs now, ids in random order;
-- bench/README.md, "Task creates in any id order"). With a rowid, the secondary indexes end in
-- an increasing integer and grow at their right edge; only the unique index on id is random.
-- Same columns, constraints and indexes; the tasks' self-references are renamed as in 0002.
-- Copied in creation order, checked at COMMIT all the same.
PRAGMA defer_foreign_keys = ON;
CREATE TABLE todo_ids_v3 (
  id         TEXT PRIMARY KEY,                     -- client-supplied UUIDv7
  kind       TEXT NOT NULL CHECK (kind IN ('project', 'task')),
  user_id    TEXT NOT NULL,
  project_id TEXT,                                 -- tasks: their project
  parent_id  TEXT,                                 -- subtasks: their task
  body_hash  TEXT NOT NULL,                        -- sha256 of the canonical create body
  seq        INTEGER NOT NULL,                     -- the creating command's sequence number
  created_at INTEGER NOT NULL,
  deleted_at INTEGER
);
INSERT INTO todo_ids_v3 (id, kind, user_id, project_id, parent_id, body_hash, seq, created_at, deleted_at)
SELECT id, kind, user_id, project_id, parent_id, body_hash, seq, created_at, deleted_at FROM todo_ids ORDER BY seq;
DROP TABLE todo_ids;
ALTER TABLE todo_ids_v3 RENAME TO todo_ids;
CREATE INDEX todo_ids_project ON todo_ids (project_id) WHERE deleted_at IS NULL;
CREATE INDEX todo_ids_parent ON todo_ids (parent_id) WHERE deleted_at IS NULL;
CREATE INDEX todo_ids_user ON todo_ids (user_id) WHERE deleted_at IS NULL;

CREATE TABLE todo_tasks_v3 (
  id               TEXT PRIMARY KEY,
  project_id       TEXT NOT NULL REFERENCES todo_projects (id) ON DELETE CASCADE,
  parent_id        TEXT REFERENCES todo_tasks_v3 (id) ON DELETE CASCADE, -- NULL: a task; else a subtask
  user_id          TEXT NOT NULL,
  title            TEXT NOT NULL,
  description      TEXT,
  category         TEXT,
  estimate_minutes INTEGER,
  due_at           INTEGER,
  status           TEXT NOT NULL CHECK (status IN ('PENDING', 'IN_PROGRESS', 'DONE', 'FAIL', 'CANCELED', 'OVERDUE', 'DEFERRED', 'SKIPPED', 'DELETED')),
  completed_at     INTEGER,                        -- set by DONE, cleared by any other status
  failed_at        INTEGER,                        -- set by FAIL, cleared by any other status
  fail_reason      TEXT CHECK (fail_reason IN ('too_big', 'no_time', 'unclear', 'blocked', 'low_energy', 'forgot', 'other')),
  fail_note        TEXT,
  actual_minutes   INTEGER,
  position         INTEGER NOT NULL,               -- ordering key among siblings (ascending)
  replan_of        TEXT REFERENCES todo_tasks_v3 (id) ON DELETE SET NULL, -- the failed task this re-plans
  rev              INTEGER NOT NULL,               -- seq of the last command that changed the content
  pos_rev          INTEGER NOT NULL,               -- seq of the last command that set the position
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  CHECK ((status = 'FAIL') = (fail_reason IS NOT NULL))
);
INSERT INTO todo_tasks_v3 (id, project_id, parent_id, user_id, title, description, category, estimate_minutes, due_at, status,
  completed_at, failed_at, fail_reason, fail_note, actual_minutes, position, replan_of, rev, pos_rev, created_at, updated_at)
SELECT t.id, t.project_id, t.parent_id, t.user_id, t.title, t.description, t.category, t.estimate_minutes, t.due_at, t.status,
  t.completed_at, t.failed_at, t.fail_reason, t.fail_note, t.actual_minutes, t.position, t.replan_of, t.rev, t.pos_rev, t.created_at, t.updated_at
FROM todo_tasks t LEFT JOIN todo_ids i ON i.id = t.id ORDER BY i.seq, t.created_at, t.id;
DROP TABLE todo_tasks;
ALTER TABLE todo_tasks_v3 RENAME TO todo_tasks;

CREATE UNIQUE INDEX todo_tasks_position ON todo_tasks (project_id, position) WHERE parent_id IS NULL AND status <> 'DELETED';
CREATE UNIQUE INDEX todo_subtasks_position ON todo_tasks (parent_id, position) WHERE parent_id IS NOT NULL AND status <> 'DELETED';
CREATE INDEX todo_tasks_project ON todo_tasks (project_id);
CREATE INDEX todo_tasks_parent ON todo_tasks (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX todo_tasks_user_status ON todo_tasks (user_id, status);
CREATE INDEX todo_tasks_replan_of ON todo_tasks (replan_of) WHERE replan_of IS NOT NULL;
CREATE INDEX todo_tasks_due ON todo_tasks (due_at) WHERE status IN ('PENDING', 'IN_PROGRESS') AND due_at IS NOT NULL;
