// Todos controller: routes only.
import { Elysia, t } from "elysia";
import { platformErrors as P } from "../../platform/http/errors";
import { storedResponse } from "../../platform/http/compression";
import { problemResponses } from "../../platform/http/problem";
import { authFailures, authPlugin, type AccountsService } from "../accounts";
import { todoErrors as E } from "./errors";
import {
  CreateProjectBody,
  CreateTaskBody,
  IdParams,
  ListQuery,
  Project,
  ProjectList,
  ReorderBody,
  StatusBody,
  Task,
  TaskDetail,
  SubtaskList,
  TaskList,
  UpdateProjectBody,
  UpdateTaskBody,
} from "./model";
import { AcceptedReplan, AcceptReplanBody, Analysis, Insights, InsightsQuery, ReplanPlan } from "./model.coach";
import type { Todos } from "./index";
import type { WriteOutcome, Written } from "./writes";

/** The status each write outcome answers with. */
const statusOf = { created: 201, replayed: 200, updated: 200, deleted: 204, accepted: 202 } as const satisfies Record<WriteOutcome, number>;

function reply<T>(set: { status?: number | string }, written: Written<T>): T {
  set.status = statusOf[written.outcome];
  return written.body;
}

const tags = ["todos"];

// The codes each route can answer, per status (documented in the OpenAPI document).
// What the platform answers a route that takes a JSON body before the handler runs:
const withBody = { 400: [P.malformedBody, P.bodyTooDeep], 411: [P.lengthRequired], 413: [P.bodyTooLarge] } as const;
const validation = [P.validationFailed] as const;
const projectRoute = { 401: authFailures, 404: [E.projectNotFound], 422: validation } as const;
const taskRoute = { 401: authFailures, 404: [E.taskNotFound], 422: validation } as const;
/** A write to a task: a DELETED one never changes again. */
const taskWrite = { ...taskRoute, 409: [E.taskDeleted] } as const;
const createConflicts = [E.idConflict, E.idDeleted] as const;

const modes =
  "HOMEBASE_TODOS_WRITE_MODE=direct answers once the write is committed; async answers 202 once it is durably queued, and every read already shows it.";

