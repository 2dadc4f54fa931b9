// Delivery against a real 3-node JetStream cluster and real HTTP receivers: signing, retries on the
// schedule, Retry-After, the DLQ and redrive, 410, rotation and ordered delivery.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { Webhook as SvixWebhook } from "svix";
import type { NatsConnection } from "@nats-io/nats-core";
import { startTestBroker, type TestBroker } from "../harness/nats.ts";
import { startReceiver, failThenSucceed, type Receiver } from "../harness/receiver.ts";
import { BridgeError, listDeadLetters, redriveDeadLetters, getDeadLetter, SubscriptionStore, rotateSecret, type RunningBridge } from "../../bridge/index.ts";
import { publishEvent, startTestBridge, addSubscription, waitRunning, waitUntil, SECRET_A, SECRET_B } from "./helpers.ts";

let broker: TestBroker;
let nc: NatsConnection;
let bridge: RunningBridge;
const receivers: Receiver[] = [];

async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const r = await startReceiver(...args);
  receivers.push(r);
  return r;
}

before(async () => {
  broker = await startTestBroker({ nodes: 3 });
  nc = await broker.connect();
  bridge = await startTestBridge(broker);
});

after(async () => {
  await bridge?.stop();
  await Promise.allSettled(receivers.map((r) => r.stop()));
  await broker?.stop();
});

