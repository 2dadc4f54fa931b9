// An event read back from its message (decodeEvent) as a structured-mode CloudEvent in JSON
// (CloudEvents JSON format §3): what the bridge POSTs to a structured-mode subscriber and what the
// edge sends to a subscribed WebSocket. Written once, so both say the same thing of the same
// message. Runtime-neutral (btoa, TextDecoder): the workerd bundle imports it.
import type { EventEnvelope } from "./event-message.ts";
import { DEFAULT_DATA_CONTENT_TYPE, isJsonMediaType } from "./media-type.ts";

const decoder = new TextDecoder();

/** RFC 4648 §4 base64 of raw bytes, in chunks so a large body does not overflow the call stack. */
function base64(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/**
 * The event as structured JSON text. JSON data is spliced in exactly as stored rather than parsed
 * and written again: the reader gets the producer's bytes, and large integers keep every digit.
 * Data that is not valid JSON (not written by the edge) goes as `data_base64`, text as `data`.
 */
export function structuredEventJson(event: EventEnvelope): string {
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
      structured.data_base64 = base64(event.data);
    }
  } else if (event.contentType?.startsWith("text/")) {
    structured.data = text;
  } else {
    structured.data_base64 = base64(event.data);
  }
  const envelope = JSON.stringify(structured);
  return json === undefined ? envelope : `${envelope.slice(0, -1)},"data":${json}}`;
}
