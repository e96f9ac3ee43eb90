// Prints the code Elysia composes for each route of the full app, as JSON {"METHOD path": code}.
// Elysia decides from each hook's and handler's source text what a request needs parsed (its
// "sucrose" inference) and what to await; a bundler that reformats that text can make every
// request parse its headers, cookies and query and await each hook. build.test.ts compares this
// output from the release bundle with the source's.
import { createTestApp } from "../src/testing/app";

const t = await createTestApp("embedded");
try {
  const composed: Record<string, string> = {};
  for (const route of t.app.routes as unknown as Array<{ method: string; path: string; compile(): unknown }>) {
    composed[`${route.method} ${route.path}`] = String(route.compile());
  }
  console.log(JSON.stringify(composed));
} finally {
  await t.close();
}
