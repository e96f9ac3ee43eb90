// The sandbox PG's API guard (its control routes use the platform's internal guard), as an
// Elysia instance whose hooks are local: they run for the routes declared on that instance and
// for no other route of the app. It refuses before the body is parsed or validated (a parse
// hook that threw would answer 400, so a refused request gets an empty body and the transform
// hook, which runs before validation, answers).
import { Elysia } from "elysia";
import { secretEquals } from "../../../platform/http/internal";

/**
 * Routes for callers that send `Authorization: SECRET_KEY <key>`, like KakaoPay's; others get
 * `refusal`, a 401 in the face's own shape. The key is compared in constant time.
 */
export function keyedInstance(name: string, prefix: string, secretKey: string, refusal: Record<string, unknown>) {
  const expected = `SECRET_KEY ${secretKey}`;
  // An empty key (the sandbox not configured) admits no one.
  const authorized = (request: Request) => secretKey !== "" && secretEquals(request.headers.get("authorization")?.trim() ?? "", expected);
  const refused = new WeakSet<Request>();
  return (
    new Elysia({ name, prefix })
      .onParse(({ request }) => {
        if (authorized(request)) return;
        refused.add(request);
        return {};
      })
      // derive runs in the transform stage too, and may answer instead of passing on.
      .derive(({ request, status }) => {
        if (refused.has(request) || !authorized(request)) return status(401, refusal);
      })
  );
}
