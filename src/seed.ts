// `homebase seed <domain>`: realistic demo and benchmark data, written through the modules'
// services so every rule (and every outbox event) applies. Each domain adds one entry.
import type { Modules } from "./app";
import type { Platform } from "./platform";
import { parseSeedArgs, seedMovies } from "./modules/reservations/seed";
import { parseShopSeedArgs, seedShop } from "./modules/shop/seed";

export interface Seeder {
  describe: string;
  /** Returns a one-line summary of what was created. */
  run(platform: Platform, modules: Modules, args: string[]): Promise<string>;
}

export const seeders: Record<string, Seeder> = {};

seeders.movies = {
  describe: "12 theaters, 500 movies, ~1,600 screenings around today ([--movies N] [--screenings N] [--theaters N] [--seed N])",
  run: (_platform, modules, args) => seedMovies(modules.reservations, parseSeedArgs(args)),
};

seeders.shop = {
  describe: "a supplement catalog: 200 items over 9 categories and 12 brands, stock 500 each ([--items N] [--stock N] [--seed N])",
  run: (_platform, modules, args) => seedShop(modules.shop.catalog, parseShopSeedArgs(args)),
};
