-- Task statuses OVERDUE and DELETED (the reference's nine). A deleted task stays, read-only,
-- with status DELETED; OVERDUE is set by the worker on open tasks whose due time has passed.
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt with the same columns,
-- its self-references named after the new table (RENAME rewrites them to todo_tasks).
CREATE TABLE todo_tasks_v2 (
  id               TEXT PRIMARY KEY,
  project_id       TEXT NOT NULL REFERENCES todo_projects (id) ON DELETE CASCADE,
  parent_id        TEXT REFERENCES todo_tasks_v2 (id) ON DELETE CASCADE, -- NULL: a task; else a subtask
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
  replan_of        TEXT REFERENCES todo_tasks_v2 (id) ON DELETE SET NULL, -- the failed task this re-plans
  rev              INTEGER NOT NULL,               -- seq of the last command that changed the content
  pos_rev          INTEGER NOT NULL,               -- seq of the last command that set the position
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  CHECK ((status = 'FAIL') = (fail_reason IS NOT NULL))
) WITHOUT ROWID;

INSERT INTO todo_tasks_v2 (id, project_id, parent_id, user_id, title, description, category, estimate_minutes, due_at, status,
  completed_at, failed_at, fail_reason, fail_note, actual_minutes, position, replan_of, rev, pos_rev, created_at, updated_at)
SELECT id, project_id, parent_id, user_id, title, description, category, estimate_minutes, due_at, status,
  completed_at, failed_at, fail_reason, fail_note, actual_minutes, position, replan_of, rev, pos_rev, created_at, updated_at
FROM todo_tasks;

DROP TABLE todo_tasks;
ALTER TABLE todo_tasks_v2 RENAME TO todo_tasks;

-- Positions are unique among a project's live tasks and among a task's live subtasks: a deleted
-- task keeps its last position but no longer takes part in the order.
CREATE UNIQUE INDEX todo_tasks_position ON todo_tasks (project_id, position) WHERE parent_id IS NULL AND status <> 'DELETED';
CREATE UNIQUE INDEX todo_subtasks_position ON todo_tasks (parent_id, position) WHERE parent_id IS NOT NULL AND status <> 'DELETED';
CREATE INDEX todo_tasks_project ON todo_tasks (project_id);
CREATE INDEX todo_tasks_parent ON todo_tasks (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX todo_tasks_user_status ON todo_tasks (user_id, status);
CREATE INDEX todo_tasks_replan_of ON todo_tasks (replan_of) WHERE replan_of IS NOT NULL;
-- The overdue job's scan: open tasks by due time.
CREATE INDEX todo_tasks_due ON todo_tasks (due_at) WHERE status IN ('PENDING', 'IN_PROGRESS') AND due_at IS NOT NULL;
