// Scenario health: GET /health/live — the cheapest route homebase has (no auth, no I/O, a
// 15-byte JSON body), so its distance from the ceiling is the framework's fixed per-request cost
// (routing, hooks, response validation, serialization). Same connections as auth's GET /me.
import { runLoad, startCeiling, startHomebase, type Scenario } from "../lib";

export const health: Scenario = {
  name: "health",
  title: "health: GET /health/live (framework floor)",
  async run(ctx) {
    const server = await startHomebase(ctx);
    const url = `${server.url}/health/live`;
    const bytes = (await (await fetch(url)).text()).length;
    const connections = ctx.quick ? 16 : 64;
    const ceiling = await startCeiling(ctx, bytes);
    return [
      { ...(await runLoad(ctx, `ceiling: Bun.serve, ${bytes} B JSON`, { url: ceiling, connections, seconds: ctx.seconds })), isCeiling: true },
      await runLoad(ctx, "GET /health/live", { url, connections, seconds: ctx.seconds }),
    ];
  },
};
