// The OpenAPI 3.1 description of the bridge's admin API, served without the token at
// GET /v1/openapi.json (a published spec is public, like the edge's worker/http/openapi.ts). Every
// route of api.ts is here and nothing else (test/bridge/admin-openapi.test.ts compares it with the
// app), and the admin suites check each real answer they get against it (test/harness/openapi-check.ts),
// so it cannot drift from the code. Each refusal lists the problem codes a route can answer; their
// statuses come from the catalogue (problems.ts), the schemas from openapi-schemas.ts.
import { DEFAULT_ATTEMPTS_LIMIT } from "../recovery/attempt-log.ts";
import { DEFAULT_DLQ_LIST_LIMIT } from "../recovery/dlq.ts";
import { schemas } from "./openapi-schemas.ts";
import { ADMIN_PROBLEMS, PROBLEM_CONTENT_TYPE, type AdminProblemCode } from "./problems.ts";
import { ADMIN_BODY_LIMIT_BYTES } from "./request.ts";

export const OPENAPI_PATH = "/v1/openapi.json";

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object) => ({ "application/json": { schema } });

/** What any route behind the token may answer besides its own refusals. */
const TOKEN_ROUTE_CODES: AdminProblemCode[] = ["UNAUTHORIZED", "BODY_TOO_LARGE", "INTERNAL", "ADMIN_DISABLED", "NOT_READY"];

const WHY: Partial<Record<AdminProblemCode, string>> = {
  UNAUTHORIZED: "no valid bearer token (WWW-Authenticate names the realm)",
  BODY_TOO_LARGE: `a body over ${ADMIN_BODY_LIMIT_BYTES} bytes`,
  INTERNAL: "the bridge failed; the detail is generic, the cause is in its log",
  ADMIN_DISABLED: "the bridge has no admin token configured",
  NOT_READY: "the broker is not ready (try again)",
};

