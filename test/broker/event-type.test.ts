// The event-type grammar (broker/event-type.ts), the one the edge, the registry's lint, the
// OpenAPI document and the bridge's subscription filters all use.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { EVENT_TYPE_MAX_LENGTH, EVENT_TYPE_PATTERN, EVENT_TYPE_PATTERN_SOURCE, isEventType, isEventTypeSegment } from "../../broker/index.ts";
import { openapi } from "../../worker/http/openapi.ts";
import { filterProblem } from "../../bridge/subscriptions/model.ts";

test("the grammar is the one DESIGN.md states, and OpenAPI publishes exactly it", () => {
  assert.equal(EVENT_TYPE_PATTERN_SOURCE, "^[a-z0-9]+(?:[._-][a-z0-9]+)*$");
  assert.equal(EVENT_TYPE_MAX_LENGTH, 128);
  const param = openapi.paths["/v1/events/{type}"].post.parameters.find((p) => p.name === "type");
  assert.deepEqual(param?.schema, { type: "string", pattern: EVENT_TYPE_PATTERN_SOURCE, maxLength: EVENT_TYPE_MAX_LENGTH });
});

test("types are lower-case words joined by single dots, underscores or dashes, at most 128 characters", () => {
  for (const ok of ["order.created", "a", "a1.b_2.c-3", "x".repeat(128)]) assert.ok(isEventType(ok), ok);
  for (const bad of ["", "Order", "order.*", "order.>", "a..b", ".a", "a.", "a__b", "a-.b", "café", "a b", "x".repeat(129)]) {
    assert.ok(!isEventType(bad), bad);
  }
});

test("a type is exactly its dot-separated segments, each a valid segment (what subscription filters build on)", () => {
  const candidate = fc.oneof(
    fc.stringMatching(EVENT_TYPE_PATTERN),
    fc.string({ unit: fc.constantFrom("a", "z", "0", ".", "_", "-", "*", ">", "A", " "), maxLength: 12 }),
  );
  fc.assert(
    fc.property(candidate, (t) => {
      const bySegments = t.length <= EVENT_TYPE_MAX_LENGTH && t.split(".").every(isEventTypeSegment);
      assert.equal(isEventType(t), bySegments, JSON.stringify(t));
      // Without wildcards, a filter names one type, and it is valid iff that type is (filters have no length cap).
      if (t.length <= EVENT_TYPE_MAX_LENGTH && !/[*>]/.test(t)) assert.equal(filterProblem(`events.${t}`) === null, isEventType(t), JSON.stringify(t));
    }),
    { numRuns: 2000 },
  );
});
