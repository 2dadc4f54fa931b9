// From a JetStream message written by the edge (subject events.<type>, CloudEvents attributes as
// ce-* headers — binary mode — and the data as the body) to the HTTP request a subscriber gets:
// CloudEvents structured JSON by default, or binary mode (CloudEvents HTTP binding §3.1 / §3.2).
import type { MsgHdrs } from "@nats-io/nats-core";
import { webhookIdOf } from "../../broker/event-identity.ts";

export interface EventEnvelope {
  /** The CloudEvent id as the producer sent it (ce-id, percent-decoded). */
  id: string;
  /** The CloudEvent source as the producer sent it (ce-source, percent-decoded; "" when absent). */
  source: string;
  /** The Standard Webhooks webhook-id: derived from source + id (broker/event-identity.ts). */
  webhookId: string;
  type: string;
  subject: string;
  /**
   * ce-* attributes without the prefix (specversion, id, source, type, time, …), as they travel in
   * headers: percent-encoded per the CloudEvents HTTP binding (§3.1.3.2), as the edge stores them.
   */
  headerAttributes: Record<string, string>;
  contentType: string | undefined;
  data: Uint8Array;
}

/** A header attribute's value as the producer sent it; a malformed escape is kept as it is. */
function decodeAttribute(value: string): string {
  if (!value.includes("%")) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

const decoder = new TextDecoder();

export function headersToObject(headers: MsgHdrs | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  for (const [key, values] of headers) out[key] = values.join(", ");
  return out;
}

/** Reads the event out of a message; falls back to Nats-Msg-Id and the subject when ce-* are missing. */
export function envelopeOf(subject: string, headers: MsgHdrs | undefined, data: Uint8Array, fallbackId: string): EventEnvelope {
  const attributes: Record<string, string> = {};
  let contentType: string | undefined;
  let msgId: string | undefined;
  if (headers) {
    for (const [key, values] of headers) {
      const lower = key.toLowerCase();
      if (lower.startsWith("ce-")) attributes[lower.slice(3)] = values[0] ?? "";
      else if (lower === "content-type") contentType = values[0];
      else if (lower === "nats-msg-id") msgId = values[0];
    }
  }
  const type = attributes.type ?? subject.replace(/^events\./, "");
  const rawId = attributes.id ?? msgId ?? fallbackId;
  const id = decodeAttribute(rawId);
  const source = decodeAttribute(attributes.source ?? "");
  // From the decoded values, so the webhook-id is the one the edge's identity rule gives.
  const webhookId = webhookIdOf(source, id);
  return { id, source, webhookId, type, subject, headerAttributes: { specversion: "1.0", ...attributes, id: rawId, type }, contentType, data };
}

function isJson(contentType: string | undefined): boolean {
  if (!contentType) return true;
  const media = contentType.split(";")[0]!.trim().toLowerCase();
  return media === "application/json" || media.endsWith("+json") || media === "text/json";
}

/**
 * The HTTP body and content headers for one delivery (signature headers are added by the caller).
 * Structured mode carries JSON data exactly as stored, spliced in rather than parsed and written
 * again: the subscriber gets the producer's bytes, and large integers keep every digit.
 */
export function renderEvent(event: EventEnvelope, format: "structured" | "binary"): { body: string; headers: Record<string, string> } {
  if (format === "binary") {
    const headers: Record<string, string> = { "content-type": event.contentType ?? "application/json" };
    for (const [name, value] of Object.entries(event.headerAttributes)) headers[`ce-${name}`] = value;
    return { body: decoder.decode(event.data), headers };
  }
  const structured: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(event.headerAttributes)) {
    // Members the event's data owns; a stray ce-data header must not make a second "data".
    if (name !== "data" && name !== "data_base64") structured[name] = decodeAttribute(value);
  }
  if (event.contentType) structured.datacontenttype = event.contentType;
  const text = decoder.decode(event.data);
  let json: string | undefined;
  if (event.data.length === 0) {
    // No data member at all: CloudEvents allows an event without data.
  } else if (isJson(event.contentType)) {
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
