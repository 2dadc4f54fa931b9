// Ingest through real workerd and the Node edge into a real 3-node cluster: every content mode,
// a mixed batch, idempotent repeats, the cloudevents SDK's own emitters, and the NATS message
// the bridge will read. At the end the stream holds exactly the events that got a 202, once each.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { jetstreamManager } from "@nats-io/jetstream";
import { CloudEvent, emitterFor, httpTransport, Mode } from "cloudevents";
import { EVENTS_STREAM, eventMsgId } from "../../broker/index.ts";
import { EDGE_RUNTIMES } from "../harness/worker.ts";
import { schemaId, VALID_ORDER_V1, VALID_ORDER_V2 } from "./fixtures.ts";
import { assertStreamMatchesLedger, bearer, KEYS, send } from "./helpers.ts";
import { problemType } from "../../worker/http/problems.ts";
import { assertResponsesMatchOpenApi } from "./openapi-check.ts";
import { startSuite, type Suite } from "./suite.ts";

let suite: Suite;
before(async () => {
  suite = await startSuite();
});
after(async () => {
  await suite?.stop();
});

const TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

async function storedMessage(seq: number) {
  const jsm = await jetstreamManager(await suite.broker.connect());
  const msg = await jsm.streams.getMessage(EVENTS_STREAM, { seq });
  assert.ok(msg, `no message at seq ${seq}`);
  return msg;
}

