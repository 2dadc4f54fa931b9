// The event identity every part keys on (broker/event-identity.ts): unambiguous, printable,
// bounded, and its digest SHA-256.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { eventMsgId, HASHED_MSG_ID_PREFIX, MSG_ID_MAX_LENGTH, webhookIdOf } from "../../broker/index.ts";

const PRINTABLE = /^[\x20-\x7e]+$/;

test("a webhook-id is msg_ + the base64url SHA-256 of the percent-encoded identity", () => {
  const expected = createHash("sha256").update("/producer-a 42").digest("base64url");
  assert.equal(webhookIdOf("/producer-a", "42"), `msg_${expected}`);
});

test("the same id from two sources gives two Nats-Msg-Ids and two webhook-ids; the same pair gives the same", () => {
  assert.notEqual(eventMsgId("/producer-a", "42"), eventMsgId("/producer-b", "42"));
  assert.notEqual(webhookIdOf("/producer-a", "42"), webhookIdOf("/producer-b", "42"));
  assert.equal(eventMsgId("/producer-a", "42"), eventMsgId("/producer-a", "42"));
  assert.equal(webhookIdOf("/producer-a", "42"), webhookIdOf("/producer-a", "42"));
  assert.equal(eventMsgId("/producer-a", "42"), "/producer-a 42", "short identities stay readable");
});

test("no two (source, id) pairs share a Nats-Msg-Id, however the separator or escapes are placed", () => {
  // Pairs that a naive join (concatenation, or any separator that may appear in a value) confuses.
  const tricky: Array<[string, string]> = [
    ["a b", "c"],
    ["a", "b c"],
    ["a%20b", "c"],
    ["a", "%20b c"],
    ["a:b", "c"],
    ["a", "b:c"],
    ["ab", "c"],
    ["a", "bc"],
    ["a/b", "c"],
    ["a", "/b c"],
    ['a"', "b"],
    ["a", '"b'],
  ];
  const seen = new Map<string, string>();
  for (const pair of tricky) {
    for (const id of [eventMsgId(...pair), webhookIdOf(...pair)]) {
      assert.equal(seen.get(id), undefined, `${JSON.stringify(pair)} and ${seen.get(id)} share ${id}`);
      seen.set(id, JSON.stringify(pair));
    }
  }
  fc.assert(
    fc.property(fc.tuple(fc.string({ unit: "grapheme" }), fc.string({ unit: "grapheme" })), fc.tuple(fc.string({ unit: "grapheme" }), fc.string({ unit: "grapheme" })), (x, y) => {
      fc.pre(x[0] !== y[0] || x[1] !== y[1]);
      assert.notEqual(eventMsgId(...x), eventMsgId(...y));
      assert.notEqual(webhookIdOf(...x), webhookIdOf(...y));
    }),
    { numRuns: 2000 },
  );
});

test("a Nats-Msg-Id is printable ASCII and at most MSG_ID_MAX_LENGTH long; a longer identity is hashed", () => {
  const long = "x".repeat(10_000);
  const hashed = eventMsgId("/producer", long);
  assert.ok(hashed.startsWith(HASHED_MSG_ID_PREFIX));
  assert.match(hashed, /^sha256:[A-Za-z0-9_-]{43}$/);
  assert.notEqual(eventMsgId("/producer", long + "y"), hashed);
  // Right at the limit the readable form is kept; one character more is hashed.
  const fits = "y".repeat(MSG_ID_MAX_LENGTH - "/p ".length);
  assert.equal(eventMsgId("/p", fits), `/p ${fits}`);
  assert.ok(eventMsgId("/p", fits + "y").startsWith(HASHED_MSG_ID_PREFIX));
  fc.assert(
    fc.property(fc.string({ unit: "grapheme", maxLength: 400 }), fc.string({ unit: "grapheme", minLength: 1, maxLength: 400 }), (source, id) => {
      const msgId = eventMsgId(source, id);
      assert.match(msgId, PRINTABLE);
      assert.ok(msgId.length <= MSG_ID_MAX_LENGTH, msgId);
      assert.match(webhookIdOf(source, id), /^msg_[A-Za-z0-9_-]{43}$/);
    }),
    { numRuns: 1000 },
  );
});
