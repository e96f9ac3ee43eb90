// RouteDurations counts in place what Histogram.observe would count: the same exported series,
// buckets, sums and counts as plain observe() calls on a twin histogram, across a reset().
import { describe, expect, test } from "bun:test";
import { Histogram, Registry } from "prom-client";
import { Metrics } from "../metrics";
import { RouteDurations } from "./route-durations";

const twin = () =>
  new Histogram({
    name: "homebase_http_request_duration_seconds",
    help: "HTTP request duration by route template, method and status",
    labelNames: ["route", "method", "status"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [new Registry()],
  });

// Values on bucket bounds, between them, past the last one (+Inf only) and zero.
const samples: Array<[string, string, number, number]> = [
  ["/me", "GET", 200, 0.0004],
  ["/me", "GET", 200, 0.0005],
  ["/me", "GET", 200, 0.0031],
  ["/me", "GET", 401, 0.002],
  ["/me", "PATCH", 200, 0.2],
  ["/health/live", "GET", 200, 0],
  ["/health/live", "GET", 200, 7.5],
  ["unmatched", "GET", 404, 0.01],
  ["/me", "GET", 200, 5],
  ["/me", "GET", 200, 12],
];

describe("route durations", () => {
  test("the exported histogram equals plain observe() calls, series by series", async () => {
    const metrics = new Metrics();
    const durations = new RouteDurations(metrics.httpDuration);
    // prom-client's observe (which hashes the labels) runs once per series, not per request.
    let hashed = 0;
    const observe = metrics.httpDuration.observe.bind(metrics.httpDuration);
    metrics.httpDuration.observe = ((...args: Parameters<typeof observe>) => {
      hashed++;
      return observe(...args);
    }) as typeof observe;
    const reference = twin();
    for (let round = 0; round < 3; round++) {
      for (const [route, method, status, seconds] of samples) {
        durations.observe(route, method, status, seconds);
        reference.observe({ route, method, status: String(status) }, seconds);
      }
    }
    expect(hashed).toBe(new Set(samples.map(([r, m, s]) => `${r} ${m} ${s}`)).size);
    const sorted = async (h: Histogram<string>) =>
      (await h.get()).values.map((v) => JSON.stringify([v.metricName, v.labels, v.value])).sort();
    expect(await sorted(metrics.httpDuration)).toEqual(await sorted(reference));
    expect((await metrics.registry.metrics()).includes('homebase_http_request_duration_seconds_count{route="/me",method="GET",status="200"} 15')).toBe(true);
    metrics.close();
  });

  test("after a reset the series start again from zero and keep counting", async () => {
    const metrics = new Metrics();
    const durations = new RouteDurations(metrics.httpDuration);
    durations.observe("/me", "GET", 200, 0.001);
    durations.observe("/me", "GET", 200, 0.001);
    metrics.httpDuration.reset();
    durations.observe("/me", "GET", 200, 0.003);
    durations.observe("/me", "GET", 200, 0.004);
    const reference = twin();
    reference.observe({ route: "/me", method: "GET", status: "200" }, 0.003);
    reference.observe({ route: "/me", method: "GET", status: "200" }, 0.004);
    expect((await metrics.httpDuration.get()).values).toEqual((await reference.get()).values);
    metrics.close();
  });
});
