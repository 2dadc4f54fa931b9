// From an event read out of its JetStream message (decodeEvent in the broker contract: subject
// events.<type>, CloudEvents attributes as ce-* headers — binary mode — and the data as the body)
// to the HTTP request a subscriber gets: CloudEvents structured JSON by default, or binary mode
// (CloudEvents HTTP binding §3.1 / §3.2).
import type { MsgHdrs } from "@nats-io/nats-core";
import { CE_PREFIX, DEFAULT_DATA_CONTENT_TYPE, H_CONTENT_TYPE, isJsonMediaType, type EventEnvelope } from "../../broker/index.ts";

const decoder = new TextDecoder();

export function headersToObject(headers: MsgHdrs | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  for (const [key, values] of headers) out[key] = values.join(", ");
  return out;
}

/**
 * The HTTP body and content headers for one delivery (signature headers are added by the caller).
 * Structured mode carries JSON data exactly as stored, spliced in rather than parsed and written
 * again: the subscriber gets the producer's bytes, and large integers keep every digit.
 */
export function renderEvent(event: EventEnvelope, format: "structured" | "binary"): { body: string; headers: Record<string, string> } {
  if (format === "binary") {
    const headers: Record<string, string> = { [H_CONTENT_TYPE]: event.contentType ?? DEFAULT_DATA_CONTENT_TYPE };
    for (const [name, value] of Object.entries(event.headerAttributes)) headers[CE_PREFIX + name] = value;
    return { body: decoder.decode(event.data), headers };
  }
  const structured: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(event.attributes)) {
    // Members the event's data owns; a stray ce-data header must not make a second "data".
    if (name !== "data" && name !== "data_base64") structured[name] = value;
  }
  if (event.contentType) structured.datacontenttype = event.contentType;
  const text = decoder.decode(event.data);
  let json: string | undefined;
  if (event.data.length === 0) {
    // No data member at all: CloudEvents allows an event without data.
  } else if (isJsonMediaType(event.contentType || DEFAULT_DATA_CONTENT_TYPE)) {
    try {
      JSON.parse(text); // only spliced when it is JSON; the edge checked it, others may not have
      json = text;
    } catch {
      structured.data_base64 = Buffer.from(event.data).toString("base64");
    }
  } else if (event.contentType?.startsWith("text/")) {
    structured.data = text;
  } else {
    structured.data_base64 = Buffer.from(event.data).toString("base64");
  }
  const envelope = JSON.stringify(structured);
  const body = json === undefined ? envelope : `${envelope.slice(0, -1)},"data":${json}}`;
  return { body, headers: { "content-type": "application/cloudevents+json; charset=utf-8" } };
}
