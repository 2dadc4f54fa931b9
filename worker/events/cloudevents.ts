// A small hand parser of the CloudEvents 1.0 HTTP protocol binding
// (https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/http-protocol-binding.md).
// The `cloudevents` npm package imports node:util and node:http, so in workerd it would need
// `nodejs_compat` and a much larger bundle; the edge needs only the three content modes and the
// attribute rules, which fit here.
import { CE_PREFIX, isJsonMediaType, mediaType, percentDecode, SPEC_VERSION, type EventAttributes } from "../../broker/index.ts";
import { EdgeError } from "../http/problems.ts";

const STRUCTURED_TYPE = "application/cloudevents+json";
const BATCH_TYPE = "application/cloudevents-batch+json";

const CONTEXT_ATTRIBUTES = new Set(["specversion", "id", "source", "type", "datacontenttype", "dataschema", "subject", "time"]);
/** CloudEvents §3.1.1: extension names are lower-case letters and digits. */
const EXTENSION_NAME = /^[a-z0-9]{1,20}$/;

/** A parsed event: its attributes (the broker contract's, all checked) and its data. */
export interface CloudEvent extends EventAttributes {
  specversion: string;
  extensions: Record<string, string>;
  /** The data as a JSON value (undefined when the event has none). */
  data: unknown;
  /** The data exactly as received, when it arrived as JSON bytes (binary mode, plain route). */
  dataBytes?: Uint8Array;
}

export type ContentMode = "binary" | "structured" | "batch";

/**
 * The Content-Type a request really has: an empty (or blank) header counts as none. workerd's HTTP
 * layer drops an empty Content-Type before the Worker sees it (measured: `Content-Type:` and
 * `Content-Type: ` reach the Worker as no header, while other empty headers stay); Node keeps it
 * as "". Reading it through here makes both runtimes answer the same.
 */
export function requestContentType(headers: Headers): string | undefined {
  const value = headers.get("content-type");
  return value === null || value.trim() === "" ? undefined : value;
}

export function contentMode(contentType: string | null): ContentMode {
  const type = mediaType(contentType);
  if (type === STRUCTURED_TYPE) return "structured";
  if (type === BATCH_TYPE) return "batch";
  return "binary";
}

/** §3.1.3.2: header values are percent-decoded as UTF-8; a client that got it wrong is told. */
function decodeHeader(name: string, value: string): string {
  const decoded = percentDecode(value);
  if (decoded === undefined) {
    throw new EdgeError("INVALID_ATTRIBUTE", `the ${name} header is not validly percent-encoded`, { attribute: name });
  }
  return decoded;
}

/** A lone UTF-16 surrogate: with the `u` flag a proper pair is one code point and does not match. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * CloudEvents §3.1.1: a String is a sequence of Unicode characters, and a JSON `"\ud800"` is none.
 * Percent-encoding would turn it into U+FFFD, so two different ids would become one identity.
 */
function wellFormed(name: string, value: string): string {
  if (LONE_SURROGATE.test(value)) {
    throw new EdgeError("INVALID_ATTRIBUTE", `the attribute "${name}" holds a lone UTF-16 surrogate, which is not Unicode text`, {
      attribute: name,
    });
  }
  return value;
}

function requireString(attrs: Record<string, unknown>, name: string): string {
  const value = attrs[name];
  if (value === undefined || value === null || value === "") {
    throw new EdgeError("MISSING_ATTRIBUTE", `the required attribute "${name}" is missing`, { attribute: name });
  }
  if (typeof value !== "string") {
    throw new EdgeError("INVALID_ATTRIBUTE", `the attribute "${name}" must be a string`, { attribute: name });
  }
  return wellFormed(name, value);
}

function optionalString(attrs: Record<string, unknown>, name: string): string | undefined {
  const value = attrs[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") {
    throw new EdgeError("INVALID_ATTRIBUTE", `the attribute "${name}" must be a string`, { attribute: name });
  }
  return wellFormed(name, value);
}

/** A header value that needs no encoding: printable ASCII and spaces (RFC 9110 §5.5, without obs-text). */
const HEADER_VALUE = /^[\x20-\x7e]*$/;

