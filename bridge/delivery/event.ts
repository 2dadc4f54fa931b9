// From an event read out of its JetStream message (decodeEvent in the broker contract: subject
// events.<type>, CloudEvents attributes as ce-* headers — binary mode — and the data as the body)
// to the HTTP request a subscriber gets: CloudEvents structured JSON by default, or binary mode
// (CloudEvents HTTP binding §3.1 / §3.2).
import type { MsgHdrs } from "@nats-io/nats-core";
import { CE_PREFIX, DEFAULT_DATA_CONTENT_TYPE, H_CONTENT_TYPE, structuredEventJson, type EventEnvelope } from "../../broker/index.ts";

const decoder = new TextDecoder();

export function headersToObject(headers: MsgHdrs | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  for (const [key, values] of headers) out[key] = values.join(", ");
  return out;
}

/**
 * The HTTP body and content headers for one delivery (signature headers are added by the caller).
 * Structured mode is the broker contract's structuredEventJson (the edge's WebSocket fan-out sends
 * the same text).
 */
export function renderEvent(event: EventEnvelope, format: "structured" | "binary"): { body: string; headers: Record<string, string> } {
  if (format === "binary") {
    const headers: Record<string, string> = { [H_CONTENT_TYPE]: event.contentType ?? DEFAULT_DATA_CONTENT_TYPE };
    for (const [name, value] of Object.entries(event.headerAttributes)) headers[CE_PREFIX + name] = value;
    return { body: decoder.decode(event.data), headers };
  }
  const body = structuredEventJson(event);
  return { body, headers: { "content-type": "application/cloudevents+json; charset=utf-8" } };
}
