// Admin route to replay a range of EVENTS to one subscription (recovery/redrive.ts).
import type { Hono } from "hono";
import { replayToSubscription } from "../recovery/redrive.ts";
import type { AdminDeps } from "./deps.ts";
import { jsonBody, optionalDate, optionalInt, pathId } from "./request.ts";

export function replayRoutes(app: Hono, deps: AdminDeps): void {
  const { nc, store } = deps;
  app.post("/v1/subscriptions/:id/replay", async (c) => {
    const body = await jsonBody(c);
    const range = {
      fromSeq: optionalInt(body.fromSeq, "fromSeq"),
      toSeq: optionalInt(body.toSeq, "toSeq"),
      fromTime: optionalDate(body.fromTime, "fromTime"),
      toTime: optionalDate(body.toTime, "toTime"),
    };
    const clean = Object.fromEntries(Object.entries(range).filter(([, v]) => v !== undefined));
    return c.json(await replayToSubscription(nc, store, pathId(c), clean), 202);
  });
}
