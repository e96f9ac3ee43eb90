// Scenario 6, auth: GET /me (JWT + session check + user read) and POST /auth/login, whose
// cost is Argon2id by design (memory-hard hashing is the point of a password hash).
import { newUser } from "../../src/testing/app";
import { runLoad, startCeiling, startHomebase, type Scenario } from "../lib";

export const auth: Scenario = {
  name: "auth",
  title: "auth: GET /me and POST /auth/login",
  async run(ctx) {
    const server = await startHomebase(ctx, { HOMEBASE_LOGIN_MAX_ATTEMPTS: "1000" });
    const user = newUser("bench");
    const json = { "content-type": "application/json" };
    await fetch(`${server.url}/auth/signup`, { method: "POST", headers: json, body: JSON.stringify(user) });
    const credentials = JSON.stringify({ email: user.email, password: user.password });
    const login = (await (await fetch(`${server.url}/auth/login`, { method: "POST", headers: json, body: credentials })).json()) as { accessToken: string };
    const auth = { authorization: `Bearer ${login.accessToken}` };
    const meBytes = (await (await fetch(`${server.url}/me`, { headers: auth })).text()).length;
    const connections = ctx.quick ? 16 : 64;
    const ceiling = await startCeiling(ctx, meBytes);
    return [
      { ...(await runLoad(ctx, `ceiling: Bun.serve, ${meBytes} B JSON`, { url: ceiling, connections, seconds: ctx.seconds })), isCeiling: true },
      await runLoad(ctx, "GET /me", { url: `${server.url}/me`, headers: auth, connections, seconds: ctx.seconds }),
      await runLoad(ctx, "POST /auth/login (Argon2id)", {
        url: `${server.url}/auth/login`,
        method: "POST",
        headers: json,
        body: credentials,
        connections: Math.min(connections, 16),
        seconds: ctx.seconds,
      }),
    ];
  },
};
