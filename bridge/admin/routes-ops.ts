// Operations routes, without a token: liveness, readiness (the bridge started and holds its NATS
// connection), the Prometheus metrics, and the API's OpenAPI document (a published spec is public).
import type { Hono } from "hono";
import type { AdminDeps } from "./deps.ts";
import { adminOpenApi, OPENAPI_PATH } from "./openapi.ts";
import { makeProblem, sendProblem } from "./problems.ts";

export function opsRoutes(app: Hono, deps: AdminDeps): void {
  const { nc } = deps;
  app.get("/healthz", (c) => c.json({ ok: true }));
  app.get("/readyz", (c) => (deps.ready() && !nc.isClosed() ? c.json({ ready: true }) : sendProblem(c, makeProblem("NOT_READY", "the bridge is starting or lost NATS"))));
  app.get("/metrics", async (c) => c.text(await deps.metrics.registry.metrics(), 200, { "content-type": deps.metrics.registry.contentType }));
  // Registered before the token check in api.ts, so it answers without the token.
  app.get(OPENAPI_PATH, (c) => c.json(adminOpenApi));
}
