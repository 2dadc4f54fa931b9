// From a parsed CloudEvent to a JetStream publish and back to what the client is told. Shared by
// every content mode: scope check, schema resolution, validation, the NATS message (built by the
// broker contract's encodeEvent: subject, Nats-Msg-Id = the event's identity, source + id; ce-*
// headers, traceparent) and the mapping of publish failures to 503.
import { encodeEvent, EVENT_TYPE_MAX_LENGTH, isEventType, type TraceContext } from "../../broker/index.ts";
import { assertTypeAllowed } from "../auth/authenticate.ts";
import type { CloudEvent } from "./cloudevents.ts";
import { EdgeError, makeProblem, type Problem } from "../http/problems.ts";
import type { ApiKeyEntry } from "../auth/keys.ts";
import type { RegistryView } from "./schema-registry.ts";
import type { PublishOutcome, PublishRequest } from "../publish/publisher.ts";

/** What a client is told about an accepted event (DESIGN.md, Edge HTTP contract). */
export interface Accepted {
  id: string;
  type: string;
  seq: number;
  duplicate: boolean;
}

export interface PreparedEvent {
  event: CloudEvent;
  request: PublishRequest;
}

const encoder = new TextEncoder();

export function checkType(type: string): void {
  if (!isEventType(type)) {
    throw new EdgeError(
      "INVALID_ATTRIBUTE",
      `"${type.slice(0, 200)}" is not an event type: lower-case words joined by ".", "_" or "-", at most ${EVENT_TYPE_MAX_LENGTH} characters`,
      { attribute: "type" },
    );
  }
}

/**
 * Checks an event against the key's scope and its schema and builds its NATS message. Throws
 * EdgeError for anything the client must fix.
 */
export function prepareEvent(
  event: CloudEvent,
  deps: { key: ApiKeyEntry; registry: RegistryView; maxEventBytes: number; trace: TraceContext },
): PreparedEvent {
  checkType(event.type);
  assertTypeAllowed(deps.key, event.type);
  const schema = deps.registry.resolve(event.type, event.dataschema);
  const result = deps.registry.check(schema, event.data === undefined ? null : event.data);
  if (!result.valid) {
    throw new EdgeError("SCHEMA_VALIDATION", `the data does not match ${schema.id}`, {
      eventType: event.type,
      dataschema: schema.id,
      errors: result.errors,
    });
  }
  const data = event.dataBytes ?? (event.data === undefined ? new Uint8Array(0) : encoder.encode(JSON.stringify(event.data)));
  if (data.byteLength > deps.maxEventBytes) {
    throw new EdgeError("PAYLOAD_TOO_LARGE", `the event's data is larger than ${deps.maxEventBytes} bytes`, { limit: deps.maxEventBytes });
  }
  // The version the data was checked against goes in dataschema, so consumers need not guess.
  return { event, request: encodeEvent({ ...event, dataschema: schema.id }, data, deps.trace) };
}

/** A publish failure as the client sees it: always 503 with Retry-After, never a 202. */
export function publishFailure(outcome: Extract<PublishOutcome, { ok: false }>, retryAfterSeconds: number): EdgeError {
  const kind = outcome.code === "TIMEOUT" ? "PUBLISH_TIMEOUT" : "BROKER_UNAVAILABLE";
  return new EdgeError(kind, outcome.message, { retryAfter: retryAfterSeconds }, { "retry-after": String(retryAfterSeconds) });
}

export function accepted(prepared: PreparedEvent, outcome: Extract<PublishOutcome, { ok: true }>): Accepted {
  return { id: prepared.event.id, type: prepared.event.type, seq: outcome.ack.seq, duplicate: outcome.ack.duplicate };
}

/** One entry of a batch answer, in the order the events came. */
export type BatchResult = ({ status: 202 } & Accepted) | { status: number; id?: string; type?: string; problem: Problem };

export function rejected(err: unknown, event?: Partial<CloudEvent>): BatchResult {
  const problem = err instanceof EdgeError ? err.toProblem() : makeProblem("INTERNAL", "the edge failed on this event");
  const result: BatchResult = { status: problem.status, problem };
  if (typeof event?.id === "string") result.id = event.id;
  if (typeof event?.type === "string") result.type = event.type;
  return result;
}
