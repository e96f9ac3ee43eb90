// Project use cases: create (idempotent by the client's id), rename or describe, delete.
import type { Clock } from "../../platform/clock";
import { newProjectRow, toProject } from "./commands";
import { todoProblems } from "./errors";
import type { CreateProjectBody, Project, UpdateProjectBody } from "./model";
import type { Reads } from "./reads";
import type { TodosStore } from "./store";
import type { WritePipeline, Written } from "./writes";

export class Projects {
  constructor(
    private readonly store: TodosStore,
    private readonly writes: WritePipeline,
    private readonly reads: Reads,
    private readonly clock: Clock,
  ) {}

  async create(userId: string, body: CreateProjectBody): Promise<Written<Project, "created" | "accepted" | "replayed">> {
    const project = { id: body.id.toLowerCase(), title: body.title.trim(), description: body.description ?? null };
    const at = this.clock.now();
    const { result, queued } = await this.writes.submit((delivery) => this.store.createProject({ userId, at, project }, delivery));
    const created = newProjectRow({ kind: "project.create", seq: result.seqs[0]!, userId, at: result.at, project });
    if (!result.replay) return { outcome: queued ? "accepted" : "created", body: toProject(created) };
    // The same create again: the resource as it is now (it may have changed since).
    return { outcome: "replayed", body: toProject((await this.reads.projectRow(userId, project.id)) ?? created) };
  }

  async update(userId: string, id: string, body: UpdateProjectBody): Promise<Written<Project, "updated" | "accepted">> {
    const projectId = id.toLowerCase();
    const patch: { title?: string; description?: string | null } = {};
    if (body.title !== undefined) patch.title = body.title.trim();
    if (body.description !== undefined) patch.description = body.description;
    const at = this.clock.now();
    const { queued } = await this.writes.submit((delivery) => this.store.updateProject({ userId, at, projectId, patch }, delivery));
    const row = await this.reads.projectRow(userId, projectId);
    if (!row) throw todoProblems.projectNotFound();
    return { outcome: queued ? "accepted" : "updated", body: toProject(row) };
  }

  /**
   * Deletes the project with its tasks and subtasks; their ids are not reused. Deleting it again
   * is done already: 204 in both write modes.
   */
  async delete(userId: string, id: string): Promise<Written<undefined, "deleted" | "accepted">> {
    const projectId = id.toLowerCase();
    const at = this.clock.now();
    const { queued, commands } = await this.writes.submit((delivery) => this.store.deleteProject({ userId, at, projectId }, delivery));
    return { outcome: queued && commands.length > 0 ? "accepted" : "deleted", body: undefined };
  }
}
