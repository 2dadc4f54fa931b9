// The socket feed renders each stored event once for all the subscriptions that receive it
// (worker/sockets/feed.ts): what a subscription gets is exactly what rendering the message itself
// would give, for every subscription, whatever order their copies arrive in, and an event stored
// later at another position is never served another's text.
import { test } from "node:test";
import assert from "node:assert/strict";
import { jetstream } from "@nats-io/jetstream";
import { jetstreamManager } from "@nats-io/jetstream";
import { EVENTS_STREAM } from "../../broker/index.ts";
import { ensureStreamsReady } from "../../broker/jetstream/index.ts";
import { edgeStyleEvent, publishEdgeStyle } from "../harness/events.ts";
import { renderEvent, type FeedHandle, type FeedMessage } from "../../worker/sockets/feed.ts";
import { feedOnBroker } from "./feed-fixture.ts";

const fixture = feedOnBroker(1);

/** Opens `n` subscriptions on order.created from `from`, collecting what each receives. */
async function subscriptions(n: number, from: number | "new") {
  const got: FeedMessage[][] = Array.from({ length: n }, () => []);
  const handles: FeedHandle[] = [];
  for (let i = 0; i < n; i++) {
    handles.push(await fixture.feed.open(["events.order.created"], from, { event: (m) => void got[i]!.push(m), failed: (reason) => assert.fail(reason) }));
  }
  return { got, stop: () => Promise.all(handles.map((h) => h.stop())) };
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  const until = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test("every subscription gets each event's own rendering, and the text is shared, not re-rendered", async () => {
  const js = jetstream(await fixture.broker.connect());
  const { got, stop } = await subscriptions(5, "new");
  const data = (i: number) => new TextEncoder().encode(JSON.stringify({ orderId: `o-${i}`, note: "é ✓ \u2028" }));
  for (let i = 0; i < 20; i++) await publishEdgeStyle(js, edgeStyleEvent(`render-${i}`, "order.created", "/test/render", data(i)));
  await waitFor(() => got.every((g) => g.length === 20), "20 events at each of 5 subscriptions");
  await stop();
  for (const messages of got) {
    assert.deepEqual(
      messages.map((m) => m.seq),
      got[0]!.map((m) => m.seq),
      "the same events, in the same order",
    );
    for (const m of messages) {
      assert.ok(m.eventJson, "the feed offers the rendered text");
      const json = m.eventJson();
      assert.equal(json, renderEvent(m), "what rendering the subscription's own copy gives");
      const event = JSON.parse(json) as { id: string; data: { orderId: string } };
      assert.equal(event.data.orderId, `o-${event.id.slice("render-".length)}`);
    }
  }
  // One text per event, handed to every subscription: the copies are the same string.
  for (let k = 0; k < 20; k++) {
    const texts = new Set(got.map((g) => g[k]!.eventJson!()));
    assert.equal(texts.size, 1);
  }
});

test("a stream deleted and created again reuses its sequences: an event at a reused seq is never served the old event's text", async () => {
  const nc = await fixture.broker.connect();
  const js = jetstream(nc);
  const publish = (prefix: string, n: number) =>
    Promise.all(Array.from({ length: n }, (_, i) => publishEdgeStyle(js, edgeStyleEvent(`${prefix}-${i}`, "order.created", "/test/render", new TextEncoder().encode(`{"orderId":"${prefix}-${i}"}`)))));
  // The first test's events sit at seqs 1–20 of this stream, and the feed still keeps their text.
  const seen = await subscriptions(1, 1);
  await waitFor(() => seen.got[0]!.length >= 20, "the first test's events");
  await seen.stop();
  assert.deepEqual(seen.got[0]!.slice(0, 5).map((m) => m.seq), [1, 2, 3, 4, 5]);
  seen.got[0]!.forEach((m) => m.eventJson!());
  await jetstreamManager(nc).then((jsm) => jsm.streams.delete(EVENTS_STREAM));
  await ensureStreamsReady(nc, { replicas: fixture.broker.replicas, timeoutMs: 30_000 });
  await publish("after", 5);
  const again = await subscriptions(2, 1);
  await waitFor(() => again.got.every((g) => g.length >= 5), "the events of the new stream");
  await again.stop();
  assert.deepEqual(
    again.got[0]!.map((m) => m.seq).slice(0, 5),
    [1, 2, 3, 4, 5],
    "the new stream numbers from 1 again",
  );
  for (const messages of again.got) {
    for (const m of messages) {
      const event = JSON.parse(m.eventJson!()) as { id: string; data: { orderId: string } };
      assert.match(event.id, /^after-/, `seq ${m.seq} is the new stream's event`);
      assert.equal(m.eventJson!(), renderEvent(m));
    }
  }
});
