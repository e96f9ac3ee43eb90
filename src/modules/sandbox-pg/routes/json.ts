// What the sandbox PG's faces share.
export const tags = ["sandbox-pg"];

/** A JSON answer in the PG's own shape (not problem+json). */
export const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
