// Operations routes, without a token: liveness, readiness (the bridge started and holds its NATS
// connection) and the Prometheus metrics.
import type { Hono } from "hono";
import type { AdminDeps } from "./deps.ts";
import { makeProblem, sendProblem } from "./problems.ts";

export function opsRoutes(app: Hono, deps: AdminDeps): void {
  const { nc } = deps;
  app.get("/healthz", (c) => c.json({ ok: true }));
  app.get("/readyz", (c) => (deps.ready() && !nc.isClosed() ? c.json({ ready: true }) : sendProblem(c, makeProblem("NOT_READY", "the bridge is starting or lost NATS"))));
  app.get("/metrics", async (c) => c.text(await deps.metrics.registry.metrics(), 200, { "content-type": deps.metrics.registry.contentType }));
}