for (const runtime of EDGE_RUNTIMES) {
  describe(`ingest on ${runtime}`, () => {
    const url = () => suite.edges.get(runtime)!.url;
    const post = (path: string, headers: Record<string, string>, body: string) =>
      send(suite.ledger, url(), { path, method: "POST", headers: { ...bearer(KEYS.full), ...headers }, body });

    test("POST /v1/events/{type} with plain JSON answers 202 {id, type, seq, duplicate} after the ack", async () => {
      const res = await post("/v1/events/order.created", { "content-type": "application/json", traceparent: TRACEPARENT }, JSON.stringify(VALID_ORDER_V2));
      assert.equal(res.status, 202, JSON.stringify(res.body));
      assert.deepEqual(Object.keys(res.body).sort(), ["duplicate", "id", "seq", "type"]);
      assert.equal(res.body.type, "order.created");
      assert.equal(res.body.duplicate, false);
      assert.match(res.body.id, /^[0-9a-f-]{36}$/, "a generated id without Idempotency-Key");
      const msg = await storedMessage(res.body.seq);
      assert.equal(msg.subject, "events.order.created");
      assert.deepEqual(msg.json(), VALID_ORDER_V2);
      assert.equal(msg.header?.get("Nats-Msg-Id"), eventMsgId("full", res.body.id), "deduplicated by source (the key's name) + id");
      assert.equal(msg.header?.get("ce-id"), res.body.id);
      assert.equal(msg.header?.get("ce-source"), "full", "source is the API key's name");
      assert.equal(msg.header?.get("ce-type"), "order.created");
      assert.equal(msg.header?.get("ce-specversion"), "1.0");
      assert.equal(msg.header?.get("ce-dataschema"), schemaId("order.created", 2));
      assert.equal(msg.header?.get("traceparent"), TRACEPARENT);
    });

    test("binary mode: ce-* headers are percent-decoded, dataschema picks the version, extensions travel as ce-* NATS headers", async () => {
      const id = `${runtime}-binary-1`;
      const res = await post(
        "/v1/events",
        {
          "content-type": "application/json; charset=utf-8",
          "ce-specversion": "1.0",
          "ce-id": id,
          "ce-source": "/shop%20eu/caf%C3%A9",
          "ce-type": "order.created",
          "ce-dataschema": schemaId("order.created", 1),
          "ce-tenant": "acme",
          traceparent: TRACEPARENT,
        },
        JSON.stringify(VALID_ORDER_V1),
      );
      assert.equal(res.status, 202, JSON.stringify(res.body));
      assert.equal(res.body.id, id);
      const msg = await storedMessage(res.body.seq);
      assert.equal(decodeURIComponent(msg.header!.get("ce-source")), "/shop eu/café");
      assert.equal(msg.header?.get("ce-dataschema"), schemaId("order.created", 1));
      assert.equal(msg.header?.get("ce-tenant"), "acme");
      assert.equal(msg.header?.get("traceparent"), TRACEPARENT);
      assert.equal(msg.header?.get("content-type"), "application/json; charset=utf-8");
    });

    test("structured mode (application/cloudevents+json) is accepted, and its traceparent extension maps to the W3C header", async () => {
      const id = `${runtime}-structured-1`;
      const event = { specversion: "1.0", id, source: "/checkout", type: "order.created", time: "2026-01-01T00:00:00Z", traceparent: TRACEPARENT, data: VALID_ORDER_V2 };
      const res = await post("/v1/events", { "content-type": "application/cloudevents+json" }, JSON.stringify(event));
      assert.equal(res.status, 202, JSON.stringify(res.body));
      const msg = await storedMessage(res.body.seq);
      assert.deepEqual(msg.json(), VALID_ORDER_V2);
      assert.equal(msg.header?.get("ce-time"), "2026-01-01T00:00:00Z");
      assert.equal(msg.header?.get("traceparent"), TRACEPARENT);
    });

    test("a repeat within the duplicate window answers 202 with duplicate: true and the original seq", async () => {
      const headers = { "content-type": "application/json", "idempotency-key": `${runtime}-idem-1` };
      const first = await post("/v1/events/order.created", headers, JSON.stringify(VALID_ORDER_V2));
      const again = await post("/v1/events/order.created", headers, JSON.stringify(VALID_ORDER_V2));
      assert.equal(first.status, 202);
      assert.equal(again.status, 202);
      assert.equal(first.body.duplicate, false);
      assert.equal(again.body.duplicate, true);
      assert.equal(again.body.seq, first.body.seq);
      const structured = { specversion: "1.0", id: `${runtime}-idem-2`, source: "/x", type: "order.created", data: VALID_ORDER_V2 };
      const s1 = await post("/v1/events", { "content-type": "application/cloudevents+json" }, JSON.stringify(structured));
      const s2 = await post("/v1/events", { "content-type": "application/cloudevents+json" }, JSON.stringify(structured));
      assert.deepEqual([s1.body.duplicate, s2.body.duplicate, s2.body.seq], [false, true, s1.body.seq]);
    });

    test("two events with the same id from different sources are both stored; a retry of either is a duplicate", async () => {
      // CloudEvents 1.0 §3.1.1: only source + id identifies an event; two producers may both use "42".
      const structured = (source: string) => JSON.stringify({ specversion: "1.0", id: "42", source, type: "order.created", data: VALID_ORDER_V2 });
      const [sourceA, sourceB] = [`/${runtime}/producer-a`, `/${runtime}/producer-b`];
      const headers = { "content-type": "application/cloudevents+json" };
      const a = await post("/v1/events", headers, structured(sourceA));
      const b = await post("/v1/events", headers, structured(sourceB));
      assert.deepEqual([a.status, b.status], [202, 202], JSON.stringify([a.body, b.body]));
      assert.deepEqual([a.body.duplicate, b.body.duplicate], [false, false], "the second producer's event is not a duplicate of the first's");
      assert.notEqual(a.body.seq, b.body.seq);
      for (const [res, source] of [[a, sourceA], [b, sourceB]] as const) {
        const msg = await storedMessage(res.body.seq);
        assert.equal(msg.header?.get("ce-id"), "42");
        assert.equal(msg.header?.get("ce-source"), source);
        assert.equal(msg.header?.get("Nats-Msg-Id"), eventMsgId(source, "42"));
      }
      const retry = await post("/v1/events", headers, structured(sourceB));
      assert.deepEqual([retry.status, retry.body.duplicate, retry.body.seq], [202, true, b.body.seq], "a true retry (same source and id) is a duplicate");
      // The same in one batch: both stored; a retried batch is deduplicated.
      const batch = (sources: string[]) =>
        JSON.stringify(sources.map((source) => ({ specversion: "1.0", id: "43", source, type: "order.created", data: VALID_ORDER_V2 })));
      const batchHeaders = { "content-type": "application/cloudevents-batch+json" };
      const res = await post("/v1/events", batchHeaders, batch([sourceA, sourceB]));
      assert.equal(res.status, 202, JSON.stringify(res.body));
      const [ra, rb] = res.body.results;
      assert.deepEqual([ra.duplicate, rb.duplicate], [false, false]);
      assert.notEqual(ra.seq, rb.seq);
      const again = await post("/v1/events", batchHeaders, batch([sourceA]));
      assert.deepEqual([again.body.results[0].duplicate, again.body.results[0].seq], [true, ra.seq]);
    });

    test("an id or source holding a lone surrogate is refused, so it cannot merge with the U+FFFD event", async () => {
      // Percent-encoding writes a lone surrogate as U+FFFD: accepted, "\ud800" and "\ufffd" would share an identity.
      const headers = { "content-type": "application/cloudevents+json" };
      const body = (attrs: Record<string, string>) =>
        `{"specversion":"1.0","type":"order.created","data":${JSON.stringify(VALID_ORDER_V2)},` +
        Object.entries(attrs).map(([k, v]) => `"${k}":"${v}"`).join(",") + "}";
      const refused: Array<Record<string, string>> = [
        { id: `${runtime}-lone-\\ud800`, source: "/lone" },
        { id: `${runtime}-lone-2`, source: "/lone-\\udc00" },
        { id: `${runtime}-lone-3`, source: "/lone", ext: "\\ud83d" },
      ];
      for (const attrs of refused) {
        const res = await post("/v1/events", headers, body(attrs));
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.equal(res.body.type, problemType("INVALID_ATTRIBUTE"));
      }
      const pair = await post("/v1/events", headers, body({ id: `${runtime}-pair-\\ud83d\\ude00`, source: "/lone" }));
      assert.equal(pair.status, 202, "a proper surrogate pair (an emoji) is Unicode text");
    });

    test("POST /v1/events/{type}: an Idempotency-Key dedups retries from the same API key, never another key's event", async () => {
      const path = "/v1/events/order.created";
      const headers = { "content-type": "application/json", "idempotency-key": `${runtime}-shared-key` };
      const body = JSON.stringify(VALID_ORDER_V2);
      const full = await post(path, headers, body);
      const fullRetry = await post(path, headers, body);
      const orders = await send(suite.ledger, url(), { path, method: "POST", headers: { ...bearer(KEYS.orders), ...headers }, body });
      assert.deepEqual([full.status, fullRetry.status, orders.status], [202, 202, 202], JSON.stringify([full.body, fullRetry.body, orders.body]));
      assert.deepEqual([full.body.duplicate, fullRetry.body.duplicate, fullRetry.body.seq], [false, true, full.body.seq], "a retry with the same key and API key");
      assert.equal(orders.body.duplicate, false, "the same Idempotency-Key from another API key is another event");
      assert.notEqual(orders.body.seq, full.body.seq);
      assert.equal((await storedMessage(orders.body.seq)).header?.get("ce-source"), "orders", "source is the API key's name");
    });

    test("a batch with good and bad events answers per-event results in order; the bad ones do not sink the others", async () => {
      const ev = (n: number, extra: Record<string, unknown> = {}) => ({
        specversion: "1.0",
        id: `${runtime}-batch-${n}`,
        source: "/batch",
        type: "order.created",
        data: VALID_ORDER_V2,
        ...extra,
      });
      const { id: _dropped, ...missingId } = ev(3);
      const batch = [
        ev(1),
        ev(2, { data: { orderId: 7 } }),
        missingId,
        ev(4, { type: "nobody.registered" }),
        ev(5, { datacontenttype: "text/plain", data: "hello" }),
        ev(6, { dataschema: schemaId("order.created", 9) }),
        ev(7, { type: "payment.settled", data: { paymentId: "p-1" } }),
        ev(1),
      ];
      const res = await post("/v1/events", { "content-type": "application/cloudevents-batch+json" }, JSON.stringify(batch));
      assert.equal(res.status, 202, JSON.stringify(res.body));
      assert.deepEqual(
        res.body.results.map((r: { status: number }) => r.status),
        [202, 422, 400, 404, 415, 404, 202, 202],
      );
      const kinds = res.body.results.map((r: { problem?: { type: string } }) => r.problem?.type.split("/").pop() ?? "ok");
      assert.deepEqual(kinds, ["ok", "schema-validation", "missing-attribute", "unknown-type", "unsupported-datacontenttype", "unknown-schema-version", "ok", "ok"]);
      assert.equal(res.body.accepted, 3);
      assert.equal(res.body.rejected, 5);
      assert.equal(res.body.results[7].duplicate, true, "the same id twice in one batch is stored once");
      assert.equal(res.body.results[7].seq, res.body.results[0].seq);
      assert.ok(res.body.results[1].problem.errors.some((e: { instancePath: string }) => e.instancePath === "/orderId"));
    });

    test("concurrent single events (grouped into shared publishes on workerd) each get their own 202 and seq", async () => {
      const n = 60;
      const answers = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          post("/v1/events/order.created", { "content-type": "application/json", "idempotency-key": `${runtime}-burst-${i}` }, JSON.stringify(VALID_ORDER_V2)),
        ),
      );
      answers.forEach((res, i) => {
        assert.equal(res.status, 202, JSON.stringify(res.body));
        assert.equal(res.body.id, `${runtime}-burst-${i}`, "each answer is its own event's");
        assert.equal(res.body.duplicate, false);
      });
      assert.equal(new Set(answers.map((a) => a.body.seq)).size, n, "every event has its own stream seq");
      for (const i of [0, n - 1]) assert.equal((await storedMessage(answers[i]!.body.seq)).header?.get("Nats-Msg-Id"), eventMsgId("full", `${runtime}-burst-${i}`));
    });

    test("a batch where every event is refused answers 422 batch-rejected with the results", async () => {
      const batch = [{ specversion: "1.0", id: "x", source: "/b", type: "order.created", data: {} }];
      const res = await post("/v1/events", { "content-type": "application/cloudevents-batch+json" }, JSON.stringify(batch));
      assert.equal(res.status, 422);
      assert.equal(res.body.type, "https://jetgate.dev/problems/batch-rejected");
      assert.equal(res.body.results[0].status, 422);
    });

    test("the cloudevents SDK's own HTTP emitters (binary and structured) post unchanged and succeed", async () => {
      for (const mode of [Mode.BINARY, Mode.STRUCTURED]) {
        const id = `${runtime}-sdk-${mode}`;
        const emit = emitterFor(httpTransport(`${url()}/v1/events`), { mode });
        const event = new CloudEvent({ id, source: "/sdk", type: "order.created", datacontenttype: "application/json", data: VALID_ORDER_V2 });
        const response = (await emit(event, { headers: bearer(KEYS.full) })) as { body: string };
        const body = JSON.parse(response.body);
        assert.equal(body.id, id, `${mode}: ${response.body}`);
        assert.equal(typeof body.seq, "number");
        suite.ledger.note(body);
      }
    });

    test("GET /v1/schemas, /v1/schemas/{type} and /versions/{n} serve the built registry with ETags and 304", async () => {
      const get = (path: string, headers: Record<string, string> = {}) => send(suite.ledger, url(), { path, headers });
      const list = await get("/v1/schemas");
      assert.equal(list.status, 200);
      assert.ok(list.body.types.some((t: { type: string }) => t.type === "order.created"));
      const type = await get("/v1/schemas/order.created");
      assert.equal(type.body.latest, 2);
      const v2 = await get("/v1/schemas/order.created/versions/2");
      assert.equal(v2.status, 200);
      assert.equal(v2.body.$id, schemaId("order.created", 2));
      assert.equal(v2.headers.get("content-type"), "application/schema+json");
      const etag = v2.headers.get("etag")!;
      assert.equal(etag, `"${type.body.versions[1].hash}"`, "the ETag is the manifest's content hash");
      assert.equal((await get("/v1/schemas/order.created/versions/2", { "if-none-match": etag })).status, 304);
      assert.equal((await get("/v1/schemas", { "if-none-match": list.headers.get("etag")! })).status, 304);
      assert.equal((await get("/v1/schemas/nope.nope")).status, 404);
      assert.equal((await get("/v1/schemas/order.created/versions/9")).body.type, "https://jetgate.dev/problems/unknown-schema-version");
    });

    test("/healthz reports the broker reachable and /v1/openapi.json is served", async () => {
      const health = await send(suite.ledger, url(), { path: "/healthz" });
      assert.equal(health.status, 200);
      assert.equal(health.body.broker.reachable, true);
      const doc = await send(suite.ledger, url(), { path: "/v1/openapi.json" });
      assert.equal(doc.body.openapi, "3.1.0");
    });
  });
}

test("the stream holds exactly the events that got a 202, once each", async () => {
  await assertStreamMatchesLedger(await suite.broker.connect(), suite.ledger);
  assert.ok(suite.ledger.accepted.size >= 2 * 9, `only ${suite.ledger.accepted.size} events were accepted`);
});

test("every answer of this suite matches the OpenAPI document served at /v1/openapi.json", async () => {
  const served = await (await fetch(`${suite.edges.get("workerd")!.url}/v1/openapi.json`)).json();
  const { openapi } = await import("../../worker/http/openapi.ts");
  assert.deepEqual(served, JSON.parse(JSON.stringify(openapi)), "the served document is the one checked here");
  const checked = assertResponsesMatchOpenApi(suite.ledger.responses);
  assert.ok(checked >= 30, `only ${checked} responses checked`);
});
