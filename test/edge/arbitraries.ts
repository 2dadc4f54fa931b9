// Generators of requests to the edge, shared by the runtime parity test and the fuzz suite: the
// three CloudEvents modes and the plain route, valid and invalid data, wrong/empty/missing content
// types, bad attributes, hostile type names (wildcards, NATS specials, traversal), bad keys, raw
// bytes fetch cannot send. A generated CaseSpec is turned into bytes by toWire(spec, uniq), so the
// same case can be sent to two runtimes with different (unique) event ids.
import fc from "fast-check";
import { KEYS } from "./helpers.ts";
import { schemaId, VALID_ORDER_V1, VALID_ORDER_V2 } from "./fixtures.ts";

export type Route = "plain" | "binary" | "structured" | "batch" | "schema" | "raw";

export type DataKind =
  | "valid"
  | "valid-v1"
  | "invalid"
  | "malformed"
  | "truncated"
  | "deep"
  | "wide"
  | "bom"
  | "lone-surrogate-escaped"
  | "lone-surrogate-raw"
  | "nul"
  | "empty"
  | "not-object"
  | "huge"
  | "unicode";

export interface CaseSpec {
  route: Route;
  type: string;
  /** null: no Content-Type header at all. */
  contentType: string | null;
  /** The Authorization header; null: none. */
  auth: string | null;
  data: DataKind;
  /** CloudEvents attribute changes (binary: ce-* headers; structured/batch: JSON members); null drops it. */
  attrs: Record<string, string | number | null>;
  idempotencyKey: "none" | "unique" | "bad";
  /** schema route: the {n} path segment. */
  version: string;
  /** raw route: a request-head mistake that only raw bytes can make. */
  rawKind: RawKind;
  batchSize: number;
  /** Extra headers: odd bytes (latin1), duplicates, tracing, whitespace. */
  extraHeaders: Array<[string, string]>;
}

export type RawKind =
  | "control-char-in-header"
  | "latin1-header"
  | "invalid-utf8-path"
  | "nul-in-path"
  | "obs-fold"
  | "no-colon"
  | "space-before-colon"
  | "huge-header"
  | "bad-content-length"
  | "two-content-lengths"
  | "bare-lf"
  | "percent-garbage-path";

export const EDGE_TYPES = ["order.created", "payment.settled"];

/** Type names: registered, unknown, and hostile (wildcards, NATS specials, traversal, unicode). */
export const typeName = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...EDGE_TYPES) },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      "nobody.registered",
      "Order.Created",
      "*",
      ">",
      "order.*",
      "order.>",
      "$JS.API.STREAM.DELETE.EVENTS",
      "$SYS",
      "..",
      ".",
      "order..created",
      ".order",
      "order.",
      "order created",
      " order.created",
      "order.created ",
      "",
      "../../etc/passwd",
      "order.created/../payment.settled",
      "%2e%2e",
      "order%2Ecreated",
      "ördér.created",
      "order.created\u0000",
      "\ud800",
      "\ufeffx",
      "a".repeat(129),
      "a-b_c.d",
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);

export const contentType = fc.oneof(
  { weight: 6, arbitrary: fc.constant("application/json") },
  // Missing and empty: where workerd and Node differed (an empty header is dropped by workerd).
  { weight: 2, arbitrary: fc.constantFrom<string | null>(null, "", " ") },
  {
    weight: 3,
    arbitrary: fc.constantFrom<string | null>(
      "application/json; charset=utf-8",
      "APPLICATION/JSON",
      "text/json",
      "application/vnd.acme+json",
      "text/plain",
      "application/xml",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/cloudevents+json",
      "application/cloudevents-batch+json",
      "application/json;",
      ";",
      "json",
      "application/",
      "*/*",
    ),
  },
);

export const auth = fc.oneof(
  { weight: 8, arbitrary: fc.constant<string | null>(`Bearer ${KEYS.full}`) },
  {
    weight: 3,
    arbitrary: fc.constantFrom<string | null>(
      null,
      `Bearer ${KEYS.orders}`,
      "Bearer jg_wrong",
      "Bearer ",
      "Bearer",
      `bearer ${KEYS.full}`,
      `Basic ${Buffer.from("a:b").toString("base64")}`,
      `Bearer ${KEYS.full} extra`,
      `Bearer ${KEYS.full}x`,
      "",
      "Bearer " + "k".repeat(300),
    ),
  },
);

