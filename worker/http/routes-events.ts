// POST /v1/events (CloudEvents: binary, structured, batch) and POST /v1/events/{type} (plain
// JSON data). Each handler: authenticate → rate limit → read within limits → parse → prepare
// (scope, schema) → publish → 202 only after the JetStream ack.
import type { Context, Hono } from "hono";
import type { AppEnv } from "./context.ts";
import type { EdgeConfig } from "../config.ts";
import type { KeyStore, RateLimiter } from "../auth/authenticate.ts";
import { assertTypeAllowed } from "../auth/authenticate.ts";
import { isJsonMediaType, SPEC_VERSION, type TraceContext } from "../../broker/index.ts";
import { contentMode, fromBinary, fromStructured, requestContentType, type CloudEvent } from "../events/cloudevents.ts";
import { parseJson, readBody, type BodyReader } from "./request-limits.ts";
import { EdgeError, makeProblem, problemResponse } from "./problems.ts";
import { accepted, checkType, prepareEvent, publishFailure, rejected, type BatchResult, type PreparedEvent } from "../events/ingest.ts";
import type { RegistryView } from "../events/schema-registry.ts";
import type { Publisher } from "../publish/publisher.ts";
import type { ApiKeyEntry } from "../auth/keys.ts";

interface EventRouteDeps {
  config: EdgeConfig;
  keys: KeyStore;
  limiter: RateLimiter;
  registry: RegistryView;
  publisher: Publisher;
  readBody: BodyReader;
}

/** An Idempotency-Key becomes the event id; it must be a sane header token. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,256}$/;

function traceOf(c: Context): TraceContext {
  return { traceparent: c.req.header("traceparent"), tracestate: c.req.header("tracestate") };
}

async function publishSingle(c: Context<AppEnv>, deps: EventRouteDeps, prepared: PreparedEvent): Promise<Response> {
  const [outcome] = await deps.publisher.publishMany([prepared.request]);
  if (!outcome) throw new EdgeError("INTERNAL", "the publisher returned no outcome");
  if (!outcome.ok) throw publishFailure(outcome, deps.config.retryAfterSeconds);
  return c.json(accepted(prepared, outcome), 202);
}

/** The caller's API key, counted against its rate limit; POST /v1/tokens authorizes the same way. */
export async function authorize(c: Context<AppEnv>, deps: Pick<EventRouteDeps, "keys" | "limiter">): Promise<ApiKeyEntry> {
  const key = await deps.keys.authenticate(c.req.header("authorization"));
  c.get("facts").keyName = key.name;
  deps.limiter.take(key);
  return key;
}

export function registerEventRoutes(app: Hono<AppEnv>, deps: EventRouteDeps): void {
  const { config, registry } = deps;
  const parse = (bytes: Uint8Array) => parseJson(bytes, config.maxJsonDepth);

  app.post("/v1/events/:type", async (c) => {
    const type = c.req.param("type");
    const facts = c.get("facts");
    facts.eventType = type;
    const key = await authorize(c, deps);
    checkType(type);
    assertTypeAllowed(key, type);
    const contentType = requestContentType(c.req.raw.headers);
    if (contentType !== undefined && !isJsonMediaType(contentType)) {
      throw new EdgeError("UNSUPPORTED_MEDIA_TYPE", `send the event data as application/json, not "${contentType}"`);
    }
    const idempotencyKey = c.req.header("idempotency-key");
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw new EdgeError("INVALID_ATTRIBUTE", "Idempotency-Key must be 1–256 printable ASCII characters", { attribute: "id" });
    }
    const body = await readBody(deps.readBody, c.req.raw, c.env, config.maxEventBytes, "the event");
    const event: CloudEvent = {
      specversion: SPEC_VERSION,
      id: idempotencyKey ?? crypto.randomUUID(),
      source: key.name,
      type,
      datacontenttype: "application/json",
      time: new Date().toISOString(),
      extensions: {},
      data: parse(body),
      dataBytes: body,
    };
    facts.eventId = event.id;
    const prepared = prepareEvent(event, { key, registry, maxEventBytes: config.maxEventBytes, trace: traceOf(c) });
    return publishSingle(c, deps, prepared);
  });

  app.post("/v1/events", async (c) => {
    const key = await authorize(c, deps);
    const mode = contentMode(requestContentType(c.req.raw.headers) ?? null);
    if (mode === "batch") return handleBatch(c, deps, key);
    const body = await readBody(deps.readBody, c.req.raw, c.env, config.maxEventBytes, "the event");
    const event = mode === "structured" ? fromStructured(parse(body), parse) : fromBinary(c.req.raw.headers, body, parse);
    const facts = c.get("facts");
    facts.eventType = event.type;
    facts.eventId = event.id;
    const prepared = prepareEvent(event, { key, registry, maxEventBytes: config.maxEventBytes, trace: traceOf(c) });
    return publishSingle(c, deps, prepared);
  });
}

