// Durable backfills (bridge/delivery/backfill.ts) against a real nats-server: a record is worked to
// its end and writes exactly the tasks of its range and filter; a lease left by a dead owner is
// taken over once it expires and resumes from `next`; two runners on one record write each task
// once (msg ids remove the duplicates); a record of a subscription that is gone is dropped; a
// runner stopped mid-way releases its lease and another finishes from where it got.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { KV } from "@nats-io/kv";
import { pino } from "pino";
import { EVENTS_STREAM } from "../../broker/index.ts";
import { BackfillRunner, openBackfills, recordBackfill, type BackfillRecord } from "../../bridge/delivery/backfill.ts";
import { ensureTaskStreams, H_TASK_ID, H_TASK_ORIGIN, H_TASK_ORIGIN_SEQ, HELD_STREAM, heldSubject, TASKS_STREAM, taskSubject } from "../../bridge/delivery/tasks.ts";
import { parseSubscription, type Subscription } from "../../bridge/subscriptions/model.ts";
import { SubscriptionStore } from "../../bridge/subscriptions/store.ts";
import { startTestBroker } from "../harness/nats.ts";
import { publishEvent, waitUntil } from "./helpers.ts";

const log = pino({ level: process.env.JETGATE_TEST_LOG ?? "silent" });

async function setup(t: TestContext) {
  const broker = await startTestBroker({ nodes: 1 });
  t.after(() => broker.stop());
  const nc = await broker.connect();
  await ensureTaskStreams(nc, 1, 60_000);
  const store = await SubscriptionStore.open(nc);
  const kv = await openBackfills(nc);
  const jsm = await jetstreamManager(nc);
  return { nc, store, kv, jsm };
}

function subscription(input: Record<string, unknown>): Subscription {
  const parsed = parseSubscription({ url: "http://127.0.0.1:9/hook", ...input });
  assert.ok(parsed.ok, JSON.stringify(parsed));
  return parsed.value;
}

/** Starts a runner with test-sized intervals; stopped in t.after. */
async function runner(t: TestContext, nc: NatsConnection, instance: string, subs: Subscription[], leaseMs = 2_000): Promise<BackfillRunner> {
  const byId = new Map(subs.map((s) => [s.id, s]));
  const r = new BackfillRunner({
    nc,
    js: jetstream(nc),
    jsm: await jetstreamManager(nc),
    log: log.child({ instance }),
    instance,
    lookup: (id) => byId.get(id),
    leaseMs,
    pollMs: 100,
    scanIdleMs: 1_000,
  });
  await r.start();
  t.after(() => r.stop());
  return r;
}

/** The EVENTS sequences of the tasks on `subject`, in stream order, read without a consumer. */
async function taskSeqs(jsm: JetStreamManager, stream: string, subject: string): Promise<number[]> {
  const seqs: number[] = [];
  for (let seq = 1; seqs.length < 100_000; ) {
    const m = await jsm.streams.getMessage(stream, { seq, next_by_subj: subject } as never);
    if (!m) break;
    assert.equal(m.header.get(H_TASK_ORIGIN), "events");
    assert.equal(m.header.get(H_TASK_ID), `ev:${m.header.get(H_TASK_ORIGIN_SEQ)}`);
    seqs.push(Number(m.header.get(H_TASK_ORIGIN_SEQ)));
    seq = m.seq + 1;
  }
  return seqs;
}

/** Publishes `count` order events, many in flight; their sequences in order. */
async function publishMany(nc: NatsConnection, count: number): Promise<number[]> {
  const js = jetstream(nc);
  const acks = [];
  for (let i = 0; i < count; i++) acks.push(js.publish("events.order.created", new TextEncoder().encode(`{"i":${i}}`), { msgID: `e${i}` }));
  return (await Promise.all(acks)).map((a) => a.seq).sort((a, b) => a - b);
}

async function storedTime(jsm: JetStreamManager, seq: number): Promise<Date> {
  const m = await jsm.streams.getMessage(EVENTS_STREAM, { seq });
  assert.ok(m, `event ${seq} stored`);
  return m.time;
}

async function keysOf(kv: KV): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of await kv.keys()) keys.push(key);
  return keys.sort();
}

/**
 * Waits for the records of `keys` to be deleted. By get, not by listing: a listing taken while a
 * runner rewrites a record (its lease, its progress) can miss that key, and so look empty.
 */
async function waitGone(kv: KV, keys: string[], what: string): Promise<void> {
  await waitUntil(what, 60_000, async () => {
    const entries = await Promise.all(keys.map((key) => kv.get(key)));
    return entries.every((e) => !e || e.operation !== "PUT");
  });
}

