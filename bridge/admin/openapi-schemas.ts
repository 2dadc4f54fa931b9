// The schemas of the admin API's OpenAPI document (openapi.ts): a subscription as it is written
// (create, replace, patch) and as the API returns it (redact() in routes-subscriptions.ts), the
// delivery log's records, dead letters, and the RFC 9457 problem with every stable `type` of the
// catalogue (problems.ts). Limits, defaults and grammars are imported from where the code checks
// them (subscriptions/model.ts, selection.ts, duration.ts), so the document cannot state another.
import { ALL_EVENTS_SUBJECT } from "../../broker/index.ts";
import { DURATION_PATTERN_SOURCE } from "../duration.ts";
import { DEFAULT_ROTATION_OVERLAP_MS, MAX_ROTATION_OVERLAP_MS } from "../subscriptions/operations.ts";
import type { AttemptOutcome, AttemptRecord } from "../recovery/attempt-log.ts";
import {
  ACK_WAIT_MARGIN_MS,
  DEFAULT_JITTER,
  DEFAULT_MAX_CONCURRENCY,
  DEFAULT_SCHEDULE_MS,
  DEFAULT_TIMEOUT_MS,
  MAX_CONCURRENCY_LIMIT,
  MAX_RETRY_STEPS,
  MAX_WHERE_LENGTH,
  SUBSCRIPTION_ID,
} from "../subscriptions/model.ts";
import { MAX_TYPE_ENTRIES } from "../subscriptions/selection.ts";
import { ADMIN_PROBLEMS, problemType, type AdminProblemCode } from "./problems.ts";

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const iso = { type: "string", format: "date-time" };
const hours = (ms: number) => `${ms / 3_600_000}h`;
/** "These members are present", for oneOf/anyOf/not (the members are described beside it). */
const has = (...members: string[]) => ({ type: "object", required: members, properties: Object.fromEntries(members.map((m) => [m, true])) });

/** Every value of a string union, checked by the compiler to be all of them (a new one must be documented). */
function everyMember<T extends string>() {
  return <const L extends readonly T[]>(list: L & ([T] extends [L[number]] ? unknown : "a member of the union is missing")) => list;
}

const OUTCOMES = everyMember<AttemptOutcome>()(["delivered", "retrying", "dead-lettered", "disabled", "aborted", "failed"]);
const ATTEMPT_SOURCES = everyMember<AttemptRecord["source"]>()(["events", "redrive", "test"]);
const PROBLEM_CODES = Object.keys(ADMIN_PROBLEMS) as AdminProblemCode[];

const FILTER_DESCRIPTION =
  `A NATS subject pattern under \`events.\`: the subscription gets every event published on a matching subject ` +
  `(\`events.<type>\`). Each token after \`events.\` is an event-type token, \`*\` (one token) or a final \`>\` (the rest). ` +
  `Default \`${ALL_EVENTS_SUBJECT}\` (everything) when neither \`filter\` nor \`types\` is given; exclusive with \`types\`.`;

const TYPES_DESCRIPTION =
  `1 to ${MAX_TYPE_ENTRIES} event-type patterns in the edge's glob grammar (the one of API keys' scopes and browser tokens): ` +
  "`*` matches within one dot-separated segment (`order.*` is `order.created`, not `order.item.added`), `**` across segments " +
  "(`order.**`, `**`). An entry `type@N` names an exact type and pins version N: each delivery of that type is shaped for vN " +
  "(delivered as it is if its data validates against vN, otherwise projected onto vN by dropping the properties vN's closed " +
  "objects do not define, nothing invented; `dataschema` names the version delivered). An event that cannot be shaped goes to " +
  "the dead-letter queue with reason `schema-mismatch`. A type is pinned to one version at most. Exclusive with `filter`; " +
  "an event matching several entries is delivered once (one webhook-id per event and subscription).";

const WHERE_DESCRIPTION =
  `A CEL expression (1 to ${MAX_WHERE_LENGTH} characters) over the CloudEvent: its attributes (\`id\`, \`source\`, \`type\`, ` +
  "`subject`, `time`, …) and `data`, e.g. `data.total.amount > 100 && data.customer.country == 'DE'`. Only events it is true " +
  "for are delivered; the others are acked without delivery and counted per subscription. At create and update time it is " +
  "checked against the schemas of every version of every type the subscription covers: a field path no version defines, or a " +
  "comparison whose types cannot match the schema, is refused with 422 and a problem naming the path and the versions. At " +
  "delivery time an error (a missing optional field) means no match, and is counted.";

const RATE_DESCRIPTION =
  "Deliveries per second for the subscription as a whole, across all bridge instances together; absent or null: unlimited.";

