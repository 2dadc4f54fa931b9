// The WebSocket protocol's frames (docs/browsers.md): what a client may send, read and checked
// here once, and what the edge sends back, built here once. JSON text frames; a frame that cannot
// be read is data (a FrameRefusal), answered with a problem frame while the socket stays open.
// Runtime-neutral: the same module serves the workerd socket hub and the Node edge.
import { isEventTypeGlob } from "../../broker/index.ts";
import type { Accepted } from "../events/ingest.ts";
import { EdgeError, type Problem } from "../http/problems.ts";

import type { Subprotocol } from "./protocol.ts";

export { CLOSE, SUBPROTOCOLS, type Subprotocol } from "./protocol.ts";

const encoder = new TextEncoder();

/** True when a frame is over `max` UTF-8 bytes; a text frame's length alone mostly decides (1–3 bytes a UTF-16 unit). */
export function frameTooBig(data: string | ArrayBuffer | Uint8Array, max: number): boolean {
  if (typeof data !== "string") return data.byteLength > max;
  if (data.length > max) return true;
  if (data.length * 3 <= max) return false;
  return encoder.encode(data).length > max;
}

/** A client's request id: echoed on every answer so the client can match it. */
export type Rid = string | number;

const RID_TEXT = /^[\x21-\x7e]{1,64}$/;

/** Where a subscription starts: a stream sequence, only events from now on, or the last matching one. */
export type StartFrom = number | "new" | "last";

export type ClientFrame =
  | { op: "publish"; rid: Rid; event: unknown }
  | { op: "subscribe"; rid: Rid; types: string[]; from: StartFrom }
  | { op: "unsubscribe"; rid: Rid }
  | { op: "ping"; rid?: Rid };

/** A frame the edge could not take: the problem to answer, and the rid when one was readable. */
export interface FrameRefusal {
  refused: true;
  rid?: Rid;
  error: EdgeError;
}

function malformed(detail: string, rid?: Rid): FrameRefusal {
  return { refused: true, rid, error: new EdgeError("MALFORMED_FRAME", detail) };
}

function ridOf(value: unknown): Rid | undefined {
  if (typeof value === "string" && RID_TEXT.test(value)) return value;
  if (Number.isSafeInteger(value) && (value as number) >= 0) return value as number;
  return undefined;
}

function typesOf(value: unknown): string[] | undefined {
  const list = typeof value === "string" ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || list.length > 32) return undefined;
  return list.every((g) => typeof g === "string" && isEventTypeGlob(g)) ? (list as string[]) : undefined;
}

function startOf(value: unknown): StartFrom | undefined {
  if (value === undefined || value === "new") return "new";
  if (value === "last") return "last";
  if (Number.isSafeInteger(value) && (value as number) >= 1) return value as number;
  return undefined;
}

/**
 * A jetgate.v1 frame, parsed and checked. `parse` is the edge's JSON reader with its depth limit
 * (request-limits.ts parseJson), so a frame is held to the same rules as an HTTPS body.
 */
export function readClientFrame(text: string, parse: (text: string) => unknown): ClientFrame | FrameRefusal {
  let value: unknown;
  try {
    value = parse(text);
  } catch (err) {
    if (err instanceof EdgeError) return malformed(`the frame is not valid JSON: ${err.detail}`);
    return malformed("the frame is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return malformed("a frame is a JSON object with an `op`");
  const frame = value as Record<string, unknown>;
  const rid = ridOf(frame.rid);
  if (frame.rid !== undefined && rid === undefined) return malformed("rid must be 1–64 printable ASCII characters or a non-negative integer");
  switch (frame.op) {
    case "ping":
      return rid === undefined ? { op: "ping" } : { op: "ping", rid };
    case "publish":
      if (rid === undefined) return malformed("a publish needs a rid, to match its ack");
      if (frame.event === undefined) return malformed("a publish carries the structured CloudEvent in `event`", rid);
      return { op: "publish", rid, event: frame.event };
    case "subscribe": {
      if (rid === undefined) return malformed("a subscribe needs a rid: it names the subscription");
      const types = typesOf(frame.types);
      if (!types) return malformed("types must be a type glob (order.*, order.**) or an array of 1–32 of them", rid);
      const from = startOf(frame.from);
      if (from === undefined) return malformed('from must be a stream sequence ≥ 1, "new" or "last"', rid);
      return { op: "subscribe", rid, types, from };
    }
    case "unsubscribe":
      if (rid === undefined) return malformed("an unsubscribe names the subscription by its rid");
      return { op: "unsubscribe", rid };
    default:
      return malformed(`unknown op ${JSON.stringify(frame.op)}; ops are publish, subscribe, unsubscribe, ping`, rid);
  }
}

export function isRefusal(frame: ClientFrame | FrameRefusal): frame is FrameRefusal {
  return "refused" in frame;
}

// The edge's frames. Events are sent as text already JSON (structuredEventJson), spliced in.

export function readyFrame(facts: { protocol: Subprotocol; sub: string; expiresAt: string; maxFrameBytes: number; maxInFlight: number }): string {
  return JSON.stringify({ op: "ready", ...facts });
}

export function ackFrame(rid: Rid, accepted: Accepted): string {
  return JSON.stringify({ op: "ack", rid, ...accepted });
}

export function problemFrame(rid: Rid | undefined, problem: Problem): string {
  return JSON.stringify(rid === undefined ? { op: "problem", problem } : { op: "problem", rid, problem });
}

/** `from`: the stream sequence the subscription starts at ("new" resolved), so a client can resume from it before any event came. */
export function subscribedFrame(rid: Rid, types: string[], from?: number): string {
  return JSON.stringify(from === undefined ? { op: "subscribed", rid, types } : { op: "subscribed", rid, types, from });
}

export function unsubscribedFrame(rid: Rid): string {
  return JSON.stringify({ op: "unsubscribed", rid });
}

export function pongFrame(rid: Rid | undefined): string {
  return JSON.stringify(rid === undefined ? { op: "pong" } : { op: "pong", rid });
}

/** `eventJson` is the structured CloudEvent's JSON text, put in as it is. */
export function eventFrame(rid: Rid, seq: number, eventJson: string): string {
  return `{"op":"event","rid":${JSON.stringify(rid)},"seq":${seq},"event":${eventJson}}`;
}
