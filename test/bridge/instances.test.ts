// Several bridge instances on one cluster: they share each subscription's durable consumer, and a
// bridge killed mid-delivery loses nothing (JetStream redelivers after AckWait).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager } from "@nats-io/jetstream";
import { startTestBroker, type TestBroker } from "../harness/nats.ts";
import { startReceiver, type Receiver } from "../harness/receiver.ts";
import type { RunningBridge } from "../../bridge/index.ts";
import { publishEvent, startTestBridge, addSubscription, waitRunning, waitPulling, waitUntil, delivered, SECRET_A } from "./helpers.ts";

let broker: TestBroker;
let nc: NatsConnection;
const cleanups: Array<() => Promise<unknown>> = [];

before(async () => {
  broker = await startTestBroker({ nodes: 3 });
  nc = await broker.connect();
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await broker?.stop();
});

async function bridgeFor(overrides = {}): Promise<RunningBridge> {
  const bridge = await startTestBridge(broker, overrides);
  cleanups.push(() => bridge.stop());
  return bridge;
}

async function receiverFor(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const rx = await startReceiver(...args);
  cleanups.push(() => rx.stop());
  return rx;
}

test("two bridge instances share one subscription and deliver each event once", async () => {
  // A receiver slow enough that one instance alone could not keep up: the work must be shared.
  const rx = await receiverFor({ script: () => ({ status: 200, delayMs: 20 }) });
  const [a, b] = [await bridgeFor({ instance: "a" }), await bridgeFor({ instance: "b" })];
  await addSubscription(nc, { id: "shared", url: rx.url, filter: "events.shared.work", secret: SECRET_A, maxConcurrency: 8 });
  await waitRunning([a, b], "shared");
  // A pull sent while a new clustered durable elects its leader can be lost (the client re-pulls
  // after two missed heartbeats); start once both instances are really pulling.
  await waitPulling(nc, "shared", 2);
  const count = 300;
  const ids = new Set<string>();
  const published = await Promise.all(Array.from({ length: count }, (_, i) => publishEvent(nc, "shared.work", { i })));
  for (const { webhookId } of published) ids.add(webhookId);
  await rx.waitFor(count, 30_000);
  await new Promise((r) => setTimeout(r, 500));
  const got = rx.requests.map((r) => r.headers["webhook-id"]);
  assert.equal(got.length, count, "no event delivered twice");
  assert.deepEqual(new Set(got), ids);
  const [byA, byB] = [await delivered(a, "shared"), await delivered(b, "shared")];
  assert.equal(byA + byB, count);
  assert.ok(byA > 0 && byB > 0, `both instances delivered (a=${byA}, b=${byB})`);
});

test("a bridge killed with SIGKILL mid-delivery loses nothing: the events are redelivered after AckWait", async () => {
  const answered = new Set<string>();
  let crashed = false;
  const rx = await receiverFor({
    script: (req) => {
      // Before the crash the receiver sits on every request, so they are all in flight when it dies.
      if (!crashed) return { status: 200, delayMs: 30_000 };
      answered.add(req.headers["webhook-id"]!);
      return { status: 200 };
    },
  });
  await addSubscription(nc, { id: "crash", url: rx.url, filter: "events.crash.test", secret: SECRET_A, timeout: "20s", maxConcurrency: 16 });
  const child: ChildProcess = spawn(
    process.execPath,
    ["--import", "tsx", fileURLToPath(new URL("./fixtures/bridge-child.ts", import.meta.url)), JSON.stringify({ servers: broker.servers, port: 0, ssrfAllow: ["127.0.0.1"], logLevel: "silent" })],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  const [line] = (await once(child.stdout!, "data", { signal: AbortSignal.timeout(20_000) })) as [Buffer];
  assert.match(line.toString(), /^ready .* crash/);
  const count = 10;
  const ids = new Set<string>();
  for (let i = 0; i < count; i++) ids.add((await publishEvent(nc, "crash.test", { i })).webhookId);
  await rx.waitFor(count, 15_000);
  child.kill("SIGKILL");
  await once(child, "exit");
  crashed = true;
  const jsm = await jetstreamManager(nc);
  // The tasks of an unordered subscription are delivered from the shared durable.
  const before = await jsm.consumers.info("JETGATE_TASKS", "jetgate_deliveries");
  assert.equal(before.num_ack_pending, count, "every task was in flight, unacknowledged, when the bridge died");
  // A new bridge takes over the shared durable, lowering its AckWait (a live setting) so that the
  // dead one's tasks come back soon.
  const survivor = await bridgeFor({ instance: "survivor", taskAckWaitMs: 2000 });
  await waitRunning([survivor], "crash");
  await waitUntil("every event redelivered and answered", 75_000, () => answered.size === count);
  assert.deepEqual(answered, ids);
  await waitUntil("all acked", 10_000, async () => {
    const info = await jsm.consumers.info("JETGATE_TASKS", "jetgate_deliveries");
    return info.num_ack_pending === 0 && info.num_pending === 0;
  });
});
