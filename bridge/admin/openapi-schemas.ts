// The schemas of the admin API's OpenAPI document (openapi.ts) besides the subscription's
// (openapi-subscription.ts): the bodies of the other routes, the delivery log's records, dead
// letters, and the RFC 9457 problem with every stable `type` of the catalogue (problems.ts).
import { DEFAULT_ROTATION_OVERLAP_MS, MAX_ROTATION_OVERLAP_MS } from "../subscriptions/operations.ts";
import type { AttemptOutcome, AttemptRecord } from "../recovery/attempt-log.ts";
import { duration, has, hours, iso, secret, subscriptionId, subscriptionSchemas } from "./openapi-subscription.ts";
import { ADMIN_PROBLEMS, problemType, type AdminProblemCode } from "./problems.ts";

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** Every value of a string union, checked by the compiler to be all of them (a new one must be documented). */
function everyMember<T extends string>() {
  return <const L extends readonly T[]>(list: L & ([T] extends [L[number]] ? unknown : "a member of the union is missing")) => list;
}

const OUTCOMES = everyMember<AttemptOutcome>()(["delivered", "retrying", "dead-lettered", "disabled", "aborted", "failed"]);
const ATTEMPT_SOURCES = everyMember<AttemptRecord["source"]>()(["events", "redrive", "test"]);
const PROBLEM_CODES = Object.keys(ADMIN_PROBLEMS) as AdminProblemCode[];

const attemptResult = {
  type: "object",
  additionalProperties: false,
  required: ["ok", "status", "latencyMs"],
  properties: {
    ok: { type: "boolean", description: "The receiver answered 2xx" },
    status: { type: "integer", minimum: 0, description: "The receiver's HTTP status; 0 when no response arrived" },
    latencyMs: { type: "number", minimum: 0 },
    error: { type: "string", description: "Why no status: TIMEOUT, NETWORK, SSRF_REFUSED, ABORTED" },
    message: { type: "string" },
    retryAfter: { type: "string", description: "The receiver's Retry-After" },
    excerpt: { type: "string", description: "Up to 1 KiB of the receiver's answer, for failures" },
  },
};

const attemptRecord = {
  type: "object",
  additionalProperties: false,
  required: ["subscription", "eventId", "eventSource", "eventType", "source", "streamSeq", "attempt", "at", "status", "latencyMs", "outcome", "instance"],
  properties: {
    subscription: subscriptionId,
    eventId: { type: "string" },
    eventSource: { type: "string", description: "The event's CloudEvents source: with eventId, its identity" },
    eventType: { type: "string" },
    source: { enum: [...ATTEMPT_SOURCES], description: "Where the delivered message came from: the EVENTS stream, a redrive or replay copy, a test-send" },
    streamSeq: { type: "integer", minimum: 0 },
    attempt: { type: "integer", minimum: 1 },
    at: iso,
    status: { type: "integer", minimum: 0 },
    latencyMs: { type: "number", minimum: 0 },
    outcome: { enum: [...OUTCOMES], description: "`failed`: a test-send without a 2xx (never retried)" },
    error: { type: "string" },
    message: { type: "string" },
    excerpt: { type: "string" },
    nextDelayMs: { type: "number", minimum: 0 },
    instance: { type: "string", description: "The bridge instance that made the attempt" },
  },
};

const deadLetterSummaryProperties = {
  seq: { type: "integer", minimum: 1, description: "The letter's sequence in the DLQ stream: GET /v1/dlq/{seq}" },
  subscription: subscriptionId,
  eventId: { type: "string" },
  eventSource: { type: "string" },
  eventType: { type: "string" },
  sourceSubject: { type: "string" },
  reason: { type: "string", description: "Why it died: the last failure, or `schema-mismatch` for an event that could not be shaped for a pinned version" },
  deadAt: { type: "string" },
  attempts: { type: "integer", minimum: 0, description: "Attempts in the history" },
  deliveries: { type: "integer", minimum: 0 },
  unrecordedDeliveries: { type: "integer", minimum: 0 },
  historyError: { type: "string" },
  problem: {
    type: "object",
    required: ["type", "detail"],
    description:
      "Why it died as an RFC 9457 problem object, when the bridge wrote one: for `…/problems/bridge/schema-mismatch`, also `eventType`, `pinnedVersion`, `eventVersion`, `dataschema`, `registryCommit` and ajv's `errors` (each with its `instancePath`, an RFC 6901 pointer)",
    properties: { type: { type: "string" }, detail: { type: "string" } },
  },
};
const deadLetterSummaryRequired = ["seq", "subscription", "eventId", "eventSource", "eventType", "sourceSubject", "reason", "deadAt", "attempts"];

const fieldError = {
  type: "object",
  required: ["path", "message"],
  properties: { path: { type: "string", description: "The member, like `retry.schedule[2]` or `types[0]`" }, message: { type: "string" } },
};

const problemCatalogue = PROBLEM_CODES.map((code) => `- \`${problemType(code)}\` (${ADMIN_PROBLEMS[code].status}, \`${code}\`): ${ADMIN_PROBLEMS[code].title}`).join("\n");

