// Admin routes for dead letters: list, show, redrive to their subscription, purge
// (recovery/dlq.ts).
import type { Hono } from "hono";
import { BridgeError } from "../errors.ts";
import { getDeadLetter, listDeadLetters, purgeDeadLetters, redriveDeadLetters } from "../recovery/dlq.ts";
import type { AdminDeps } from "./deps.ts";
import { jsonBody, optionalDate, optionalInt, selectorId } from "./request.ts";

export function dlqRoutes(app: Hono, deps: AdminDeps): void {
  const { nc } = deps;
  app.get("/v1/dlq", async (c) => {
    const subscription = selectorId(c.req.query("subscription"), "subscription");
    const type = c.req.query("type");
    const since = optionalDate(c.req.query("since"), "since");
    const limit = optionalInt(c.req.query("limit"), "limit");
    const sel = { ...(subscription ? { subscription } : {}), ...(type ? { type } : {}), ...(since ? { since } : {}), ...(limit ? { limit } : {}) };
    return c.json({ deadLetters: await listDeadLetters(nc, sel) });
  });
  app.get("/v1/dlq/:seq", async (c) => {
    const seq = optionalInt(c.req.param("seq"), "seq");
    return c.json({ deadLetter: await getDeadLetter(nc, seq ?? 0) });
  });
  app.post("/v1/dlq/redrive", async (c) => {
    const body = await jsonBody(c);
    const seq = optionalInt(body.seq, "seq");
    const subscription = selectorId(typeof body.subscription === "string" ? body.subscription : undefined, "subscription");
    const type = typeof body.type === "string" ? body.type : undefined;
    const since = optionalDate(body.since, "since");
    if (seq === undefined && !subscription && !type && body.all !== true) {
      throw new BridgeError("REQUEST_INVALID", "say what to redrive: seq, subscription/type/since, or all: true");
    }
    const sel = { ...(seq !== undefined ? { seq } : {}), ...(subscription ? { subscription } : {}), ...(type ? { type } : {}), ...(since ? { since } : {}) };
    return c.json(await redriveDeadLetters(nc, sel));
  });
  app.delete("/v1/dlq", async (c) => {
    const subscription = selectorId(c.req.query("subscription"), "subscription");
    if (!subscription && c.req.query("all") !== "true") throw new BridgeError("REQUEST_INVALID", "purge needs ?subscription=ID or ?all=true");
    return c.json(await purgeDeadLetters(nc, subscription || undefined));
  });
}
