// The whole path, on real parts: schemas/ built by the registry → edge in real workerd → 3-node
// JetStream cluster → bridge → an HTTP receiver. What a user of the local stack relies on.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { Webhook } from "standardwebhooks";
import { buildRegistry } from "../../registry/index.ts";
import { DEV_API_KEY, devApiKeys } from "../../worker/index.ts";
import { EVENTS_STREAM } from "../../broker/index.ts";
import { eventMsgId, webhookIdOf } from "../../broker/index.ts";
import { startTestBroker, type TestBroker } from "../harness/nats.ts";
import { startTestEdge, type TestEdge } from "../harness/worker.ts";
import { startReceiver, type Receiver } from "../harness/receiver.ts";
import { addSubscription, startTestBridge, waitRunning, SECRET_A } from "../bridge/helpers.ts";
import type { RunningBridge } from "../../bridge/index.ts";

const ROOT = join(import.meta.dirname, "../..");
const ORDER = { orderId: "o-1001", customer: { id: "c-1", email: "a@example.com" }, total: { amount: "19.99", currency: "EUR" } };

let broker: TestBroker;
let edge: TestEdge;
let bridge: RunningBridge;
let receiver: Receiver;
let registryDir: string;

before(async () => {
  // Inside the checkout, so the generated validators resolve ajv's runtime from node_modules.
  mkdirSync(join(ROOT, ".jetgate/tmp"), { recursive: true });
  registryDir = mkdtempSync(join(ROOT, ".jetgate/tmp/e2e-registry-"));
  await buildRegistry({ dir: join(ROOT, "schemas"), out: registryDir });
  broker = await startTestBroker({ nodes: 3 });
  receiver = await startReceiver();
  bridge = await startTestBridge(broker);
  const nc = await broker.connect();
  await addSubscription(nc, { id: "e2e", url: `${receiver.url}/hooks`, filter: "events.order.created", secret: SECRET_A });
  await waitRunning([bridge], "e2e");
  edge = await startTestEdge({ runtime: "workerd", broker, registryDir, apiKeys: await devApiKeys() });
});

after(async () => {
  await edge?.stop();
  await bridge?.stop();
  await receiver?.stop();
  await broker?.stop();
  if (registryDir) rmSync(registryDir, { recursive: true, force: true });
});

function post(type: string, body: string, headers: Record<string, string> = {}) {
  return fetch(`${edge.url}/v1/events/${type}`, {
    method: "POST",
    headers: { authorization: `Bearer ${DEV_API_KEY}`, "content-type": "application/json", ...headers },
    body,
  });
}

test("an event posted at the edge is in EVENTS under its source + id and reaches the subscriber signed", async () => {
  const res = await post("order.created", JSON.stringify(ORDER), { "idempotency-key": "e2e-order-1" });
  assert.equal(res.status, 202);
  const accepted = (await res.json()) as { id: string; type: string; seq: number; duplicate: boolean };
  assert.deepEqual({ id: accepted.id, type: accepted.type, duplicate: accepted.duplicate }, { id: "e2e-order-1", type: "order.created", duplicate: false });

  const jsm = await jetstreamManager(await broker.connect());
  const stored = await jsm.streams.getMessage(EVENTS_STREAM, { seq: accepted.seq });
  assert.ok(stored);
  assert.equal(stored.subject, "events.order.created");
  assert.equal(stored.header.get("Nats-Msg-Id"), eventMsgId("dev", "e2e-order-1"), "source is the dev API key's name");
  assert.deepEqual(stored.json(), ORDER);

  const [delivery] = await receiver.waitFor(1, 20_000);
  assert.ok(delivery);
  assert.equal(delivery.headers["webhook-id"], webhookIdOf("dev", "e2e-order-1"));
  // Verified by the reference implementation, independently of the bridge's signer.
  const verified = new Webhook(SECRET_A).verify(delivery.body, delivery.headers) as { id: string; type: string; data: unknown };
  assert.equal(verified.id, "e2e-order-1");
  assert.equal(verified.type, "order.created");
  assert.deepEqual(verified.data, ORDER);
});

test("attributes arrive as the producer sent them (not percent-encoded), and the data byte for byte", async () => {
  // Binary mode: attributes with spaces and non-ASCII come percent-encoded in ce-* headers (HTTP
  // binding §3.1.3.2) and stay so in NATS headers; the subscriber must get the original values.
  const data = '{ "orderId": "o-2002",\n  "customer": {"id": "c-2"}, "total": {"amount": "5.00", "currency": "EUR"} }';
  const res = await fetch(`${edge.url}/v1/events`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${DEV_API_KEY}`,
      "content-type": "application/json",
      "ce-specversion": "1.0",
      "ce-id": "e2e%20order%202%20%E2%9C%93",
      "ce-source": "/shop%20fa%C3%A7ade",
      "ce-type": "order.created",
      "ce-subject": "basket%207",
    },
    body: data,
  });
  assert.equal(res.status, 202, await res.clone().text());
  const deliveries = await receiver.waitFor(2, 20_000);
  const delivery = deliveries.find((d) => d.body.includes("o-2002"));
  assert.ok(delivery, "the second event was delivered");
  const verified = new Webhook(SECRET_A).verify(delivery.body, delivery.headers) as Record<string, unknown>;
  assert.equal(verified.id, "e2e order 2 ✓");
  assert.equal(verified.source, "/shop façade");
  assert.equal(verified.subject, "basket 7");
  // The structured event carries the data exactly as posted, whitespace and all: neither the edge
  // (binary mode keeps the body's bytes) nor the bridge re-serialises it, which would also round
  // large integers to doubles.
  assert.ok(delivery.body.includes(`"data":${data}`), delivery.body);
  // webhook-id is derived from source + id, so it is header-safe whatever they hold.
  assert.equal(delivery.headers["webhook-id"], webhookIdOf("/shop façade", "e2e order 2 ✓"));
  assert.match(delivery.headers["webhook-id"]!, /^msg_[A-Za-z0-9_-]{43}$/);
});

test("refusals are problem+json and publish nothing: 422 with instance paths, 404, 400", async () => {
  const jsm = await jetstreamManager(await broker.connect());
  const before = (await jsm.streams.info(EVENTS_STREAM)).state.messages;

  const invalid = await post("order.created", JSON.stringify({ ...ORDER, total: { amount: 19.99 } }));
  assert.equal(invalid.status, 422);
  assert.match(invalid.headers.get("content-type") ?? "", /^application\/problem\+json/);
  const problem = (await invalid.json()) as { type: string; errors: Array<{ instancePath: string }> };
  assert.ok(problem.errors.some((e) => e.instancePath.startsWith("/total")), JSON.stringify(problem.errors));

  const unknown = await post("no.such.type", JSON.stringify({}));
  assert.equal(unknown.status, 404);
  assert.match(unknown.headers.get("content-type") ?? "", /^application\/problem\+json/);

  const malformed = await post("order.created", "{not json");
  assert.equal(malformed.status, 400);
  assert.match(malformed.headers.get("content-type") ?? "", /^application\/problem\+json/);

  assert.equal((await jsm.streams.info(EVENTS_STREAM)).state.messages, before);
});
