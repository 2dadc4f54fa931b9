// The frames of the browser protocol (docs/browsers.md, "Frames"), as the client sends and reads
// them: JSON text, one object a frame, subprotocol `jetgate.v1`. Types, and the protocol's
// constants from the one module the edge reads them from too (worker/sockets/protocol.ts); the
// frames themselves follow docs/browsers.md, and the tests hold both sides to the OpenAPI schemas.

import { CLOSE, SUBPROTOCOLS, TOKEN_PROTOCOL_PREFIX } from "../worker/sockets/protocol.ts";

/** The subprotocol the client speaks; the edge answers with it (never echoing the token). */
export const PROTOCOL = SUBPROTOCOLS.JETGATE;
/** The token travels as a second offered subprotocol (browsers cannot set headers on a WebSocket). */
export { TOKEN_PROTOCOL_PREFIX };

/** A request id: 1–64 printable ASCII characters or a non-negative integer; this client uses "p1", "s2", … */
export type Rid = string | number;

/** A problem as RFC 9457 defines it, with the edge's extension members (`errors`, `attribute`, …); one schema failure in `errors`. Types only: nothing of the edge's module comes into the bundle. */
import type { Problem, ProblemSchemaError } from "../worker/http/problems.ts";

export type { Problem, ProblemSchemaError };

/** A structured CloudEvent (CloudEvents 1.0 JSON format) as it crosses the socket. */
export interface CloudEvent<T extends string = string, D = unknown> {
  specversion: "1.0";
  id: string;
  source: string;
  type: T;
  data?: D;
  datacontenttype?: string;
  dataschema?: string;
  subject?: string;
  time?: string;
  /** Extension attributes (lower-case letters and digits), e.g. traceparent. */
  [extension: string]: unknown;
}

/** Where a subscription starts: a stream sequence, `"new"` (from now on) or `"last"` (the last matching event, then live). */
export type From = number | "new" | "last";

// Client → edge.
export interface PublishFrame {
  op: "publish";
  rid: Rid;
  event: CloudEvent;
}
export interface SubscribeFrame {
  op: "subscribe";
  rid: Rid;
  types: string | string[];
  from?: From;
}
export interface UnsubscribeFrame {
  op: "unsubscribe";
  rid: Rid;
}
export interface PingFrame {
  op: "ping";
  rid?: Rid;
}
export type ClientFrame = PublishFrame | SubscribeFrame | UnsubscribeFrame | PingFrame;

// Edge → client.
export interface ReadyFrame {
  op: "ready";
  protocol: string;
  /** The API key the token was minted with. */
  sub: string;
  /** When the token is spent; the edge then closes with 1008 at the next frame. */
  expiresAt: string;
  maxFrameBytes: number;
  /** Publishes that may wait for an answer at once; one more is refused with `backpressure`. */
  maxInFlight: number;
}
/** What a publish resolves to: the event is stored in JetStream at `seq`. */
export interface Ack<T extends string = string> {
  id: string;
  type: T;
  seq: number;
  /** The event was already stored (the same source + id within the duplicate window); `seq` is the original's. */
  duplicate: boolean;
}
export interface AckFrame extends Ack {
  op: "ack";
  rid: Rid;
}
export interface ProblemFrame {
  op: "problem";
  /** Absent when the refused frame had no readable rid. */
  rid?: Rid;
  problem: Problem;
}
export interface SubscribedFrame {
  op: "subscribed";
  rid: Rid;
  types: string[];
  /** The stream sequence the subscription starts at ("new" resolved by the edge; absent for "last"). */
  from?: number;
}
export interface EventFrame {
  op: "event";
  rid: Rid;
  seq: number;
  event: CloudEvent;
}
export interface UnsubscribedFrame {
  op: "unsubscribed";
  rid: Rid;
}
export interface PongFrame {
  op: "pong";
  rid?: Rid;
}
export type ServerFrame = ReadyFrame | AckFrame | ProblemFrame | SubscribedFrame | EventFrame | UnsubscribedFrame | PongFrame;

/** The close codes of docs/browsers.md ("Close codes"); all but NORMAL and TOO_BIG make the client reconnect and resume. */
export const CLOSE_CODES = CLOSE;
