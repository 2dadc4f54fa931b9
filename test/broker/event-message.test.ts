// The event message (broker/event-message.ts): a CloudEvent written by the edge's encoder and
// read back by the bridge's decoder, both from the one contract module, comes back as the producer
// sent it, whatever its attributes hold; the headers the edge writes stay byte for byte what they
// were; and a real JetStream keeps them on the way.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { MsgHdrsImpl, type MsgHdrs } from "@nats-io/nats-core";
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import {
  BrokerError,
  decodeEvent,
  encodeEvent,
  EVENT_TYPE_PATTERN,
  EVENTS_STREAM,
  eventMsgId,
  eventSubject,
  HASHED_MSG_ID_PREFIX,
  natsHeadersOf,
  webhookIdOf,
  type EventAttributes,
  type EventEnvelope,
  type EventMessage,
  type TraceContext,
} from "../../broker/index.ts";
import { startTestBroker } from "../harness/nats.ts";

const utf8 = new TextEncoder();

/** The headers as they cross the wire: nats-core's own framing, written and parsed again. */
function overTheWire(message: EventMessage): MsgHdrs {
  return MsgHdrsImpl.decode(utf8.encode(natsHeadersOf(message).toString()));
}

/** What the decoder must give back for these attributes: every one as sent, defaults filled in. */
function expectedAttributes(a: EventAttributes): Record<string, string> {
  const out: Record<string, string> = { specversion: a.specversion ?? "1.0", id: a.id, source: a.source, type: a.type };
  for (const name of ["dataschema", "subject", "time"] as const) if (a[name] !== undefined) out[name] = a[name]!;
  for (const [name, value] of Object.entries(a.extensions ?? {})) if (name !== "traceparent" && name !== "tracestate") out[name] = value;
  return out;
}

function expectedTrace(a: EventAttributes, trace: TraceContext): TraceContext {
  const out: TraceContext = {};
  for (const name of ["traceparent", "tracestate"] as const) {
    const value = a.extensions?.[name] ?? trace[name];
    if (value) out[name] = value;
  }
  return out;
}

function assertRoundTrip(a: EventAttributes, data: Uint8Array, trace: TraceContext, decoded: EventEnvelope, what: string): void {
  assert.deepEqual(decoded.attributes, expectedAttributes(a), `${what}: attributes`);
  assert.equal(decoded.id, a.id, `${what}: id`);
  assert.equal(decoded.source, a.source, `${what}: source`);
  assert.equal(decoded.type, a.type, `${what}: type`);
  assert.equal(decoded.subject, eventSubject(a.type), `${what}: subject`);
  assert.equal(decoded.webhookId, webhookIdOf(a.source, a.id), `${what}: webhook-id`);
  assert.equal(decoded.contentType, a.datacontenttype ?? "application/json", `${what}: content-type`);
  assert.deepEqual(decoded.trace, expectedTrace(a, trace), `${what}: trace headers`);
  assert.deepEqual(Buffer.from(decoded.data), Buffer.from(data), `${what}: data bytes`);
}