/** The problem answers for `codes` (and the token route's own), one response per status of the catalogue. */
function refusals(codes: AdminProblemCode[], token = true): Record<string, object> {
  const byStatus = new Map<number, AdminProblemCode[]>();
  for (const code of token ? [...codes, ...TOKEN_ROUTE_CODES] : codes) {
    const status = ADMIN_PROBLEMS[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<string, object> = {};
  for (const [status, group] of [...byStatus].sort(([a], [b]) => a - b)) {
    out[String(status)] = {
      description: group.map((code) => `\`${code}\`: ${WHY[code] ?? ADMIN_PROBLEMS[code].title}`).join("; "),
      ...(status === 401 ? { headers: { "WWW-Authenticate": { schema: { type: "string" }, description: 'Bearer realm="jetgate-bridge"' } } } : {}),
      content: { [PROBLEM_CONTENT_TYPE]: { schema: { type: "object", allOf: [ref("Problem")], properties: { code: { enum: group } } } } },
    };
  }
  return out;
}

const ok = (description: string, schema: string, status = "200") => ({ [status]: { description, content: json(ref(schema)) } });
const body = (schema: string, required = true) => ({ required, content: json(ref(schema)) });

const idParam = { name: "id", in: "path", required: true, schema: ref("SubscriptionId"), description: "The subscription's id; one outside the grammar is not found (404)" };
const limit = (fallback: number) => ({ name: "limit", in: "query", schema: { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: fallback }, description: `At most this many (0: the default, ${fallback})` });
const since = (what: string) => ({ name: "since", in: "query", schema: { type: "string", format: "date-time" }, description: `Only ${what} at or after this time` });
const selector = { name: "subscription", in: "query", schema: ref("SubscriptionId"), description: "Only this subscription's" };

const SUBSCRIPTIONS = "Subscriptions";
const DELIVERY_LOG = "Delivery log";
const RECOVERY = "Recovery";
const OPS = "Operations";

const paths = {
  "/v1/subscriptions": {
    get: { operationId: "listSubscriptions", tags: [SUBSCRIPTIONS], summary: "List the subscriptions", responses: { ...ok("Every subscription, secrets redacted", "SubscriptionList"), ...refusals([]) } },
    post: {
      operationId: "createSubscription",
      tags: [SUBSCRIPTIONS],
      summary: "Create a subscription",
      description: "The answer holds the whole signing secret, this once (a generated one unless `secret`/`secrets` is given).",
      requestBody: body("SubscriptionCreate"),
      responses: { ...ok("Created", "SubscriptionWithSecret", "201"), ...refusals(["REQUEST_INVALID", "SUBSCRIPTION_EXISTS", "SUBSCRIPTION_INVALID", "PINNED_VERSION_UNKNOWN", "WHERE_INVALID", "SSRF_REFUSED", "REGISTRY_UNAVAILABLE"]) },
    },
  },
  "/v1/subscriptions/{id}": {
    parameters: [idParam],
    get: { operationId: "getSubscription", tags: [SUBSCRIPTIONS], summary: "Show a subscription", responses: { ...ok("The subscription", "SubscriptionEnvelope"), ...refusals(["SUBSCRIPTION_NOT_FOUND"]) } },
    put: {
      operationId: "replaceSubscription",
      tags: [SUBSCRIPTIONS],
      summary: "Replace a subscription's spec",
      requestBody: body("SubscriptionReplace"),
      responses: { ...ok("Replaced", "SubscriptionEnvelope"), ...refusals(["REQUEST_INVALID", "SUBSCRIPTION_NOT_FOUND", "SUBSCRIPTION_CONFLICT", "SUBSCRIPTION_INVALID", "PINNED_VERSION_UNKNOWN", "WHERE_INVALID", "SSRF_REFUSED", "REGISTRY_UNAVAILABLE"]) },
    },
    patch: {
      operationId: "updateSubscription",
      tags: [SUBSCRIPTIONS],
      summary: "Change some of a subscription's members",
      requestBody: body("SubscriptionPatch"),
      responses: { ...ok("Updated", "SubscriptionEnvelope"), ...refusals(["REQUEST_INVALID", "SUBSCRIPTION_NOT_FOUND", "SUBSCRIPTION_CONFLICT", "SUBSCRIPTION_INVALID", "PINNED_VERSION_UNKNOWN", "WHERE_INVALID", "SSRF_REFUSED", "REGISTRY_UNAVAILABLE"]) },
    },
    delete: {
      operationId: "deleteSubscription",
      tags: [SUBSCRIPTIONS],
      summary: "Delete a subscription (its dead letters stay, listed)",
      responses: { "204": { description: "Deleted" }, ...refusals(["SUBSCRIPTION_NOT_FOUND"]) },
    },
  },
  "/v1/subscriptions/{id}/enable": {
    parameters: [idParam],
    post: { operationId: "enableSubscription", tags: [SUBSCRIPTIONS], summary: "Enable a subscription (its failure run starts afresh)", responses: { ...ok("Enabled", "SubscriptionEnvelope"), ...refusals(["SUBSCRIPTION_NOT_FOUND", "SUBSCRIPTION_CONFLICT"]) } },
  },
  "/v1/subscriptions/{id}/disable": {
    parameters: [idParam],
    post: {
      operationId: "disableSubscription",
      tags: [SUBSCRIPTIONS],
      summary: "Disable a subscription",
      requestBody: body("DisableRequest", false),
      responses: { ...ok("Disabled", "SubscriptionEnvelope"), ...refusals(["REQUEST_INVALID", "SUBSCRIPTION_NOT_FOUND", "SUBSCRIPTION_CONFLICT"]) },
    },
  },
  "/v1/subscriptions/{id}/secrets/rotate": {
    parameters: [idParam],
    post: {
      operationId: "rotateSubscriptionSecret",
      tags: [SUBSCRIPTIONS],
      summary: "Add a new signing secret; the old ones keep signing for the overlap",
      requestBody: body("RotateSecretRequest", false),
      responses: { ...ok("Rotated; the answer holds the whole new secret, this once", "SubscriptionWithSecret"), ...refusals(["REQUEST_INVALID", "SUBSCRIPTION_NOT_FOUND", "SUBSCRIPTION_CONFLICT"]) },
    },
  },
  "/v1/subscriptions/{id}/test": {
    parameters: [idParam],
    post: {
      operationId: "testSubscription",
      tags: [SUBSCRIPTIONS],
      summary: "Send one signed `jetgate.test` event now, without retries",
      description: "Answers 200 whatever the receiver did: its outcome is `result` (`ok`, status, error), and the attempt is logged with source `test`.",
      requestBody: body("TestSendRequest", false),
      responses: { ...ok("The attempt's outcome", "TestSendResult"), ...refusals(["REQUEST_INVALID", "SUBSCRIPTION_NOT_FOUND"]) },
    },
  },
  "/v1/subscriptions/{id}/attempts": {
    parameters: [idParam],
    get: {
      operationId: "listSubscriptionAttempts",
      tags: [DELIVERY_LOG],
      summary: "A subscription's delivery attempts",
      parameters: [
        since("attempts"),
        limit(DEFAULT_ATTEMPTS_LIMIT),
        { name: "event", in: "query", schema: { type: "string" }, description: "Only attempts for events with this id" },
        { name: "source", in: "query", schema: { type: "string" }, description: "With event: only the event of this source (an id is unique within its source)" },
      ],
      responses: { ...ok("Attempts, oldest first", "AttemptList"), ...refusals(["REQUEST_INVALID", "SUBSCRIPTION_NOT_FOUND"]) },
    },
  },
  "/v1/subscriptions/{id}/replay": {
    parameters: [idParam],
    post: {
      operationId: "replaySubscription",
      tags: [RECOVERY],
      summary: "Deliver a range of stored events again, to this subscription only",
      description: "Each replay has its own id, so replaying a range twice delivers twice; each event keeps its webhook-id.",
      requestBody: body("ReplayRequest"),
      responses: { ...ok("The copies are queued; deliveries follow", "ReplayStarted", "202"), ...refusals(["REQUEST_INVALID", "SUBSCRIPTION_NOT_FOUND"]) },
    },
  },
  "/v1/events/{eventId}/attempts": {
    parameters: [{ name: "eventId", in: "path", required: true, schema: { type: "string" }, description: "The event's CloudEvents id" }],
    get: {
      operationId: "listEventAttempts",
      tags: [DELIVERY_LOG],
      summary: "An event's delivery attempts on every subscription",
      parameters: [limit(DEFAULT_ATTEMPTS_LIMIT), { name: "source", in: "query", schema: { type: "string" }, description: "Only the event of this source" }],
      responses: { ...ok("Attempts, oldest first", "AttemptList"), ...refusals(["REQUEST_INVALID"]) },
    },
  },
  "/v1/dlq": {
    get: {
      operationId: "listDeadLetters",
      tags: [RECOVERY],
      summary: "List dead letters",
      parameters: [selector, { name: "type", in: "query", schema: { type: "string" }, description: "Only letters of this event type" }, since("letters that died"), limit(DEFAULT_DLQ_LIST_LIMIT)],
      responses: { ...ok("Dead letters, oldest first, without their bodies", "DeadLetterList"), ...refusals(["REQUEST_INVALID"]) },
    },
    delete: {
      operationId: "purgeDeadLetters",
      tags: [RECOVERY],
      summary: "Purge one subscription's dead letters, or all",
      parameters: [selector, { name: "all", in: "query", schema: { const: "true" }, description: "Without subscription: purge every letter" }],
      responses: { ...ok("Purged", "PurgeResult"), ...refusals(["REQUEST_INVALID"]) },
    },
  },
  "/v1/dlq/{seq}": {
    parameters: [{ name: "seq", in: "path", required: true, schema: { type: "integer", minimum: 1 }, description: "The letter's sequence in the DLQ stream" }],
    get: { operationId: "getDeadLetter", tags: [RECOVERY], summary: "Show a dead letter with its body, headers and attempts", responses: { ...ok("The letter", "DeadLetterEnvelope"), ...refusals(["REQUEST_INVALID", "DLQ_NOT_FOUND"]) } },
  },
  "/v1/dlq/redrive": {
    post: {
      operationId: "redriveDeadLetters",
      tags: [RECOVERY],
      summary: "Send dead letters back to their own subscription, with their webhook-ids",
      requestBody: body("RedriveRequest"),
      responses: { ...ok("Redriven and removed from the DLQ", "RedriveResult"), ...refusals(["REQUEST_INVALID", "DLQ_NOT_FOUND"]) },
    },
  },
  "/healthz": {
    get: {
      operationId: "health",
      tags: [OPS],
      summary: "The bridge process answers",
      security: [],
      responses: { "200": { description: "Alive", content: json({ type: "object", additionalProperties: false, required: ["ok"], properties: { ok: { const: true } } }) } },
    },
  },
  "/readyz": {
    get: {
      operationId: "ready",
      tags: [OPS],
      summary: "The bridge started and holds its NATS connection",
      security: [],
      responses: {
        "200": { description: "Ready", content: json({ type: "object", additionalProperties: false, required: ["ready"], properties: { ready: { const: true } } }) },
        ...refusals(["NOT_READY"], false),
      },
    },
  },
  "/metrics": {
    get: {
      operationId: "metrics",
      tags: [OPS],
      summary: "Prometheus metrics (text exposition format)",
      security: [],
      responses: { "200": { description: "The metrics", content: { "text/plain": { schema: { type: "string" } } } } },
    },
  },
  [OPENAPI_PATH]: {
    get: {
      operationId: "openapi",
      tags: [OPS],
      summary: "This document",
      security: [],
      responses: { "200": { description: "OpenAPI 3.1", content: json({ type: "object", required: ["openapi", "info", "paths"], properties: { openapi: { const: "3.1.0" }, info: { type: "object" }, paths: { type: "object" } } }) } },
    },
  },
};

export const adminOpenApi = {
  openapi: "3.1.0",
  info: {
    title: "Jetgate bridge admin API",
    version: "1.0.0",
    description:
      "Webhook subscriptions on the events in NATS JetStream: create and change them, rotate their secrets, send test deliveries, " +
      "read the delivery log, and recover from failures (dead letters, redrive, replay). Every route under /v1 but this document " +
      "needs the admin bearer token (JETGATE_BRIDGE_ADMIN_TOKEN). Every refusal is an RFC 9457 problem (application/problem+json) " +
      "with a stable `type` and `code` (components.schemas.Problem lists them); a path or method not described here answers 404 " +
      "`not-found`, a 5xx is never the client's mistake.",
    license: { name: "Apache-2.0", identifier: "Apache-2.0" },
  },
  servers: [{ url: "/" }],
  security: [{ adminToken: [] }],
  tags: [
    { name: SUBSCRIPTIONS, description: "Who gets which events, where, and how" },
    { name: DELIVERY_LOG, description: "Every delivery attempt, per subscription and per event" },
    { name: RECOVERY, description: "Dead letters, redrive and replay" },
    { name: OPS, description: "Liveness, readiness, metrics and this document, without the token" },
  ],
  paths,
  components: {
    securitySchemes: { adminToken: { type: "http", scheme: "bearer", description: "The bridge's admin token (JETGATE_BRIDGE_ADMIN_TOKEN)" } },
    schemas,
  },
};
