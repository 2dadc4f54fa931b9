// The upgrade, end to end (issue 13): a bridge of the fan-out design started on data the previous
// layout wrote (a durable pair per subscription, legacy-layout.ts) delivers what was owed: the
// events above each durable's ack floor (one of them a retry that was waiting), the redrive copies
// left behind, and the events published after the upgrade; a dead letter of the old layout
// redrives through the new path; the old durables are gone; an ordered subscription keeps its own.
import { test } from "node:test";
import assert from "node:assert/strict";
import { jetstreamManager } from "@nats-io/jetstream";
import { EVENTS_STREAM } from "../../broker/index.ts";
import { listDeadLetters, redriveDeadLetters } from "../../bridge/index.ts";
import { parseSubscription, type Subscription } from "../../bridge/subscriptions/model.ts";
import { startTestBroker } from "../harness/nats.ts";
import { startReceiver } from "../harness/receiver.ts";
import { publishEvent, SECRET_A, startTestBridge, waitUntil } from "./helpers.ts";
import { legacyEventsDurable, writeLegacyLayout } from "./legacy-layout.ts";

function subscription(input: Record<string, unknown>): Subscription {
  const parsed = parseSubscription({ secret: SECRET_A, ...input });
  assert.ok(parsed.ok, JSON.stringify(parsed));
  return parsed.value;
}

test("a bridge started on the previous layout delivers what each subscription was owed, and nothing is lost", { timeout: 180_000 }, async (t) => {
  const broker = await startTestBroker({ nodes: 3 });
  t.after(() => broker.stop());
  const rx = await startReceiver();
  t.after(() => rx.stop());
  const nc = await broker.connect();

  const old = subscription({ id: "upgraded", url: `${rx.url}/upgraded`, filter: "events.upgrade.*", startAt: "all" });
  const ordered = subscription({ id: "kept-ordered", url: `${rx.url}/kept-ordered`, filter: "events.upgrade.*", ordered: true, startAt: "all" });
  const events: Array<Awaited<ReturnType<typeof publishEvent>>> = [];
  for (let i = 0; i < 6; i++) events.push(await publishEvent(nc, "upgrade.step", { i }));
  // 2 delivered and acked, the 3rd waiting out a retry, the 4th copied for a replay, the 5th dead.
  const layout = await writeLegacyLayout(nc, {
    replicas: 3,
    subscriptions: [
      { sub: old, ack: 2, nakNext: true, copies: [events[3]!.seq], deadLetters: [events[4]!.seq] },
      { sub: ordered, ack: 6 },
    ],
  });
  assert.equal(layout.ackFloors.upgraded, events[1]!.seq);

  const bridge = await startTestBridge(broker);
  t.after(() => bridge.stop());
  const after = await publishEvent(nc, "upgrade.step", { i: 6 });
  const path = (r: { path: string }) => r.path.split("/").pop();
  const owed = new Set([...events.slice(2).map((e) => e.webhookId), after.webhookId]);
  await waitUntil("every owed event delivered to the upgraded subscription", 60_000, () => {
    const got = new Set(rx.requests.filter((r) => path(r) === "upgraded").map((r) => r.headers["webhook-id"]));
    return [...owed].every((id) => got.has(id));
  });
  const upgraded = rx.requests.filter((r) => path(r) === "upgraded").map((r) => r.headers["webhook-id"]);
  for (const e of events.slice(0, 2)) assert.ok(!upgraded.includes(e.webhookId), "an event acked by the old durable is not sent again");
  await waitUntil("the ordered subscription gets the new event through its own durable", 60_000, () =>
    rx.requests.some((r) => path(r) === "kept-ordered" && r.headers["webhook-id"] === after.webhookId),
  );

  const jsm = await jetstreamManager(nc);
  const names: string[] = [];
  for await (const c of jsm.consumers.list(EVENTS_STREAM)) names.push(c.name);
  assert.ok(!names.includes(legacyEventsDurable("upgraded")), `the upgraded subscription's durable is gone (${names})`);
  assert.ok(names.includes(legacyEventsDurable("kept-ordered")), "the ordered subscription keeps its own");

  // The old layout's dead letter redrives through the new path, with its webhook-id.
  const [letter] = await listDeadLetters(nc, { subscription: "upgraded" });
  assert.ok(letter, "the dead letter of the old layout is still listed");
  const before = rx.requests.length;
  assert.equal((await redriveDeadLetters(nc, { subscription: "upgraded" })).redriven, 1);
  await waitUntil("the redriven letter delivered", 30_000, () =>
    rx.requests.slice(before).some((r) => path(r) === "upgraded" && r.headers["webhook-id"] === events[4]!.webhookId),
  );
});