const dataKind = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom<DataKind>("valid", "valid-v1") },
  {
    weight: 6,
    arbitrary: fc.constantFrom<DataKind>(
      "invalid",
      "malformed",
      "truncated",
      "deep",
      "wide",
      "bom",
      "lone-surrogate-escaped",
      "lone-surrogate-raw",
      "nul",
      "empty",
      "not-object",
      "huge",
      "unicode",
    ),
  },
);

/** Attribute changes: mostly none; else a missing, empty, wrong-typed or odd value. */
const attrs = fc.oneof(
  { weight: 5, arbitrary: fc.constant({}) },
  {
    weight: 4,
    arbitrary: fc.dictionary(
      fc.constantFrom("specversion", "id", "source", "type", "time", "subject", "dataschema", "datacontenttype", "ext1", "Bad-Ext", "x_y", "data_base64"),
      fc.oneof(
        fc.constant(null),
        fc.constantFrom("", "0.3", "1.0", "not a time", "2026-01-01T00:00:00Z", "%zz", "%E2%9C%93", "a b", "*", ">", "$JS", schemaId("order.created", 9), schemaId("order.created", 1)),
        fc.integer({ min: -5, max: 5 }),
      ),
      { maxKeys: 3 },
    ),
  },
);

const version = fc.oneof(
  fc.constantFrom("1", "2", "3", "0", "-1", "01", "1.0", "1e0", "0x1", "", "..", "../..", "%2e%2e", "%2F", "1%00", "NaN", "Infinity", "99999999999999999999"),
  fc.nat({ max: 5 }).map(String),
);

const rawKind = fc.constantFrom<RawKind>(
  "control-char-in-header",
  "latin1-header",
  "invalid-utf8-path",
  "nul-in-path",
  "obs-fold",
  "no-colon",
  "space-before-colon",
  "huge-header",
  "bad-content-length",
  "two-content-lengths",
  "bare-lf",
  "percent-garbage-path",
);

/** Headers node:http can send (latin1 bytes included) that the app reads or should ignore. */
const extraHeader = fc.constantFrom<[string, string]>(
  ["ce-subject", "caf\xe9"],
  ["ce-subject", "%C3%A9t%C3%A9"],
  ["ce-source", "\xff\xfe"],
  ["ce-id", "x\xa0y"],
  ["ce-time", "2026-02-30T25:61:61Z"],
  ["ce-partitionkey", "k1"],
  ["ce-", "empty-name"],
  ["ce-traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"],
  ["traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"],
  ["traceparent", "garbage\xe9"],
  ["tracestate", "a=1,b=2"],
  ["idempotency-key", "\xe9t\xe9"],
  ["idempotency-key", ""],
  ["x-forwarded-for", "1.2.3.4"],
  ["origin", "https://app.example.com"],
  ["origin", "https://evil.example.net"],
  ["accept", "application/problem+json"],
  ["content-encoding", "gzip"],
  ["expect", "100-continue"],
);

export const caseSpec: fc.Arbitrary<CaseSpec> = fc.record({
  route: fc.oneof(
    { weight: 4, arbitrary: fc.constant<Route>("plain") },
    { weight: 3, arbitrary: fc.constant<Route>("binary") },
    { weight: 3, arbitrary: fc.constant<Route>("structured") },
    { weight: 2, arbitrary: fc.constant<Route>("batch") },
    { weight: 1, arbitrary: fc.constant<Route>("schema") },
    { weight: 1, arbitrary: fc.constant<Route>("raw") },
  ),
  type: typeName,
  contentType,
  auth,
  data: dataKind,
  attrs,
  idempotencyKey: fc.constantFrom<CaseSpec["idempotencyKey"]>("none", "unique", "unique", "bad"),
  version,
  rawKind,
  batchSize: fc.integer({ min: 0, max: 4 }),
  extraHeaders: fc.oneof({ weight: 3, arbitrary: fc.constant<Array<[string, string]>>([]) }, { weight: 1, arbitrary: fc.array(extraHeader, { maxLength: 2 }) }),
});

/** The bytes of one request, ready for the wire: a request head as latin1 text, and a body. */
export interface WireRequest {
  method: string;
  /** Already escaped for the request line (raw cases may hold bytes that are not). */
  target: string;
  /** [name, value] in order; values are latin1 strings (one char per byte). */
  headers: Array<[string, string]>;
  body: Buffer;
  /** Cases only raw bytes can make: the whole head, built by hand (Host and framing included). */
  rawHead?: Buffer;
  /** The event ids this request may publish (for the stream check). */
  ids: string[];
}

