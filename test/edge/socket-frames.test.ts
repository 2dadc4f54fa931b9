// The WebSocket frame grammar (worker/sockets/frames.ts) without a server: what a client may send
// is read or refused as data (the socket stays open), the edge's own frames are what the OpenAPI
// document's WsServerFrame says, and type globs become the NATS filters a subscription reads.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Ajv2020 } from "ajv/dist/2020.js";
import { openapi } from "../../worker/http/openapi.ts";
import { parseJsonText } from "../../worker/http/request-limits.ts";
import { makeProblem } from "../../worker/http/problems.ts";
import { typeMatches } from "../../worker/auth/keys.ts";
import * as frames from "../../worker/sockets/frames.ts";
import { filterSubjects } from "../../worker/sockets/feed.ts";
import { subjectCovers, subjectsOverlap } from "../../broker/index.ts";
import { assertServerFramesMatchOpenApi } from "./openapi-check.ts";

const read = (text: string) => frames.readClientFrame(text, (t) => parseJsonText(t, 8));

function refusal(text: string): string {
  const frame = read(text);
  assert.ok(frames.isRefusal(frame), `${text} was read as ${JSON.stringify(frame)}`);
  assert.equal(frame.error.code, "MALFORMED_FRAME");
  return frame.error.detail;
}

test("each op a client may send is read, with its rid, types and start", () => {
  assert.deepEqual(read('{"op":"publish","rid":"p1","event":{"id":"1"}}'), { op: "publish", rid: "p1", event: { id: "1" } });
  assert.deepEqual(read('{"op":"subscribe","rid":7,"types":"order.*","from":42}'), { op: "subscribe", rid: 7, types: ["order.*"], from: 42 });
  assert.deepEqual(read('{"op":"subscribe","rid":"s","types":["a.**","b"]}'), { op: "subscribe", rid: "s", types: ["a.**", "b"], from: "new" });
  assert.deepEqual(read('{"op":"subscribe","rid":"s","types":"a","from":"last"}'), { op: "subscribe", rid: "s", types: ["a"], from: "last" });
  assert.deepEqual(read('{"op":"unsubscribe","rid":"s"}'), { op: "unsubscribe", rid: "s" });
  assert.deepEqual(read('{"op":"ping"}'), { op: "ping" });
});

test("a frame that cannot be taken is a malformed-frame refusal naming what is wrong, never an exception", () => {
  assert.match(refusal("not json"), /not valid JSON/);
  assert.match(refusal("[1,2]"), /JSON object/);
  assert.match(refusal('{"op":"dance","rid":"x"}'), /unknown op/);
  assert.match(refusal('{"op":"publish","event":{}}'), /needs a rid/);
  assert.match(refusal('{"op":"publish","rid":"p"}'), /event/);
  assert.match(refusal('{"op":"ping","rid":"has space"}'), /rid must be/);
  assert.match(refusal('{"op":"ping","rid":-1}'), /rid must be/);
  assert.match(refusal(`{"op":"ping","rid":"${"x".repeat(65)}"}`), /rid must be/);
  assert.match(refusal('{"op":"subscribe","rid":"s","types":"Order.*"}'), /types must be/);
  assert.match(refusal('{"op":"subscribe","rid":"s","types":[]}'), /types must be/);
  assert.match(refusal('{"op":"subscribe","rid":"s","types":"a","from":0}'), /from must be/);
  assert.match(refusal('{"op":"subscribe","rid":"s","types":"a","from":"first"}'), /from must be/);
  assert.match(refusal('{"op":"unsubscribe"}'), /names the subscription/);
  assert.match(refusal("[[[[[[[[[[1]]]]]]]]]]"), /nests/);
  // The rid is kept where it was readable, so the client can match the refusal.
  const frame = read('{"op":"subscribe","rid":"s9","types":5}');
  assert.ok(frames.isRefusal(frame) && frame.rid === "s9");
});

test("every frame the edge builds is a WsServerFrame of the OpenAPI document", () => {
  const sent = [
    frames.readyFrame({ protocol: "jetgate.v1", sub: "app", expiresAt: new Date().toISOString(), maxFrameBytes: 1024, maxInFlight: 256 }),
    frames.ackFrame("p1", { id: "e1", type: "order.created", seq: 3, duplicate: false }),
    frames.problemFrame("p2", makeProblem("SCHEMA_VALIDATION", "no", { errors: [{ instancePath: "/total", keyword: "required", message: "must have" }] })),
    frames.problemFrame(undefined, makeProblem("MALFORMED_FRAME", "not JSON")),
    frames.subscribedFrame(4, ["order.*"]),
    frames.subscribedFrame(5, ["order.*"], 17),
    frames.eventFrame(4, 9, '{"specversion":"1.0","id":"e","source":"/s","type":"order.created","data":{"n":1}}'),
    frames.unsubscribedFrame(4),
    frames.pongFrame(undefined),
    frames.pongFrame("x"),
  ].map((text) => JSON.parse(text));
  assert.equal(assertServerFramesMatchOpenApi(sent), 10);
  // And the check can fail: a frame with a stray member is not one.
  assert.throws(() => assertServerFramesMatchOpenApi([{ op: "pong", extra: 1 }]), /not a WsServerFrame/);
});

