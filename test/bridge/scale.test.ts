// Issue 13 on the fan-out design, on a 3-node cluster: what the broker keeps does not grow with the
// number of subscriptions, many new ones are active at once, a dead or failing endpoint delays only
// itself (its retries wait on the server, not in the bridge's slots), and a disabled
// subscription's events wait in the held stream until it is enabled again.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { startTestBroker, type TestBroker } from "../harness/nats.ts";
import { startReceiver, type Receiver } from "../harness/receiver.ts";
import { setEnabled, SubscriptionStore, type RunningBridge } from "../../bridge/index.ts";
import { addSubscription, publishEvent, SECRET_A, startTestBridge, waitPulling, waitUntil } from "./helpers.ts";

let broker: TestBroker;
let nc: NatsConnection;
let jsm: JetStreamManager;
let bridge: RunningBridge;
const cleanups: Array<() => Promise<unknown>> = [];

before(async () => {
  broker = await startTestBroker({ nodes: 3 });
  nc = await broker.connect();
  jsm = await jetstreamManager(nc);
  bridge = await startTestBridge(broker);
  cleanups.push(() => bridge.stop());
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await broker?.stop();
});

async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const rx = await startReceiver(...args);
  cleanups.push(() => rx.stop());
  return rx;
}

async function consumerNames(stream: string): Promise<string[]> {
  const names: string[] = [];
  for await (const c of jsm.consumers.list(stream)) names.push(c.name);
  return names.sort();
}

async function subjectCount(stream: string, subject: string): Promise<number> {
  const info = await jsm.streams.info(stream, { subjects_filter: subject });
  return info.state.subjects?.[subject] ?? 0;
}

test("200 subscriptions created at once are all delivered one event, with no consumer of their own", async () => {
  const rx = await receiver({ record: true });
  const count = 200;
  const ids = Array.from({ length: count }, (_, i) => `many-${i}`);
  const created = Date.now();
  for (let i = 0; i < count; i += 50) {
    await Promise.all(ids.slice(i, i + 50).map((id) => addSubscription(nc, { id, url: `${rx.url}/${id}`, filter: "events.many.created", secret: SECRET_A })));
  }
  await waitPulling(nc, ids[0]!, 1);
  await publishEvent(nc, "many.created", { n: 1 });
  await rx.waitFor(count, 60_000);
  const reached = new Set(rx.requests.map((r) => r.path.split("/").pop()));
  assert.deepEqual([...reached].sort(), [...ids].sort(), "every subscription got the event");
  // The broker's cost is flat: the two shared durables, whatever the number of subscriptions.
  assert.deepEqual(await consumerNames("EVENTS"), ["jetgate_fanout"]);
  assert.deepEqual(await consumerNames("JETGATE_TASKS"), ["jetgate_deliveries"]);
  const info = await jsm.consumers.info("JETGATE_TASKS", "jetgate_deliveries");
  assert.equal(info.config.max_ack_pending, -1, "waiting retries never stall the shared durable");
  process.stderr.write(`# ${count} subscriptions created and delivered in ${Date.now() - created} ms\n`);
});

test("a hanging endpoint and a failing one delay only themselves; the failing one's retries wait without a slot", async () => {
  const healthy = await receiver();
  const hanging = await receiver({ script: () => ({ status: 200, delayMs: 30_000 }) });
  const failing = await receiver({ script: () => ({ status: 503 }) });
  const common = { filter: "events.iso.work", secret: SECRET_A, timeout: "20s" };
  await addSubscription(nc, { ...common, id: "iso-healthy", url: healthy.url, maxConcurrency: 4 });
  await addSubscription(nc, { ...common, id: "iso-hanging", url: hanging.url, maxConcurrency: 4 });
  await addSubscription(nc, { ...common, id: "iso-failing", url: failing.url, retry: { schedule: ["1h"], jitter: 0 } });
  await waitPulling(nc, "iso-healthy", 1);
  const count = 100;
  for (let i = 0; i < count; i++) await publishEvent(nc, "iso.work", { i });
  // 100 events to an endpoint that answers after 30 s, at most 4 at a time, would take 12 minutes;
  // the healthy subscription on the same events gets them all meanwhile.
  await healthy.waitFor(count, 30_000);
  assert.ok(hanging.requests.length <= 4, `the hanging endpoint holds at most its bound (${hanging.requests.length})`);
  await failing.waitFor(count, 30_000);
  await waitUntil("every failed attempt waiting as a retry task", 10_000, async () => (await subjectCount("JETGATE_TASKS", "jetgate.task.iso-failing")) === count);
  // The last attempts may still be writing their successors: wait for them to end.
  let about = "";
  await waitUntil("no attempt of the failing subscription in flight", 10_000, async () => {
    const metrics = await (await fetch(`${bridge.url}/metrics`)).text();
    about = metrics.split("\n").filter((l) => l.includes("iso-failing")).join("\n");
    // No slot held, and the 100 waiting retries are the subscription's lag (a successor and the
    // task it replaces count twice until the ack lands, hence a wait rather than one read).
    return /^jetgate_deliveries_in_flight\{subscription="iso-failing"\} 0$/m.test(about) && /^jetgate_consumer_lag\{subscription="iso-failing"\} 100$/m.test(about);
  }).catch((err: Error) => assert.fail(`the waiting retries hold no slot and are the lag: ${err.message}\n${about}`));
});

test("a disabled subscription's events wait in the held stream and are delivered once it is enabled again", async () => {
  const rx = await receiver();
  await addSubscription(nc, { id: "held", url: rx.url, filter: "events.held.work", secret: SECRET_A });
  await waitPulling(nc, "held", 1);
  const store = await SubscriptionStore.open(nc);
  await setEnabled(store, "held", false);
  await waitUntil("the bridge sees it disabled", 10_000, () => bridge.manager.known().find((s) => s.id === "held")?.enabled === false);
  const count = 20;
  const sent = new Set<string>();
  for (let i = 0; i < count; i++) sent.add((await publishEvent(nc, "held.work", { i })).webhookId);
  await waitUntil("every event held", 20_000, async () => (await subjectCount("JETGATE_HELD", "jetgate.held.held")) === count);
  assert.equal(rx.requests.length, 0, "nothing is delivered while disabled");
  await setEnabled(store, "held", true);
  await rx.waitFor(count, 30_000);
  assert.deepEqual(new Set(rx.requests.map((r) => r.headers["webhook-id"])), sent);
  await waitUntil("the held stream emptied", 10_000, async () => (await subjectCount("JETGATE_HELD", "jetgate.held.held")) === 0);
});
