// Migration 0003 rebuilds the id registry and the tasks as rowid tables: what a database at
// version 2 holds comes through unchanged, and the constraints still hold afterwards.
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { migrate } from "../../platform/db/sqlite";
import { todosModule } from "./index";

const userId = "01936f3e-0000-7000-8000-0000000000aa";
const projectId = "01936f3e-0000-7000-8000-000000000001";
// Ids not in creation order: the subtask's and the re-plan's ids sort before their parent's.
const parentId = "01936f3e-0000-7000-8000-00000000000f";
const subtaskId = "01936f3e-0000-7000-8000-000000000002";
const replanId = "01936f3e-0000-7000-8000-000000000003";

function atVersion(version: number): Database {
  const db = new Database(":memory:", { strict: true });
  db.exec("PRAGMA foreign_keys = ON");
  migrate(db, [{ module: "todos", migrations: todosModule.migrations!.filter((m) => m.version <= version) }]);
  return db;
}

function seed(db: Database) {
  const id = db.query(
    "INSERT INTO todo_ids (id, kind, user_id, project_id, parent_id, body_hash, seq, created_at, deleted_at) VALUES (?, ?, ?, ?, ?, 'h', ?, ?, ?)",
  );
  id.run(projectId, "project", userId, null, null, 1, 1000, null);
  id.run(parentId, "task", userId, projectId, null, 2, 1001, null);
  id.run(subtaskId, "task", userId, projectId, parentId, 3, 1002, null);
  id.run(replanId, "task", userId, projectId, parentId, 4, 1003, 1500);
  db.query("INSERT INTO todo_projects (id, user_id, title, description, rev, created_at, updated_at) VALUES (?, ?, 'Q4', NULL, 1, 1000, 1000)").run(projectId, userId);
  const task = db.query(
    `INSERT INTO todo_tasks (id, project_id, parent_id, user_id, title, description, category, estimate_minutes, due_at, status,
       completed_at, failed_at, fail_reason, fail_note, actual_minutes, position, replan_of, rev, pos_rev, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, NULL, 'work', 30, ?, ?, NULL, ?, ?, NULL, NULL, ?, ?, ?, ?, ?, ?)`,
  );
  task.run(parentId, projectId, null, userId, "Report", 5000, "FAIL", 1200, "too_big", 2, null, 2, 2, 1001, 1200);
  task.run(subtaskId, projectId, parentId, userId, "Outline", null, "PENDING", null, null, 3, null, 3, 3, 1002, 1002);
  task.run(replanId, projectId, parentId, userId, "Shorter outline", null, "DELETED", null, null, 4, subtaskId, 4, 4, 1003, 1500);
}

const contents = (db: Database) => ({
  ids: db.query("SELECT * FROM todo_ids ORDER BY id").all(),
  tasks: db.query("SELECT * FROM todo_tasks ORDER BY id").all(),
  indexes: db.query("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('todo_ids', 'todo_tasks') AND sql IS NOT NULL ORDER BY name").all(),
});

const withoutRowid = (db: Database) =>
  db.query<{ name: string }, []>("SELECT name FROM pragma_table_list WHERE name IN ('todo_ids', 'todo_tasks') AND wr = 1 ORDER BY name").all().map((r) => r.name);

describe("todos migration 0003: rowid tables", () => {
  test("keeps every row and index of a version-2 database and leaves no table WITHOUT ROWID", () => {
    const db = atVersion(2);
    seed(db);
    const before = contents(db);
    expect(withoutRowid(db)).toEqual(["todo_ids", "todo_tasks"]);

    migrate(db, [{ module: "todos", migrations: todosModule.migrations! }]);

    expect(withoutRowid(db)).toEqual([]);
    expect(contents(db)).toEqual(before);
    expect(db.query("PRAGMA foreign_key_check").all()).toEqual([]);
    expect(db.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
  });

  test("the rebuilt tasks still reference themselves: subtasks cascade, re-plans are unlinked, unknown parents refused", () => {
    const db = atVersion(2);
    seed(db);
    migrate(db, [{ module: "todos", migrations: todosModule.migrations! }]);

    const orphan = db.query(
      `INSERT INTO todo_tasks (id, project_id, parent_id, user_id, title, status, position, rev, pos_rev, created_at, updated_at)
       VALUES ('01936f3e-0000-7000-8000-0000000000ff', ?, '01936f3e-0000-7000-8000-0000000000ee', ?, 'x', 'PENDING', 9, 9, 9, 1, 1)`,
    );
    expect(() => orphan.run(projectId, userId)).toThrow(/FOREIGN KEY/);

    db.query("DELETE FROM todo_tasks WHERE id = ?").run(subtaskId);
    expect(db.query("SELECT id, replan_of FROM todo_tasks ORDER BY id").all()).toEqual([
      { id: replanId, replan_of: null },
      { id: parentId, replan_of: null },
    ]);
    db.query("DELETE FROM todo_tasks WHERE id = ?").run(parentId);
    expect(db.query("SELECT id FROM todo_tasks").all()).toEqual([]);

    db.query("DELETE FROM todo_projects WHERE id = ?").run(projectId);
    expect(db.query("SELECT count(*) AS n FROM todo_tasks").get()).toEqual({ n: 0 });
  });
});
