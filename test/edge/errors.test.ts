// Every way a request can fail, in workerd and on Node: each kind answers its status and its
// stable problem type (RFC 9457, application/problem+json); auth and scope; rate limit; CORS;
// size and depth limits. None of these may leave anything in the stream.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { EDGE_RUNTIMES } from "../harness/worker.ts";
import { schemaId, VALID_ORDER_V2 } from "./fixtures.ts";
import { ALLOWED_ORIGIN, assertStreamMatchesLedger, bearer, KEYS, send, type Answer } from "./helpers.ts";
import { assertResponsesMatchOpenApi } from "./openapi-check.ts";
import { startSuite, type Suite } from "./suite.ts";

let suite: Suite;
before(async () => {
  suite = await startSuite();
});
after(async () => {
  await suite?.stop();
});

function assertProblem(res: Answer, status: number, kind: string): void {
  assert.equal(res.status, status, `expected ${status} ${kind}, got ${res.status} ${JSON.stringify(res.body)}`);
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  assert.equal(res.body.type, `https://jetgate.dev/problems/${kind}`);
  assert.equal(res.body.status, status);
  assert.equal(typeof res.body.title, "string");
  assert.equal(typeof res.body.detail, "string");
}

const binaryHeaders = (id: string, extra: Record<string, string> = {}) => ({
  "content-type": "application/json",
  "ce-specversion": "1.0",
  "ce-id": id,
  "ce-source": "/errors",
  "ce-type": "order.created",
  ...extra,
});