test("the client frames docs/browsers.md shows are WsClientFrames of the OpenAPI document", () => {
  const ajv = new Ajv2020({ strict: false });
  const validate = ajv.compile({ components: openapi.components, $ref: "#/components/schemas/WsClientFrame" });
  for (const frame of [
    { op: "publish", rid: "p1", event: { specversion: "1.0", id: "1", source: "/s", type: "order.created" } },
    { op: "subscribe", rid: "s1", types: "order.*", from: 12 },
    { op: "subscribe", rid: 2, types: ["order.*", "payment.**"], from: "last" },
    { op: "unsubscribe", rid: "s1" },
    { op: "ping", rid: 3 },
  ]) {
    assert.ok(validate(frame), `${JSON.stringify(frame)}: ${ajv.errorsText(validate.errors)}`);
  }
  assert.equal(validate({ op: "subscribe", rid: "s" }), false, "a subscribe without types is not one");
});

const types = () => ["order.created", "order.item.added", "order-eu.created", "a.q.b", "a.q.r.b", "k.x", "x-1-y.z", "x-y.z", "order", "order.x"];

test("type globs become NATS filters that cover every type they match, without overlapping filters", () => {
  assert.deepEqual(filterSubjects(["order.*"]), ["events.order.*"]);
  assert.deepEqual(filterSubjects(["order.**"]), ["events.order.>"]);
  assert.deepEqual(filterSubjects(["order-*.created"]), ["events.*.created"]);
  assert.deepEqual(filterSubjects(["a.**.b"]), ["events.a.>"]);
  assert.deepEqual(filterSubjects(["**"]), ["events.>"]);
  assert.deepEqual(filterSubjects(["order.*", "payment.settled"]).sort(), ["events.order.*", "events.payment.settled"]);
  // NATS 2.10 refuses overlapping filters in one consumer: a covered one is dropped, others fall back to every event.
  assert.deepEqual(filterSubjects(["order.*", "order.created"]), ["events.order.*"]);
  assert.deepEqual(filterSubjects(["order.created", "order.**", "order.*"]), ["events.order.>"]);
  assert.deepEqual(filterSubjects(["order.*", "order-*"]), ["events.order.*", "events.*"]);
  assert.deepEqual(filterSubjects(["*.x", "y.*"]), ["events.>"]);
  assert.deepEqual(filterSubjects(["a.*", "a-*.*"]), ["events.*.*"]);
  assert.equal(subjectCovers("events.a.>", "events.a.b.c"), true);
  assert.equal(subjectCovers("events.a.*", "events.a.>"), false);
  assert.equal(subjectCovers("events.*.b", "events.a.b"), true);
  assert.equal(subjectCovers("events.a.b", "events.*.b"), false);
  assert.equal(subjectsOverlap("events.a.>", "events.a.b.c"), true);
  assert.equal(subjectsOverlap("events.a.>", "events.a"), false);
  assert.equal(subjectsOverlap("events.*.x", "events.y.*"), true);
  assert.equal(subjectsOverlap("events.a.x", "events.a.y"), false);
  // Soundness on samples: a type a glob matches is matched by one of its filters.
  const matchesSubject = (filter: string, subject: string) => {
    const f = filter.split(".");
    const s = subject.split(".");
    for (let i = 0; i < f.length; i++) {
      if (f[i] === ">") return s.length > i;
      if (s[i] === undefined || (f[i] !== "*" && f[i] !== s[i])) return false;
    }
    return f.length === s.length;
  };
  const globs = ["order.*", "order.**", "order-*.created", "a.**.b", "*.x", "x-*-y.z"];
  for (const set of [globs, ["order.*", "order.created"], ["*.x", "order.*"], ["order.**", "order-*.created"]]) {
    for (const type of types()) {
      if (!set.some((glob) => typeMatches(glob, type))) continue;
      assert.ok(filterSubjects(set).some((f) => matchesSubject(f, `events.${type}`)), `${set.join(",")} matches ${type} but its filters do not`);
    }
  }
  for (const glob of globs) {
    for (const type of types()) {
      if (!typeMatches(glob, type)) continue;
      assert.ok(filterSubjects([glob]).some((f) => matchesSubject(f, `events.${type}`)), `${glob} matches ${type} but its filter does not`);
    }
  }
});
