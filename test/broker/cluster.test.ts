import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { startTestBroker } from "../harness/nats.ts";
import { EVENTS_STREAM, DLQ_STREAM } from "../../broker/index.ts";
import { ensureStreamsReady } from "../../broker/jetstream/index.ts";

test("a 3-node cluster comes up with R3 EVENTS and DLQ streams, and ensureStreamsReady is idempotent", async (t) => {
  const broker = await startTestBroker({ nodes: 3 });
  t.after(() => broker.stop());
  const nc = await broker.connect();
  await ensureStreamsReady(nc, { replicas: 3 });
  const jsm = await jetstreamManager(nc);
  const events = await jsm.streams.info(EVENTS_STREAM);
  assert.equal(events.config.num_replicas, 3);
  assert.deepEqual(events.config.subjects, ["events.>"]);
  assert.ok(events.config.duplicate_window >= 120 * 1e9);
  const dlq = await jsm.streams.info(DLQ_STREAM);
  assert.deepEqual(dlq.config.subjects, ["dlq.>"]);

  const js = jetstream(nc);
  const first = await js.publish("events.order.created", "{}", { msgID: "evt-1" });
  const again = await js.publish("events.order.created", "{}", { msgID: "evt-1" });
  assert.equal(again.duplicate, true);
  assert.equal(again.seq, first.seq);
});

test("ensureStreamsReady updates a stream only when a setting differs (an update of a stream with a max age loads its first block on every replica)", async (t) => {
  const broker = await startTestBroker({ nodes: 1 });
  t.after(() => broker.stop());
  const nc = await broker.connect();
  const updated: string[] = [];
  const sub = nc.subscribe("$JS.EVENT.ADVISORY.STREAM.UPDATED.>", { callback: (_err, m) => void updated.push(m.subject.split(".").at(-1)!) });
  t.after(() => sub.unsubscribe());
  await nc.flush();

  await ensureStreamsReady(nc, { replicas: 1 });
  await nc.flush();
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.deepEqual(updated, [], "the same settings again: no update");

  const hour = 3_600 * 1e9;
  await ensureStreamsReady(nc, { replicas: 1, eventsMaxAgeNs: hour });
  await nc.flush();
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.deepEqual(updated, [EVENTS_STREAM], "a changed max age: EVENTS alone is updated");
  const jsm = await jetstreamManager(nc);
  assert.equal((await jsm.streams.info(EVENTS_STREAM)).config.max_age, hour);
});

test("stopping every node makes the cluster unreachable and restarting brings the data back", async (t) => {
  const broker = await startTestBroker({ nodes: 3 });
  t.after(() => broker.stop());
  const nc = await broker.connect();
  const js = jetstream(nc);
  const ack = await js.publish("events.x", "1", { msgID: "a" });
  for (const i of [0, 1, 2]) await broker.stopNode(i);
  for (const node of broker.nodes) assert.notEqual(node.process.exitCode ?? node.process.signalCode, null);
  for (const i of [0, 1, 2]) await broker.startNode(i);
  // A whole cluster restarting from stored data re-elected its meta leader in ~5–25 s on nats-server
  // 2.9; on a slow, shared box the launcher's default 20 s was once not enough (CI, 2026-11-23).
  await broker.ready(60_000);
  const jsm = await jetstreamManager(await broker.connect());
  const deadline = Date.now() + 20_000;
  let msg;
  while (!msg && Date.now() < deadline) {
    msg = await jsm.streams.getMessage(EVENTS_STREAM, { seq: ack.seq }).catch(() => undefined);
    if (!msg) await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(msg?.string(), "1");
});

test("a node started with a memory limit runs with it as GOMEMLIMIT, and one without keeps the environment's", { skip: process.platform !== "linux" && "reads /proc" }, async (t) => {
  const limited = await startTestBroker({ nodes: 1, streams: false, memoryLimit: "64MiB" });
  t.after(() => limited.stop());
  const plain = await startTestBroker({ nodes: 1, streams: false });
  t.after(() => plain.stop());
  const goMemLimit = (pid: number) =>
    readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").find((kv) => kv.startsWith("GOMEMLIMIT="))?.slice("GOMEMLIMIT=".length);
  assert.equal(goMemLimit(limited.nodes[0]!.pid), "64MiB");
  assert.equal(goMemLimit(plain.nodes[0]!.pid), process.env.GOMEMLIMIT);
});
