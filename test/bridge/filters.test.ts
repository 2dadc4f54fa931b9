// A subscriber receives exactly the event types its filter names: never a type outside it, also on
// a replay of the whole stream. The expected sets come from a subject matcher written here,
// independent of the bridge (NATS rules: `*` is one token, `>` one or more trailing tokens).
import { test } from "node:test";
import assert from "node:assert/strict";
import { startTestBroker } from "../harness/nats.ts";
import { startReceiver, type Receiver } from "../harness/receiver.ts";
import { replayToSubscription, SubscriptionStore } from "../../bridge/index.ts";
import { addSubscription, publishEvent, startTestBridge, waitPulling, waitRunning, SECRET_A } from "./helpers.ts";

const FILTERS: Record<string, string> = {
  exact: "events.order.created",
  "one-token": "events.order.*",
  "all-order": "events.order.>",
  everything: "events.>",
  "any-created": "events.*.created",
  refunds: "events.payment.refund.*",
};

const TYPES = ["order.created", "order.updated", "order.item.added", "order", "orders.created", "payment.created", "payment.refund", "payment.refund.issued", "user.signup", "ordercreated"];

function subjectMatches(filter: string, subject: string): boolean {
  const f = filter.split(".");
  const s = subject.split(".");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === ">") return s.length > i;
    if (i >= s.length) return false;
    if (f[i] !== "*" && f[i] !== s[i]) return false;
  }
  return f.length === s.length;
}

function typesSeen(rx: Receiver): string[] {
  return rx.requests.map((r) => (JSON.parse(r.body) as { type: string }).type);
}

test("each subscriber receives only the types its filter matches (exact, *, >, a wildcard in the middle), also on a replay", async (t) => {
  const broker = await startTestBroker({ nodes: 1 });
  t.after(() => broker.stop());
  const bridge = await startTestBridge(broker);
  t.after(() => bridge.stop());
  const nc = await broker.connect();
  const receivers: Record<string, Receiver> = {};
  for (const [id, filter] of Object.entries(FILTERS)) {
    const rx = await startReceiver();
    t.after(() => rx.stop());
    receivers[id] = rx;
    await addSubscription(nc, { id, url: rx.url, filter, secret: SECRET_A });
  }
  for (const id of Object.keys(FILTERS)) {
    await waitRunning([bridge], id);
    await waitPulling(nc, id, 1);
  }
  // Two rounds of every type, interleaved, so order or batching cannot hide a leak.
  let firstSeq = 0;
  for (let round = 0; round < 2; round++) {
    for (const type of TYPES) {
      const { seq } = await publishEvent(nc, type, { round });
      firstSeq ||= seq;
    }
  }
  const expected = (id: string) => TYPES.filter((type) => subjectMatches(FILTERS[id]!, `events.${type}`));
  for (const [id, rx] of Object.entries(receivers)) await rx.waitFor(expected(id).length * 2);
  // Give a stray delivery the time to arrive before the sets are compared.
  await new Promise((r) => setTimeout(r, 500));
  for (const [id, rx] of Object.entries(receivers)) {
    const want = expected(id);
    assert.ok(want.length > 0, `${id} has something to receive`);
    assert.deepEqual([...new Set(typesSeen(rx))].sort(), [...want].sort(), `${id} (${FILTERS[id]}) received exactly its types`);
    assert.equal(rx.requests.length, want.length * 2, `${id} received each matching event once`);
  }
  assert.deepEqual(expected("exact"), ["order.created"]);
  assert.ok(!expected("one-token").includes("order.item.added") && !expected("all-order").includes("order"), "the matcher follows NATS rules");

  // A replay of the whole range to one subscription sends only its types, and to it alone.
  const before = Object.fromEntries(Object.entries(receivers).map(([id, rx]) => [id, rx.requests.length]));
  const store = await SubscriptionStore.open(nc);
  const { replayed } = await replayToSubscription(nc, store, "one-token", { fromSeq: firstSeq, toSeq: firstSeq + TYPES.length * 2 - 1 });
  assert.equal(replayed, expected("one-token").length * 2);
  await receivers["one-token"]!.waitFor(before["one-token"]! + replayed);
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual([...new Set(typesSeen(receivers["one-token"]!))].sort(), [...expected("one-token")].sort());
  for (const [id, rx] of Object.entries(receivers)) {
    if (id !== "one-token") assert.equal(rx.requests.length, before[id], `${id} got nothing from another subscription's replay`);
  }
});