const CONCURRENCY_DESCRIPTION = `Deliveries in flight at once, per bridge instance (1 to ${MAX_CONCURRENCY_LIMIT}, default ${DEFAULT_MAX_CONCURRENCY}); always 1 for an ordered subscription.`;

const subscriptionId = {
  type: "string",
  pattern: SUBSCRIPTION_ID.source,
  maxLength: 64,
  description: "1-64 of a-z 0-9 _ -, starting and ending with a letter or digit",
};

const duration = {
  description: "A duration: milliseconds as a number, or text with a unit: `50ms`, `5s`, `5m`, `2h`, `5d` (no unit: milliseconds)",
  anyOf: [
    { type: "number", minimum: 0 },
    { type: "string", pattern: DURATION_PATTERN_SOURCE },
  ],
};

/** `whsec_` + base64 of 16..64 bytes (Standard Webhooks); model.ts secretProblem() also checks the length. */
const secret = { type: "string", pattern: "^whsec_[A-Za-z0-9+/]+={0,2}$", description: "A Standard Webhooks secret: `whsec_` and base64 of 16 to 64 random bytes" };

const startAtInput = {
  description: "Where a new subscription starts in the stream: `new` (default: events stored from its creation on), `all`, `{sequence: N}` or `{time: ISO}`. Fixed at creation; ignored on update.",
  anyOf: [
    { enum: ["new", "all"] },
    { type: "object", required: ["sequence"], properties: { sequence: { type: "integer", minimum: 1 } } },
    { type: "object", required: ["time"], properties: { time: iso } },
    { type: "object", required: ["policy"], properties: { policy: { enum: ["new", "all"] } } },
  ],
};

/** What a subscriber controls, as written in the API, the CLI and the subscriptions file. */
const writableFields = {
  url: { type: "string", description: "Where deliveries are POSTed: an absolute http(s) URL, checked against the bridge's SSRF policy" },
  filter: { type: "string", description: FILTER_DESCRIPTION, examples: ["events.>", "events.order.*"] },
  types: {
    type: "array",
    minItems: 1,
    maxItems: MAX_TYPE_ENTRIES,
    items: { type: "string", description: "A type glob (`order.*`, `order.**`, `payment.settled`) or an exact type pinned to a version (`order.created@1`)" },
    description: TYPES_DESCRIPTION,
    examples: [["order.*", "payment.settled"], ["order.created@1"]],
  },
  where: { type: "string", minLength: 1, maxLength: MAX_WHERE_LENGTH, description: WHERE_DESCRIPTION },
  secret: { ...secret, description: "One signing secret (shorthand for `secrets: [secret]`)" },
  secrets: {
    type: "array",
    minItems: 1,
    description: "Signing secrets; each live one signs every delivery (one `v1,` signature each). Default: one generated secret, returned once in the answer. On update, absent keeps the current ones.",
    items: {
      anyOf: [secret, { type: "object", required: ["secret"], properties: { secret, notAfter: { type: "string", description: "An ISO time after which this secret no longer signs" } } }],
    },
  },
  retry: {
    type: "object",
    description: "When failed deliveries are tried again",
    properties: {
      schedule: {
        type: "array",
        maxItems: MAX_RETRY_STEPS,
        items: duration,
        description: `The delay before each retry; after the last one the delivery is dead-lettered. Default ${DEFAULT_SCHEDULE_MS.map(hours).join(", ")} (Svix's schedule)`,
      },
      jitter: { type: "number", minimum: 0, maximum: 1, default: DEFAULT_JITTER, description: "Each delay varies by up to this fraction either way" },
    },
  },
  timeout: { ...duration, description: `How long one attempt may take (default ${DEFAULT_TIMEOUT_MS / 1000}s). ${duration.description}` },
  timeoutMs: { ...duration, description: "Same as `timeout` (the name the API answers with)" },
  ackWait: { ...duration, description: `How long JetStream waits for an attempt before redelivering it; longer than \`timeout\` (default timeout + ${ACK_WAIT_MARGIN_MS / 1000}s)` },
  ackWaitMs: { ...duration, description: "Same as `ackWait` (the name the API answers with)" },
  maxConcurrency: { type: "integer", minimum: 1, maximum: MAX_CONCURRENCY_LIMIT, default: DEFAULT_MAX_CONCURRENCY, description: CONCURRENCY_DESCRIPTION },
  rateLimit: { anyOf: [{ type: "number", exclusiveMinimum: 0 }, { type: "null" }], description: RATE_DESCRIPTION },
  rateLimitPerSecond: { anyOf: [{ type: "number", exclusiveMinimum: 0 }, { type: "null" }], description: "Same as `rateLimit` (the name the API answers with)" },
  ordered: { type: "boolean", default: false, description: "One delivery in flight at a time, in stream order. Fixed at creation." },
  enabled: { type: "boolean", default: true, description: "A disabled subscription gets nothing; events it misses meanwhile are not delivered later" },
  disabledReason: { type: "string", description: "With enabled: false, why" },
  format: { enum: ["structured", "binary"], default: "structured", description: "CloudEvents HTTP mode of deliveries: one JSON document, or the data with ce-* headers" },
  startAt: startAtInput,
  metadata: { type: "object", additionalProperties: { type: "string" }, description: "The operator's own labels; not used by the bridge" },
};

