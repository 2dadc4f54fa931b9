// Subscriptions that select by several type patterns (issue 14), on a 3-node cluster: each subscriber receives every
// event whose type one of its patterns matches, once, with one webhook-id per event, however its
// patterns overlap each other or other subscriptions' (on the shared fan-out and on an ordered
// subscription's own durable alike). The expected sets come from a glob matcher written here,
// independent of the bridge: `*` is one whole segment, a final `**` one or more segments.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startTestBroker } from "../harness/nats.ts";
import type { Receiver } from "../harness/receiver.ts";
import { publishEvent, startTestBridge, subscribeReceivers } from "./helpers.ts";

const SUBSCRIPTIONS: Record<string, { types?: string[]; filter?: string; ordered?: boolean }> = {
  "orders-and-settled": { types: ["order.*", "payment.settled"] },
  "overlapping-own": { types: ["order.created", "order.*", "order.**"] },
  payments: { types: ["payment.**", "order.created"] },
  "ordered-mix": { types: ["order.*", "payment.settled"], ordered: true },
  everything: { filter: "events.>" },
};

const TYPES = ["order.created", "order.updated", "order.item.added", "payment.settled", "payment.refund.issued", "user.signup", "orders.created", "order"];

function globMatches(glob: string, type: string): boolean {
  const g = glob.split(".");
  const t = type.split(".");
  for (let i = 0; i < g.length; i++) {
    if (g[i] === "**") return t.length > i;
    if (i >= t.length || (g[i] !== "*" && g[i] !== t[i])) return false;
  }
  return g.length === t.length;
}

function selects(spec: { types?: string[]; filter?: string }, type: string): boolean {
  return spec.filter === "events.>" || (spec.types ?? []).some((glob) => globMatches(glob, type));
}

function seen(rx: Receiver): Array<{ id: string; type: string; webhookId: string }> {
  return rx.requests.map((r) => {
    const body = JSON.parse(r.body) as { id: string; type: string };
    return { id: body.id, type: body.type, webhookId: r.headers["webhook-id"]! };
  });
}

test("several type patterns per subscription deliver each matching event once per subscription, with one webhook-id per event", async (t) => {
  const broker = await startTestBroker({ nodes: 3 });
  t.after(() => broker.stop());
  const bridge = await startTestBridge(broker);
  t.after(() => bridge.stop());
  const nc = await broker.connect();
  const receivers = await subscribeReceivers(t, nc, bridge, SUBSCRIPTIONS);
  // Two rounds of every type, interleaved, so order or batching cannot hide a leak or a double.
  const published: Array<{ id: string; type: string; webhookId: string }> = [];
  for (let round = 0; round < 2; round++) {
    for (const type of TYPES) {
      const { id, webhookId } = await publishEvent(nc, type, { round });
      published.push({ id, type, webhookId });
    }
  }
  const expected = (sub: string) => published.filter((e) => selects(SUBSCRIPTIONS[sub]!, e.type));
  for (const [id, rx] of Object.entries(receivers)) await rx.waitFor(expected(id).length, 30_000);
  // Give a stray or doubled delivery the time to arrive before the sets are compared.
  await new Promise((r) => setTimeout(r, 500));
  for (const [id, rx] of Object.entries(receivers)) {
    const want = expected(id);
    assert.ok(want.length > 0, `${id} has something to receive`);
    const got = seen(rx);
    assert.deepEqual(got.map((e) => e.id).sort(), want.map((e) => e.id).sort(), `${id} (${JSON.stringify(SUBSCRIPTIONS[id])}) received exactly its events, each once`);
    const webhookIds = new Map(got.map((e) => [e.id, e.webhookId]));
    for (const e of want) assert.equal(webhookIds.get(e.id), e.webhookId, `${id}: event ${e.id} carries its one webhook-id`);
    assert.equal(new Set(got.map((e) => e.webhookId)).size, got.length, `${id}: no webhook-id twice`);
  }
  // The matcher itself: `*` is one segment, `**` one or more.
  assert.ok(globMatches("order.**", "order.item.added") && !globMatches("order.*", "order.item.added") && !globMatches("order.**", "order"));
  assert.deepEqual(new Set(expected("ordered-mix").map((e) => e.type)), new Set(["order.created", "order.updated", "payment.settled"]));
});