for (const runtime of EDGE_RUNTIMES) {
  describe(`errors on ${runtime}`, () => {
    const url = () => suite.edges.get(runtime)!.url;
    const post = (path: string, headers: Record<string, string>, body: string, key: string | null = KEYS.full) =>
      send(suite.ledger, url(), { path, method: "POST", headers: { ...(key ? bearer(key) : {}), ...headers }, body });
    const json = { "content-type": "application/json" };

    test("without a valid API key: 401 unauthorized with WWW-Authenticate", async () => {
      const none = await post("/v1/events/order.created", json, JSON.stringify(VALID_ORDER_V2), null);
      assertProblem(none, 401, "unauthorized");
      assert.match(none.headers.get("www-authenticate") ?? "", /^Bearer/);
      assertProblem(await post("/v1/events/order.created", json, JSON.stringify(VALID_ORDER_V2), "jg_wrong"), 401, "unauthorized");
      assertProblem(await post("/v1/events", binaryHeaders(`${runtime}-noauth`), JSON.stringify(VALID_ORDER_V2), null), 401, "unauthorized");
    });

    test("a key scoped to order.* may publish order.created and gets 403 forbidden-type for payment.settled", async () => {
      const ok = await post("/v1/events/order.created", json, JSON.stringify(VALID_ORDER_V2), KEYS.orders);
      assert.equal(ok.status, 202);
      assertProblem(await post("/v1/events/payment.settled", json, JSON.stringify({ paymentId: "p" }), KEYS.orders), 403, "forbidden-type");
      const structured = { specversion: "1.0", id: `${runtime}-scope`, source: "/s", type: "payment.settled", data: { paymentId: "p" } };
      const res = await post("/v1/events", { "content-type": "application/cloudevents+json" }, JSON.stringify(structured), KEYS.orders);
      assertProblem(res, 403, "forbidden-type");
    });

    test("past its rate limit a key gets 429 rate-limited with Retry-After", async () => {
      const statuses: number[] = [];
      let limited: Answer | undefined;
      for (let i = 0; i < 4 && !limited; i++) {
        const res = await post("/v1/events/order.created", json, JSON.stringify(VALID_ORDER_V2), KEYS.limited);
        statuses.push(res.status);
        if (res.status === 429) limited = res;
      }
      assert.ok(limited, `no 429 in ${statuses.join(",")}`);
      assertProblem(limited, 429, "rate-limited");
      assert.ok(Number(limited.headers.get("retry-after")) >= 1);
    });

    test("malformed JSON is 400 malformed-json; nesting past MAX_JSON_DEPTH is 400 json-too-deep", async () => {
      assertProblem(await post("/v1/events/order.created", json, "{\"orderId\": "), 400, "malformed-json");
      assertProblem(await post("/v1/events", { "content-type": "application/cloudevents+json" }, "{nope"), 400, "malformed-json");
      assertProblem(await post("/v1/events/order.created", json, "[".repeat(17) + "]".repeat(17)), 400, "json-too-deep");
    });

    test("data that fails its schema is 422 schema-validation listing each error's instancePath, keyword and message", async () => {
      const bad = { orderId: "", customer: { id: "c" }, total: { amount: "x", currency: "EUR" } };
      const res = await post("/v1/events/order.created", json, JSON.stringify(bad));
      assertProblem(res, 422, "schema-validation");
      const paths = res.body.errors.map((e: { instancePath: string }) => e.instancePath).sort();
      assert.deepEqual(paths, ["/customer", "/orderId", "/total/amount"]);
      for (const e of res.body.errors) assert.deepEqual(Object.keys(e).sort(), ["instancePath", "keyword", "message"]);
    });

    test("an unknown type is 404 unknown-type; an unknown dataschema is 404 unknown-schema-version; a bad type name is 400", async () => {
      assertProblem(await post("/v1/events/nobody.registered", json, "{}"), 404, "unknown-type");
      const res = await post("/v1/events", binaryHeaders(`${runtime}-v9`, { "ce-dataschema": schemaId("order.created", 9) }), JSON.stringify(VALID_ORDER_V2));
      assertProblem(res, 404, "unknown-schema-version");
      assertProblem(await post("/v1/events/Order.Created", json, "{}"), 400, "invalid-attribute");
    });

    test("a missing required attribute is 400 missing-attribute; non-JSON data is 415 unsupported-datacontenttype", async () => {
      const { "ce-source": _source, ...noSource } = binaryHeaders(`${runtime}-nosource`);
      const missing = await post("/v1/events", noSource, JSON.stringify(VALID_ORDER_V2));
      assertProblem(missing, 400, "missing-attribute");
      assert.equal(missing.body.attribute, "source");
      const text = await post("/v1/events", binaryHeaders(`${runtime}-text`, { "content-type": "text/plain" }), "hello");
      assertProblem(text, 415, "unsupported-datacontenttype");
      assertProblem(await post("/v1/events/order.created", { "content-type": "text/plain" }, "{}"), 415, "unsupported-media-type");
      assertProblem(await post("/v1/events", { "content-type": "application/cloudevents-batch+json" }, "{}"), 400, "invalid-batch");
    });

    test("a datacontenttype with control characters is 400 invalid-attribute, not a broken NATS header", async () => {
      const event = { specversion: "1.0", id: `${runtime}-crlf`, source: "/errors", type: "order.created", datacontenttype: "application/json; x=1\r\nX-Injected: 1", data: VALID_ORDER_V2 };
      const res = await post("/v1/events", { "content-type": "application/cloudevents+json" }, JSON.stringify(event));
      assertProblem(res, 400, "invalid-attribute");
      assert.equal(res.body.attribute, "datacontenttype");
    });

    test("bodies past the limits are 413; too many batch events is 413 batch-too-large; big headers are 431", async () => {
      const big = JSON.stringify({ ...VALID_ORDER_V2, pad: "x".repeat(70_000) });
      assertProblem(await post("/v1/events/order.created", json, big), 413, "payload-too-large");
      assertProblem(await post("/v1/events", binaryHeaders(`${runtime}-big`), big), 413, "payload-too-large");
      const event = (i: number) => ({ specversion: "1.0", id: `${runtime}-many-${i}`, source: "/b", type: "order.created", data: VALID_ORDER_V2 });
      const many = JSON.stringify(Array.from({ length: 51 }, (_, i) => event(i)));
      assertProblem(await post("/v1/events", { "content-type": "application/cloudevents-batch+json" }, many), 413, "batch-too-large");
      const huge = JSON.stringify(Array.from({ length: 40 }, (_, i) => ({ ...event(i), pad: "y".repeat(8_000) })));
      assertProblem(await post("/v1/events", { "content-type": "application/cloudevents-batch+json" }, huge), 413, "payload-too-large");
      assertProblem(await post("/v1/events/order.created", { ...json, "x-padding": "z".repeat(5_000) }, "{}"), 431, "headers-too-large");
    });

    test("a chunked body with no Content-Length is cut off at the limit with 413, and a small one is read whole", async () => {
      // A stream body makes fetch send Transfer-Encoding: chunked, so only the bytes read can tell.
      const chunked = (text: string, chunks: number) => {
        const bytes = new TextEncoder().encode(text);
        const step = Math.ceil(bytes.length / chunks);
        let sent = 0;
        const body = new ReadableStream<Uint8Array>({
          pull(controller) {
            if (sent >= bytes.length) return controller.close();
            controller.enqueue(bytes.subarray(sent, sent + step));
            sent += step;
          },
        });
        return send(suite.ledger, url(), { path: "/v1/events/order.created", method: "POST", headers: { ...json, ...bearer(KEYS.full) }, body, duplex: "half" } as RequestInit & { path: string });
      };
      assertProblem(await chunked(JSON.stringify({ ...VALID_ORDER_V2, pad: "x".repeat(200_000) }), 20), 413, "payload-too-large");
      const small = await chunked(JSON.stringify(VALID_ORDER_V2), 3);
      assert.equal(small.status, 202, JSON.stringify(small.body));
    });

    test("an unknown route is a 404 not-found problem", async () => {
      assertProblem(await send(suite.ledger, url(), { path: "/v2/nothing" }), 404, "not-found");
    });

    test("a route asked with a method it does not have is a 405 method-not-allowed problem with Allow", async () => {
      for (const [method, path, allow] of [
        ["GET", "/v1/events", "POST"],
        ["PUT", "/v1/events/order.created", "POST"],
        ["DELETE", "/v1/schemas/order.created", "GET, HEAD"],
        ["POST", "/v1/openapi.json", "GET, HEAD"],
        ["GET", "/v1/tokens", "POST"],
      ] as const) {
        const res = await send(suite.ledger, url(), { path, method, headers: bearer(KEYS.full) });
        assertProblem(res, 405, "method-not-allowed");
        assert.equal(res.headers.get("allow"), allow, `${method} ${path}`);
      }
      const head = await fetch(`${url()}/v1/schemas`, { method: "HEAD" });
      assert.equal(head.status, 200, "HEAD on a GET route is served, not refused");
    });

    test("CORS: a preflight from an allowed origin is answered with the allowed headers; other origins get none", async () => {
      const preflight = (origin: string) =>
        fetch(`${url()}/v1/events`, {
          method: "OPTIONS",
          headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type, ce-id" },
        });
      const ok = await preflight(ALLOWED_ORIGIN);
      assert.equal(ok.status, 204);
      assert.equal(ok.headers.get("access-control-allow-origin"), ALLOWED_ORIGIN);
      assert.match(ok.headers.get("access-control-allow-headers") ?? "", /authorization.*content-type.*ce-id/);
      assert.match(ok.headers.get("access-control-allow-methods") ?? "", /POST/);
      const other = await preflight("https://evil.example.net");
      assert.equal(other.headers.get("access-control-allow-origin"), null);
      const posted = await post("/v1/events/order.created", { ...json, origin: ALLOWED_ORIGIN }, JSON.stringify(VALID_ORDER_V2));
      assert.equal(posted.status, 202);
      assert.equal(posted.headers.get("access-control-allow-origin"), ALLOWED_ORIGIN);
    });
  });
}

test("the stream holds exactly the events that got a 202, once each", async () => {
  await assertStreamMatchesLedger(await suite.broker.connect(), suite.ledger);
});

test("every answer of this suite matches the OpenAPI document", () => {
  assert.ok(assertResponsesMatchOpenApi(suite.ledger.responses) >= 40);
});
