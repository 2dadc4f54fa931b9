// The event message: how a CloudEvent travels through JetStream, written once for the edge that
// publishes it (encodeEvent), the bridge that delivers it (decodeEvent), and the tests and benches
// that publish like the edge. Binary content mode, as in the CloudEvents HTTP binding (§3.1):
// each attribute is a ce-* header, percent-encoded (§3.1.3.2) so any Unicode value makes a valid
// header; datacontenttype is the content-type header; the data is the body, byte for byte. The
// subject is events.<type>, and Nats-Msg-Id is the event's identity (source + id), so JetStream's
// duplicate window drops retries. Runtime-neutral: nats-core's headers() runs in workerd and Node.
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/nats-core";
import { BrokerError } from "./errors.ts";
import { eventMsgId, webhookIdOf } from "./event-identity.ts";
import { EVENT_TYPE_MAX_LENGTH, isEventType } from "./event-type.ts";
import { CE_PREFIX, H_CONTENT_TYPE, H_MSG_ID, H_TRACEPARENT, H_TRACESTATE } from "./headers.ts";
import { DEFAULT_DATA_CONTENT_TYPE } from "./media-type.ts";
import { percentDecode, percentEncode } from "./percent-encoding.ts";
import { eventSubject, eventTypeOfSubject } from "./subjects.ts";

/** The only CloudEvents version there is (1.0); the edge refuses others. */
export const SPEC_VERSION = "1.0";

/** A CloudEvent's context attributes (CloudEvents 1.0 §3.1), as the producer sent them. */
export interface EventAttributes {
  /** Default SPEC_VERSION. */
  specversion?: string;
  id: string;
  source: string;
  type: string;
  /** Default DEFAULT_DATA_CONTENT_TYPE. */
  datacontenttype?: string;
  dataschema?: string;
  subject?: string;
  time?: string;
  /**
   * Extension attributes by name (a-z, 0-9; none named like a context attribute: the edge's parser
   * sees to both). `traceparent` and `tracestate` (the distributed-tracing extension) travel as
   * the W3C headers instead of ce-* ones.
   */
  extensions?: Record<string, string>;
}

/** W3C Trace Context that travels beside the event, so consumers can continue the trace. */
export interface TraceContext {
  traceparent?: string;
  tracestate?: string;
}

/** What to publish: the publisher turns `headers` and `msgID` into NATS headers (natsHeadersOf). */
export interface EventMessage {
  subject: string;
  /** Becomes Nats-Msg-Id: the event's identity (eventMsgId of source + id). */
  msgID: string;
  /** Header name → value, in the order they go on the wire. */
  headers: Record<string, string>;
  data: Uint8Array;
}

/**
 * The NATS message of an event. Every ce-* value is percent-encoded; for the attributes whose
 * grammar allows only safe characters (specversion, type, an RFC 3339 time) that changes nothing.
 * The header order is the one the edge has always written: specversion, id, source, type,
 * dataschema, content-type, subject, time, extensions, traceparent, tracestate.
 * `trace` comes from the HTTP request; a tracing extension on the event wins over it.
 * Throws BrokerError INVALID_EVENT_TYPE for a type outside the grammar, whose subject could be a
 * wildcard (the edge checks the type first and answers 400).
 */
export function encodeEvent(attributes: EventAttributes, data: Uint8Array, trace: TraceContext = {}): EventMessage {
  if (!isEventType(attributes.type)) {
    throw new BrokerError("INVALID_EVENT_TYPE", `"${attributes.type.slice(0, 200)}" is not an event type (at most ${EVENT_TYPE_MAX_LENGTH} characters)`);
  }
  const headers: Record<string, string> = {};
  const put = (name: string, value: string | undefined) => {
    if (value !== undefined) headers[CE_PREFIX + name] = percentEncode(value);
  };
  put("specversion", attributes.specversion ?? SPEC_VERSION);
  put("id", attributes.id);
  put("source", attributes.source);
  put("type", attributes.type);
  // The edge sets the version the data was checked against, so consumers need not guess.
  put("dataschema", attributes.dataschema);
  headers[H_CONTENT_TYPE] = attributes.datacontenttype ?? DEFAULT_DATA_CONTENT_TYPE;
  put("subject", attributes.subject);
  put("time", attributes.time);
  const w3c: TraceContext = { ...trace };
  for (const [name, value] of Object.entries(attributes.extensions ?? {})) {
    if (name === H_TRACEPARENT || name === H_TRACESTATE) w3c[name] = value;
    else put(name, value);
  }
  if (w3c.traceparent) headers[H_TRACEPARENT] = percentEncode(w3c.traceparent);
  if (w3c.tracestate) headers[H_TRACESTATE] = percentEncode(w3c.tracestate);
  return { subject: eventSubject(attributes.type), msgID: eventMsgId(attributes.source, attributes.id), headers, data };
}

