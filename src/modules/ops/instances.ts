// This process's heartbeat in the shared ops_instances table (every 5 s), so any instance on the
// data dir lists the others; one not seen for 30 s is shown as gone, and forgotten after a day.
import { hostname } from "node:os";
import type { Static } from "elysia";
import type { Clock } from "../../platform/clock";
import type { Logger } from "../../platform/logger";
import type { Instance } from "./model";
import type { InstanceRecord, OpsStore } from "./store";

export type WireInstance = Static<typeof Instance>;

export const heartbeatMs = 5_000;
export const goneAfterMs = 30_000;
const forgetAfterMs = 86_400_000;

export class Instances {
  readonly self: InstanceRecord;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly store: OpsStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
    identity: { role: string; port: number },
  ) {
    const now = clock.now();
    this.self = {
      id: Bun.randomUUIDv7(),
      role: identity.role,
      pid: process.pid,
      hostname: hostname(),
      port: identity.port,
      startedAt: now - Math.round(process.uptime() * 1000),
      lastSeenAt: now,
    };
  }

  /** Records this instance as seen now (the timer calls it; tests too). */
  async beat(): Promise<void> {
    const now = this.clock.now();
    this.self.lastSeenAt = now;
    await this.store.heartbeat(this.self, now - forgetAfterMs);
  }

  start(): void {
    if (this.timer) return;
    const beat = () => void this.beat().catch((err: unknown) => this.logger.warn("ops heartbeat failed", { err: String(err) }));
    beat();
    this.timer = setInterval(beat, heartbeatMs);
  }

  /** Stops beating and removes this instance's row (a clean shutdown is not "gone"). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.store.removeInstance(this.self.id).catch(() => undefined);
  }

  selfWire(): WireInstance {
    return this.wire(this.self, this.clock.now());
  }

  /** Every instance on this data dir (this one first), with whether it is still alive. */
  async list(): Promise<WireInstance[]> {
    const now = this.clock.now();
    const rows = (await this.store.instances()).filter((r) => r.id !== this.self.id);
    return [this.selfWire(), ...rows.map((r) => this.wire(r, now))];
  }

  private wire(r: InstanceRecord, now: number): WireInstance {
    const self = r.id === this.self.id;
    return {
      id: r.id,
      role: r.role,
      pid: r.pid,
      hostname: r.hostname,
      port: r.port,
      startedAt: new Date(r.startedAt).toISOString(),
      lastSeenAt: new Date(self ? now : r.lastSeenAt).toISOString(),
      self,
      alive: self || now - r.lastSeenAt <= goneAfterMs,
    };
  }
}