export function todosController({ reads, projects, tasks, coach }: Todos, accounts: AccountsService) {
  return new Elysia({ name: "homebase.todos" })
    .use(authPlugin(accounts))
    // Named models: the OpenAPI document references each once instead of repeating it per status.
    .model({
      "todos.Project": Project,
      "todos.ProjectList": ProjectList,
      "todos.Task": Task,
      "todos.TaskDetail": TaskDetail,
      "todos.TaskList": TaskList,
      "todos.SubtaskList": SubtaskList,
      "todos.Insights": Insights,
      "todos.ReplanPlan": ReplanPlan,
      "todos.Analysis": Analysis,
      "todos.AcceptedReplan": AcceptedReplan,
    })
    .post(
      "/projects",
      async ({ principal, body, set }) => reply(set, await projects.create(principal.userId, body)),
      {
        auth: true,
        body: CreateProjectBody,
        response: { 200: "todos.Project", 201: "todos.Project", 202: "todos.Project", ...problemResponses({ ...withBody, 401: authFailures, 409: createConflicts, 422: validation }) },
        detail: {
          tags,
          summary: "Create a project",
          description: `The client picks the id (UUIDv7). The same id with the same body again returns the project (200); with a different body 409 id_conflict. ${modes}`,
        },
      },
    )
    .get("/projects", ({ principal }) => reads.listProjects(principal.userId), {
      auth: true,
      response: { 200: "todos.ProjectList", ...problemResponses({ 401: authFailures }) },
      detail: { tags, summary: "List the caller's projects", description: "Oldest first." },
    })
    .get("/projects/:id", ({ principal, params }) => reads.getProject(principal.userId, params.id), {
      auth: true,
      params: IdParams,
      response: { 200: "todos.Project", ...problemResponses(projectRoute) },
      detail: { tags, summary: "Get a project", description: "Other users' projects answer 404." },
    })
    .patch(
      "/projects/:id",
      async ({ principal, params, body, set }) => reply(set, await projects.update(principal.userId, params.id, body)),
      {
        auth: true,
        params: IdParams,
        body: UpdateProjectBody,
        response: { 200: "todos.Project", 202: "todos.Project", ...problemResponses({ ...withBody, ...projectRoute }) },
        detail: { tags, summary: "Rename or describe a project", description: modes },
      },
    )
    .delete(
      "/projects/:id",
      async ({ principal, params, set }) => reply(set, await projects.delete(principal.userId, params.id)),
      {
        auth: true,
        params: IdParams,
        response: { 202: t.Void(), 204: t.Void(), ...problemResponses(projectRoute) },
        detail: {
          tags,
          summary: "Delete a project with its tasks and subtasks",
          description: `The project and everything in it answer 404 afterwards; ids are not reused. Deleting it again answers 204 (in both write modes). ${modes}`,
        },
      },
    )
    // The stored bytes (checked against TaskList when stored): ETag/304, gzip/br, per reader.
    .get(
      "/projects/:id/tasks",
      ({ principal, params, query, request, set }) =>
        storedResponse(request, reads.listTasksBody(principal.userId, params.id, query.includeDeleted), { cacheControl: "private, no-cache", set }),
      {
        auth: true,
        params: IdParams,
        query: ListQuery,
        response: { 200: "todos.TaskList", ...problemResponses(projectRoute) },
        detail: {
          tags,
          summary: "List a project's tasks in order",
          description:
            "Tasks only (subtasks are under GET /tasks/:id); DELETED tasks only with ?includeDeleted=true. Cache-aside, invalidated by every write to the project. " +
            "Cached answers (no write of the reader pending) carry a strong ETag (If-None-Match → 304 Not Modified, no body) and Cache-Control: private, no-cache; bodies over 1 KB come gzip- or brotli-encoded when Accept-Encoding allows (Vary: Accept-Encoding).",
        },
      },
    )
    .post(
      "/projects/:id/tasks",
      async ({ principal, params, body, set }) => reply(set, await tasks.create(principal.userId, params.id, body)),
      {
        auth: true,
        params: IdParams,
        body: CreateTaskBody,
        response: { 200: "todos.Task", 201: "todos.Task", 202: "todos.Task", ...problemResponses({ ...withBody, ...projectRoute, 409: createConflicts }) },
        detail: {
          tags,
          summary: "Add a task to a project",
          description: `Appended after the existing tasks, status PENDING. Idempotent by id like POST /projects. ${modes}`,
        },
      },
    )
    .put(
      "/projects/:id/tasks/order",
      async ({ principal, params, body, set }) => reply(set, await tasks.reorder(principal.userId, params.id, body.taskIds)),
      {
        auth: true,
        params: IdParams,
        body: ReorderBody,
        response: { 200: "todos.TaskList", 202: "todos.TaskList", ...problemResponses({ ...withBody, ...projectRoute, 409: [E.orderMismatch] }) },
        detail: {
          tags,
          summary: "Reorder a project's tasks",
          description:
            "All at once: taskIds must list every task of the project exactly once (409 order_mismatch otherwise, 422 on repeated ids); positions become 0…n-1.",
        },
      },
    )
    .get("/tasks/:id", ({ principal, params, query }) => reads.getTask(principal.userId, params.id, query.includeDeleted), {
      auth: true,
      params: IdParams,
      query: ListQuery,
      response: { 200: "todos.TaskDetail", ...problemResponses(taskRoute) },
      detail: {
        tags,
        summary: "Get a task with its subtasks",
        description:
          "Whatever its status: a deleted task answers 200 with status DELETED (404 only once its project is deleted). DELETED subtasks only with ?includeDeleted=true.",
      },
    })
    .patch(
      "/tasks/:id",
      async ({ principal, params, body, set }) => reply(set, await tasks.update(principal.userId, params.id, body)),
      {
        auth: true,
        params: IdParams,
        body: UpdateTaskBody,
        response: { 200: "todos.Task", 202: "todos.Task", ...problemResponses({ ...withBody, ...taskWrite }) },
        detail: {
          tags,
          summary: "Edit a task or subtask",
          description: `Title, description, category, estimate, due time; null clears. An OVERDUE task given a due time after now (or none) is PENDING again. A DELETED task: 409 task_deleted. ${modes}`,
        },
      },
    )
    .put(
      "/tasks/:id/status",
      async ({ principal, params, body, set }) => reply(set, await tasks.setStatus(principal.userId, params.id, body)),
      {
        auth: true,
        params: IdParams,
        body: StatusBody,
        response: { 200: "todos.Task", 202: "todos.Task", ...problemResponses({ ...withBody, ...taskWrite, 422: [...validation, E.reasonRequired, E.reasonOnlyForFail] }) },
        detail: {
          tags,
          summary: "Set a task's status",
          description:
            "DONE sets completedAt; any other status clears it. FAIL needs a reason (422 reason_required) and takes a note; actualMinutes goes with any status. Setting the current status again keeps its timestamps. OVERDUE is the worker's (open tasks past their due time) and DELETED is DELETE /tasks/:id's: neither is accepted here (422 validation_failed); an OVERDUE task takes any of the others. A DELETED task: 409 task_deleted.",
        },
      },
    )
    .delete(
      "/tasks/:id",
      async ({ principal, params, set }) => reply(set, await tasks.delete(principal.userId, params.id)),
      {
        auth: true,
        params: IdParams,
        response: { 202: t.Void(), 204: t.Void(), ...problemResponses(taskRoute) },
        detail: {
          tags,
          summary: "Delete a task with its subtasks",
          description: `Soft, like the reference: the task and its subtasks get status DELETED, still read with GET /tasks/:id, leave the lists (unless ?includeDeleted=true) and the order, and never change again (409 task_deleted). Deleting again answers 204, in both write modes. ${modes}`,
        },
      },
    )
    .get("/tasks/:id/subtasks", ({ principal, params, query }) => reads.listSubtasks(principal.userId, params.id, query.includeDeleted), {
      auth: true,
      params: IdParams,
      query: ListQuery,
      response: { 200: "todos.SubtaskList", ...problemResponses(taskRoute) },
      detail: { tags, summary: "List a task's subtasks in order", description: "DELETED subtasks only with ?includeDeleted=true." },
    })
    .post(
      "/tasks/:id/subtasks",
      async ({ principal, params, body, set }) => reply(set, await tasks.createSubtask(principal.userId, params.id, body)),
      {
        auth: true,
        params: IdParams,
        body: CreateTaskBody,
        response: {
          200: "todos.Task",
          201: "todos.Task",
          202: "todos.Task",
          ...problemResponses({ ...withBody, ...taskRoute, 409: [...createConflicts, E.subtaskDepth, E.taskDeleted] }),
        },
        detail: {
          tags,
          summary: "Add a subtask",
          description: `One level only: a subtask's subtasks are refused (409 subtask_depth). Idempotent by id. ${modes}`,
        },
      },
    )
    .get("/todos/insights", ({ principal, query }) => coach.insights(principal.userId, query.tz), {
      auth: true,
      query: InsightsQuery,
      response: { 200: "todos.Insights", ...problemResponses({ 401: authFailures, 422: [...validation, E.invalidTimeZone] }) },
      detail: {
        tags,
        summary: "The caller's failure patterns",
        description:
          "Failure rate by reason, category, hour of day and weekday, and estimate overrun, each with its sample size, over the caller's DONE and FAIL tasks. Deterministic; no external service.",
      },
    })
    .post("/tasks/:id/analysis", ({ principal, params, query }) => coach.analysis(principal.userId, params.id, query.tz), {
      auth: true,
      params: IdParams,
      query: InsightsQuery,
      response: { 200: "todos.Analysis", ...problemResponses({ ...taskRoute, 409: [E.taskNotFailed], 422: [...validation, E.invalidTimeZone] }) },
      detail: {
        tags,
        summary: "Analyze why a failed task failed",
        description:
          "{category, recommendations}: the reason names clarity, dependency, energy, attention or scope; for no_time and other the caller's history decides between scope (twice the size they usually finish), estimation (overran by 25 % or more), timing (failed at an hour where 60 % or more failed) and capacity / unknown. Deterministic, no external service; creates nothing. The re-plan is shaped by it. 409 task_not_failed unless the task is FAIL.",
      },
    })
    .post("/tasks/:id/replan", ({ principal, params, query }) => coach.replan(principal.userId, params.id, query.tz), {
      auth: true,
      params: IdParams,
      query: InsightsQuery,
      response: { 200: "todos.ReplanPlan", ...problemResponses({ ...taskRoute, 409: [E.taskNotFailed], 422: [...validation, E.invalidTimeZone] }) },
      detail: {
        tags,
        summary: "Propose a re-plan for a failed task",
        description:
          "Subtasks the size of the tasks the caller usually finishes, scheduled into the hours they finish most, each with a one-sentence reason, shaped by the task's analysis (returned with it): a first step for clarity and dependency, shorter parts for energy, at least three for scope, one a day for capacity and timing, the task's own overrun for estimation. Creates nothing: send the subtasks to /replan/accept. 409 task_not_failed unless the task is FAIL.",
      },
    })
    .post(
      "/tasks/:id/replan/accept",
      async ({ principal, params, body, set }) => reply(set, await coach.accept(principal.userId, params.id, body)),
      {
        auth: true,
        params: IdParams,
        body: AcceptReplanBody,
        response: {
          200: "todos.AcceptedReplan",
          201: "todos.AcceptedReplan",
          202: "todos.AcceptedReplan",
          ...problemResponses({ ...withBody, ...taskRoute, 409: [...createConflicts, E.taskNotFailed, E.taskDeleted], 422: [...validation, E.duplicateIds] }),
        },
        detail: {
          tags,
          summary: "Accept a re-plan",
          description:
            "Creates the subtasks atomically (all or none), with replanOf set to the failed task; under it, or beside it when it is a subtask. Idempotent by the subtasks' ids.",
        },
      },
    );
}