const subscriptionInput = (required: string[], description: string) => ({
  type: "object",
  description: `${description} Members not listed are ignored.`,
  required,
  properties: { id: subscriptionId, ...writableFields },
  not: has("filter", "types"),
});

const storedSecret = {
  type: "object",
  additionalProperties: false,
  required: ["secret"],
  properties: {
    secret: { type: "string", pattern: "^whsec_.{0,4}…$", description: "The secret's first 10 characters and an ellipsis: the whole secret is answered only on create and rotate" },
    notAfter: { type: "string", description: "After this ISO time the secret no longer signs (the old secret, during a rotation)" },
  },
};

const subscription = {
  type: "object",
  description: "A subscription as the bridge stores it: durations in milliseconds, defaults filled in, secrets redacted.",
  additionalProperties: false,
  required: ["id", "url", "secrets", "retry", "timeoutMs", "ackWaitMs", "maxConcurrency", "rateLimitPerSecond", "ordered", "enabled", "format", "startAt", "metadata", "createdAt", "updatedAt"],
  properties: {
    id: subscriptionId,
    url: writableFields.url,
    filter: { type: "string", description: FILTER_DESCRIPTION },
    types: { type: "array", items: { type: "string" }, description: TYPES_DESCRIPTION },
    where: { type: "string", description: WHERE_DESCRIPTION },
    secrets: { type: "array", minItems: 1, items: storedSecret },
    retry: {
      type: "object",
      additionalProperties: false,
      required: ["scheduleMs", "jitter"],
      properties: {
        scheduleMs: { type: "array", maxItems: MAX_RETRY_STEPS, items: { type: "number", minimum: 0 }, description: "The delay before each retry, in milliseconds" },
        jitter: { type: "number", minimum: 0, maximum: 1 },
      },
    },
    timeoutMs: { type: "number", minimum: 1 },
    ackWaitMs: { type: "number", minimum: 1 },
    maxConcurrency: { type: "integer", minimum: 1, maximum: MAX_CONCURRENCY_LIMIT, description: CONCURRENCY_DESCRIPTION },
    rateLimitPerSecond: { anyOf: [{ type: "number", exclusiveMinimum: 0 }, { type: "null" }], description: RATE_DESCRIPTION },
    ordered: { type: "boolean" },
    enabled: { type: "boolean" },
    disabledReason: { type: "string", description: "Why it is disabled: an operator's reason, or `auto-disabled …` after failing for too long" },
    disabledAt: iso,
    format: { enum: ["structured", "binary"] },
    startAt: {
      description: "Where the subscription started in the stream",
      oneOf: [
        { type: "object", additionalProperties: false, required: ["policy"], properties: { policy: { enum: ["new", "all"] } } },
        { type: "object", additionalProperties: false, required: ["policy", "sequence"], properties: { policy: { const: "sequence" }, sequence: { type: "integer", minimum: 1 } } },
        { type: "object", additionalProperties: false, required: ["policy", "time"], properties: { policy: { const: "time" }, time: iso } },
      ],
    },
    metadata: { type: "object", additionalProperties: { type: "string" } },
    createdAt: { ...iso, readOnly: true },
    updatedAt: { ...iso, readOnly: true },
    joinedAt: { ...iso, readOnly: true, description: "Server-held: the broker's time of the subscription's first revision; the fan-out delivers events stored from then on, a backfill those before" },
  },
  oneOf: [has("filter"), has("types")],
};

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
    errors: { type: "array", items: fieldError, description: "subscription-invalid: each member that is wrong" },
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
  SubscriptionId: subscriptionId,
  Duration: duration,
  SubscriptionCreate: subscriptionInput(["id", "url"], "A new subscription. Give `types` or `filter` (default `events.>`), not both."),
  SubscriptionReplace: subscriptionInput(["url"], "The whole subscription: members not given take their defaults (secrets and the start position are kept). The id is the path's."),
  SubscriptionPatch: {
    type: "object",
    description: "The members to change; the others stay. Giving `types` or `filter` replaces the other way of selecting. Members not listed are ignored.",
    properties: writableFields,
    not: has("filter", "types"),
  },
  Subscription: subscription,
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
