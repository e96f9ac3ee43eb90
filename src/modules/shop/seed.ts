// `homebase seed shop`: a realistic supplement catalog for demos and benchmarks — brands,
// products per health category with their nutrients, list prices, discounts, stock, and the
// sales/review history a catalog imported from an existing shop would carry. Deterministic
// for a given --seed.
import type { CatalogService, ImportedItem } from "./catalog";
import type { Category } from "./model";
import { seededRandom } from "../../platform/random";

export interface ShopSeedOptions {
  items: number;
  stock: number;
  seed: number;
}

export function parseShopSeedArgs(args: string[]): ShopSeedOptions {
  const out: ShopSeedOptions = { items: 200, stock: 500, seed: 7 };
  for (let i = 0; i < args.length; i++) {
    const flag = args[i];
    const value = Number(args[i + 1]);
    const key = flag === "--items" ? "items" : flag === "--stock" ? "stock" : flag === "--seed" ? "seed" : null;
    if (key === null || !Number.isSafeInteger(value) || value < 0) {
      throw new Error(`usage: homebase seed shop [--items N] [--stock N] [--seed N] (got ${flag} ${args[i + 1] ?? ""})`);
    }
    out[key] = value;
    i++;
  }
  if (out.items < 1 || out.items > 100_000) throw new Error("--items must be 1 to 100000");
  return out;
}

const brands = [
  "NutriCore",
  "GreenLeaf",
  "Vitalis",
  "Daily Balance",
  "Korea Ginseng Lab",
  "Pure Origin",
  "OceanLife",
  "BioRhythm",
  "HanBit Health",
  "Nature's Path",
  "CellGuard",
  "PrimeWell",
];

const products: Record<Category, Array<{ name: string; nutrients: string[] }>> = {
  EYE: [
    { name: "Lutein Gold 20 mg", nutrients: ["Lutein 20 mg", "Zeaxanthin 4 mg"] },
    { name: "Bilberry Vision Complex", nutrients: ["Bilberry extract 160 mg", "Vitamin A 700 µg"] },
    { name: "Astaxanthin Eye Care", nutrients: ["Astaxanthin 12 mg", "Vitamin E 11 mg"] },
  ],
  BONE: [
    { name: "Calcium Magnesium Vitamin D", nutrients: ["Calcium 700 mg", "Magnesium 315 mg", "Vitamin D 25 µg"] },
    { name: "MBP Bone Density", nutrients: ["Milk basic protein 40 mg", "Calcium 300 mg"] },
    { name: "Joint Glucosamine 1500", nutrients: ["Glucosamine 1,500 mg", "MSM 500 mg"] },
  ],
  BRAIN: [
    { name: "Phosphatidylserine Memory", nutrients: ["Phosphatidylserine 300 mg"] },
    { name: "Ginkgo Focus", nutrients: ["Ginkgo leaf extract 120 mg", "Vitamin B6 1.5 mg"] },
    { name: "Omega-3 rTG 1000", nutrients: ["EPA+DHA 900 mg", "Vitamin E 11 mg"] },
  ],
  INTESTINE: [
    { name: "Probiotics 10 Billion", nutrients: ["Probiotics 10 billion CFU", "Fructooligosaccharide 1 g"] },
    { name: "Postbiotic Gut Balance", nutrients: ["Lactobacillus heat-treated 5 billion", "Zinc 8.5 mg"] },
    { name: "Psyllium Fiber Cleanse", nutrients: ["Psyllium husk 5 g"] },
  ],
  LIVER: [
    { name: "Milk Thistle Silymarin", nutrients: ["Silymarin 130 mg"] },
    { name: "Liver Care UDCA Complex", nutrients: ["Artichoke extract 300 mg", "Vitamin B1 1.2 mg"] },
  ],
  SKIN: [
    { name: "Low-Molecular Collagen", nutrients: ["Collagen peptide 1,000 mg", "Vitamin C 100 mg"] },
    { name: "Hyaluronic Acid Moisture", nutrients: ["Hyaluronic acid 120 mg"] },
    { name: "Biotin Hair & Skin", nutrients: ["Biotin 300 µg", "Zinc 8.5 mg"] },
  ],
  ANTIOXIDANT: [
    { name: "Vitamin C 1000", nutrients: ["Vitamin C 1,000 mg"] },
    { name: "Coenzyme Q10 100", nutrients: ["Coenzyme Q10 100 mg"] },
    { name: "Selenium Zinc Defense", nutrients: ["Selenium 55 µg", "Zinc 8.5 mg"] },
  ],
  FATIGUE: [
    { name: "Active Vitamin B Complex", nutrients: ["Vitamin B1 50 mg", "Vitamin B2 50 mg", "Vitamin B6 50 mg", "Vitamin B12 50 µg"] },
    { name: "Red Ginseng 6-Year Stick", nutrients: ["Ginsenoside Rg1+Rb1+Rg3 18 mg"] },
    { name: "Iron & Folate", nutrients: ["Iron 12 mg", "Folic acid 400 µg"] },
  ],
  ETC: [
    { name: "Multivitamin Daily", nutrients: ["13 vitamins", "9 minerals"] },
    { name: "Protein Powder Vanilla", nutrients: ["Protein 24 g"] },
  ],
};

const sizes = ["30 capsules", "60 capsules", "90 capsules", "120 tablets", "30 sticks", "180 tablets"];
const discountRates = [0, 0, 0, 5, 10, 10, 15, 20, 25, 30, 40, 50];
const categoryList = Object.keys(products) as Category[];

export function shopCatalog(options: ShopSeedOptions): ImportedItem[] {
  const rand = seededRandom(options.seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
  const items: ImportedItem[] = [];
  for (let i = 0; i < options.items; i++) {
    const category = pick(categoryList);
    const product = pick(products[category]);
    const brand = pick(brands);
    const size = pick(sizes);
    const cats = new Set<Category>([category]);
    if (rand() < 0.25) cats.add(pick(categoryList));
    // KRW list prices in hundreds: 9,900 to ~89,900.
    const price = (Math.floor(rand() * 800) + 99) * 100;
    const reviewCount = Math.floor(rand() ** 2 * 400);
    items.push({
      name: `${product.name}, ${size}`,
      brand,
      price,
      discountRate: pick(discountRates),
      stock: options.stock,
      categories: [...cats],
      nutrients: product.nutrients,
      description: `${product.name} by ${brand}: ${product.nutrients.join(", ")} per daily serving.`,
      imageUrl: `https://images.example.com/items/${i + 1}.jpg`,
      salesCount: Math.floor(rand() ** 3 * 5_000),
      reviewCount,
      starSum: Math.round(reviewCount * (3.4 + rand() * 1.6)),
    });
  }
  return items;
}

export async function seedShop(catalog: CatalogService, options: ShopSeedOptions): Promise<string> {
  const items = shopCatalog(options);
  for (let i = 0; i < items.length; i += 500) await catalog.importItems(items.slice(i, i + 500));
  return `created ${items.length} shop items (stock ${options.stock} each)`;
}