/** Data bytes of each kind; `uniq` keeps every valid event distinct. */
function dataBytes(kind: DataKind, uniq: string): Buffer {
  const order = { ...VALID_ORDER_V2, orderId: uniq };
  switch (kind) {
    case "valid":
      return Buffer.from(JSON.stringify(order));
    case "valid-v1":
      return Buffer.from(JSON.stringify({ ...VALID_ORDER_V1, orderId: uniq, paymentId: uniq }));
    case "invalid":
      return Buffer.from(JSON.stringify({ orderId: "", customer: { id: 1 }, total: { amount: "x" } }));
    case "malformed":
      return Buffer.from('{"orderId": "' + uniq + '", total: }');
    case "truncated": {
      const text = JSON.stringify(order);
      return Buffer.from(text.slice(0, Math.max(1, uniq.length % text.length)));
    }
    case "deep":
      return Buffer.from("[".repeat(5000) + "]".repeat(5000));
    case "wide":
      return Buffer.from(JSON.stringify({ ...order, list: Array.from({ length: 2000 }, (_, i) => i) }));
    case "bom":
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(order))]);
    case "lone-surrogate-escaped":
      return Buffer.from(JSON.stringify(order).replace(`"${uniq}"`, `"${uniq}\\ud800"`));
    case "lone-surrogate-raw":
      // U+D800 encoded as if it were a scalar value (CESU-style): invalid UTF-8.
      return Buffer.concat([Buffer.from(`{"orderId":"${uniq}`), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]);
    case "nul":
      return Buffer.from(JSON.stringify({ ...order, note: "a\u0000b" }).replace("a\\u0000b", "a\u0000b"));
    case "empty":
      return Buffer.alloc(0);
    case "not-object":
      return Buffer.from(JSON.stringify([order, 1, "x", null]));
    case "huge":
      return Buffer.from(JSON.stringify({ ...order, pad: "x".repeat(300_000) }));
    case "unicode":
      return Buffer.from(JSON.stringify({ ...order, note: "\u202e\u0301\ufffe\u{1f600}\u2028" }));
  }
}

function jsonOrUndefined(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString("utf8"));
  } catch {
    return undefined;
  }
}

/**
 * A structured event as JSON text. The data is spliced in as text: deeply nested data would
 * overflow JSON.stringify's stack here before the edge ever saw it.
 */
function structuredEvent(spec: CaseSpec, id: string): string {
  const event: Record<string, unknown> = { specversion: "1.0", id, source: "/fuzz", type: spec.type };
  const data = dataBytes(spec.data, id);
  const parsed = spec.data === "deep" ? undefined : jsonOrUndefined(data);
  let dataText: string | undefined;
  if (spec.data === "deep") dataText = data.toString("utf8");
  else if (parsed !== undefined) event.data = parsed;
  else if (data.length > 0) event.data_base64 = data.toString("base64");
  for (const [name, value] of Object.entries(spec.attrs)) {
    if (value === null) delete event[name];
    else event[name] = value;
  }
  const text = JSON.stringify(event);
  return dataText === undefined ? text : `${text.slice(0, -1)},"data":${dataText}}`;
}

/** UTF-8 percent-encoding of one character (a lone surrogate becomes U+FFFD's bytes). */
function pct(ch: string): string {
  let out = "";
  for (const byte of Buffer.from(ch, "utf8")) out += "%" + byte.toString(16).toUpperCase().padStart(2, "0");
  return out;
}

/** Percent-encodes a path segment except for the traversal and wildcard strings sent as they are. */
function segment(value: string): string {
  let out = "";
  for (const ch of value) out += /^[A-Za-z0-9._~*>$%-]$/.test(ch) ? ch : pct(ch);
  return out;
}

export function toWire(spec: CaseSpec, uniq: string): WireRequest {
  const wire = toWireBase(spec, uniq);
  if (wire.rawHead) return wire;
  // An extra header replaces one of the same name the case already set.
  for (const [name, value] of spec.extraHeaders) {
    wire.headers = wire.headers.filter(([n]) => n !== name);
    wire.headers.push([name, value]);
  }
  return wire;
}

