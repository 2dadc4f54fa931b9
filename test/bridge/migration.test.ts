// Migration from the previous layout (bridge/delivery/migrate.ts) against a real nats-server, on
// a layout written by hand (legacy-layout.ts): an unordered subscription's durables are gone, its
// backfill starts just above its ack floor and ends at its new joinedAt, its redrive copies are
// tasks, its dead letter is untouched, an ordered subscription keeps its durables, and a second
// run (or two at once, after a crash) changes nothing more.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { pino } from "pino";
import { DLQ_STREAM, EVENTS_STREAM } from "../../broker/index.ts";
import { openBackfills, type BackfillRecord } from "../../bridge/delivery/backfill.ts";
import { migrateLegacyLayout } from "../../bridge/delivery/migrate.ts";
import { ensureTaskStreams, H_TASK_ID, H_TASK_ORIGIN, H_TASK_ORIGIN_SEQ, TASKS_STREAM, taskSubject } from "../../bridge/delivery/tasks.ts";
import { parseSubscription, type Subscription } from "../../bridge/subscriptions/model.ts";
import { patchSubscription, ssrfPolicy } from "../../bridge/subscriptions/operations.ts";
import { SubscriptionStore } from "../../bridge/subscriptions/store.ts";
import { startTestBroker } from "../harness/nats.ts";
import { publishEvent } from "./helpers.ts";
import { LEGACY_REDRIVE_STREAM, legacyEventsDurable, legacyRedriveDurable, legacyRedriveSubject, writeLegacyLayout } from "./legacy-layout.ts";

const log = pino({ level: process.env.JETGATE_TEST_LOG ?? "silent" });

function subscription(input: Record<string, unknown>): Subscription {
  const parsed = parseSubscription({ url: "http://127.0.0.1:9/hook", ...input });
  assert.ok(parsed.ok, JSON.stringify(parsed));
  return parsed.value;
}

async function setup(t: TestContext) {
  const broker = await startTestBroker({ nodes: 1 });
  t.after(() => broker.stop());
  const nc = await broker.connect();
  await ensureTaskStreams(nc, 1, 60_000);
  const store = await SubscriptionStore.open(nc);
  const jsm = await jetstreamManager(nc);
  const migrate = (subs: Subscription[]) => migrateLegacyLayout({ nc, js: jetstream(nc), jsm, store, log, wait: { deadlineMs: 30_000 } }, subs);
  return { nc, store, jsm, migrate };
}

async function consumerNames(jsm: JetStreamManager, stream: string): Promise<string[]> {
  const names: string[] = [];
  for await (const info of jsm.consumers.list(stream)) names.push(info.name);
  return names.sort();
}

async function subjectCount(jsm: JetStreamManager, stream: string, subject: string): Promise<number> {
  const info = await jsm.streams.info(stream, { subjects_filter: subject });
  return info.state.subjects?.[subject] ?? 0;
}

/** The tasks on the subscription's subject: their ids, origins and bodies, read without a consumer. */
async function tasksOf(jsm: JetStreamManager, id: string) {
  const tasks: { id: string; origin: string; originSeq: number; data: string; ceId: string }[] = [];
  for (let seq = 1; tasks.length < 1000; ) {
    const m = await jsm.streams.getMessage(TASKS_STREAM, { seq, next_by_subj: taskSubject(id) } as never);
    if (!m) break;
    tasks.push({
      id: m.header.get(H_TASK_ID),
      origin: m.header.get(H_TASK_ORIGIN),
      originSeq: Number(m.header.get(H_TASK_ORIGIN_SEQ)),
      data: new TextDecoder().decode(m.data),
      ceId: m.header.get("ce-id"),
    });
    seq = m.seq + 1;
  }
  return tasks;
}

async function backfillOf(nc: NatsConnection, id: string): Promise<{ record: BackfillRecord; revision: number } | null> {
  const kv = await openBackfills(nc);
  const entry = await kv.get(id);
  return entry && entry.operation === "PUT" ? { record: entry.json<BackfillRecord>(), revision: entry.revision } : null;
}

