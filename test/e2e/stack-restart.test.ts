// `npm start` after any kind of stop comes up again and serves: the real `npm start` in its own
// process group, stopped the ways a user stops it (Ctrl-C = SIGINT to the group, SIGTERM
// to the group from `kill`/systemd/a closing terminal, SIGKILL of the group), then started again on
// the same data. Before DESIGN.md decision 15 the second start died with a bare `timeout` while the
// KV bucket's stream had no leader yet. Runs on its own port block (--port-base) and data dir, never
// on the fixed ports of DESIGN.md.
import { test, before, after, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { stopStaleNodes } from "../../broker/server/index.ts";
import { DEV_API_KEY } from "../../worker/index.ts";
import {
  freeStackPortBase,
  groupAlive,
  nodePids,
  processAlive,
  stackNodeSpecs,
  startStackProcess,
  stopGroup as stopGroupWithin,
  type StackProcess as Stack,
} from "../harness/stack.ts";

/** Registry build, three nodes, workerd and the bridge on two busy cores: generous, but bounded. */
const UP_DEADLINE_MS = 180_000;
const EXIT_DEADLINE_MS = 60_000;

const dataDir = mkdtempSync(join(tmpdir(), "jetgate-stack-"));
let base = 0;
let current: Stack | undefined;

function startStack(): Stack {
  // Through npm, as users start it: npm and its shell share the group and get the signal too.
  return startStackProcess({ dataDir, base, via: "npm" });
}

/** Signals the whole process group, as a terminal's Ctrl-C or `kill -- -<pgid>` does, and waits until it is gone. */
const stopGroup = (stack: Stack, signal: NodeJS.Signals) => stopGroupWithin(stack, signal, EXIT_DEADLINE_MS);

/** Starts the stack, waits for its banner, posts an event and waits for the demo receiver to get it. */
async function startAndServe(t?: TestContext): Promise<Stack> {
  const stack = startStack();
  current = stack;
  await stack.waitForLine(/Jetgate local stack is up/, "the banner", UP_DEADLINE_MS);
  const from = stack.output.length;
  const body = JSON.stringify({ orderId: `o-${Date.now()}`, customer: { id: "c-1", email: "a@example.com" }, total: { amount: "1.00", currency: "EUR" } });
  let res: Response | undefined;
  // A 503 (broker busy) may be retried by any client; anything else is the answer.
  for (let tries = 0; tries < 10; tries++) {
    res = await fetch(`http://127.0.0.1:${base}/v1/events/order.created`, {
      method: "POST",
      headers: { authorization: `Bearer ${DEV_API_KEY}`, "content-type": "application/json" },
      body,
      signal: AbortSignal.timeout(30_000),
    });
    if (res.status !== 503) break;
    await res.body?.cancel();
    await sleep(1_000);
  }
  assert.equal(res?.status, 202, `the edge accepted the event: ${await res?.text()}`);
  await stack.waitForLine(/\[demo-receiver\] POST .*signature=verified/, "the demo receiver to get the event", 60_000, from);
  // What the start waited for, and how long it took (the report's figures come from here).
  for (const line of stack.output.filter((l) => /waiting for|JetStream ready|local stack is up|left running/.test(l))) t?.diagnostic(line);
  return stack;
}

before(async () => {
  base = await freeStackPortBase();
  await startAndServe();
});

after(async () => {
  if (current && groupAlive(current.pgid)) process.kill(-current.pgid, "SIGKILL");
  // After a SIGKILL of the group the detached nats-server nodes outlive it: stop them by pid.
  await stopStaleNodes(stackNodeSpecs(dataDir)).catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
});

test("npm start comes up and serves again after Ctrl-C (SIGINT to the process group)", { timeout: UP_DEADLINE_MS + 120_000 }, async (t) => {
  await stopGroup(current!, "SIGINT");
  await startAndServe(t);
});

test("npm start comes up and serves again after SIGTERM to the whole process group", { timeout: UP_DEADLINE_MS + 120_000 }, async (t) => {
  await stopGroup(current!, "SIGTERM");
  const stack = await startAndServe(t);
  assert.ok(stack.output.some((l) => /JetStream ready/.test(l)));
});

test("npm start comes up and serves again after SIGKILL of the process group (its nats-server nodes left behind)", { timeout: UP_DEADLINE_MS + 120_000 }, async (t) => {
  await stopGroup(current!, "SIGKILL");
  const stack = await startAndServe(t);
  assert.ok(stack.output.some((l) => /left running by an earlier run/.test(l)), "the restart stopped the nodes the killed stack left behind");
});

test(
  "npm start comes up and serves again after SIGKILL of everything it started at once (the group and its nats-server nodes)",
  { timeout: UP_DEADLINE_MS + 120_000 },
  async (t) => {
    // As a power cut, the OOM killer or `systemctl kill -s KILL` on the service's cgroup: no node
    // shuts down cleanly, so every Raft group (meta, streams, KV buckets, consumers) must elect again.
    const pids = nodePids(dataDir);
    for (const pid of pids) if (processAlive(pid)) process.kill(pid, "SIGKILL");
    await stopGroup(current!, "SIGKILL");
    const deadline = Date.now() + EXIT_DEADLINE_MS;
    while (pids.some(processAlive) && Date.now() < deadline) await sleep(50);
    assert.ok(!pids.some(processAlive), "every nats-server node is gone");
    const stack = await startAndServe(t);
    assert.ok(stack.output.some((l) => /JetStream ready/.test(l)));
  },
);
