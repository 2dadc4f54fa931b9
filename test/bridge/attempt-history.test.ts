// What the attempt log and a dead letter's history hold. Every failed attempt is recorded; a record
// the log cannot store is logged and counted, and the dead letter says how many of its deliveries
// have no record; a history that cannot be read is said to be missing, never shown as "no
// attempts". A test-send is recorded exactly like a delivery attempt. Each test has its own broker;
// the bridges log in as a NATS user whose permissions deny one part of the attempt log.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import { listAttempts, type AttemptRecord, type DeadLetter, type RunningBridge } from "../../bridge/index.ts";
import { startTestBroker, type TestBroker } from "../harness/nats.ts";
import { startReceiver } from "../harness/receiver.ts";
import { addSubscription, brokerDenying, LIMITED_USER, publishEvent, SECRET_A, startTestBridge, waitPulling, waitRunning, waitUntil } from "./helpers.ts";

const TOKEN = "test-admin-token";
const LIMITED = { natsUser: LIMITED_USER.user, natsPass: LIMITED_USER.pass };

/** A bridge logging in as `limited`, whose log lines the test can read. */
async function limitedBridge(t: TestContext, broker: TestBroker): Promise<{ bridge: RunningBridge; logs: Array<Record<string, unknown>> }> {
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: "warn" }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const bridge = await startTestBridge(broker, LIMITED, { logger });
  t.after(() => bridge.stop());
  return { bridge, logs };
}

async function api<T>(bridge: RunningBridge, method: string, path: string): Promise<T> {
  const res = await fetch(`${bridge.url}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}` } });
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${await res.clone().text()}`);
  return (await res.json()) as T;
}

/** Waits for the subscription's one dead letter and reads it whole. */
async function theDeadLetter(bridge: RunningBridge, subscription: string, timeoutMs: number): Promise<DeadLetter> {
  let seq: number | undefined;
  await waitUntil(`a dead letter for ${subscription}`, timeoutMs, async () => {
    const { deadLetters } = await api<{ deadLetters: Array<{ seq: number }> }>(bridge, "GET", `/v1/dlq?subscription=${subscription}`);
    seq = deadLetters[0]?.seq;
    return seq !== undefined;
  });
  return (await api<{ deadLetter: DeadLetter }>(bridge, "GET", `/v1/dlq/${seq}`)).deadLetter;
}

test("a failure record the attempt log may not store is logged and counted, and the dead letter counts that delivery as unrecorded", async (t) => {
  const broker = await brokerDenying(t, ["jetgate.attempts.>"]);
  const rx = await startReceiver({ script: () => ({ status: 500 }) });
  t.after(() => rx.stop());
  const { bridge, logs } = await limitedBridge(t, broker);
  const nc = await broker.connect();
  await addSubscription(nc, { id: "unlogged", url: rx.url, filter: "events.unlogged.*", secret: SECRET_A, retry: { schedule: [20], jitter: 0 } });
  await waitRunning([bridge], "unlogged");
  await waitPulling(nc, "unlogged", 1);
  const { id } = await publishEvent(nc, "unlogged.thing", {});

  const letter = await theDeadLetter(bridge, "unlogged", 15_000);
  assert.equal(letter.eventId, id);
  // The last attempt travels with the letter itself; the first one's record is gone, and said so.
  assert.deepEqual(letter.history.map((a) => a.attempt), [2]);
  assert.equal(letter.deliveries, 2);
  assert.equal(letter.unrecordedDeliveries, 1);
  assert.equal(letter.historyError, undefined, "the log itself was readable");

  const metrics = await (await fetch(`${bridge.url}/metrics`)).text();
  assert.match(metrics, /^jetgate_attempt_records_lost_total\{subscription="unlogged",outcome="retrying"\} 1$/m);
  assert.match(metrics, /^jetgate_attempt_records_lost_total\{subscription="unlogged",outcome="dead-lettered"\} 1$/m);
  const lost = logs.filter((l) => l.msg === "attempt record lost: the attempt log did not store it");
  assert.deepEqual(lost.map((l) => [l.attempt, l.outcome]).sort(), [[1, "retrying"], [2, "dead-lettered"]]);
});

test("a dead letter whose history cannot be read says so, and is not shown as an event without attempts", async (t) => {
  const broker = await brokerDenying(t, [
    "$JS.API.STREAM.MSG.GET.JETGATE_ATTEMPTS",
    "$JS.API.CONSUMER.CREATE.JETGATE_ATTEMPTS",
    "$JS.API.CONSUMER.CREATE.JETGATE_ATTEMPTS.>",
  ]);
  const rx = await startReceiver({ script: () => ({ status: 500 }) });
  t.after(() => rx.stop());
  const { bridge, logs } = await limitedBridge(t, broker);
  const nc = await broker.connect();
  await addSubscription(nc, { id: "unread", url: rx.url, filter: "events.unread.*", secret: SECRET_A, retry: { schedule: [20], jitter: 0 } });
  await waitRunning([bridge], "unread");
  await waitPulling(nc, "unread", 1);
  await publishEvent(nc, "unread.thing", {});

  // The bridge naks and tries to read the history again on ten more deliveries, 1 s apart, first.
  const letter = await theDeadLetter(bridge, "unread", 40_000);
  assert.match(letter.historyError ?? "", /^the attempt log could not be read: /);
  assert.ok(letter.history.length >= 1, "what this instance knew (the last attempt) is kept");
  assert.ok((letter.deliveries ?? 0) > letter.history.length);
  assert.equal(letter.unrecordedDeliveries, (letter.deliveries ?? 0) - letter.history.length);
  assert.ok(logs.some((l) => l.msg === "attempt history still unreadable; dead-lettering without it"));
  // The records themselves were stored: the harness, which may read the log, sees every one.
  const records = await listAttempts(nc, { subscription: "unread" });
  assert.ok(records.some((r) => r.outcome === "retrying") && records.some((r) => r.outcome === "dead-lettered"));
});

test("a test-send is recorded exactly like a delivery attempt: same fields, its own source, and 'failed' rather than 'retrying'", async (t) => {
  const broker = await startTestBroker({ nodes: 1 });
  t.after(() => broker.stop());
  // A receiver that is gone: connections are refused, so each attempt has an error and a message.
  const gone = await startReceiver();
  await gone.stop();
  const bridge = await startTestBridge(broker);
  t.after(() => bridge.stop());
  const nc = await broker.connect();
  await addSubscription(nc, { id: "shape", url: gone.url, filter: "events.shape.*", secret: SECRET_A, retry: { schedule: [] } });
  await waitRunning([bridge], "shape");
  await waitPulling(nc, "shape", 1);
  const { id } = await publishEvent(nc, "shape.thing", {});
  let delivery: AttemptRecord | undefined;
  await waitUntil("the delivery attempt recorded", 10_000, async () => {
    delivery = (await listAttempts(nc, { subscription: "shape", eventId: id })).find((a) => a.outcome === "dead-lettered");
    return delivery !== undefined;
  });

  const sent = await api<{ eventId: string; result: { ok: boolean } }>(bridge, "POST", "/v1/subscriptions/shape/test");
  assert.equal(sent.result.ok, false);
  const [testRecord] = await listAttempts(nc, { subscription: "shape", eventId: sent.eventId });
  assert.ok(testRecord && delivery);
  assert.deepEqual(Object.keys(testRecord).sort(), Object.keys(delivery).sort());
  assert.equal(testRecord.outcome, "failed");
  assert.equal(testRecord.source, "test");
  assert.equal(testRecord.error, delivery.error);
  assert.ok(testRecord.message, "the network error's message is kept, as for a delivery");
});