test("a backfill writes the tasks of exactly its range and filter, held for a disabled subscription", async (t) => {
  const { nc, store, kv, jsm } = await setup(t);
  const before: { seq: number; type: string }[] = [];
  for (let i = 0; i < 6; i++) {
    for (const type of ["order.created", "user.created"]) before.push({ type, seq: (await publishEvent(nc, type, { i })).seq });
  }
  // The events after untilTime must carry a later millisecond than every event before it.
  await sleep(20);
  const after: number[] = [];
  for (let i = 0; i < 3; i++) {
    for (const type of ["order.created", "user.created"]) after.push((await publishEvent(nc, type, { i })).seq);
  }
  const untilTime = await storedTime(jsm, after[0]!);

  const orders = subscription({ id: "orders", filter: "events.order.>", startAt: "all" });
  const fromFour = subscription({ id: "from-four", startAt: { sequence: 4 }, enabled: false });
  const fresh = subscription({ id: "fresh", startAt: "new" });
  const ordered = subscription({ id: "ordered", startAt: "all", ordered: true });
  const subs = [orders, fromFour, fresh, ordered];
  for (const sub of subs) {
    await store.put(sub);
    await recordBackfill(nc, sub, untilTime);
  }
  // Recording again (another instance, a retried create) changes nothing.
  await recordBackfill(nc, orders, untilTime);
  assert.deepEqual(await keysOf(kv), ["from-four", "orders"], "no backfill for startAt new nor for an ordered subscription");

  await runner(t, nc, "a", subs);
  await waitGone(kv, ["orders", "from-four"], "both backfills done");

  assert.deepEqual(await taskSeqs(jsm, TASKS_STREAM, taskSubject("orders")), before.filter((e) => e.type === "order.created").map((e) => e.seq));
  assert.deepEqual(await taskSeqs(jsm, TASKS_STREAM, taskSubject("from-four")), [], "a disabled subscription's tasks are held");
  assert.deepEqual(await taskSeqs(jsm, HELD_STREAM, heldSubject("from-four")), before.filter((e) => e.seq >= 4).map((e) => e.seq));
  const info = await jsm.streams.info(TASKS_STREAM, { subjects_filter: ">" });
  assert.deepEqual(Object.keys(info.state.subjects ?? {}), [taskSubject("orders")], "no tasks for the new or the ordered subscription");
});

test("a lease left by a dead owner is taken over after it expires and resumes from next; a gone subscription's record is dropped", async (t) => {
  const { nc, store, kv, jsm } = await setup(t);
  const seqs: number[] = [];
  for (let i = 0; i < 20; i++) seqs.push((await publishEvent(nc, "order.created", { i })).seq);
  const untilTime = new Date((await storedTime(jsm, seqs.at(-1)!)).getTime() + 1);
  const sub = subscription({ id: "orders", startAt: "all" });
  await store.put(sub);
  // As a crashed instance leaves it: half worked, its lease running for another moment.
  const left: BackfillRecord = {
    subscription: sub.id,
    fromSeq: 1,
    untilTime: untilTime.toISOString(),
    next: seqs[10]!,
    owner: "dead",
    leaseUntil: new Date(Date.now() + 1_500).toISOString(),
  };
  await kv.put(sub.id, JSON.stringify(left));
  const ghost: BackfillRecord = { subscription: "ghost", fromSeq: 1, untilTime: untilTime.toISOString() };
  await kv.put("ghost", JSON.stringify(ghost));

  await runner(t, nc, "alive", [sub]);
  await waitGone(kv, [sub.id, "ghost"], "the backfill taken over and finished, the ghost's dropped");

  assert.deepEqual(await taskSeqs(jsm, TASKS_STREAM, taskSubject(sub.id)), seqs.slice(10), "resumed from next, not from fromSeq");
  assert.deepEqual(await taskSeqs(jsm, TASKS_STREAM, taskSubject("ghost")), []);
});

test("two runners on one backfill write each task once", async (t) => {
  const { nc, store, kv, jsm } = await setup(t);
  // More than a batch (256 in flight), so the record is saved and renewed along the way.
  const seqs = await publishMany(nc, 700);
  const untilTime = new Date((await storedTime(jsm, seqs.at(-1)!)).getTime() + 1);
  const sub = subscription({ id: "orders", startAt: "all" });
  await store.put(sub);
  await recordBackfill(nc, sub, untilTime);

  await Promise.all([runner(t, nc, "one", [sub]), runner(t, nc, "two", [sub])]);
  await waitGone(kv, [sub.id], "the backfill done");

  const info = await jsm.streams.info(TASKS_STREAM, { subjects_filter: taskSubject(sub.id) });
  assert.equal(info.state.subjects?.[taskSubject(sub.id)], seqs.length);
  assert.deepEqual(await taskSeqs(jsm, TASKS_STREAM, taskSubject(sub.id)), seqs);
});

test("a runner stopped mid-way releases its lease, and another finishes the backfill from next", async (t) => {
  const { nc, store, kv, jsm } = await setup(t);
  const seqs = await publishMany(nc, 3000);
  const untilTime = new Date((await storedTime(jsm, seqs.at(-1)!)).getTime() + 1);
  const sub = subscription({ id: "orders", startAt: "all" });
  await store.put(sub);
  await recordBackfill(nc, sub, untilTime);

  // Stopped as soon as its lease shows (a watch sees it at once), long before 3,000 tasks are out.
  // A lease far longer than the test: only the release lets the second runner in.
  const leased = await kv.watch({ key: sub.id });
  const giveUp = setTimeout(() => leased.stop(), 30_000);
  const first = await runner(t, nc, "first", [sub], 600_000);
  let taken = false;
  for await (const entry of leased) {
    if (entry.operation === "PUT" && entry.json<BackfillRecord>().owner === "first") {
      taken = true;
      break;
    }
  }
  clearTimeout(giveUp);
  leased.stop();
  assert.ok(taken, "the first runner took the lease within 30 s");
  await first.stop();
  const left = (await kv.get(sub.id))?.json<BackfillRecord>();
  assert.ok(left, "the record is still there");
  assert.equal(left.owner, undefined, "the lease was released");

  await runner(t, nc, "second", [sub]);
  await waitGone(kv, [sub.id], "the backfill finished by the second runner");
  assert.deepEqual(await taskSeqs(jsm, TASKS_STREAM, taskSubject(sub.id)), seqs);
});
