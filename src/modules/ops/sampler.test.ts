// Quantiles from cumulative histogram buckets, interpolated within the bucket like PromQL.
import { expect, test } from "bun:test";
import { quantile } from "./sampler";

const bounds = [0.001, 0.01, 0.1, Infinity];

test("a quantile falls inside its bucket, linearly", () => {
  // 100 observations: 50 ≤ 1 ms, 40 in (1, 10] ms, 10 in (10, 100] ms.
  const cumulative = [50, 90, 100, 100];
  expect(quantile(0.5, bounds, cumulative)).toBeCloseTo(0.001, 9);
  expect(quantile(0.25, bounds, cumulative)).toBeCloseTo(0.0005, 9);
  expect(quantile(0.7, bounds, cumulative)).toBeCloseTo(0.001 + 0.009 * (20 / 40), 9);
  expect(quantile(0.99, bounds, cumulative)).toBeCloseTo(0.01 + 0.09 * (9 / 10), 9);
});

test("no observations: no quantile; the +Inf bucket answers its lower bound", () => {
  expect(quantile(0.5, bounds, [0, 0, 0, 0])).toBeNull();
  expect(quantile(0.99, bounds, [0, 0, 1, 10])).toBe(0.1);
});