/** Named cases: each an attribute a naive encoding would lose or mangle. */
const CASES: Array<{ name: string; attributes: EventAttributes; data: Uint8Array; trace?: TraceContext }> = [
  { name: "non-ASCII id and source", attributes: { id: "café ☕ 日本", source: "/shop façade", type: "order.created" }, data: utf8.encode("{}") },
  { name: "a literal % and something that looks escaped", attributes: { id: "50% off %41", source: "/a%20b", type: "order.created" }, data: utf8.encode("{}") },
  {
    name: "spaces, quotes and padding",
    attributes: { id: '  "quoted" id  ', source: " /padded ", type: "order.created", subject: 'basket "7" ' },
    data: utf8.encode("{}"),
  },
  { name: "control characters, never a line break on the wire", attributes: { id: "tab\there", source: "line\r\nbreak", type: "a.b", subject: "\u0000\u007f" }, data: utf8.encode("{}") },
  { name: "astral code points", attributes: { id: "🎉𝄞", source: "/ünï/😀", type: "x" }, data: utf8.encode("{}") },
  {
    name: "extension attributes, and the tracing extension as W3C headers",
    attributes: {
      id: "ext-1",
      source: "/ext",
      type: "order.created",
      extensions: { tenant: "acme ☕", partitionkey: "k 1%", traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
    },
    data: utf8.encode("{}"),
    trace: { traceparent: "00-ffffffffffffffffffffffffffffffff-ffffffffffffffff-00", tracestate: "vendor=x y" },
  },
  {
    name: "binary data that is not UTF-8",
    attributes: { id: "bin-1", source: "/bin", type: "blob.stored", datacontenttype: "application/octet-stream" },
    data: new Uint8Array([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0x0d, 0x0a]),
  },
  { name: "empty data", attributes: { id: "empty-1", source: "/empty", type: "ping" }, data: new Uint8Array(0) },
  { name: "an empty subject attribute", attributes: { id: "s-1", source: "/s", type: "ping", subject: "" }, data: utf8.encode("{}") },
  { name: "a long id (hashed Nats-Msg-Id)", attributes: { id: "é".repeat(3000), source: "/long", type: "order.created" }, data: utf8.encode("{}") },
  {
    name: "every optional attribute",
    attributes: {
      id: "all-1",
      source: "/all",
      type: "order.created",
      datacontenttype: "application/json; charset=utf-8",
      dataschema: "https://schemas.jetgate.dev/order.created/v2.json",
      subject: "o-1",
      time: "2026-01-01T00:00:00.123+02:00",
    },
    data: utf8.encode('{"n": 12345678901234567890}'),
  },
];

test("the edge's message is byte for byte what the edge has always written", () => {
  const message = encodeEvent(
    {
      specversion: "1.0",
      id: "42",
      source: "/shop eu/café",
      type: "order.created",
      datacontenttype: "application/json; charset=utf-8",
      dataschema: "https://schemas.jetgate.dev/order.created/v1.json",
      subject: "basket 7",
      time: "2026-01-01T00:00:00Z",
      extensions: { tenant: "acme", traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
    },
    utf8.encode("{}"),
    { tracestate: "k=v" },
  );
  assert.equal(message.subject, "events.order.created");
  assert.equal(message.msgID, "/shop%20eu/caf%C3%A9 42");
  // Written out by hand from the edge's rules before the contract existed (worker/ingest.ts):
  // ce-specversion, ce-id, ce-source, ce-type, ce-dataschema, content-type, ce-subject, ce-time,
  // extensions, traceparent, tracestate; then the publisher appends Nats-Msg-Id.
  assert.equal(
    natsHeadersOf(message).toString(),
    [
      "NATS/1.0",
      "ce-specversion: 1.0",
      "ce-id: 42",
      "ce-source: /shop%20eu/caf%C3%A9",
      "ce-type: order.created",
      "ce-dataschema: https://schemas.jetgate.dev/order.created/v1.json",
      "content-type: application/json; charset=utf-8",
      "ce-subject: basket%207",
      "ce-time: 2026-01-01T00:00:00Z",
      "ce-tenant: acme",
      "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      "tracestate: k=v",
      "Nats-Msg-Id: /shop%20eu/caf%C3%A9 42",
      "",
      "",
    ].join("\r\n"),
  );
});

for (const c of CASES) {
  test(`round trip through the encoder and the decoder: ${c.name}`, () => {
    const trace = c.trace ?? {};
    const message = encodeEvent(c.attributes, c.data, trace);
    assert.equal(message.msgID, eventMsgId(c.attributes.source, c.attributes.id));
    for (const [name, value] of Object.entries(message.headers)) {
      if (name !== "content-type") assert.match(value, /^[\x21-\x7e]*$/, `${name} is printable ASCII without spaces`);
    }
    assertRoundTrip(c.attributes, c.data, trace, decodeEvent(message.subject, overTheWire(message), message.data, "EVENTS:1"), c.name);
  });
}

test("a long identity becomes a hashed Nats-Msg-Id, and the decoder still gives the id back whole", () => {
  const c = CASES.find((x) => x.name.startsWith("a long id"))!;
  const message = encodeEvent(c.attributes, c.data);
  assert.ok(message.msgID.startsWith(HASHED_MSG_ID_PREFIX), message.msgID);
  assert.equal(decodeEvent(message.subject, overTheWire(message), message.data, "x").id, c.attributes.id);
});

const CONTEXT = new Set(["specversion", "id", "source", "type", "datacontenttype", "dataschema", "subject", "time", "data", "traceparent", "tracestate"]);
/** Any Unicode text (no lone surrogates: the edge refuses those as not Unicode). */
const text = (minLength = 0) => fc.string({ unit: "binary", minLength, maxLength: 40 }).filter((s) => !/\p{Cs}/u.test(s));
const attributesArb: fc.Arbitrary<EventAttributes> = fc.record(
  {
    id: text(1),
    source: text(1),
    type: fc.stringMatching(EVENT_TYPE_PATTERN).filter((t) => t.length <= 128),
    datacontenttype: fc.constantFrom("application/json", "application/json; charset=utf-8", "text/plain", "application/octet-stream", "application/vnd.acme+json"),
    dataschema: text(),
    subject: text(),
    time: fc.date({ noInvalidDate: true, min: new Date("0001-01-01T00:00:00Z"), max: new Date("9999-12-31T23:59:59Z") }).map((d) => d.toISOString()),
    extensions: fc.dictionary(
      fc.stringMatching(/^[a-z0-9]{1,20}$/).filter((n) => !CONTEXT.has(n)),
      text(),
      { maxKeys: 4 },
    ),
  },
  { requiredKeys: ["id", "source", "type"] },
);
const traceArb: fc.Arbitrary<TraceContext> = fc.record({ traceparent: text(1), tracestate: text(1) }, { requiredKeys: [] });

test("any attributes, extensions, trace context and data bytes come back as sent", () => {
  fc.assert(
    fc.property(attributesArb, fc.option(fc.record({ traceparent: text(1) }), { nil: undefined }), traceArb, fc.uint8Array({ maxLength: 64 }), (attributes, tracing, trace, data) => {
      const a = tracing ? { ...attributes, extensions: { ...attributes.extensions, ...tracing } } : attributes;
      const message = encodeEvent(a, data, trace);
      for (const [name, value] of Object.entries(message.headers)) {
        if (name !== "content-type") assert.match(value, /^[\x21-\x7e]*$/, `${name} is printable ASCII without spaces`);
      }
      assertRoundTrip(a, data, trace, decodeEvent(message.subject, overTheWire(message), message.data, "EVENTS:1"), "property");
    }),
    { numRuns: Number(process.env.JETGATE_FUZZ_RUNS ?? 500) },
  );
});

test("a message the edge did not write: type from the subject, id from Nats-Msg-Id or the fallback, a malformed escape kept", () => {
  const bare = decodeEvent("events.x.y", undefined, new Uint8Array(0), "EVENTS:7");
  assert.deepEqual([bare.type, bare.id, bare.source, bare.attributes.specversion], ["x.y", "EVENTS:7", "", "1.0"]);
  const h = MsgHdrsImpl.decode(utf8.encode("NATS/1.0\r\nNats-Msg-Id: m-1\r\nCE-Source: 100%\r\n\r\n"));
  const odd = decodeEvent("events.z", h, new Uint8Array(0), "EVENTS:8");
  assert.deepEqual([odd.id, odd.source, odd.headerAttributes.source], ["m-1", "100%", "100%"], "header names match case-insensitively");
});

test("the encoder refuses a type outside the grammar, which could name a wildcard subject", () => {
  for (const type of ["order.>", "order.*", "", "Order", "a..b", "x".repeat(129)]) {
    assert.throws(
      () => encodeEvent({ id: "1", source: "/s", type }, new Uint8Array(0)),
      (err: unknown) => err instanceof BrokerError && err.code === "INVALID_EVENT_TYPE",
      type,
    );
  }
});

test("the headers survive a real JetStream: stored, read back by sequence and through a consumer, deduplicated by Nats-Msg-Id", async (t) => {
  const broker = await startTestBroker({ nodes: 1 });
  t.after(() => broker.stop());
  const nc = await broker.connect();
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const sent = new Map<number, (typeof CASES)[number]>();
  for (const c of CASES) {
    const message = encodeEvent(c.attributes, c.data, c.trace ?? {});
    const ack = await js.publish(message.subject, message.data, { headers: natsHeadersOf(message), timeout: 10_000 });
    assert.equal(ack.duplicate, false, c.name);
    sent.set(ack.seq, c);
    const again = await js.publish(message.subject, message.data, { headers: natsHeadersOf(message), timeout: 10_000 });
    assert.deepEqual([again.duplicate, again.seq], [true, ack.seq], `${c.name}: a repeat is a duplicate`);
  }
  // Read by sequence, as the DLQ tools do.
  for (const [seq, c] of sent) {
    const stored = await jsm.streams.getMessage(EVENTS_STREAM, { seq });
    assert.ok(stored, `${c.name}: stored at ${seq}`);
    assertRoundTrip(c.attributes, c.data, c.trace ?? {}, decodeEvent(stored.subject, stored.header, stored.data, `EVENTS:${seq}`), `${c.name} (by sequence)`);
  }
  // Through a consumer, as the bridge reads them.
  const consumer = await js.consumers.get(EVENTS_STREAM, { deliver_policy: DeliverPolicy.All });
  const batch = await consumer.fetch({ max_messages: sent.size, expires: 10_000 });
  let seen = 0;
  for await (const m of batch) {
    const c = sent.get(m.seq);
    assert.ok(c, `unexpected message at ${m.seq}`);
    assertRoundTrip(c.attributes, c.data, c.trace ?? {}, decodeEvent(m.subject, m.headers, m.data, `EVENTS:${m.seq}`), `${c.name} (through a consumer)`);
    seen++;
  }
  assert.equal(seen, sent.size, "the consumer delivered every stored message within 10 s");
});
