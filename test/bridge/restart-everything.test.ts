// Every process killed at once with work in every state (issue 13): a bridge process and all three
// NATS nodes get SIGKILL while one subscription is delivering, one has retries waiting, one has
// dead letters and an ordered one its own durable. After everything restarts, nothing is lost:
// each event reaches each subscription, the ordered one in stream order, the waiting retries are
// delivered once the endpoint recovers, and every dead letter is in the DLQ once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { untilReady } from "../../broker/jetstream/index.ts";
import { listDeadLetters } from "../../bridge/index.ts";
import { startTestBroker, type TestBroker } from "../harness/nats.ts";
import { startReceiver } from "../harness/receiver.ts";
import { addSubscription, publishEvent, SECRET_A, waitUntil } from "./helpers.ts";

const CHILD = fileURLToPath(new URL("./fixtures/bridge-child.ts", import.meta.url));

async function startBridgeProcess(broker: TestBroker, children: ChildProcess[]): Promise<ChildProcess> {
  const options = { servers: broker.servers, port: 0, ssrfAllow: ["127.0.0.1"], logLevel: "silent", taskAckWaitMs: 2000, readyDeadlineMs: 90_000 };
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, JSON.stringify(options)], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  const [line] = (await once(child.stdout!, "data", { signal: AbortSignal.timeout(120_000) })) as [Buffer];
  assert.match(line.toString(), /^ready /, "the bridge process started");
  return child;
}

async function kill(child: { exitCode: number | null; signalCode: NodeJS.Signals | null; kill(signal: NodeJS.Signals): boolean } & NodeJS.EventEmitter): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGKILL");
  await exited;
}

test("SIGKILL of the bridge and every NATS node with deliveries, retries and dead letters in place loses nothing", { timeout: 300_000 }, async (t) => {
  const broker = await startTestBroker({ nodes: 3 });
  t.after(() => broker.stop());
  const children: ChildProcess[] = [];
  t.after(() => Promise.all(children.map((c) => kill(c))));
  let flakyUp = false;
  const flakyDelivered = new Set<string>();
  const healthy = await startReceiver();
  const flaky = await startReceiver({
    script: (req) => {
      if (!flakyUp) return { status: 503 };
      flakyDelivered.add(req.headers["webhook-id"]!);
      return { status: 200 };
    },
  });
  const doomed = await startReceiver({ script: () => ({ status: 500 }) });
  const ordered = await startReceiver();
  t.after(() => Promise.all([healthy, flaky, doomed, ordered].map((r) => r.stop())));
  const nc = await broker.connect();
  const common = { filter: "events.everything.*", secret: SECRET_A };
  await addSubscription(nc, { ...common, id: "all-healthy", url: healthy.url });
  await addSubscription(nc, { ...common, id: "all-flaky", url: flaky.url, retry: { schedule: ["2s", "2s", "2s", "2s", "2s", "2s", "2s", "2s"], jitter: 0 } });
  await addSubscription(nc, { ...common, id: "all-doomed", url: doomed.url, retry: { schedule: ["50ms"], jitter: 0 } });
  await addSubscription(nc, { ...common, id: "all-ordered", url: ordered.url, ordered: true });
  const first = await startBridgeProcess(broker, children);

  const sent: Array<{ webhookId: string; seq: number }> = [];
  for (let i = 0; i < 20; i++) sent.push(await publishEvent(nc, "everything.step", { i }));
  await healthy.waitFor(20, 60_000);
  await waitUntil("the flaky endpoint tried every event once", 60_000, () => new Set(flaky.requests.map((r) => r.headers["webhook-id"])).size === 20);
  await waitUntil("some events dead-lettered", 60_000, async () => (await listDeadLetters(nc, { subscription: "all-doomed" })).length >= 5);

  // Everything dies at once, mid-work.
  await kill(first);
  await Promise.all(broker.nodes.map((node) => kill(node.process)));
  await Promise.all(broker.nodes.map((_, i) => broker.startNode(i)));
  const again = await broker.connect();
  for (let i = 20; i < 30; i++) {
    sent.push(await untilReady("stream EVENTS for the test's publish", () => publishEvent(again, "everything.step", { i }), { deadlineMs: 90_000 }));
  }
  await startBridgeProcess(broker, children);
  flakyUp = true;

  const all = new Set(sent.map((e) => e.webhookId));
  const ids = (rx: typeof healthy) => new Set(rx.requests.map((r) => r.headers["webhook-id"]));
  await waitUntil("the healthy subscription got every event", 90_000, () => [...all].every((id) => ids(healthy).has(id)));
  await waitUntil("the ordered subscription got every event", 90_000, () => [...all].every((id) => ids(ordered).has(id)));
  await waitUntil("the flaky subscription got every event once it recovered", 90_000, () =>
    [...all].every((id) => flakyDelivered.has(id)),
  );
  await waitUntil("every event dead-lettered for the doomed subscription", 90_000, async () => {
    const letters = await listDeadLetters(again, { subscription: "all-doomed", limit: 1000 });
    return new Set(letters.map((l) => l.eventId)).size === sent.length;
  });
  const letters = await listDeadLetters(again, { subscription: "all-doomed", limit: 1000 });
  assert.equal(letters.length, sent.length, "each event dead-lettered once");

  // In stream order: the first arrival of each event follows the sequence (a redelivery after the
  // crash may repeat the one in flight, never reorder).
  const firsts: string[] = [];
  for (const r of ordered.requests) if (!firsts.includes(r.headers["webhook-id"]!)) firsts.push(r.headers["webhook-id"]!);
  assert.deepEqual(firsts, sent.map((e) => e.webhookId), "the ordered subscription got the events in stream order");
});