/**
 * Batch mode (§3.3): a JSON array of structured events. Each event is checked on its own and one
 * bad event does not sink the others; the answer lists one result per event, in order. The
 * status is 202 when at least one event was accepted; otherwise 503 when the broker failed
 * (retry the batch) or 422 when every event was refused.
 */
async function handleBatch(c: Context<AppEnv>, deps: EventRouteDeps, key: ApiKeyEntry): Promise<Response> {
  const { config, registry } = deps;
  const parse = (bytes: Uint8Array) => parseJson(bytes, config.maxJsonDepth);
  const body = await readBody(deps.readBody, c.req.raw, c.env, config.maxBatchBytes, "the batch");
  const list = parse(body);
  if (!Array.isArray(list)) throw new EdgeError("INVALID_BATCH", "a batch must be a JSON array of CloudEvents");
  if (list.length > config.maxBatchEvents) {
    throw new EdgeError("BATCH_TOO_LARGE", `the batch holds ${list.length} events; the limit is ${config.maxBatchEvents}`, {
      limit: config.maxBatchEvents,
    });
  }
  const results = new Array<BatchResult>(list.length);
  const pending: Array<{ index: number; prepared: PreparedEvent }> = [];
  const trace = traceOf(c);
  list.forEach((item: unknown, index) => {
    try {
      const event = fromStructured(item, parse);
      pending.push({ index, prepared: prepareEvent(event, { key, registry, maxEventBytes: config.maxEventBytes, trace }) });
    } catch (err) {
      results[index] = rejected(err, typeof item === "object" && item !== null ? (item as Partial<CloudEvent>) : undefined);
    }
  });
  const outcomes = pending.length > 0 ? await deps.publisher.publishMany(pending.map((p) => p.prepared.request)) : [];
  let acceptedCount = 0;
  let brokerFailed = false;
  pending.forEach(({ index, prepared }, k) => {
    const outcome = outcomes[k];
    if (outcome?.ok) {
      acceptedCount++;
      results[index] = { status: 202, ...accepted(prepared, outcome) };
    } else {
      brokerFailed = true;
      const err = outcome ? publishFailure(outcome, config.retryAfterSeconds) : new EdgeError("INTERNAL", "no outcome");
      results[index] = rejected(err, prepared.event);
    }
  });
  const facts = c.get("facts");
  facts.events = list.length;
  facts.accepted = acceptedCount;
  if (acceptedCount > 0 || list.length === 0) return c.json({ accepted: acceptedCount, rejected: list.length - acceptedCount, results }, 202);
  if (brokerFailed) {
    const retry = String(config.retryAfterSeconds);
    const problem = makeProblem("BROKER_UNAVAILABLE", "no event of the batch could be published", { retryAfter: config.retryAfterSeconds, results });
    return problemResponse(problem, { "retry-after": retry });
  }
  return problemResponse(makeProblem("BATCH_REJECTED", `all ${list.length} events were refused; see results`, { results }));
}
