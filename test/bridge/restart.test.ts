// A bridge started while its cluster recovers from an abrupt stop (every node killed at once) must
// wait for the leaders of the streams, KV buckets and consumers it needs, then deliver; before
// DESIGN.md decision 15 it crashed with a bare `timeout` from the KV bucket's stream info.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { once } from "node:events";
import { applySubscriptionsFile, type RunningBridge } from "../../bridge/index.ts";
import { untilReady } from "../../broker/jetstream/index.ts";
import { startTestBroker } from "../harness/nats.ts";
import { startReceiver } from "../harness/receiver.ts";
import { publishEvent, startTestBridge, SECRET_A } from "./helpers.ts";

/** A cluster restarted on its data took ~5–20 s here to elect every leader; far more than enough. */
const RECOVERY_DEADLINE_MS = 90_000;

async function killAll(broker: { nodes: Array<{ process: import("node:child_process").ChildProcess }> }, signal: NodeJS.Signals) {
  // All at once, as `kill -- -<pgid>` does to the stack's process group.
  await Promise.all(
    broker.nodes.map(async (node) => {
      if (node.process.exitCode !== null || node.process.signalCode !== null) return;
      const exited = once(node.process, "exit");
      node.process.kill(signal);
      await exited;
    }),
  );
}

async function restartAndDeliver(t: TestContext, signal: NodeJS.Signals): Promise<void> {
  const broker = await startTestBroker({ nodes: 3 });
  t.after(() => broker.stop());
  const rx = await startReceiver();
  t.after(() => rx.stop());
  const bridges: RunningBridge[] = [];
  t.after(() => Promise.allSettled(bridges.map((b) => b.stop())));

  const file = join(broker.dir, "subscriptions.yaml");
  writeFileSync(file, `subscriptions:\n  - id: restart\n    url: ${rx.url}\n    filter: events.>\n    secret: ${SECRET_A}\n`);
  const nc = await broker.connect();
  await applySubscriptionsFile(nc, file, { ssrfAllow: ["127.0.0.1"] });
  const first = await startTestBridge(broker);
  bridges.push(first);
  await publishEvent(nc, "order.created", { n: 1 });
  await rx.waitFor(1, 30_000);

  // The bridge goes first (its stop drains over a live connection), then every node at once.
  await first.stop();
  await killAll(broker, signal);
  await Promise.all(broker.nodes.map((_, i) => broker.startNode(i)));

  // At once: no wait for leaders here; that is the product's job.
  const restarted = Date.now();
  const again = await broker.connect();
  const wait = { deadlineMs: RECOVERY_DEADLINE_MS, onWait: (line: string) => t.diagnostic(line) };
  const applied = await applySubscriptionsFile(again, file, { ssrfAllow: ["127.0.0.1"], wait });
  assert.deepEqual(applied.unchanged, ["restart"]);
  const second = await startTestBridge(broker);
  bridges.push(second);
  t.diagnostic(`bridge running ${((Date.now() - restarted) / 1000).toFixed(1)} s after the nodes were restarted`);
  assert.deepEqual(second.manager.running(), ["restart"]);
  // The EVENTS leader is back (the bridge waited for it), but a publish may still race a
  // re-election on a loaded box: retry only "not ready" errors, bounded.
  const { id, webhookId } = await untilReady("stream EVENTS for the test's publish", () => publishEvent(again, "order.created", { n: 2 }), {
    deadlineMs: 30_000,
  });
  const requests = await rx.waitFor(2, 60_000);
  assert.ok(
    requests.some((r) => r.headers["webhook-id"] === webhookId),
    `the event published after the restart (${id}) reached the receiver`,
  );
}

test("a bridge started at once after every NATS node was SIGKILLed waits for the leaders and delivers", { timeout: 240_000 }, (t) =>
  restartAndDeliver(t, "SIGKILL"),
);

test("a bridge started at once after every NATS node got SIGTERM together waits for the leaders and delivers", { timeout: 240_000 }, (t) =>
  restartAndDeliver(t, "SIGTERM"),
);
