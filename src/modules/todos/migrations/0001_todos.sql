-- Todos: projects → tasks → subtasks, the id registry behind idempotent creates, and the
-- command sequence both write modes share.

-- Every id a client ever created, with its owner, place in the tree and a hash of the create
-- body. Written in the API's transaction in both write modes, so it answers "does it exist,
-- whose is it, was this create already done" at once, even while the write itself is still
-- pending in async mode. Ids are never reused: deleting marks the row.
CREATE TABLE todo_ids (
  id         TEXT PRIMARY KEY,                     -- client-supplied UUIDv7
  kind       TEXT NOT NULL CHECK (kind IN ('project', 'task')),
  user_id    TEXT NOT NULL,
  project_id TEXT,                                 -- tasks: their project
  parent_id  TEXT,                                 -- subtasks: their task
  body_hash  TEXT NOT NULL,                        -- sha256 of the canonical create body
  seq        INTEGER NOT NULL,                     -- the creating command's sequence number
  created_at INTEGER NOT NULL,
  deleted_at INTEGER
) WITHOUT ROWID;
CREATE INDEX todo_ids_project ON todo_ids (project_id) WHERE deleted_at IS NULL;
CREATE INDEX todo_ids_parent ON todo_ids (parent_id) WHERE deleted_at IS NULL;
CREATE INDEX todo_ids_user ON todo_ids (user_id) WHERE deleted_at IS NULL;

-- One counter: every write command gets the next number, in commit order. Entities remember
-- the last command applied to them (rev), which makes applying a command idempotent and lets
-- reads tell which pending commands a snapshot already contains.
CREATE TABLE todo_seq (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  n  INTEGER NOT NULL
);
INSERT INTO todo_seq (id, n) VALUES (1, 0);

CREATE TABLE todo_projects (
  id          TEXT PRIMARY KEY,
  user_id     TEXT NOT NULL,
  title       TEXT NOT NULL,
  description TEXT,
  rev         INTEGER NOT NULL,                    -- seq of the last command applied
  created_at  INTEGER NOT NULL,                    -- epoch ms
  updated_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX todo_projects_user ON todo_projects (user_id, created_at);

CREATE TABLE todo_tasks (
  id               TEXT PRIMARY KEY,
  project_id       TEXT NOT NULL REFERENCES todo_projects (id) ON DELETE CASCADE,
  parent_id        TEXT REFERENCES todo_tasks (id) ON DELETE CASCADE, -- NULL: a task; else a subtask
  user_id          TEXT NOT NULL,
  title            TEXT NOT NULL,
  description      TEXT,
  category         TEXT,
  estimate_minutes INTEGER,
  due_at           INTEGER,
  status           TEXT NOT NULL CHECK (status IN ('PENDING', 'IN_PROGRESS', 'DONE', 'FAIL', 'CANCELED', 'DEFERRED', 'SKIPPED')),
  completed_at     INTEGER,                        -- set by DONE, cleared by any other status
  failed_at        INTEGER,                        -- set by FAIL, cleared by any other status
  fail_reason      TEXT CHECK (fail_reason IN ('too_big', 'no_time', 'unclear', 'blocked', 'low_energy', 'forgot', 'other')),
  fail_note        TEXT,
  actual_minutes   INTEGER,
  position         INTEGER NOT NULL,               -- ordering key among siblings (ascending)
  replan_of        TEXT REFERENCES todo_tasks (id) ON DELETE SET NULL, -- the failed task this re-plans
  rev              INTEGER NOT NULL,               -- seq of the last command that changed the content
  pos_rev          INTEGER NOT NULL,               -- seq of the last command that set the position
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  CHECK ((status = 'FAIL') = (fail_reason IS NOT NULL))
) WITHOUT ROWID;
-- Positions are unique among a project's tasks and among a task's subtasks.
CREATE UNIQUE INDEX todo_tasks_position ON todo_tasks (project_id, position) WHERE parent_id IS NULL;
CREATE UNIQUE INDEX todo_subtasks_position ON todo_tasks (parent_id, position) WHERE parent_id IS NOT NULL;
CREATE INDEX todo_tasks_project ON todo_tasks (project_id);
CREATE INDEX todo_tasks_user_status ON todo_tasks (user_id, status);
CREATE INDEX todo_tasks_replan_of ON todo_tasks (replan_of) WHERE replan_of IS NOT NULL;
