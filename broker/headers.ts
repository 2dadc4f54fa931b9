// The header names of the event message and of the copies the bridge makes of it, one constant
// each. ce-* carry the CloudEvents attributes (binary content mode, as in the HTTP binding §3.1.3,
// whose names NATS headers reuse); the W3C trace headers travel beside them; Nats-* are
// JetStream's; Jetgate-* are the bridge's, on dead letters and redrive/replay copies.

/** Attribute `x` travels as header `ce-x`, its value percent-encoded (percent-encoding.ts). */
export const CE_PREFIX = "ce-";
/** The data's media type (`datacontenttype`, HTTP binding §3.1.1): not ce-prefixed, not encoded. */
export const H_CONTENT_TYPE = "content-type";
/** W3C Trace Context, from the HTTP request or the CloudEvents distributed-tracing extension. */
export const H_TRACEPARENT = "traceparent";
export const H_TRACESTATE = "tracestate";

/** JetStream's de-duplication key; for an event, its identity (event-identity.ts eventMsgId). */
export const H_MSG_ID = "Nats-Msg-Id";
/** JetStream's own headers (Nats-Msg-Id, Nats-Expected-*, …) start so: each is about one message. */
export const NATS_HEADER_PREFIX = "Nats-";

/** The subject an event was first published on, carried by its dead letters and redrive/replay copies. */
export const H_SOURCE_SUBJECT = "Jetgate-Source-Subject";

// A dead letter's bookkeeping, set by the bridge when the attempts run out (bridge/recovery/dlq.ts).
/** The subscription whose attempts ran out. */
export const H_SUBSCRIPTION = "Jetgate-Subscription";
/** Where the message that died was read: stream name and sequence. */
export const H_SOURCE_STREAM = "Jetgate-Source-Stream";
export const H_SOURCE_SEQ = "Jetgate-Source-Seq";
export const H_REASON = "Jetgate-Reason";
/** The attempt history, JSON. */
export const H_ATTEMPTS = "Jetgate-Attempts";
/** ISO time of the death. */
export const H_DEAD_AT = "Jetgate-Dead-At";
/** How many times JetStream handed out the message that died (its delivery count). */
export const H_DELIVERIES = "Jetgate-Deliveries";
/** How many of those deliveries have no attempt in the history (bridge/recovery/dlq.ts DeadLetterInput.unrecorded). */
export const H_UNRECORDED = "Jetgate-Unrecorded-Deliveries";
/** Why the history could not be read from the attempt log, when it could not. */
export const H_HISTORY_ERROR = "Jetgate-History-Error";
/** Why the event died as a problem object (JSON, RFC 9457 members), e.g. a schema-mismatch of a pinned version. */
export const H_PROBLEM = "Jetgate-Problem";
/** The headers a dead letter adds; they describe one death, not the event. */
export const DEAD_LETTER_HEADERS: readonly string[] = [H_SUBSCRIPTION, H_SOURCE_STREAM, H_SOURCE_SEQ, H_REASON, H_ATTEMPTS, H_DEAD_AT, H_DELIVERIES, H_UNRECORDED, H_HISTORY_ERROR, H_PROBLEM];