const problem = {
  type: "object",
  description: `RFC 9457 problem details. Each kind has a stable \`type\` URI, \`title\` and \`status\`, and its \`code\` as an extension member; match on \`type\` or \`code\`, never on \`detail\`:\n\n${problemCatalogue}`,
  required: ["type", "title", "status", "detail", "code"],
  properties: {
    type: { type: "string", enum: PROBLEM_CODES.map(problemType) },
    title: { type: "string" },
    status: { type: "integer", minimum: 400, maximum: 599 },
    detail: { type: "string", description: "What was wrong, for people" },
    code: { enum: PROBLEM_CODES },
    errors: { type: "array", items: fieldError, description: "subscription-invalid: each member that is wrong; for a `where` refused against the schemas, the path and the versions concerned" },
    field: { type: "string", description: "request-invalid: the member or parameter that is wrong" },
    id: { type: "string", description: "The subscription id concerned" },
    url: { type: "string", description: "ssrf-refused: the URL" },
    address: { type: "string", description: "ssrf-refused: the address refused" },
    limit: { type: "integer", description: "body-too-large: the limit in bytes" },
    seq: { type: "integer", description: "dlq-not-found: the sequence asked for" },
  },
  oneOf: PROBLEM_CODES.map((code) => ({
    type: "object",
    properties: { code: { const: code }, type: { const: problemType(code) }, title: { const: ADMIN_PROBLEMS[code].title }, status: { const: ADMIN_PROBLEMS[code].status } },
  })),
};

const envelope = (name: string, property: string, schema: object, extra: Record<string, object> = {}) => ({
  [name]: { type: "object", additionalProperties: false, required: [property, ...Object.keys(extra)], properties: { [property]: schema, ...extra } },
});

export const schemas = {
  ...subscriptionSchemas,
  ...envelope("SubscriptionList", "subscriptions", { type: "array", items: ref("Subscription") }),
  ...envelope("SubscriptionEnvelope", "subscription", ref("Subscription")),
  ...envelope("SubscriptionWithSecret", "subscription", ref("Subscription"), { secret: { ...secret, description: "The whole new secret: shown this once" } }),
  DisableRequest: { type: "object", properties: { reason: { type: "string", description: "Why; default `disabled by an operator`" } } },
  RotateSecretRequest: {
    type: "object",
    properties: {
      secret: { ...secret, description: "The new secret; default a generated one" },
      overlap: { ...duration, description: `How long the old secrets keep signing beside the new one (default ${hours(DEFAULT_ROTATION_OVERLAP_MS)}, at most ${hours(MAX_ROTATION_OVERLAP_MS)})` },
    },
  },
  TestSendRequest: { type: "object", properties: { data: { description: "The `data` of the synthetic `jetgate.test` event; default a short message" } } },
  TestSendResult: {
    type: "object",
    additionalProperties: false,
    required: ["eventId", "result"],
    properties: { eventId: { type: "string", pattern: "^test_" }, result: ref("AttemptResult") },
  },
  AttemptResult: attemptResult,
  AttemptRecord: attemptRecord,
  ...envelope("AttemptList", "attempts", { type: "array", items: ref("AttemptRecord"), description: "Oldest first; the newest `limit` when there are more" }),
  ReplayRequest: {
    type: "object",
    description: "A range of the EVENTS stream by sequence or time (at least fromSeq or fromTime); each event in it that the subscription selects is delivered again, to it alone",
    properties: {
      fromSeq: { type: "integer", minimum: 0 },
      toSeq: { type: "integer", minimum: 0, description: "Default the stream's last" },
      fromTime: iso,
      toTime: iso,
    },
    anyOf: [has("fromSeq"), has("fromTime")],
  },
  ReplayStarted: {
    type: "object",
    additionalProperties: false,
    required: ["replayed", "replayId"],
    properties: { replayed: { type: "integer", minimum: 0, description: "Copies queued for delivery" }, replayId: { type: "string" } },
  },
  DeadLetterSummary: { type: "object", additionalProperties: false, required: deadLetterSummaryRequired, properties: deadLetterSummaryProperties },
  DeadLetter: {
    type: "object",
    additionalProperties: false,
    required: [...deadLetterSummaryRequired, "headers", "data", "history"],
    properties: {
      ...deadLetterSummaryProperties,
      headers: { type: "object", additionalProperties: { type: "string" }, description: "The event's headers as stored, with the letter's bookkeeping" },
      data: { type: "string", description: "The event's body, as text" },
      history: { type: "array", items: { type: "object" }, description: "The attempts, oldest first" },
    },
  },
  ...envelope("DeadLetterList", "deadLetters", { type: "array", items: ref("DeadLetterSummary") }),
  ...envelope("DeadLetterEnvelope", "deadLetter", ref("DeadLetter")),
  RedriveRequest: {
    type: "object",
    description: "Which dead letters to send back to their own subscription: one by `seq`; or by `subscription`, `type` and `since` together; or `all: true`",
    properties: {
      seq: { type: "integer", minimum: 0 },
      subscription: subscriptionId,
      type: { type: "string", description: "Only letters of this event type" },
      since: { ...iso, description: "Only letters that died at or after this time" },
      all: { const: true },
    },
    anyOf: ["seq", "subscription", "type", "all"].map((member) => has(member)),
  },
  RedriveResult: {
    type: "object",
    additionalProperties: false,
    required: ["redriven", "skipped"],
    properties: { redriven: { type: "integer", minimum: 0 }, skipped: { type: "integer", minimum: 0, description: "Letters of deleted subscriptions: they stay listed" } },
  },
  PurgeResult: { type: "object", additionalProperties: false, required: ["purged"], properties: { purged: { type: "integer", minimum: 0 } } },
  FieldError: fieldError,
  Problem: problem,
};