test("delivers an event as a signed POST that standardwebhooks and svix both verify", async () => {
  const rx = await receiver();
  await addSubscription(nc, { id: "happy", url: rx.url, filter: "events.order.created", secret: SECRET_A });
  await waitRunning([bridge], "happy");
  const { id, webhookId } = await publishEvent(nc, "order.created", { orderId: 42 });
  const [req] = await rx.waitFor(1);
  assert.ok(req);
  assert.equal(req.method, "POST");
  assert.equal(req.headers["webhook-id"], webhookId);
  assert.match(req.headers["content-type"] ?? "", /^application\/cloudevents\+json/);
  assert.match(req.headers["user-agent"] ?? "", /^Jetgate-Bridge\//);
  const payload = new StandardWebhook(SECRET_A).verify(req.body, req.headers) as Record<string, unknown>;
  assert.equal(payload.id, id);
  assert.equal(payload.type, "order.created");
  assert.equal(payload.specversion, "1.0");
  assert.deepEqual(payload.data, { orderId: 42 });
  assert.doesNotThrow(() => new SvixWebhook(SECRET_A).verify(req.body, req.headers));
  assert.throws(() => new StandardWebhook(SECRET_B).verify(req.body, req.headers));
});

test("binary mode sends the data as the body and the attributes as ce-* headers", async () => {
  const rx = await receiver();
  await addSubscription(nc, { id: "binary", url: rx.url, filter: "events.binary.sent", secret: SECRET_A, format: "binary" });
  await waitRunning([bridge], "binary");
  const { id } = await publishEvent(nc, "binary.sent", { n: 1 });
  const [req] = await rx.waitFor(1);
  assert.equal(req!.headers["ce-id"], id);
  assert.equal(req!.headers["ce-type"], "binary.sent");
  assert.equal(req!.headers["content-type"], "application/json");
  assert.deepEqual(JSON.parse(req!.body), { n: 1 });
  assert.doesNotThrow(() => new StandardWebhook(SECRET_A).verify(req!.body, req!.headers));
});

test("a receiver failing N times gets N+1 attempts with one webhook-id, spaced by the schedule", async () => {
  const failures = 3;
  const schedule = [200, 400, 600, 800];
  const rx = await receiver({ script: failThenSucceed(failures, 500) });
  await addSubscription(nc, { id: "retries", url: rx.url, filter: "events.retry.me", secret: SECRET_A, retry: { schedule, jitter: 0 } });
  await waitRunning([bridge], "retries");
  const { webhookId } = await publishEvent(nc, "retry.me", { x: 1 });
  const reqs = await rx.waitFor(failures + 1, 15_000);
  // Give a wrongly repeated attempt the time to show up before counting.
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(rx.requests.length, failures + 1);
  assert.deepEqual(new Set(reqs.map((r) => r.headers["webhook-id"])), new Set([webhookId]));
  for (let i = 1; i < reqs.length; i++) {
    const gap = reqs[i]!.at - reqs[i - 1]!.at;
    assert.ok(gap >= schedule[i - 1]! - 20, `attempt ${i + 1} came ${gap}ms after the previous one, schedule says ${schedule[i - 1]}ms`);
  }
});

test("two events with the same id from different sources reach the subscriber with their own webhook-ids, kept on redelivery", async () => {
  // CloudEvents 1.0 §3.1.1: only source + id identifies an event. The receiver fails the first
  // delivery of each webhook-id, so every event is delivered twice.
  const firstSeen = new Set<string>();
  const rx = await receiver({
    script: (req) => {
      const webhookId = req.headers["webhook-id"] ?? "";
      if (firstSeen.has(webhookId)) return { status: 200 };
      firstSeen.add(webhookId);
      return { status: 500 };
    },
  });
  await addSubscription(nc, { id: "two-sources", url: rx.url, filter: "events.same.id", secret: SECRET_A, retry: { schedule: [100, 100], jitter: 0 } });
  await waitRunning([bridge], "two-sources");
  const a = await publishEvent(nc, "same.id", { from: "a" }, "42", "/producer-a");
  const b = await publishEvent(nc, "same.id", { from: "b" }, "42", "/producer-b");
  assert.deepEqual([a.duplicate, b.duplicate], [false, false], "JetStream stored both events");
  assert.notEqual(a.seq, b.seq);
  const reqs = await rx.waitFor(4, 15_000);
  // Give a wrongly repeated delivery the time to show up before counting.
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(rx.requests.length, 4);
  const bySource = new Map<string, Set<string>>();
  for (const req of reqs) {
    // Verified by the reference implementation, independently of the bridge's signer.
    const payload = new StandardWebhook(SECRET_A).verify(req.body, req.headers) as { id: string; source: string; data: { from: string } };
    assert.equal(payload.id, "42");
    assert.equal(payload.data.from, payload.source === "/producer-a" ? "a" : "b");
    bySource.set(payload.source, (bySource.get(payload.source) ?? new Set()).add(req.headers["webhook-id"]!));
  }
  assert.deepEqual([...bySource.keys()].sort(), ["/producer-a", "/producer-b"]);
  assert.deepEqual([...bySource.get("/producer-a")!], [a.webhookId], "one webhook-id for every delivery of an event");
  assert.deepEqual([...bySource.get("/producer-b")!], [b.webhookId]);
  assert.notEqual(a.webhookId, b.webhookId, "two events, two webhook-ids");
});

test("Retry-After on 503 is honoured over a shorter schedule", async () => {
  const rx = await receiver({ script: failThenSucceed(1, 503, { headers: { "retry-after": "2" } }) });
  await addSubscription(nc, { id: "retry-after", url: rx.url, filter: "events.busy.receiver", secret: SECRET_A, retry: { schedule: [50, 50], jitter: 0 } });
  await waitRunning([bridge], "retry-after");
  await publishEvent(nc, "busy.receiver", {});
  const reqs = await rx.waitFor(2, 15_000);
  const gap = reqs[1]!.at - reqs[0]!.at;
  assert.ok(gap >= 1900, `second attempt after ${gap}ms, Retry-After asked for 2000ms`);
});

test("exhausted attempts land in the DLQ with their history, and a redrive delivers them to that subscription only", async () => {
  const rx = await receiver({ script: () => ({ status: 500, body: "x".repeat(3000) }) });
  const bystander = await receiver();
  await addSubscription(nc, { id: "doomed", url: rx.url, filter: "events.doomed.event", secret: SECRET_A, retry: { schedule: [50, 50], jitter: 0 } });
  await addSubscription(nc, { id: "bystander", url: bystander.url, filter: "events.doomed.event", secret: SECRET_A });
  await waitRunning([bridge], "doomed");
  await waitRunning([bridge], "bystander");
  const { id, webhookId } = await publishEvent(nc, "doomed.event", { bad: true });
  await rx.waitFor(3);
  await bystander.waitFor(1);
  let letters: Awaited<ReturnType<typeof listDeadLetters>> = [];
  await waitUntil("a dead letter", 10_000, async () => {
    letters = await listDeadLetters(nc, { subscription: "doomed" });
    return letters.length === 1;
  });
  const letter = await getDeadLetter(nc, letters[0]!.seq);
  assert.equal(letter.eventId, id);
  assert.equal(letter.subscription, "doomed");
  assert.equal(letter.headers["ce-type"], "doomed.event");
  assert.deepEqual(JSON.parse(letter.data), { bad: true });
  assert.equal(letter.history.length, 3);
  for (const h of letter.history) {
    assert.equal(h.status, 500);
    assert.equal(typeof h.latencyMs, "number");
    assert.equal(typeof h.at, "string");
    assert.ok(Buffer.byteLength(String(h.excerpt)) <= 1024);
  }
  assert.equal(rx.requests.length, 3);

  rx.setScript(() => ({ status: 200 }));
  const result = await redriveDeadLetters(nc, { subscription: "doomed" });
  assert.equal(result.redriven, 1);
  const reqs = await rx.waitFor(4);
  assert.equal(reqs[3]!.headers["webhook-id"], webhookId, "a redriven event keeps its webhook-id");
  assert.equal(reqs[3]!.headers["webhook-id"], reqs[0]!.headers["webhook-id"]);
  assert.doesNotThrow(() => new StandardWebhook(SECRET_A).verify(reqs[3]!.body, reqs[3]!.headers));
  assert.deepEqual(await listDeadLetters(nc, { subscription: "doomed" }), []);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(bystander.requests.length, 1, "the redrive must not reach other subscriptions");
});

test("two dead-lettered events with the same id from different sources keep their own histories and webhook-ids through redrive", async () => {
  const rx = await receiver({ script: () => ({ status: 500 }) });
  await addSubscription(nc, { id: "doomed-twins", url: rx.url, filter: "events.doomed.twins", secret: SECRET_A, retry: { schedule: [50, 50], jitter: 0 } });
  await waitRunning([bridge], "doomed-twins");
  const a = await publishEvent(nc, "doomed.twins", { from: "a" }, "7", "/producer-a");
  const b = await publishEvent(nc, "doomed.twins", { from: "b" }, "7", "/producer-b");
  await rx.waitFor(6);
  let letters: Awaited<ReturnType<typeof listDeadLetters>> = [];
  await waitUntil("two dead letters", 10_000, async () => {
    letters = await listDeadLetters(nc, { subscription: "doomed-twins" });
    return letters.length === 2;
  });
  assert.deepEqual(letters.map((l) => l.eventSource).sort(), ["/producer-a", "/producer-b"]);
  for (const summary of letters) {
    const letter = await getDeadLetter(nc, summary.seq);
    assert.equal(letter.eventId, "7");
    assert.equal(letter.history.length, 3, `${letter.eventSource}: its own three attempts, none of the other event's`);
  }
  const failed = await rx.waitFor(6);
  rx.setScript(() => ({ status: 200 }));
  assert.equal((await redriveDeadLetters(nc, { subscription: "doomed-twins" })).redriven, 2);
  const reqs = await rx.waitFor(8);
  const idsOf = (list: typeof reqs) => list.map((r) => r.headers["webhook-id"]).sort();
  assert.deepEqual(idsOf(failed.slice(0, 6)), [a.webhookId, a.webhookId, a.webhookId, b.webhookId, b.webhookId, b.webhookId].sort());
  assert.deepEqual(idsOf(reqs.slice(6)), [a.webhookId, b.webhookId].sort(), "each redriven event keeps its webhook-id");
  for (const req of reqs.slice(6)) assert.doesNotThrow(() => new StandardWebhook(SECRET_A).verify(req.body, req.headers));
});

test("410 Gone disables the subscription", async () => {
  const rx = await receiver({ script: () => ({ status: 410 }) });
  await addSubscription(nc, { id: "gone", url: rx.url, filter: "events.gone.away", secret: SECRET_A, retry: { schedule: [50], jitter: 0 } });
  await waitRunning([bridge], "gone");
  await publishEvent(nc, "gone.away", {});
  await rx.waitFor(1);
  const store = await SubscriptionStore.open(nc);
  await waitUntil("subscription disabled", 10_000, async () => (await store.require("gone")).sub.enabled === false);
  const { sub } = await store.require("gone");
  assert.match(sub.disabledReason ?? "", /410/);
  await waitUntil("runner stopped", 10_000, () => !bridge.manager.running().includes("gone"));
});

test("during secret rotation each delivery carries one signature per live secret", async () => {
  const rx = await receiver();
  await addSubscription(nc, { id: "rotating", url: rx.url, filter: "events.rotate.keys", secret: SECRET_A });
  await waitRunning([bridge], "rotating");
  const store = await SubscriptionStore.open(nc);
  // An overlap past 30 days is refused as the caller's mistake (it once overflowed a Date: a 500).
  for (const overlapMs of [31 * 86_400_000, 863_999_999_913_600_000, -1]) {
    await assert.rejects(rotateSecret(store, "rotating", { secret: SECRET_B, overlapMs }), (err: unknown) => err instanceof BridgeError && err.code === "REQUEST_INVALID", String(overlapMs));
  }
  await rotateSecret(store, "rotating", { secret: SECRET_B, overlapMs: 60_000 });
  await waitUntil("rotation seen", 5000, () => bridge.manager.known().find((s) => s.id === "rotating")?.secrets.length === 2);
  await publishEvent(nc, "rotate.keys", { k: 1 });
  const [req] = await rx.waitFor(1);
  assert.equal(req!.headers["webhook-signature"]!.split(" ").length, 2);
  for (const secret of [SECRET_A, SECRET_B]) {
    assert.doesNotThrow(() => new StandardWebhook(secret).verify(req!.body, req!.headers));
    assert.doesNotThrow(() => new SvixWebhook(secret).verify(req!.body, req!.headers));
  }
});

test("an ordered subscription delivers in stream order, one at a time, even through retries", async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  const rx = await receiver({
    script: (req, n) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      setTimeout(() => inFlight--, 20);
      // The third event fails twice before it is accepted; nothing may overtake it.
      const body = JSON.parse(req.body) as { data: { i: number } };
      return { status: body.data.i === 2 && n < 4 ? 500 : 200, delayMs: 20 };
    },
  });
  await addSubscription(nc, { id: "ordered", url: rx.url, filter: "events.ordered.step", secret: SECRET_A, ordered: true, retry: { schedule: [50, 50, 50], jitter: 0 } });
  await waitRunning([bridge], "ordered");
  const count = 8;
  for (let i = 0; i < count; i++) await publishEvent(nc, "ordered.step", { i });
  await rx.waitFor(count + 2, 20_000);
  const accepted: number[] = [];
  const sequence = rx.requests.map((r) => (JSON.parse(r.body) as { data: { i: number } }).data.i);
  for (const i of sequence) if (accepted.at(-1) !== i) accepted.push(i);
  assert.deepEqual(accepted, Array.from({ length: count }, (_, i) => i));
  assert.equal(maxInFlight, 1);
});
