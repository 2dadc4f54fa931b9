// The admin API (Hono on Node): subscriptions, secrets, test-send, attempts, DLQ and replay behind
// a bearer token, plus /healthz, /readyz and /metrics for operations. This file assembles the app
// from the route modules (routes-*.ts) and answers every error through problems.ts. The app is
// built apart from the server that listens, so it can be exercised with app.request() too.
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { getRequestListener, RequestError } from "@hono/node-server";
import type { Logger } from "pino";
import { BridgeError } from "../errors.ts";
import { bearerToken } from "./auth.ts";
import type { AdminDeps } from "./deps.ts";
import { errorToProblem, makeProblem, problemResponse, sendProblem } from "./problems.ts";
import { ADMIN_BODY_LIMIT_BYTES } from "./request.ts";
import { attemptRoutes } from "./routes-attempts.ts";
import { dlqRoutes } from "./routes-dlq.ts";
import { opsRoutes } from "./routes-ops.ts";
import { replayRoutes } from "./routes-replay.ts";
import { subscriptionRoutes } from "./routes-subscriptions.ts";

export type { AdminDeps } from "./deps.ts";
export { tokenMatches } from "./auth.ts";
export { redact } from "./routes-subscriptions.ts";
export { ADMIN_BODY_LIMIT_BYTES } from "./request.ts";

export function adminApp(deps: AdminDeps): Hono {
  const app = new Hono();
  app.onError((err, c) => sendProblem(c, errorToProblem(err, deps.log, { method: c.req.method, path: c.req.path })));
  app.notFound((c) => sendProblem(c, makeProblem("NOT_FOUND", `no route ${c.req.method} ${c.req.path}`)));
  opsRoutes(app, deps);
  app.use("/v1/*", bearerToken(deps.config));
  // After the token check, so a caller without it never gets the body read.
  app.use(
    "/v1/*",
    bodyLimit({
      maxSize: ADMIN_BODY_LIMIT_BYTES,
      onError: () => {
        throw new BridgeError("BODY_TOO_LARGE", `the request body is larger than ${ADMIN_BODY_LIMIT_BYTES} bytes`, { limit: ADMIN_BODY_LIMIT_BYTES });
      },
    }),
  );
  subscriptionRoutes(app, deps);
  attemptRoutes(app, deps);
  replayRoutes(app, deps);
  dlqRoutes(app, deps);
  return app;
}

/**
 * The Node request listener for the admin app. A request @hono/node-server cannot even turn into a
 * Request (a backslash in the path, a bad Host) would get an empty 400 from it; it gets a
 * problem+json like every other refusal instead.
 */
export function adminListener(app: Hono, log: Logger) {
  return getRequestListener(app.fetch, {
    errorHandler: (err) =>
      problemResponse(err instanceof RequestError ? makeProblem("REQUEST_INVALID", `the request could not be read: ${err.message}`) : errorToProblem(err, log)),
  });
}
