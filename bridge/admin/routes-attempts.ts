// Admin routes for the delivery log: a subscription's attempts, and an event's attempts on every
// subscription (recovery/attempt-log.ts).
import type { Hono } from "hono";
import { listAttempts } from "../recovery/attempt-log.ts";
import type { AdminDeps } from "./deps.ts";
import { optionalDate, optionalInt, pathId } from "./request.ts";

export function attemptRoutes(app: Hono, deps: AdminDeps): void {
  const { nc, store } = deps;
  app.get("/v1/subscriptions/:id/attempts", async (c) => {
    const id = pathId(c);
    await store.require(id);
    const since = optionalDate(c.req.query("since"), "since");
    const limit = optionalInt(c.req.query("limit"), "limit");
    const eventId = c.req.query("event");
    const eventSource = eventId ? c.req.query("source") : undefined;
    return c.json({ attempts: await listAttempts(nc, { subscription: id, ...(since ? { since } : {}), ...(limit ? { limit } : {}), ...(eventId ? { eventId } : {}), ...(eventSource ? { eventSource } : {}) }) });
  });
  app.get("/v1/events/:eventId/attempts", async (c) => {
    const limit = optionalInt(c.req.query("limit"), "limit");
    // An id is unique only within its source (CloudEvents): ?source= narrows to one event.
    const eventSource = c.req.query("source");
    return c.json({ attempts: await listAttempts(nc, { eventId: c.req.param("eventId"), ...(eventSource ? { eventSource } : {}), ...(limit ? { limit } : {}) }) });
  });
}
