// The admin API (Hono on Node): subscriptions, secrets, test-send, attempts, DLQ and replay behind
// a bearer token, plus /healthz, /readyz and /metrics for operations. The app is built apart from
// the server that listens, so it can be exercised with app.request() too.
import { createHash, timingSafeEqual } from "node:crypto";
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { getRequestListener, RequestError } from "@hono/node-server";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "pino";
import { listAttempts } from "../recovery/attempt-log.ts";
import type { AttemptLog } from "../recovery/attempt-log.ts";
import type { BridgeConfig } from "../config.ts";
import type { Deliverer } from "../delivery/webhook-post.ts";
import { getDeadLetter, listDeadLetters, purgeDeadLetters, redriveDeadLetters } from "../recovery/dlq.ts";
import { parseDuration } from "../duration.ts";
import { BridgeError } from "../errors.ts";
import type { BridgeMetrics } from "../metrics.ts";
import { createSubscription, patchSubscription, replaceSubscription, rotateSecret, setEnabled } from "../subscriptions/operations.ts";
import { replayToSubscription } from "../recovery/redrive.ts";
import type { SsrfPolicy } from "../delivery/ssrf.ts";
import type { SubscriptionStore } from "../subscriptions/store.ts";
import { SUBSCRIPTION_ID, type Subscription } from "../subscriptions/model.ts";
import { errorToProblem, makeProblem, problemResponse, PROBLEM_CONTENT_TYPE, type Problem } from "./problems.ts";
import { testSend } from "./test-send.ts";

export interface AdminDeps {
  nc: NatsConnection;
  store: SubscriptionStore;
  deliverer: Deliverer;
  attempts: AttemptLog;
  metrics: BridgeMetrics;
  config: BridgeConfig;
  policy: SsrfPolicy;
  ready: () => boolean;
  /** Where a 500's error and its cause go (the client gets a generic detail). */
  log: Logger;
}

/** Secrets are shown by prefix only; the full value is returned once, on create and rotate. */
export function redact(sub: Subscription): Record<string, unknown> {
  return { ...sub, secrets: sub.secrets.map((s) => ({ secret: `${s.secret.slice(0, 10)}…`, ...(s.notAfter ? { notAfter: s.notAfter } : {}) })) };
}

/** Sends a problem through the context, so headers set before the error (WWW-Authenticate) go with it. */
function sendProblem(c: Context, problem: Problem) {
  return c.body(JSON.stringify(problem), problem.status as 400, { "content-type": PROBLEM_CONTENT_TYPE });
}

/**
 * Compares SHA-256 digests, not the tokens: timingSafeEqual needs equal lengths, and checking the
 * lengths first (as this did) told a caller the token's length. Digests are always 32 bytes, so
 * the time depends on nothing but the length of what the caller sent.
 */
export function tokenMatches(given: string, expected: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text, "utf8").digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** Largest admin request body: a subscription or a test event is a few KiB; this is a bound, not a knob. */
export const ADMIN_BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * The subscription id in the path. An id outside the grammar cannot exist, and it must not reach
 * the KV bucket or a subject (`*`, `>`, `$JS`, `..` are NATS syntax there): it is not found.
 */
function pathId(c: Context): string {
  const id = c.req.param("id") ?? "";
  if (!SUBSCRIPTION_ID.test(id)) throw new BridgeError("SUBSCRIPTION_NOT_FOUND", `no subscription ${JSON.stringify(id)}`, { id });
  return id;
}

/** A subscription id given as a selector (query or body): it becomes part of a subject filter, so wildcards are refused. */
function selectorId(value: string | undefined, field: string): string | undefined {
  if (value === undefined || value === "") return undefined;
  if (!SUBSCRIPTION_ID.test(value)) throw new BridgeError("REQUEST_INVALID", `${field} must be a subscription id`, { field });
  return value;
}

async function jsonBody(c: Context): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  if (!text) return {};
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // Fall through to the error below.
  }
  throw new BridgeError("REQUEST_INVALID", "the request body must be a JSON object");
}

function optionalDate(value: unknown, field: string): Date | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  const date = new Date(String(value));
  // RFC 3339 has four-digit years; JetStream (Go) refuses the six-digit ones JavaScript can make.
  if (Number.isNaN(date.getTime()) || date.getUTCFullYear() < 0 || date.getUTCFullYear() > 9999) {
    throw new BridgeError("REQUEST_INVALID", `${field} must be an ISO time`, { field });
  }
  return date;
}

function optionalInt(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  const n = Number(value);
  // Past 2^53 a number is no longer exact, and past 1e21 JSON writes it as 1e+21, which JetStream refuses.
  if (!Number.isSafeInteger(n) || n < 0) throw new BridgeError("REQUEST_INVALID", `${field} must be an integer from 0 to ${Number.MAX_SAFE_INTEGER}`, { field });
  return n;
}

export function adminApp(deps: AdminDeps): Hono {
  const app = new Hono();
  const { nc, store, policy } = deps;

  app.onError((err, c) => sendProblem(c, errorToProblem(err, deps.log, { method: c.req.method, path: c.req.path })));
  app.notFound((c) => sendProblem(c, makeProblem("NOT_FOUND", `no route ${c.req.method} ${c.req.path}`)));

  app.get("/healthz", (c) => c.json({ ok: true }));
  app.get("/readyz", (c) => (deps.ready() && !nc.isClosed() ? c.json({ ready: true }) : sendProblem(c, makeProblem("NOT_READY", "the bridge is starting or lost NATS"))));
  app.get("/metrics", async (c) => c.text(await deps.metrics.registry.metrics(), 200, { "content-type": deps.metrics.registry.contentType }));

  app.use("/v1/*", async (c, next) => {
    if (!deps.config.adminToken) throw new BridgeError("ADMIN_DISABLED", "the admin API is off: set JETGATE_BRIDGE_ADMIN_TOKEN");
    // RFC 6750 §2.1: the scheme is case-insensitive. No token at all is refused like a wrong one.
    const token = /^Bearer +(\S+)\s*$/i.exec(c.req.header("authorization") ?? "")?.[1];
    if (token === undefined || !tokenMatches(token, deps.config.adminToken)) {
      c.header("www-authenticate", 'Bearer realm="jetgate-bridge"');
      throw new BridgeError("UNAUTHORIZED", "a valid bearer token is required");
    }
    await next();
  });
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

  app.get("/v1/subscriptions", async (c) => c.json({ subscriptions: (await store.list()).map(redact) }));
  app.post("/v1/subscriptions", async (c) => {
    const sub = await createSubscription(store, await jsonBody(c), policy);
    return c.json({ subscription: redact(sub), secret: sub.secrets[0]?.secret }, 201);
  });
  app.get("/v1/subscriptions/:id", async (c) => c.json({ subscription: redact((await store.require(pathId(c))).sub) }));
  app.put("/v1/subscriptions/:id", async (c) => c.json({ subscription: redact(await replaceSubscription(store, pathId(c), await jsonBody(c), policy)) }));
  app.patch("/v1/subscriptions/:id", async (c) => c.json({ subscription: redact(await patchSubscription(store, pathId(c), await jsonBody(c), policy)) }));
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
