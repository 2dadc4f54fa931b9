// Shared by the bridge tests: publish events the way the edge does, start a bridge on free ports
// against a test broker, and wait for conditions with a bound.
import { nuid, type NatsConnection } from "@nats-io/nats-core";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { setTimeout as sleep } from "node:timers/promises";
import { startBridge, loadBridgeConfig, createSubscription, ssrfPolicy, SubscriptionStore, type BridgeConfig, type RunningBridge, type StartOptions, type Subscription } from "../../bridge/index.ts";
import type { TestContext } from "node:test";
import { startTestBroker, type TestBroker } from "../harness/nats.ts";
import { edgeStyleEvent, publishEdgeStyle } from "../harness/events.ts";
import { startReceiver, type Receiver } from "../harness/receiver.ts";
import { webhookIdOf } from "../../broker/index.ts";

export const SECRET_A = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
export const SECRET_B = "whsec_dGVzdC1zZWNyZXQtYi10ZXN0LXNlY3JldC1iLTEyMzQ=";

/** Publishes like the edge: events.<type>, Nats-Msg-Id = the identity (source + id), ce-* headers, JSON data as the body. */
export async function publishEvent(
  nc: NatsConnection,
  type: string,
  data: unknown,
  id = `evt_${nuid.next()}`,
  source = "/tests",
): Promise<{ id: string; seq: number; duplicate: boolean; webhookId: string }> {
  const ack = await publishEdgeStyle(jetstream(nc), edgeStyleEvent(id, type, source, new TextEncoder().encode(JSON.stringify(data))));
  return { id, seq: ack.seq, duplicate: ack.duplicate, webhookId: webhookIdOf(source, id) };
}

export async function startTestBridge(broker: TestBroker, overrides: Partial<BridgeConfig> = {}, opts: StartOptions = {}): Promise<RunningBridge> {
  const config = loadBridgeConfig(
    {},
    {
      servers: broker.servers,
      port: 0,
      ssrfAllow: ["127.0.0.1"],
      adminToken: "test-admin-token",
      logLevel: process.env.JETGATE_TEST_LOG ?? "silent",
      shutdownDeadlineMs: 2000,
      ...overrides,
    },
  );
  return startBridge(config, opts);
}

export async function addSubscription(nc: NatsConnection, input: Record<string, unknown>): Promise<Subscription> {
  const store = await SubscriptionStore.open(nc);
  return createSubscription(store, input, ssrfPolicy({ ssrfAllow: ["127.0.0.1"] }));
}

/** Waits until every bridge runs the subscription (its consumers exist and are pulling). */
export async function waitRunning(bridges: RunningBridge[], id: string, timeoutMs = 10_000): Promise<void> {
  await waitUntil(`subscription ${id} running`, timeoutMs, async () => {
    await Promise.all(bridges.map((b) => b.manager.settled()));
    return bridges.every((b) => b.manager.running().includes(id));
  });
}

/**
 * Waits until `count` pull requests wait on each durable that serves the subscription (each
 * instance pulls): its own durable if it is ordered, else the shared fan-out and task durables. A
 * pull lost while a new R3 durable elects its leader is re-sent only after two missed heartbeats,
 * and on a loaded box the consumer info calls themselves are slow: allow 30 s.
 */
export async function waitPulling(nc: NatsConnection, id: string, count: number, timeoutMs = 30_000): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const store = await SubscriptionStore.open(nc);
  const ordered = (await store.require(id)).sub.ordered;
  const durables = ordered ? [["EVENTS", `jetgate_${id}`]] : [["EVENTS", "jetgate_fanout"], ["JETGATE_TASKS", "jetgate_deliveries"]];
  const seen = new Map<string, number>();
  await waitUntil(`${count} instances pulling for ${id}`, timeoutMs, async () => {
    for (const [stream, name] of durables) {
      const info = await jsm.consumers.info(stream!, name!).catch(() => null);
      seen.set(name!, info?.num_waiting ?? -1);
      if ((info?.num_waiting ?? 0) < count) return false;
    }
    return true;
  }).catch((err: Error) => {
    throw new Error(`${err.message} (last num_waiting: ${JSON.stringify(Object.fromEntries(seen))})`);
  });
}

/** Deliveries of the subscription this bridge instance counted as delivered (its metrics). */
export function delivered(bridge: RunningBridge, subscription: string): Promise<number> {
  return bridge.metrics.deliveries
    .get()
    .then((m) => m.values.filter((v) => v.labels.subscription === subscription && v.labels.outcome === "delivered").reduce((a, v) => a + v.value, 0));
}

export async function waitUntil(what: string, timeoutMs: number, probe: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await sleep(25);
  }
  throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
}

/** The NATS user of brokerDenying whose permissions deny some subjects. */
export const LIMITED_USER = { user: "limited", pass: "limited-secret" };

/** A single-node broker where LIMITED_USER may publish anything but the subjects in `deny`; `harness` (the default user) may do anything. */
export async function brokerDenying(t: TestContext, deny: string[]): Promise<TestBroker> {
  const broker = await startTestBroker({
    nodes: 1,
    extraConfig: `
authorization {
  users: [
    { user: harness, password: "harness-secret" }
    { user: ${LIMITED_USER.user}, password: "${LIMITED_USER.pass}", permissions: { publish: { deny: ${JSON.stringify(deny)} } } }
  ]
}
no_auth_user: harness
`,
  });
  t.after(() => broker.stop());
  return broker;
}

/**
 * One real receiver and one subscription per spec (`url` and `secret` filled in), each running and
 * pulling on `bridge` before it returns; receivers are stopped after the test.
 */
export async function subscribeReceivers(t: TestContext, nc: NatsConnection, bridge: RunningBridge, specs: Record<string, Record<string, unknown>>): Promise<Record<string, Receiver>> {
  const receivers: Record<string, Receiver> = {};
  for (const [id, spec] of Object.entries(specs)) {
    const rx = await startReceiver();
    t.after(() => rx.stop());
    receivers[id] = rx;
    await addSubscription(nc, { id, url: rx.url, secret: SECRET_A, ...spec });
  }
  for (const id of Object.keys(specs)) {
    await waitRunning([bridge], id);
    await waitPulling(nc, id, 1);
  }
  return receivers;
}