/** RFC 3339 date-time, as CloudEvents §3.1.1 requires for `time`. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/** Builds an event from its attributes (header-decoded or JSON) and checks the spec's rules. */
function fromAttributes(attrs: Record<string, unknown>, data: unknown, dataBytes?: Uint8Array): CloudEvent {
  const specversion = requireString(attrs, "specversion");
  if (specversion !== SPEC_VERSION) {
    throw new EdgeError("INVALID_ATTRIBUTE", `specversion must be "${SPEC_VERSION}", got "${specversion}"`, { attribute: "specversion" });
  }
  const event: CloudEvent = {
    specversion,
    id: requireString(attrs, "id"),
    source: requireString(attrs, "source"),
    type: requireString(attrs, "type"),
    datacontenttype: optionalString(attrs, "datacontenttype"),
    dataschema: optionalString(attrs, "dataschema"),
    subject: optionalString(attrs, "subject"),
    time: optionalString(attrs, "time"),
    extensions: {},
    data,
    dataBytes,
  };
  // It travels as a header (Content-Type to subscribers, content-type in NATS), so it must be one.
  if (event.datacontenttype !== undefined && !HEADER_VALUE.test(event.datacontenttype)) {
    throw new EdgeError("INVALID_ATTRIBUTE", "datacontenttype must be printable ASCII, like a Content-Type header", { attribute: "datacontenttype" });
  }
  if (event.time !== undefined && !RFC3339.test(event.time)) {
    throw new EdgeError("INVALID_ATTRIBUTE", `time must be an RFC 3339 timestamp, got "${event.time}"`, { attribute: "time" });
  }
  for (const [name, value] of Object.entries(attrs)) {
    if (CONTEXT_ATTRIBUTES.has(name) || name === "data" || name === "data_base64") continue;
    if (!EXTENSION_NAME.test(name)) {
      throw new EdgeError("INVALID_ATTRIBUTE", `"${name}" is not a valid extension attribute name (a-z, 0-9)`, { attribute: name });
    }
    if (typeof value === "string") event.extensions[name] = wellFormed(name, value);
    else if (typeof value === "number" || typeof value === "boolean") event.extensions[name] = String(value);
    else if (value !== null && value !== undefined) {
      throw new EdgeError("INVALID_ATTRIBUTE", `the extension "${name}" must be a string, number or boolean`, { attribute: name });
    }
  }
  return event;
}

/** Binary mode (§3.1): attributes in ce-* headers, the data is the body, Content-Type its type. */
export function fromBinary(headers: Headers, body: Uint8Array, parseData: (bytes: Uint8Array) => unknown): CloudEvent {
  const attrs: Record<string, unknown> = {};
  headers.forEach((value, name) => {
    const lower = name.toLowerCase();
    if (lower.startsWith(CE_PREFIX)) attrs[lower.slice(CE_PREFIX.length)] = decodeHeader(lower, value);
  });
  const contentType = requestContentType(headers);
  if (contentType) attrs.datacontenttype = contentType;
  if (attrs.specversion === undefined && attrs.id === undefined && attrs.type === undefined) {
    throw new EdgeError(
      "MISSING_ATTRIBUTE",
      "no CloudEvent found: send ce-* headers (binary mode) or Content-Type application/cloudevents+json or application/cloudevents-batch+json",
      { attribute: "specversion" },
    );
  }
  if (body.byteLength === 0) return fromAttributes(attrs, undefined);
  if (!isJsonMediaType(contentType)) {
    // Check the attributes first: a missing id is the more useful answer.
    fromAttributes(attrs, undefined);
    throw new EdgeError("UNSUPPORTED_DATACONTENTTYPE", `data of type "${contentType ?? "(none)"}" cannot be validated; send JSON`, {
      datacontenttype: contentType,
    });
  }
  return fromAttributes(attrs, parseData(body), body);
}

function decodeBase64(value: string): Uint8Array {
  try {
    const bin = atob(value);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return bytes;
  } catch {
    throw new EdgeError("INVALID_ATTRIBUTE", "data_base64 is not valid base64", { attribute: "data_base64" });
  }
}

/** Structured mode (§3.2, JSON event format): one JSON object holding attributes and data. */
export function fromStructured(value: unknown, parseData: (bytes: Uint8Array) => unknown): CloudEvent {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new EdgeError("INVALID_ATTRIBUTE", "a structured CloudEvent must be a JSON object");
  }
  const attrs = value as Record<string, unknown>;
  const datacontenttype = optionalString(attrs, "datacontenttype");
  if (datacontenttype !== undefined && !isJsonMediaType(datacontenttype)) {
    fromAttributes(attrs, undefined);
    throw new EdgeError("UNSUPPORTED_DATACONTENTTYPE", `data of type "${datacontenttype}" cannot be validated; send JSON`, {
      datacontenttype,
    });
  }
  if (attrs.data_base64 !== undefined) {
    if (attrs.data !== undefined) throw new EdgeError("INVALID_ATTRIBUTE", "an event holds data or data_base64, not both");
    if (typeof attrs.data_base64 !== "string") throw new EdgeError("INVALID_ATTRIBUTE", "data_base64 must be a string");
    const bytes = decodeBase64(attrs.data_base64);
    return fromAttributes(attrs, parseData(bytes), bytes);
  }
  return fromAttributes(attrs, attrs.data);
}
