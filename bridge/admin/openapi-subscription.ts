// The subscription in the admin API's OpenAPI document (openapi.ts): as it is written (create,
// replace, patch; the same members as the CLI and the subscriptions file) and as the API answers
// it (redact() in routes-subscriptions.ts: durations in milliseconds, defaults filled in, secrets by
// prefix). Limits, defaults and grammars are imported from where parseSubscription checks them
// (subscriptions/model.ts, selection.ts, duration.ts), so the document cannot state others.
import { ALL_EVENTS_SUBJECT } from "../../broker/index.ts";
import { DURATION_PATTERN_SOURCE } from "../duration.ts";
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

export const iso = { type: "string", format: "date-time" };
export const hours = (ms: number) => `${ms / 3_600_000}h`;
/** "These members are present", for oneOf/anyOf/not (the members are described beside it). */
export const has = (...members: string[]) => ({ type: "object", required: members, properties: Object.fromEntries(members.map((m) => [m, true])) });

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
  `A CEL expression (1 to ${MAX_WHERE_LENGTH} characters) over the CloudEvent: \`data\` (its JSON; every number a CEL double), ` +
  "the attributes `id`, `source`, `specversion`, `subject`, `datacontenttype`, `dataschema` (strings), `time` (a timestamp) and " +
  "`extensions`, and `event` (every attribute and `data`; the type is `event.type`, as CEL reserves `type`), e.g. " +
  "`data.customer.id.startsWith('c-') && event.type == 'order.created'`. Only events it is true for are delivered; the others " +
  "are acked without delivery and counted per subscription (jetgate_subscription_filtered_total). At create and update time it " +
  "is checked against the schemas of every version of every type the subscription covers (with a registry loaded): a field path " +
  "no version defines, or a comparison whose types cannot match the schema, is refused with 422 where-invalid naming the path and " +
  "the versions. At delivery time an error (a missing optional field) means no match, and is counted.";

const RATE_DESCRIPTION =
  "Deliveries per second for the subscription as a whole, across all bridge instances together; absent or null: unlimited.";

const CONCURRENCY_DESCRIPTION = `Deliveries in flight at once, per bridge instance (1 to ${MAX_CONCURRENCY_LIMIT}, default ${DEFAULT_MAX_CONCURRENCY}); always 1 for an ordered subscription.`;

export const subscriptionId = {
  type: "string",
  pattern: SUBSCRIPTION_ID.source,
  maxLength: 64,
  description: "1-64 of a-z 0-9 _ -, starting and ending with a letter or digit",
};

export const duration = {
  description: "A duration: milliseconds as a number, or text with a unit: `50ms`, `5s`, `5m`, `2h`, `5d` (no unit: milliseconds)",
  anyOf: [
    { type: "number", minimum: 0 },
    { type: "string", pattern: DURATION_PATTERN_SOURCE },
  ],
};

/** `whsec_` + base64 of 16..64 bytes (Standard Webhooks); model.ts secretProblem() also checks the length. */
export const secret = { type: "string", pattern: "^whsec_[A-Za-z0-9+/]+={0,2}$", description: "A Standard Webhooks secret: `whsec_` and base64 of 16 to 64 random bytes" };

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


export const subscriptionSchemas = {
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
};