test("migration turns an unordered subscription's durables into a backfill and tasks, once", async (t) => {
  const { nc, store, jsm, migrate } = await setup(t);
  // Older than the quiet subscription below: its legacy durable started after them.
  const older = [await publishEvent(nc, "order.created", { older: 1 }), await publishEvent(nc, "order.created", { older: 2 })];
  await sleep(20);
  const quiet = subscription({ id: "quiet", filter: "events.order.>" });
  await sleep(20);
  const events = [];
  for (let i = 0; i < 6; i++) {
    events.push(await publishEvent(nc, "order.created", { i }));
    events.push(await publishEvent(nc, "user.created", { i }));
  }
  const orders = events.filter((_, i) => i % 2 === 0);
  const legacy = subscription({ id: "legacy", filter: "events.order.>", startAt: "all" });
  const ordered = subscription({ id: "ordered", startAt: "all", ordered: true });
  const fresh = subscription({ id: "fresh", startAt: "all" });
  const written = await writeLegacyLayout(nc, {
    subscriptions: [
      { sub: legacy, ack: 3, nakNext: true, copies: [orders[1]!.seq, orders[4]!.seq], deadLetters: [orders[0]!.seq] },
      { sub: ordered, ack: 2 },
      // startAt new, created between the older events and the others: its durable starts at
    // createdAt, nothing acked, so its floor must not reach back to the older events.
      { sub: quiet },
    ],
  });
  // A subscription of the new layout (no durables): migration has nothing to do for it.
  await store.put(fresh);
  assert.equal(written.ackFloors.legacy, orders[0]!.seq, "the floor is the third order event (after the two older ones)");

  const before = Date.now();
  const first = await migrate(await store.list());
  assert.deepEqual(first.migrated, ["legacy", "quiet"]);

  assert.deepEqual(await consumerNames(jsm, EVENTS_STREAM), [legacyEventsDurable("ordered")], "only the ordered subscription keeps its durables");
  assert.deepEqual(await consumerNames(jsm, LEGACY_REDRIVE_STREAM), [legacyRedriveDurable("ordered")]);

  const migrated = (await store.require("legacy")).sub;
  assert.ok(migrated.joinedAt && Date.parse(migrated.joinedAt) >= before - 1000, `joinedAt set at migration: ${migrated.joinedAt}`);
  const backfill = await backfillOf(nc, "legacy");
  assert.deepEqual(backfill?.record, { subscription: "legacy", fromSeq: written.ackFloors.legacy! + 1, untilTime: migrated.joinedAt });
  const quietBackfill = await backfillOf(nc, "quiet");
  assert.ok(quietBackfill, "a startAt-new subscription's position is a backfill too");
  // Its durable never acked (floor 0): the backfill starts where the durable did, at createdAt.
  assert.deepEqual(quietBackfill.record, { subscription: "quiet", fromTime: quiet.createdAt, untilTime: (await store.require("quiet")).sub.joinedAt });
  assert.ok(Date.parse(quiet.createdAt) > (await jsm.streams.getMessage(EVENTS_STREAM, { seq: older[1]!.seq }))!.time.getTime());
  assert.equal((await store.require("fresh")).sub.joinedAt, undefined);
  assert.equal(await backfillOf(nc, "fresh"), null);

  const copyEvents = [orders[1]!, orders[4]!];
  assert.deepEqual(
    await tasksOf(jsm, "legacy"),
    written.copies.legacy!.map((copySeq, i) => ({ id: `copy:${copySeq}`, origin: "redrive", originSeq: copySeq, data: JSON.stringify({ i: i === 0 ? 1 : 4 }), ceId: copyEvents[i]!.id })),
  );
  assert.equal(await subjectCount(jsm, LEGACY_REDRIVE_STREAM, legacyRedriveSubject("legacy")), 0, "the copies were purged");
  const dead = await jsm.streams.getMessage(DLQ_STREAM, { seq: written.deadLetters.legacy![0]! });
  assert.equal(dead?.subject, "dlq.legacy", "the dead letter is untouched");

  // Again (the next start): nothing left to migrate, nothing written.
  const second = await migrate(await store.list());
  assert.deepEqual(second.migrated, []);
  assert.equal((await backfillOf(nc, "legacy"))?.revision, backfill?.revision);
  assert.equal((await store.require("legacy")).sub.joinedAt, migrated.joinedAt);
  assert.equal((await tasksOf(jsm, "legacy")).length, 2);
  assert.equal((await jsm.streams.info(DLQ_STREAM)).state.messages, 1);

  // An update afterwards (here a PATCH) keeps the joinedAt the migration set.
  const patched = await patchSubscription(store, "legacy", { maxConcurrency: 5 }, ssrfPolicy({ ssrfAllow: ["127.0.0.1"] }));
  assert.equal(patched.joinedAt, migrated.joinedAt);
  assert.equal((await store.require("legacy")).sub.joinedAt, migrated.joinedAt);
});

test("two instances migrating at once after a crash that had deleted the redrive durable move each copy once", async (t) => {
  const { nc, store, jsm, migrate } = await setup(t);
  const events = [];
  for (let i = 0; i < 4; i++) events.push(await publishEvent(nc, "order.created", { i }));
  const sub = subscription({ id: "legacy", startAt: "all" });
  const written = await writeLegacyLayout(nc, { subscriptions: [{ sub, ack: 1, copies: events.map((e) => e.seq) }] });
  // Where a run that crashed after its step 4a left it: the copies are still there, unmoved.
  await jsm.consumers.delete(LEGACY_REDRIVE_STREAM, legacyRedriveDurable("legacy"));

  const subs = await store.list();
  const runs = await Promise.all([migrate(subs), migrate(subs)]);
  assert.ok(runs.every((r) => r.migrated.length <= 1) && runs.some((r) => r.migrated.includes("legacy")), JSON.stringify(runs));

  assert.deepEqual((await tasksOf(jsm, "legacy")).map((t) => t.id), written.copies.legacy!.map((s) => `copy:${s}`));
  assert.equal(await subjectCount(jsm, LEGACY_REDRIVE_STREAM, legacyRedriveSubject("legacy")), 0);
  assert.deepEqual(await consumerNames(jsm, EVENTS_STREAM), []);
  const joinedAt = (await store.require("legacy")).sub.joinedAt;
  assert.deepEqual((await backfillOf(nc, "legacy"))?.record, { subscription: "legacy", fromSeq: events[0]!.seq + 1, untilTime: joinedAt });
});
