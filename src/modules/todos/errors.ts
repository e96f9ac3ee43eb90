// The todos module's error codes (the `code` of its problem+json answers), named after the scheme
// in src/platform/http/errors.ts, and the problems that carry them. Bad bodies (a blank title, a
// too-long note) are refused by the `t` schemas in model.ts as validation_failed; these codes are
// for what only the data can tell.
import { problems, type FieldError } from "../../platform/http/problem";

export const todoErrors = {
  projectNotFound: "project_not_found",
  taskNotFound: "task_not_found",
  /** A write to a task that was deleted: deleted tasks never change again. */
  taskDeleted: "task_deleted",
  /** A create reused an id with another body, kind or owner. */
  idConflict: "id_conflict",
  /** A create reused the id of something since deleted: ids are not reused. */
  idDeleted: "id_deleted",
  subtaskDepth: "subtask_depth",
  reasonRequired: "reason_required",
  reasonOnlyForFail: "reason_only_for_fail",
  orderMismatch: "order_mismatch",
  invalidTimeZone: "invalid_time_zone",
  taskNotFailed: "task_not_failed",
  duplicateIds: "duplicate_ids",
} as const;

export type TodoErrorCode = (typeof todoErrors)[keyof typeof todoErrors];

export const todoProblems = {
  projectNotFound: () => problems.notFound(todoErrors.projectNotFound, "no such project"),
  taskNotFound: () => problems.notFound(todoErrors.taskNotFound, "no such task"),
  taskDeleted: (id: string) => problems.conflict(todoErrors.taskDeleted, `task ${id} is deleted; deleted tasks never change again`),
  idConflict: (detail: string) => problems.conflict(todoErrors.idConflict, detail),
  idDeleted: (id: string) => problems.conflict(todoErrors.idDeleted, `id ${id} was created and has since been deleted; ids are not reused`),
  subtaskDepth: () => problems.conflict(todoErrors.subtaskDepth, "subtasks cannot have subtasks of their own"),
  reasonRequired: () =>
    problems.unprocessable(todoErrors.reasonRequired, "failing a task needs a reason", [{ field: "/reason", message: "required when status is FAIL" }]),
  reasonOnlyForFail: (field: FieldError["field"]) =>
    problems.unprocessable(todoErrors.reasonOnlyForFail, "reason and note go with status FAIL only", [{ field, message: "only allowed when status is FAIL" }]),
  orderMismatch: (missing: string[], unknown: string[]) =>
    problems.conflict(todoErrors.orderMismatch, "taskIds must list every task of the project exactly once", { missing, unknown }),
  invalidTimeZone: (zone: string) =>
    problems.unprocessable(todoErrors.invalidTimeZone, `unknown time zone ${JSON.stringify(zone)}`, [
      { field: "/tz", message: "expected an IANA time zone such as Europe/Berlin" },
    ]),
  taskNotFailed: (status: string) => problems.conflict(todoErrors.taskNotFailed, `only a failed task can be re-planned; this one is ${status}`),
  duplicateIds: () => problems.unprocessable(todoErrors.duplicateIds, "each subtask needs its own id", [{ field: "/subtasks", message: "ids repeat" }]),
};