function toWireBase(spec: CaseSpec, uniq: string): WireRequest {
  const headers: Array<[string, string]> = [];
  if (spec.auth !== null) headers.push(["authorization", spec.auth]);
  const setContentType = () => {
    if (spec.contentType !== null) headers.push(["content-type", spec.contentType]);
  };
  switch (spec.route) {
    case "plain": {
      setContentType();
      const ids: string[] = [];
      if (spec.idempotencyKey === "unique") {
        headers.push(["idempotency-key", uniq]);
        ids.push(uniq);
      } else if (spec.idempotencyKey === "bad") headers.push(["idempotency-key", "has space é"]);
      return { method: "POST", target: `/v1/events/${segment(spec.type)}`, headers, body: dataBytes(spec.data, uniq), ids };
    }
    case "binary": {
      setContentType();
      const attrs: Record<string, string | number | null> = { specversion: "1.0", id: uniq, source: "/fuzz", type: spec.type, ...spec.attrs };
      for (const [name, value] of Object.entries(attrs)) {
        if (value === null) continue;
        // Header values travel percent-encoded (CloudEvents HTTP binding §3.1.3.2).
        headers.push([`ce-${name.toLowerCase()}`, String(value).replace(/[^\x21-\x7e]|%(?![0-9A-Fa-f]{2})/gu, pct)]);
      }
      return { method: "POST", target: "/v1/events", headers, body: dataBytes(spec.data, uniq), ids: [uniq] };
    }
    case "structured": {
      headers.push(["content-type", spec.contentType === "application/json" ? "application/cloudevents+json" : (spec.contentType ?? "application/cloudevents+json")]);
      const body = spec.data === "malformed" || spec.data === "truncated" ? dataBytes(spec.data, uniq) : Buffer.from(structuredEvent(spec, uniq));
      return { method: "POST", target: "/v1/events", headers, body, ids: [uniq] };
    }
    case "batch": {
      headers.push(["content-type", "application/cloudevents-batch+json"]);
      const ids = Array.from({ length: spec.batchSize }, (_, j) => `${uniq}-${j}`);
      // Every other event is a good one: one bad event must not sink the others.
      const items = ids.map((id, j) => (j % 2 === 1 ? structuredEvent({ ...spec, data: "valid", attrs: {} }, id) : structuredEvent(spec, id)));
      const text = `[${items.join(",")}]`;
      const body = Buffer.from(spec.data === "malformed" ? text.slice(0, -1) : text);
      return { method: "POST", target: "/v1/events", headers, body, ids };
    }
    case "schema":
      return { method: "GET", target: `/v1/schemas/${segment(spec.type)}/versions/${segment(spec.version)}`, headers, body: Buffer.alloc(0), ids: [] };
    case "raw":
      return rawWire(spec, uniq);
  }
}

/** Request heads with mistakes node:http and fetch refuse to make. */
function rawWire(spec: CaseSpec, uniq: string): WireRequest {
  const body = dataBytes("valid", uniq);
  let target = "/v1/events/order.created";
  const lines: Array<string | Buffer> = [];
  const framing = [`Content-Length: ${body.length}`];
  const extra: Array<string | Buffer> = [];
  switch (spec.rawKind) {
    case "control-char-in-header":
      extra.push("X-Note: a\x01b\x7fc");
      break;
    case "latin1-header":
      extra.push(Buffer.from([...Buffer.from("Ce-Subject: "), 0xe9, 0xff, 0x80]));
      break;
    case "invalid-utf8-path":
      target = "/v1/events/order.\xc3\x28";
      break;
    case "nul-in-path":
      target = "/v1/events/order.created\x00x";
      break;
    case "obs-fold":
      extra.push("X-Folded: a", " b");
      break;
    case "no-colon":
      extra.push("X-No-Colon");
      break;
    case "space-before-colon":
      extra.push("Content-Type : application/json");
      break;
    case "huge-header":
      extra.push("X-Huge: " + "h".repeat(20_000));
      break;
    case "bad-content-length":
      framing[0] = "Content-Length: 12abc";
      break;
    case "two-content-lengths":
      framing.push(`Content-Length: ${body.length + 5}`);
      break;
    case "bare-lf":
      extra.push("X-Bare: a\nX-Other: b");
      break;
    case "percent-garbage-path":
      target = "/v1/events/%zz%2";
      break;
  }
  lines.push(`POST ${target} HTTP/1.1`, "Host: 127.0.0.1", "Content-Type: application/json");
  if (spec.auth !== null) lines.push(`Authorization: ${spec.auth}`);
  lines.push(...framing, ...extra, "Connection: close");
  const head = Buffer.concat([...lines.map((l) => Buffer.concat([typeof l === "string" ? Buffer.from(l, "latin1") : l, Buffer.from("\r\n")])), Buffer.from("\r\n")]);
  return { method: "POST", target, headers: [], body, rawHead: head, ids: [uniq] };
}

/** How a case reads in a failure message or the printed list. */
export function describeCase(spec: CaseSpec): string {
  return JSON.stringify(spec);
}