/**
 * The message's headers as nats-core MsgHdrs, Nats-Msg-Id last (where js.publish's msgID option
 * puts it too). nats-core refuses a value holding CR or LF by throwing InvalidArgumentError; an
 * encoded ce-* value never does.
 */
export function natsHeadersOf(message: Pick<EventMessage, "headers" | "msgID">): MsgHdrs {
  const h = natsHeaders();
  for (const name in message.headers) h.append(name, message.headers[name]!);
  h.append(H_MSG_ID, message.msgID);
  return h;
}

/** An event read back from its message: what the bridge needs to deliver it. */
export interface EventEnvelope {
  /** The CloudEvent id as the producer sent it (ce-id, percent-decoded). */
  id: string;
  /** The CloudEvent source as the producer sent it (ce-source, percent-decoded; "" when absent). */
  source: string;
  /** The Standard Webhooks webhook-id: derived from source + id (event-identity.ts). */
  webhookId: string;
  type: string;
  subject: string;
  /** Every ce-* attribute without the prefix, as the producer sent it (percent-decoded). */
  attributes: Record<string, string>;
  /** The same as they travel in headers: percent-encoded (§3.1.3.2), as the edge stores them. */
  headerAttributes: Record<string, string>;
  contentType: string | undefined;
  trace: TraceContext;
  data: Uint8Array;
}

/** A stored value as the producer sent it; a malformed escape (not written by the edge) is kept as it is. */
function decodeStored(value: string): string {
  return percentDecode(value) ?? value;
}

const MSG_ID_LOWER = H_MSG_ID.toLowerCase();

/**
 * Reads an event out of a message: its ce-* headers (names matched case-insensitively, the first
 * value of each), content-type and trace headers. Messages not written by the edge may lack
 * attributes: the type then comes from the subject, the id from Nats-Msg-Id or else `fallbackId`
 * (e.g. "EVENTS:<seq>"), and specversion is SPEC_VERSION.
 */
export function decodeEvent(subject: string, headers: MsgHdrs | undefined, data: Uint8Array, fallbackId: string): EventEnvelope {
  const encoded: Record<string, string> = {};
  const trace: TraceContext = {};
  let contentType: string | undefined;
  let msgId: string | undefined;
  for (const [key, values] of headers ?? []) {
    const lower = key.toLowerCase();
    if (lower.startsWith(CE_PREFIX)) encoded[lower.slice(CE_PREFIX.length)] = values[0] ?? "";
    else if (lower === H_CONTENT_TYPE) contentType = values[0];
    else if (lower === MSG_ID_LOWER) msgId = values[0];
    else if (lower === H_TRACEPARENT || lower === H_TRACESTATE) trace[lower] = decodeStored(values[0] ?? "");
  }
  const type = encoded.type ?? eventTypeOfSubject(subject);
  const rawId = encoded.id ?? msgId ?? fallbackId;
  const headerAttributes = { specversion: SPEC_VERSION, ...encoded, id: rawId, type };
  const attributes: Record<string, string> = {};
  for (const [name, value] of Object.entries(headerAttributes)) attributes[name] = decodeStored(value);
  const id = attributes.id!;
  const source = decodeStored(encoded.source ?? "");
  // From the decoded values, so the webhook-id is the one the edge's identity rule gives.
  const webhookId = webhookIdOf(source, id);
  return { id, source, webhookId, type, subject, attributes, headerAttributes, contentType, trace, data };
}
