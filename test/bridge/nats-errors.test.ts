// NATS errors are recognised by code, never by text, and never taken for "absent": a NATS user
// whose permissions deny one JetStream API subject gets a permission error out of the bridge,
// where a missing consumer, key or dead letter is still told apart by its own code. Each test
// starts its own broker with a `limited` user (and an unrestricted `harness` user for setup).
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { PermissionViolationError, type NatsConnection } from "@nats-io/nats-core";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { pino } from "pino";
import { BridgeError, getDeadLetter, parseSubscription, SubscriptionStore, type Subscription } from "../../bridge/index.ts";
import { deleteConsumers, durableName, ensureConsumer } from "../../bridge/delivery/durable-consumers.ts";
import { publishDeadLetter } from "../../bridge/recovery/dlq.ts";
import { ensureRedriveStream } from "../../bridge/recovery/redrive.ts";
import { isConsumerNotFound } from "../../bridge/nats-errors.ts";
import type { TestBroker } from "../harness/nats.ts";
import { brokerDenying, LIMITED_USER, SECRET_A, startTestBridge } from "./helpers.ts";

const LIMITED = LIMITED_USER;

async function connectLimited(t: TestContext, broker: TestBroker): Promise<NatsConnection> {
  const nc = await connect({ servers: broker.servers, ...LIMITED });
  t.after(() => nc.close());
  return nc;
}

/** The client reports a denied request as a RequestError caused by the server's permission violation. */
function permissionDenied(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof PermissionViolationError) return true;
  }
  return false;
}

function subscription(id: string): Subscription {
  const parsed = parseSubscription({ id, url: "http://127.0.0.1:9/hook", filter: `events.${id}.>`, secret: SECRET_A });
  assert.ok(parsed.ok, JSON.stringify(parsed));
  return parsed.value;
}

async function consumerExists(nc: NatsConnection, name: string): Promise<boolean> {
  const jsm = await jetstreamManager(nc);
  return jsm.consumers.info("EVENTS", name).then(
    () => true,
    (err: unknown) => {
      if (isConsumerNotFound(err)) return false;
      throw err;
    },
  );
}

test("a bridge that may not read a consumer's info fails with the permission error instead of taking the durable for absent", async (t) => {
  const broker = await brokerDenying(t, ["$JS.API.CONSUMER.INFO.>"]);
  const limited = await jetstreamManager(await connectLimited(t, broker));
  const sub = subscription("perm-info");
  await assert.rejects(ensureConsumer(limited, sub, "events", { deadlineMs: 5_000 }), permissionDenied);
  assert.equal(await consumerExists(await broker.connect(), durableName(sub.id, "events")), false, "nothing was created on a guess");
});

test("deleting durables the bridge may not delete fails loudly, while durables already gone count as deleted", async (t) => {
  const broker = await brokerDenying(t, ["$JS.API.CONSUMER.DELETE.>"]);
  const nc = await broker.connect();
  const jsm = await jetstreamManager(nc);
  await ensureRedriveStream(nc, 1, 60_000);
  const sub = subscription("perm-delete");
  for (const source of ["events", "redrive"] as const) await ensureConsumer(jsm, sub, source, { deadlineMs: 10_000 });

  const limited = await jetstreamManager(await connectLimited(t, broker));
  await assert.rejects(deleteConsumers(limited, sub.id, { deadlineMs: 5_000 }), permissionDenied);
  assert.equal(await consumerExists(nc, durableName(sub.id, "events")), true, "the durable is still there, and the caller was told");

  await deleteConsumers(jsm, sub.id, { deadlineMs: 10_000 });
  assert.equal(await consumerExists(nc, durableName(sub.id, "events")), false);
  // Every bridge instance deletes on the same change: the second finds nothing, which is success.
  await deleteConsumers(jsm, sub.id, { deadlineMs: 10_000 });
});

test("a subscription write the bridge may not make is a permission error, never 'exists already' or 'kept changing'", async (t) => {
  const broker = await brokerDenying(t, ["$KV.jetgate_subscriptions.>"]);
  const store = await SubscriptionStore.open(await broker.connect());
  await store.create(subscription("taken"));
  await assert.rejects(store.create(subscription("taken")), (err: unknown) => err instanceof BridgeError && err.code === "SUBSCRIPTION_EXISTS");

  const limited = await SubscriptionStore.open(await connectLimited(t, broker));
  await assert.rejects(limited.create(subscription("fresh")), permissionDenied);
  await assert.rejects(limited.modify("taken", (sub) => ({ ...sub, maxConcurrency: 2 })), permissionDenied);
  assert.equal((await store.require("taken")).sub.maxConcurrency, subscription("taken").maxConcurrency, "the subscription is unchanged");
});

test("a DLQ sequence that holds nothing is DLQ_NOT_FOUND; a DLQ the bridge may not read is a 5xx failure, never a 404", async (t) => {
  const broker = await brokerDenying(t, ["$JS.API.STREAM.MSG.GET.DLQ", "$JS.API.STREAM.INFO.DLQ"]);
  const nc = await broker.connect();
  const seq = await publishDeadLetter(jetstream(nc), {
    subscription: "perm-dlq",
    subject: "events.perm.dlq",
    stream: "EVENTS",
    seq: 1,
    headers: undefined,
    data: new TextEncoder().encode("{}"),
    reason: "test",
    attempts: [],
    deliveries: 1,
    unrecorded: 1,
  });
  assert.equal((await getDeadLetter(nc, seq)).subscription, "perm-dlq");
  await assert.rejects(getDeadLetter(nc, seq + 1000), (err: unknown) => err instanceof BridgeError && err.code === "DLQ_NOT_FOUND");

  const limited = await connectLimited(t, broker);
  await assert.rejects(getDeadLetter(limited, seq), permissionDenied);

  const logs: Array<{ msg?: string; path?: string; err?: { message?: string } }> = [];
  const logger = pino({ level: "error" }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  const bridge = await startTestBridge(broker, { natsUser: LIMITED.user, natsPass: LIMITED.pass }, { logger });
  t.after(() => bridge.stop());
  const res = await fetch(`${bridge.url}/v1/dlq/${seq}`, { headers: { authorization: "Bearer test-admin-token" } });
  assert.equal(res.status, 500, "a letter that exists but cannot be read is not 'not found'");
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  // The client gets a generic detail; the error, with the server's reason as its cause, is logged.
  const problem = (await res.json()) as { type: string; code: string; detail: string };
  assert.equal(problem.type, "https://jetgate.dev/problems/bridge/internal");
  assert.equal(problem.code, "INTERNAL");
  assert.doesNotMatch(problem.detail, /Permissions|\$JS/);
  const logged = logs.find((l) => l.msg === "admin request failed" && l.path === `/v1/dlq/${seq}`);
  assert.match(logged?.err?.message ?? "", /Permissions Violation for Publish to "\$JS\.API\.STREAM\.MSG\.GET\.DLQ"/);
  // The DLQ depth gauge cannot be read either: the scrape leaves it empty and counts the failure,
  // which the next scrape shows (the counter is written out while the gauge is still reading).
  await fetch(`${bridge.url}/metrics`);
  const metrics = await (await fetch(`${bridge.url}/metrics`)).text();
  assert.match(metrics, /^jetgate_metric_read_failures_total\{metric="jetgate_dlq_depth"\} [1-9]/m);
  assert.doesNotMatch(metrics, /^jetgate_dlq_depth\{/m, "no depth is shown when none was read");
});
