// The socket feed's shared tail (worker/sockets/shared-tail.ts): subscriptions on the same filters
// that read live share one ordered consumer, a subscription resuming from a sequence the tail has
// passed joins it and gets exactly what it missed and then the live ones, a start before what the
// tail still holds gets a consumer of its own, and nothing is left on the server once all stop.
import { test } from "node:test";
import assert from "node:assert/strict";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { EVENTS_STREAM } from "../../broker/index.ts";
import type { FeedHandle, FeedMessage } from "../../worker/sockets/feed.ts";
import { feedOnBroker } from "./feed-fixture.ts";
import type { StartFrom } from "../../worker/sockets/frames.ts";

const fixture = feedOnBroker(1);

const SUBJECT = "events.tail.created";

async function publish(n: number): Promise<number[]> {
  const js = jetstream(await fixture.broker.connect());
  const acks = await Promise.all(Array.from({ length: n }, (_, i) => js.publish(SUBJECT, new TextEncoder().encode(`{"n":${i}}`))));
  return acks.map((a) => a.seq).sort((a, b) => a - b);
}

async function consumers(): Promise<number> {
  const jsm = await jetstreamManager(await fixture.broker.connect());
  return (await jsm.streams.info(EVENTS_STREAM)).state.consumer_count;
}

interface Opened {
  got: FeedMessage[];
  handle: FeedHandle;
}

async function open(from: StartFrom): Promise<Opened> {
  const got: FeedMessage[] = [];
  const handle = await fixture.feed.open([SUBJECT], from, { event: (m) => void got.push(m), failed: (reason) => assert.fail(`the feed failed: ${reason}`) });
  return { got, handle };
}

async function until(what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const seqsOf = (o: Opened) => o.got.map((m) => m.seq);

test("live subscriptions on one filter share one consumer, each gets every event once, in order, and none is left after they stop", async () => {
  const before = await consumers();
  const subs = await Promise.all(Array.from({ length: 20 }, () => open("new")));
  assert.equal(await consumers(), before + 1, "one consumer for 20 live subscriptions on the same filter");
  const seqs = await publish(50);
  await until("every subscription to receive the 50 events", () => subs.every((s) => s.got.length >= 50));
  for (const s of subs) assert.deepEqual(seqsOf(s), seqs);
  await Promise.all(subs.map((s) => s.handle.stop()));
  await until("the shared consumer to be deleted", async () => (await consumers()) === before);
});

test("a resume from a sequence the tail has passed joins it: what was missed, then live, no gap, no repeat", async () => {
  const before = await consumers();
  const live = await open("new");
  const first = await publish(30);
  await until("the live subscription to receive the first 30", () => live.got.length >= 30);
  // A socket that dropped after seq first[9] comes back asking for first[10].
  const resumed = await open(first[10]!);
  assert.equal(await consumers(), before + 1, "the resume joined the tail instead of making a consumer");
  const later = await publish(20);
  await until("the resumed subscription to catch up", () => resumed.got.length >= 40);
  assert.deepEqual(seqsOf(resumed), [...first.slice(10), ...later]);
  assert.deepEqual(seqsOf(live), [...first, ...later]);
  await Promise.all([live.handle.stop(), resumed.handle.stop()]);
  await until("the shared consumer to be deleted", async () => (await consumers()) === before);
});

test("a start before what the tail still holds gets a consumer of its own and misses nothing", async () => {
  const before = await consumers();
  const live = await open("new");
  // More than the tail keeps (1024), so the oldest of them are no longer in it.
  const many = await publish(1100);
  await until("the live subscription to receive 1100 events", () => live.got.length >= 1100, 60_000);
  const early = await open(many[0]!);
  assert.equal(await consumers(), before + 2, "the early start read through a consumer of its own");
  const later = await publish(5);
  await until("the early subscription to receive everything from its start", () => early.got.length >= 1105, 60_000);
  assert.deepEqual(seqsOf(early), [...many, ...later]);
  await Promise.all([live.handle.stop(), early.handle.stop()]);
  await until("both consumers to be deleted", async () => (await consumers()) === before);
});
