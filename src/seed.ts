// `homebase seed <domain>`: realistic demo and benchmark data, written through the modules'
// services so every rule (and every outbox event) applies. Each domain adds one entry.
import type { Modules } from "./app";
import type { Platform } from "./platform";

export interface Seeder {
  describe: string;
  /** Returns a one-line summary of what was created. */
  run(platform: Platform, modules: Modules, args: string[]): Promise<string>;
}

export const seeders: Record<string, Seeder> = {};
