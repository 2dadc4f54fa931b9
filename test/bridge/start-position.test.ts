// Where a new subscription starts. `startAt: new` (the default) means the events published after
// the subscription was created, as a Svix endpoint gets the messages sent after it was added, not
// "after some bridge got round to creating its durable": events published in between, or while no
// bridge runs at all, reach it once a bridge starts; events published before it existed do not.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { startTestBroker } from "../harness/nats.ts";
import { startReceiver } from "../harness/receiver.ts";
import { addSubscription, publishEvent, SECRET_A, startTestBridge, waitRunning } from "./helpers.ts";

test("a subscription created while no bridge runs gets the events published after its creation, and none from before", async (t) => {
  const broker = await startTestBroker({ nodes: 1 });
  t.after(() => broker.stop());
  const rx = await startReceiver();
  t.after(() => rx.stop());
  const nc = await broker.connect();

  const before = await publishEvent(nc, "start.position", { n: 0 });
  // createdAt has millisecond precision and the server stamps in nanoseconds: keep them apart.
  await sleep(20);
  await addSubscription(nc, { id: "late-bridge", url: rx.url, filter: "events.start.position", secret: SECRET_A });
  await sleep(20);
  const after = [await publishEvent(nc, "start.position", { n: 1 }), await publishEvent(nc, "start.position", { n: 2 })];

  const bridge = await startTestBridge(broker);
  t.after(() => bridge.stop());
  await waitRunning([bridge], "late-bridge");
  const got = await rx.waitFor(2, 20_000);
  await sleep(300);
  const ids = rx.requests.map((r) => r.headers["webhook-id"]);
  assert.deepEqual(new Set(ids), new Set(after.map((e) => e.webhookId)), `delivered ${JSON.stringify(ids)}`);
  assert.ok(!ids.includes(before.webhookId), "an event from before the subscription existed is not delivered");
  assert.equal(got.length, 2);
});

test("a subscription starting in the past gets the earlier events by a backfill, and the later ones once each", async (t) => {
  const broker = await startTestBroker({ nodes: 1 });
  t.after(() => broker.stop());
  const rx = await startReceiver();
  t.after(() => rx.stop());
  const nc = await broker.connect();
  const bridge = await startTestBridge(broker);
  t.after(() => bridge.stop());

  const earlier: Array<Awaited<ReturnType<typeof publishEvent>>> = [];
  let between = "";
  for (let i = 0; i < 5; i++) {
    if (i === 2) {
      // Message times are whole milliseconds: keep the start time apart from both neighbours.
      await sleep(5);
      between = new Date().toISOString();
      await sleep(5);
    }
    earlier.push(await publishEvent(nc, "start.past", { i }));
  }
  await addSubscription(nc, { id: "from-all", url: `${rx.url}/from-all`, filter: "events.start.past", secret: SECRET_A, startAt: "all" });
  await addSubscription(nc, { id: "from-seq", url: `${rx.url}/from-seq`, filter: "events.start.past", secret: SECRET_A, startAt: { sequence: earlier[3]!.seq } });
  await addSubscription(nc, { id: "from-time", url: `${rx.url}/from-time`, filter: "events.start.past", secret: SECRET_A, startAt: { time: between } });
  const later = await publishEvent(nc, "start.past", { i: 5 });
  await rx.waitFor(5 + 1 + 2 + 1 + 3 + 1, 30_000);
  await sleep(500);
  const to = (id: string) => rx.requests.filter((r) => r.path.endsWith(`/${id}`)).map((r) => r.headers["webhook-id"]).sort();
  assert.deepEqual(to("from-all"), [...earlier, later].map((e) => e.webhookId).sort(), "every event once");
  assert.deepEqual(to("from-seq"), [earlier[3]!, earlier[4]!, later].map((e) => e.webhookId).sort(), "from its sequence on, once each");
  assert.deepEqual(to("from-time"), [earlier[2]!, earlier[3]!, earlier[4]!, later].map((e) => e.webhookId).sort(), "from its time on, once each");
});
