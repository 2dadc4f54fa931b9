// The socket feed on a 3-node cluster: an ordered consumer lands on any node, and its first pull,
// sent at once through the client's node, can find no consumer there yet ("no responders").
// Many subscriptions opened one after another, as sockets subscribe, must all start receiving
// at once, each from exactly where it asked (worker/sockets/feed.ts FIRST_PULL_RETRIES), not
// after the client library's missed-heartbeat reset seconds later.
import { test } from "node:test";
import assert from "node:assert/strict";
import { jetstream } from "@nats-io/jetstream";
import type { FeedHandle, FeedMessage } from "../../worker/sockets/feed.ts";
import { feedOnBroker } from "./feed-fixture.ts";
import type { StartFrom } from "../../worker/sockets/frames.ts";

const SUBSCRIPTIONS = 100;
/** Well under the missed-heartbeat reset (two 2 s heartbeats), well over a loaded machine's delivery. */
const WITHIN_MS = 1_500;

const fixture = feedOnBroker(3);

async function openMany(from: StartFrom): Promise<{ got: FeedMessage[][]; stop(): Promise<unknown> }> {
  const got: FeedMessage[][] = [];
  const handles: FeedHandle[] = [];
  for (let i = 0; i < SUBSCRIPTIONS; i++) {
    const mine: FeedMessage[] = [];
    got.push(mine);
    handles.push(await fixture.feed.open(["events.order.created"], from, { event: (m) => void mine.push(m), failed: (reason) => assert.fail(reason) }));
  }
  return { got, stop: () => Promise.all(handles.map((h) => h.stop())) };
}

async function publish(prefix: string, n: number): Promise<number[]> {
  const js = jetstream(await fixture.broker.connect());
  const seqs: number[] = [];
  for (let i = 0; i < n; i++) seqs.push((await js.publish("events.order.created", new TextEncoder().encode(`${prefix}-${i}`))).seq);
  return seqs;
}

async function settle(got: FeedMessage[][], n: number): Promise<void> {
  const until = Date.now() + WITHIN_MS;
  while (got.some((g) => g.length < n) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
}

function assertEach(got: FeedMessage[][], seqs: number[]): void {
  const short = got.map((g, i) => [i, g.length] as const).filter(([, n]) => n !== seqs.length);
  assert.deepEqual(short, [], `subscriptions with fewer than ${seqs.length} events ${WITHIN_MS} ms after the last publish: [index, count]`);
  for (const g of got) assert.deepEqual(g.map((m) => m.seq), seqs, "every event once, in stream order");
}

test(`${SUBSCRIPTIONS} subscriptions from "new", opened one after another, all receive every event at once`, async () => {
  const { got, stop } = await openMany("new");
  const seqs = await publish("new", 20);
  await settle(got, seqs.length);
  await stop();
  assertEach(got, seqs);
});

test(`${SUBSCRIPTIONS} subscriptions from a sequence start exactly there, none late, none skipping`, async () => {
  const earlier = await publish("earlier", 5);
  const { got, stop } = await openMany(earlier[2]!);
  const later = await publish("later", 5);
  const seqs = [...earlier.slice(2), ...later];
  await settle(got, seqs.length);
  await stop();
  assertEach(got, seqs);
});
