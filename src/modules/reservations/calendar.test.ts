// utcDay remembers the last day it formatted: it must still answer every instant's own day.
import { describe, expect, test } from "bun:test";
import { nextUtcMidnight, utcDay } from "./calendar";
import { seededRandom } from "../../platform/random";

const dayMs = 86_400_000;
const byDate = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const midnightByDate = (ms: number) => {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
};

describe("UTC calendar days", () => {
  test("utcDay and nextUtcMidnight agree with Date at day edges, back and forth, before 1970 too", () => {
    const edges = [0, -1, 1, dayMs - 1, dayMs, -dayMs, -dayMs - 1, Date.UTC(2024, 1, 29, 23, 59, 59, 999), Date.UTC(2024, 2, 1), Date.UTC(1969, 11, 31, 12)];
    for (const ms of [...edges, ...edges.reverse()]) {
      expect(utcDay(ms)).toBe(byDate(ms));
      expect(nextUtcMidnight(ms)).toBe(midnightByDate(ms));
    }
  });

  test("random instants over two centuries, each asked twice in a row and interleaved", () => {
    const random = seededRandom(7);
    const span = Date.UTC(2100, 0, 1) - Date.UTC(1900, 0, 1);
    for (let i = 0; i < 5_000; i++) {
      const ms = Date.UTC(1900, 0, 1) + Math.floor(random() * span);
      expect(utcDay(ms)).toBe(byDate(ms));
      expect(utcDay(ms + 1)).toBe(byDate(ms + 1));
      expect(nextUtcMidnight(ms)).toBe(midnightByDate(ms));
    }
  });
});
