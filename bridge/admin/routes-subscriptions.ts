// Admin routes for subscriptions: create, read, replace, patch and delete; enable and disable;
// rotate the secret; send a test delivery now.
import type { Hono } from "hono";
import { parseDuration } from "../duration.ts";
import { BridgeError } from "../errors.ts";
import { createSubscription, patchSubscription, replaceSubscription, rotateSecret, setEnabled } from "../subscriptions/operations.ts";
import type { Subscription } from "../subscriptions/model.ts";
import type { AdminDeps } from "./deps.ts";
import { jsonBody, pathId } from "./request.ts";
import { testSend } from "./test-send.ts";

/** Secrets are shown by prefix only; the full value is returned once, on create and rotate. */
export function redact(sub: Subscription): Record<string, unknown> {
  return { ...sub, secrets: sub.secrets.map((s) => ({ secret: `${s.secret.slice(0, 10)}…`, ...(s.notAfter ? { notAfter: s.notAfter } : {}) })) };
}

export function subscriptionRoutes(app: Hono, deps: AdminDeps): void {
  const { store, policy } = deps;
  const checks = { registry: deps.registry };
  app.get("/v1/subscriptions", async (c) => c.json({ subscriptions: (await store.list()).map(redact) }));
  app.post("/v1/subscriptions", async (c) => {
    const sub = await createSubscription(store, await jsonBody(c), policy, checks);
    return c.json({ subscription: redact(sub), secret: sub.secrets[0]?.secret }, 201);
  });
  app.get("/v1/subscriptions/:id", async (c) => c.json({ subscription: redact((await store.require(pathId(c))).sub) }));
  app.put("/v1/subscriptions/:id", async (c) => c.json({ subscription: redact(await replaceSubscription(store, pathId(c), await jsonBody(c), policy, checks)) }));
  app.patch("/v1/subscriptions/:id", async (c) => c.json({ subscription: redact(await patchSubscription(store, pathId(c), await jsonBody(c), policy, checks)) }));
  app.delete("/v1/subscriptions/:id", async (c) => {
    await store.delete(pathId(c));
    return c.body(null, 204);
  });
  app.post("/v1/subscriptions/:id/enable", async (c) => c.json({ subscription: redact(await setEnabled(store, pathId(c), true)) }));
  app.post("/v1/subscriptions/:id/disable", async (c) => {
    const body = await jsonBody(c);
    const reason = typeof body.reason === "string" ? body.reason : undefined;
    return c.json({ subscription: redact(await setEnabled(store, pathId(c), false, reason)) });
  });
  app.post("/v1/subscriptions/:id/secrets/rotate", async (c) => {
    const body = await jsonBody(c);
    const overlapMs = body.overlap === undefined ? undefined : parseDuration(body.overlap);
    if (overlapMs === null) throw new BridgeError("REQUEST_INVALID", "overlap must be a duration like 24h", { field: "overlap" });
    const opts: { secret?: string; overlapMs?: number } = {};
    if (typeof body.secret === "string") opts.secret = body.secret;
    if (overlapMs !== undefined) opts.overlapMs = overlapMs;
    const { subscription, secret } = await rotateSecret(store, pathId(c), opts);
    return c.json({ subscription: redact(subscription), secret });
  });
  app.post("/v1/subscriptions/:id/test", async (c) => {
    const { sub } = await store.require(pathId(c));
    const body = await jsonBody(c);
    const sent = await testSend(sub, { deliverer: deps.deliverer, attempts: deps.attempts, instance: deps.config.instance }, body.data ?? undefined);
    // 200 whatever the receiver did: the API call worked, and the attempt's outcome is the answer's
    // data (`result.ok`, status, error). A 5xx here would blame the bridge for the receiver.
    return c.json(sent, 200);
  });
}
